// GQA / MHA / MQA decode for few query rows per KV head: what csrc/api/ needs to choose and launch it.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

#include "../common/decode_params.h"
#include "config.h"

namespace fmla {

// The kernel takes problems whose cache strides (in elements) fit in int32: its loader forms a
// row's address from 32-bit byte strides and indices, two wide multiply-adds (loader.cuh).
inline bool gqa_strides_fit(const DecodeParams& p) {
  const int64_t strides[] = {p.k_stride_page, p.k_stride_row, p.k_stride_head,
                             p.v_stride_page, p.v_stride_row, p.v_stride_head};
  for (const int64_t s : strides)
    if (s < 0 || s > INT32_MAX) return false;
  return true;
}

// A block takes gqa::kMaxRows query rows of a KV head (s_q * h_q / h_kv); a head with more has a
// block for each group of them, each reading all of the head's keys. 16-bit caches take it up to
// kMaxRows rows (more go to the generic kernel, which holds 64 rows a block).
inline bool gqa_decode_fits(const DecodeParams& p) {
  return gqa_strides_fit(p) && p.rows_per_kv <= gqa::kMaxRows;
}

// The kernel merges the sequences it cuts itself (merge.cuh) where a byte counter for each (KV
// head, row group) fits the spare ints of a schedule row and a byte counts every split, and where
// the batch is large enough that sequences have a few splits each (as for the combine's rows
// kernel): the last piece's merge is then a short read, where a small batch's tens of splits a
// sequence are read faster by the combine kernel's many blocks (bench/NOTES.md, v38). The launcher
// then sets p.arrivals to the schedule and launches no combine kernel.
inline bool gqa_merges_splits(const DecodeParams& p) {
  const int64_t row_groups = (p.rows_per_kv + gqa::kMaxRows - 1) / gqa::kMaxRows;
  return gqa::kernel_merges_splits(p.descale_q != nullptr) &&
         static_cast<int64_t>(p.h_kv) * row_groups <= kArrivalCounters &&
         p.num_sm_parts <= kArrivalMaxSplits &&
         static_cast<int64_t>(p.b) * kCombineRowsMaxSplits >= p.num_sm_parts;
}

// One instantiation per element type and head dim (instantiations/*.cu): the decode kernel alone;
// split sequences are merged by the kernel itself (p.arrivals) or by the combine kernel after it.
template <typename Elem, int D>
cudaError_t launch_gqa_decode(const DecodeParams& p, cudaStream_t stream);

// The same kernel over float8_e4m3fn K and V caches, their scales at p.descale_k / p.descale_v
// (instantiations/*_e4m3_*.cu), for any number of rows (gqa_strides_fit decides); there is no other
// kernel for e4m3 caches.
template <typename Elem, int D>
cudaError_t launch_gqa_decode_e4m3(const DecodeParams& p, cudaStream_t stream);

// The same with float8_e4m3fn queries (p.descale_q; out bf16): the codes are made fp16 (exactly)
// once a piece (instantiations/e4m3q_*.cu).
template <int D>
cudaError_t launch_gqa_decode_e4m3_queries(const DecodeParams& p, cudaStream_t stream);

}  // namespace fmla
