// Arguments of the split-KV decode kernels (MLA and GQA share them), already validated by csrc/api/.
// Strides are in elements; the innermost dimension of q, the caches and out is contiguous.
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

namespace fmla {

struct DecodeParams {
  const void* q;            // [b, s_q, h_q, d_qk]
  const void* k;            // [num_pages, page_size, h_kv, d_qk]
  const void* v;            // [num_pages, page_size, h_kv, d_v]; MLA: the K cache itself
  const int32_t* block_table;    // [b, max_pages]
  const int32_t* cache_seqlens;  // [b]
  const int32_t* sched;          // [num_sm_parts, 8]
  const int32_t* num_splits;     // [b + 1]
  void* out;                // [b, s_q, h_q, d_v], q's dtype
  float* lse;               // [b, h_q, s_q]
  float* o_accum;           // [b + num_sm_parts, s_q * h_q, d_v] partial outputs of split sequences
  float* lse_accum;         // [b + num_sm_parts, s_q * h_q]
  // GQA decode: the schedule's rows as writable arrival counters (kMetaArrivals), when the decode
  // kernel merges the sequences it cuts itself (gqa_decode/merge.cuh); nullptr: the combine does.
  int32_t* arrivals;

  int64_t q_stride_b, q_stride_s, q_stride_h;
  int64_t k_stride_page, k_stride_row, k_stride_head;
  int64_t v_stride_page, v_stride_row, v_stride_head;
  int64_t bt_stride_b, bt_stride_page;
  int64_t seqlens_stride;
  int64_t o_stride_b, o_stride_s, o_stride_h;
  int64_t lse_stride_b, lse_stride_h, lse_stride_s;

  int b, s_q, h_q, h_kv;
  int heads_per_kv;  // h_q / h_kv
  int rows_per_kv;   // s_q * heads_per_kv: the query rows of one KV head
  int page_size;
  int num_pages;     // pages in the cache pool (bounds the TMA view of the cache)
  int num_sm_parts;
  int causal;
  float scale_log2;  // softmax_scale * log2(e): scores are kept in base 2
  // float8_e4m3fn caches: the one-element float32 scales of K and V (device memory); else NULL.
  const float* descale_k = nullptr;
  const float* descale_v = nullptr;
  // float8_e4m3fn queries (over float8_e4m3fn caches; out is bf16): their scale; else NULL.
  const float* descale_q = nullptr;
};

// Row m (of rows_per_kv) of KV head kv's query rows of sequence bi: query j = m / heads_per_kv,
// head kv * heads_per_kv + m % heads_per_kv. Its offset in q, in elements.
__host__ __device__ inline int64_t query_row_offset(const DecodeParams& p, int bi, int kv, int m) {
  return bi * p.q_stride_b + (m / p.heads_per_kv) * p.q_stride_s +
         (kv * p.heads_per_kv + m % p.heads_per_kv) * p.q_stride_h;
}

// Row m's first byte in q, of ELEM_BYTES-byte elements.
template <int ELEM_BYTES>
__host__ __device__ inline const uint8_t* query_row_address(const DecodeParams& p, int bi, int kv,
                                                            int m) {
  return static_cast<const uint8_t*>(p.q) + query_row_offset(p, bi, kv, m) * ELEM_BYTES;
}

// Whether consecutive query rows of a KV head lie end to end in q (rows of row_elems elements), so
// that a run of them is one copy: q dense across heads and, for s_q > 1, across queries.
__host__ __device__ inline bool query_rows_contiguous(const DecodeParams& p, int64_t row_elems) {
  return p.q_stride_h == row_elems &&
         (p.s_q == 1 || p.q_stride_s == p.heads_per_kv * p.q_stride_h);
}

// Launchers, one per instantiation (csrc/kernels/*/instantiations/*.cu).
template <typename Elem, int D_QK, int D_V, bool SEPARATE_V>
cudaError_t launch_splitkv_decode(const DecodeParams& p, cudaStream_t stream);

template <typename Elem, int D_V>
cudaError_t launch_combine(const DecodeParams& p, cudaStream_t stream);

}  // namespace fmla
