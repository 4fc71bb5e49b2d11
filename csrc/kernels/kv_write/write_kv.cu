// A memory-bound scatter: each token's rows are copied with the widest vector access the alignment
// allows (16 bytes for every supported head dim in practice).
#include "../config.h"
#include "../common/pdl.cuh"
#include "write_kv.cuh"

namespace fmla {

// One warp per token. The token's source rows are loaded before its slot is known (they do not
// depend on it), so the two memory round trips overlap; rows of up to 32 * kVecsPerLane vectors
// are held in registers, longer ones are copied in chunks of that size.
constexpr int kWriteKvWarps = kWriteKvThreads / 32;
constexpr int kVecsPerLane = 4;

template <typename Vec>
__global__ void __launch_bounds__(kWriteKvThreads) write_kv_kernel(const WriteKvParams p) {
  const int vecs_per_row = p.row_bytes / static_cast<int>(sizeof(Vec));
  const int vecs = p.h_kv * vecs_per_row;
  const int lane = threadIdx.x % 32;
  wait_for_previous_kernel();  // rows may come from the kernel before, and stream order holds
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kWriteKvWarps) + threadIdx.x / 32; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * kWriteKvWarps) {
    const char* __restrict__ src = static_cast<const char*>(p.rows) + i * p.rows_stride_n;
    for (int base = 0; base < vecs; base += 32 * kVecsPerLane) {
      // (head, vector in the head's row) of each of this lane's vectors, shared by load and store.
      int head[kVecsPerLane], col[kVecsPerLane];
      Vec value[kVecsPerLane];
#pragma unroll
      for (int u = 0; u < kVecsPerLane; ++u) {
        const int v = base + lane + 32 * u;
        head[u] = v / vecs_per_row;
        col[u] = v - head[u] * vecs_per_row;
        if (v < vecs)
          value[u] = reinterpret_cast<const Vec*>(src + head[u] * p.rows_stride_head)[col[u]];
      }
      // Slots are int32 and checked non-negative: 32-bit division on the path after the load.
      const int32_t slot = p.slot_mapping[i * p.slot_stride];
      if (slot < 0 || slot >= p.num_slots) break;
      const uint32_t page = static_cast<uint32_t>(slot) / static_cast<uint32_t>(p.page_size);
      const uint32_t in_page =
          static_cast<uint32_t>(slot) - page * static_cast<uint32_t>(p.page_size);
      char* __restrict__ dst = static_cast<char*>(p.cache) + page * p.cache_stride_page +
                               in_page * p.cache_stride_row;
#pragma unroll
      for (int u = 0; u < kVecsPerLane; ++u)
        if (base + lane + 32 * u < vecs)
          reinterpret_cast<Vec*>(dst + head[u] * p.cache_stride_head)[col[u]] = value[u];
    }
  }
}

template <typename Vec>
static cudaError_t launch_vec(const WriteKvParams& p, cudaStream_t stream) {
  if (p.n == 0) return cudaSuccess;
  const int64_t blocks_needed = (p.n + kWriteKvWarps - 1) / kWriteKvWarps;
  const int blocks = static_cast<int>(blocks_needed < 65536 ? blocks_needed : 65536);
  return launch_dependent(write_kv_kernel<Vec>, dim3(blocks), dim3(kWriteKvThreads), 0, stream, p);
}

cudaError_t launch_write_kv(const WriteKvParams& p, cudaStream_t stream) {
  switch (p.vector_bytes) {
    case 16: return launch_vec<uint4>(p, stream);
    case 8: return launch_vec<uint2>(p, stream);
    case 4: return launch_vec<uint32_t>(p, stream);
    case 2: return launch_vec<uint16_t>(p, stream);
    default: return launch_vec<uint8_t>(p, stream);
  }
}

}  // namespace fmla
