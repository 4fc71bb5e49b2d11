/*
 * A naive float32 GPU reference of paged decode attention, for tests on shapes too large for a CPU
 * reference. Not part of the public API (flash_mla.h); exported for the test harnesses only.
 *
 * For each requested query row (batch i, token j, head h) it computes, in float32, over the keys the
 * row attends (t < L, causal: t <= L - s_q + j):
 *   out = sum_t softmax(scale * q.k_t) v_t   and   lse = ln(sum_t exp(scale * q.k_t))
 * with out = 0 and lse = +inf when no key is attended.
 */
#ifndef FLASH_MLA_REFERENCE_ATTENTION_H
#define FLASH_MLA_REFERENCE_ATTENTION_H

#include "../include/flash_mla.h"

#ifdef __cplusplus
extern "C" {
#endif

/*   q              [b, s_q, h_q, d_qk]                 bf16 or fp16
 *   k_cache        [num_pages, page_size, h_kv, d_qk]  q's dtype
 *   v_cache        [num_pages, page_size, h_kv, d_v]   q's dtype, or NULL: values are the first
 *                                                      head_dim_v columns of k_cache (MLA)
 *   block_table    int32 [b, max_pages];  cache_seqlens int32 [b]
 *   softmax_scale  finite;  causal 0 or 1
 *   rows           int32 [n, 3]: (i, j, h) of each requested query row
 *   out            float32 [n, d_v];  lse float32 [n]   (both contiguous)
 * The decodes' rules (flash_mla.h): q non-empty; num_pages, page_size, h_kv >= 1 and h_q % h_kv == 0;
 * v_cache's num_pages, page_size and h_kv those of k_cache; innermost stride 1 for every input;
 * every dimension <= INT32_MAX; data aligned to the element size. */
FMLA_API fmla_status fmla_reference_attention(const fmla_tensor* q, const fmla_tensor* k_cache,
                                              const fmla_tensor* v_cache, int32_t head_dim_v,
                                              const fmla_tensor* block_table,
                                              const fmla_tensor* cache_seqlens,
                                              float softmax_scale, int32_t causal,
                                              const fmla_tensor* rows, fmla_tensor* out,
                                              fmla_tensor* lse, void* stream);

#ifdef __cplusplus
}
#endif

#endif
