// A minimal kernel for the racecheck reports on the 64-row e4m3 kernel's 16-bit-query
// instantiations (bench/NOTES.md, v24): code rows of a masked tile zeroed in shared memory (generic
// stores), the stage refilled later by a bulk asynchronous copy, and the refill read with generic
// loads after its mbarrier phase. Variant (argv[1]):
//   0: the zeroing, __syncthreads, one thread issues the copy, everyone waits on the mbarrier, reads;
//   1: warpgroup 0 zeroes and bar.arrive's on a named barrier, warpgroup 1 bar.sync's on it and
//      issues the copy, everyone waits on the mbarrier, warpgroup 1 reads the rows warpgroup 0 wrote
//      (the kernel's order: the release through named barriers, the refill, the mbarrier);
//   2: variant 1 without the zeroing (control).
// Every variant is race-free: the zeroing precedes the copy's issue (fence.proxy.async, then a
// barrier), and the reads follow the copy's completion (the mbarrier phase). Whatever racecheck
// reports for a variant is its reading of that order. H200, CUDA 13.0, 2026-11-30: 0, 2, 0 hazards
// for variants 0-2 (variant 1: the zeroing against the reads, both ways, 1,024 and 496 times), so
// the report needs both the zeroing and the named barrier, as in racecheck_named_barrier_repro.cu.
//   nvcc -arch=sm_90a -o build/racecheck_bulk_repro test/native/racecheck_bulk_refill_repro.cu
//   for v in 0 1 2; do compute-sanitizer --tool racecheck build/racecheck_bulk_repro $v; done
#include <cstdint>
#include <cstdio>
#include <cstdlib>

constexpr int kBytes = 4096;

__global__ void k(int variant, const uint4* src, unsigned long long* out) {
  __shared__ __align__(128) uint4 stage[kBytes / 16];
  __shared__ __align__(8) uint64_t full;
  const int tid = threadIdx.x, wg = tid / 128;
  const unsigned bar = (unsigned)__cvta_generic_to_shared(&full);
  const unsigned dst = (unsigned)__cvta_generic_to_shared(stage);
  if (tid == 0) {
    asm volatile("mbarrier.init.shared.b64 [%0], 1;" ::"r"(bar));
    asm volatile("fence.mbarrier_init.release.cluster;");
  }
  __syncthreads();
  unsigned long long acc = 0;
  for (int it = 0; it < 3; ++it) {
    const bool zero = variant != 2 && (variant == 0 || wg == 0);
    if (zero) {
      stage[tid % 128] = make_uint4(0u, 0u, 0u, 0u);  // rows of the first half
      asm volatile("fence.proxy.async.shared::cta;");
    }
    const bool issuer = variant == 0 ? tid == 0 : tid == 128;
    if (variant == 0) {
      __syncthreads();
    } else if (wg == 0) {
      asm volatile("bar.arrive 1, 256;");
    } else {
      asm volatile("bar.sync 1, 256;");
    }
    if (issuer) {
      asm volatile("mbarrier.arrive.expect_tx.shared.b64 _, [%0], %1;" ::"r"(bar), "r"(kBytes));
      asm volatile(
          "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
          ::"r"(dst), "l"(src), "r"(kBytes), "r"(bar)
          : "memory");
    }
    asm volatile(
        "{ .reg .pred p; W: mbarrier.try_wait.parity.shared.b64 p, [%0], %1; @!p bra W; }" ::"r"(bar),
        "r"(it & 1)
        : "memory");
    if (variant == 0 || wg == 1) {
      const uint4 v = stage[(tid + 64) % 128];  // a row another thread zeroed
      acc += (unsigned long long)v.x + v.y + v.z + v.w;
    }
    __syncthreads();  // everyone has read before the next round's zeroing
  }
  out[tid] = acc;
}

int main(int argc, char** argv) {
  const int variant = argc > 1 ? atoi(argv[1]) : 0;
  uint4* src;
  unsigned long long* out;
  cudaMalloc(&src, kBytes);
  cudaMalloc(&out, 256 * sizeof(unsigned long long));
  cudaMemset(src, 1, kBytes);
  k<<<1, 256>>>(variant, src, out);
  const cudaError_t e = cudaDeviceSynchronize();
  unsigned long long h[256];
  cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost);
  // Each read word is 0x01010101 (16843009); four a read, three rounds.
  const unsigned long long want = 3ull * 4ull * 16843009ull;
  int wrong = 0;
  for (int i = 0; i < 256; ++i)
    if ((variant == 0 || i >= 128) && h[i] != want) ++wrong;
  printf("variant %d: %s, %d wrong sums\n", variant, cudaGetErrorString(e), wrong);
  return e != cudaSuccess || wrong != 0;
}
