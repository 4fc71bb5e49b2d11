// A memory-bound scatter: each (token, head) row is copied with the widest vector access its
// alignment allows (16 bytes for every supported head dim in practice).
#include "../config.h"
#include "write_kv.cuh"

namespace fmla {

template <typename Vec>
__global__ void __launch_bounds__(kWriteKvThreads) write_kv_kernel(const WriteKvParams p) {
  const int vecs_per_row = p.row_bytes / static_cast<int>(sizeof(Vec));
  const int64_t total = p.n * p.h_kv * vecs_per_row;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int v = static_cast<int>(idx % vecs_per_row);
    const int64_t row = idx / vecs_per_row;
    const int head = static_cast<int>(row % p.h_kv);
    const int64_t i = row / p.h_kv;
    const int64_t slot = p.slot_mapping[i * p.slot_stride];
    if (slot < 0 || slot >= p.num_slots) continue;
    const int64_t page = slot / p.page_size, in_page = slot % p.page_size;
    const char* src = static_cast<const char*>(p.rows) + i * p.rows_stride_n + head * p.rows_stride_head;
    char* dst = static_cast<char*>(p.cache) + page * p.cache_stride_page +
                in_page * p.cache_stride_row + head * p.cache_stride_head;
    reinterpret_cast<Vec*>(dst)[v] = reinterpret_cast<const Vec*>(src)[v];
  }
}

template <typename Vec>
static cudaError_t launch_vec(const WriteKvParams& p, cudaStream_t stream) {
  const int64_t total = p.n * p.h_kv * (p.row_bytes / static_cast<int>(sizeof(Vec)));
  if (total == 0) return cudaSuccess;
  // Enough blocks to fill the machine several times over; the grid-stride loop does the rest.
  const int64_t blocks_needed = (total + kWriteKvThreads - 1) / kWriteKvThreads;
  const int blocks = static_cast<int>(blocks_needed < 65536 ? blocks_needed : 65536);
  write_kv_kernel<Vec><<<blocks, kWriteKvThreads, 0, stream>>>(p);
  return cudaGetLastError();
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
