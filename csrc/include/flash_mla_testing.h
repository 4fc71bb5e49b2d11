/*
 * flash_mla_testing.h - helpers for tests and benchmarks on large shapes, part of libflashmla.so.
 *
 * Filling gigabytes of cache from the host is slow, and checking a 128 x 32768-token decode on the
 * CPU takes minutes, so the library carries a device-side random fill and a plain float32 reference
 * attention (one thread block per query row, no tiling, no tensor cores). Not for production use.
 */
#ifndef FLASH_MLA_TESTING_H
#define FLASH_MLA_TESTING_H

#include "flash_mla.h"

#ifdef __cplusplus
extern "C" {
#endif

/* t[i] = clamp(scale * N(0, 1), -limit, limit), from a counter-based generator keyed by (seed, i):
 * the same seed gives the same tensor on any device. t: contiguous float32, bfloat16 or float16. */
FMLA_API fmla_status fmla_testing_fill_normal(fmla_tensor* t, uint64_t seed, float scale,
                                              float limit, void* stream);

/* Reference decode, float32 throughout (exactly DESIGN.md's semantics):
 *   q        [b, s_q, h_q, d_qk]                 bf16 or fp16
 *   k_cache  [num_pages, page_size, h_kv, d_qk]  q's dtype
 *   v_cache  [num_pages, page_size, h_kv, >= d_v] q's dtype; pass k_cache itself for MLA
 *   out      float32 [b, s_q, h_q, d_v]; lse float32 [b, h_q, s_q] */
FMLA_API fmla_status fmla_testing_reference_decode(const fmla_tensor* q, const fmla_tensor* k_cache,
                                                   const fmla_tensor* v_cache,
                                                   const fmla_tensor* block_table,
                                                   const fmla_tensor* cache_seqlens,
                                                   int32_t head_dim_v, float softmax_scale,
                                                   int32_t causal, fmla_tensor* out,
                                                   fmla_tensor* lse, void* stream);

/* Occupies the device for about `nanoseconds` (one thread). Benchmarks launch it before their start
 * event so that the host's launch overhead of the timed call is hidden, not timed. */
FMLA_API fmla_status fmla_testing_spin(uint64_t nanoseconds, void* stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FLASH_MLA_TESTING_H */
