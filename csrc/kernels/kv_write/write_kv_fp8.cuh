// write_kv into an FP8 cache (docs/fp8-kv-cache.md): bf16 / fp16 rows quantized on the way, placed
// as write_kv places them (slot / page_size, slot % page_size; negative slots and slots past the
// pool skipped).
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

namespace fmla {

enum class Fp8WriteFormat { kDsMla, kE4m3 };

struct WriteKvFp8Params {
  uint8_t* cache;  // [num_pages, page_size, h_kv, row bytes]
  const void* rows;  // [n, h_kv, d] bf16 or fp16
  const int32_t* slot_mapping;  // [n]
  const float* descale;  // kE4m3: one float32 in device memory; kDsMla: unused
  int64_t cache_stride_page, cache_stride_row, cache_stride_head;  // bytes
  int64_t rows_stride_n, rows_stride_head;  // elements
  int64_t slot_stride;  // elements
  int64_t num_slots;  // num_pages * page_size
  int64_t n;
  int h_kv;
  int page_size;
  int d;  // values a row: 576 for kDsMla
  bool wide;  // kE4m3: d % 4 == 0 and every row, head and cache address allows 4-value accesses
};

cudaError_t launch_write_kv_fp8(const WriteKvFp8Params& p, Fp8WriteFormat format, bool rows_fp16,
                                cudaStream_t stream);

}  // namespace fmla
