// write_kv: cache[slot / page_size, slot % page_size] = rows[i] for every i with slot_mapping[i] >= 0.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

namespace fmla {

struct WriteKvParams {
  void* cache;  // [num_pages, page_size, h_kv, d]
  const void* rows;  // [n, h_kv, d]
  const int32_t* slot_mapping;  // [n]
  int64_t cache_stride_page, cache_stride_row, cache_stride_head;  // bytes
  int64_t rows_stride_n, rows_stride_head;                          // bytes
  int64_t slot_stride;                                              // elements
  int64_t num_slots;  // num_pages * page_size; slots at or past it are skipped
  int64_t n;
  int h_kv;
  int page_size;
  int row_bytes;  // d * element size
  int vector_bytes;  // 16, 8, 4, 2 or 1: the widest access every address and size allows
};

cudaError_t launch_write_kv(const WriteKvParams& p, cudaStream_t stream);

}  // namespace fmla
