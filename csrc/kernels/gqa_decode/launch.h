// Launcher of the few-rows GQA decode kernel (gqa_decode.cuh), one instantiation per dtype and
// head dim in instantiations/.
#pragma once

#include <cuda_runtime.h>

#include "../mla_decode/params.h"

namespace fmla {

// Query rows per KV head (s_q * h_q / h_kv) the kernel keeps in its one m16 tile.
constexpr int kGqaMaxRows = 16;

// Whether gqa_decode_kernel handles a head dim and row count (else the generic split-KV kernel).
inline bool gqa_decode_applies(int d, int rows_per_kv) {
  return (d == 64 || d == 128) && rows_per_kv <= kGqaMaxRows;
}

template <typename Elem, int D>
cudaError_t launch_gqa_decode(const DecodeParams& p, cudaStream_t stream);

}  // namespace fmla
