// A minimal kernel for a racecheck report on the seesaw MLA kernel: a shared-memory exchange that is
// ordered by __syncthreads (write, barrier, read, barrier, next write) is reported as a race once the
// block has used bar.arrive / bar.sync on a named barrier earlier, as the seesaw kernel does.
// Variant (argv[1]): 0 plain, 1 named barriers before the exchange, 2 an mbarrier wait, 3 both;
// +4: the exchange itself through named barriers (each warpgroup bar.arrive on its own barrier after
// writing, bar.sync on the other's before reading), as the sm_90a MLA kernel's epilogue does.
// H100, CUDA 13.0, 2026-11-25: racecheck reports 0, 1, 0, 1 hazards for variants 0-3; every variant
// is race-free. Variants 4-7 on the H200: bench/NOTES.md (v12).
//   nvcc -arch=sm_90a -o build/racecheck_repro test/native/racecheck_named_barrier_repro.cu
//   for v in 0 1 2 3; do compute-sanitizer --tool racecheck build/racecheck_repro $v; done
#include <cstdio>
#include <cstdlib>
#include <cstdint>
__global__ void k(int variant, float* out) {
  __shared__ float s_sum[128];
  __shared__ __align__(8) uint64_t bar;
  const int tid = threadIdx.x, wg = tid / 128;
  if (tid == 0) asm volatile("mbarrier.init.shared.b64 [%0], %1;" :: "r"((unsigned)__cvta_generic_to_shared(&bar)), "r"(256));
  __syncthreads();
  for (int it = 0; it < 3; ++it) {
    if (variant & 1) {
      if (wg == 0) asm volatile("bar.arrive 1, 256;");
      else asm volatile("bar.sync 1, 256;");
    }
    if (variant & 2) {
      unsigned a = (unsigned)__cvta_generic_to_shared(&bar);
      uint64_t state;
      asm volatile("mbarrier.arrive.shared.b64 %0, [%1];" : "=l"(state) : "r"(a));
      (void)state;
      asm volatile("{ .reg .pred p; W: mbarrier.try_wait.parity.shared.b64 p, [%0], %1; @!p bra W; }" :: "r"(a), "r"(it & 1));
    }
    if ((tid % 128) < 64 && tid % 4 == 0) s_sum[wg * 64 + (tid % 64)] = tid + it;
    if (variant & 4) {
      if (wg == 0) asm volatile("bar.arrive 2, 256;\n\tbar.sync 3, 256;");
      else asm volatile("bar.arrive 3, 256;\n\tbar.sync 2, 256;");
    } else {
      __syncthreads();
    }
    float v = s_sum[tid % 64] + s_sum[64 + tid % 64];
    out[tid] += v;
    __syncthreads();
  }
}
int main(int argc, char** argv) {
  float* out; cudaMalloc(&out, 256 * 4); cudaMemset(out, 0, 1024);
  k<<<1, 256>>>(atoi(argv[1]), out);
  printf("variant %s: %s\n", argv[1], cudaGetErrorString(cudaDeviceSynchronize()));
  return 0;
}
