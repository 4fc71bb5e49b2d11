/*
 * flash_mla_testing.h - helpers for tests and benchmarks on large shapes, part of libflashmla.so.
 *
 * Filling gigabytes of cache from the host takes minutes, so the library carries a device-side
 * random fill; and a spin kernel that hides launch overhead from event timings. The float32
 * reference attention for large shapes is csrc/reference/reference_attention.h. Not for production use.
 */
#ifndef FLASH_MLA_TESTING_H
#define FLASH_MLA_TESTING_H

#include "flash_mla.h"

#ifdef __cplusplus
extern "C" {
#endif

/* t[i] = clamp(scale * N(0, 1), -limit, limit), from a counter-based generator keyed by (seed, i):
 * the same seed gives the same tensor on any device. t: contiguous float32, bfloat16 or float16, any
 * rank 0 .. FMLA_MAX_DIMS, data aligned to its element size. */
FMLA_API fmla_status fmla_testing_fill_normal(fmla_tensor* t, uint64_t seed, float scale,
                                              float limit, void* stream);

/* Occupies the device for about `nanoseconds` (one thread). Benchmarks launch it before their start
 * event so that the host's launch overhead of the timed call is hidden, not timed. */
FMLA_API fmla_status fmla_testing_spin(uint64_t nanoseconds, void* stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FLASH_MLA_TESTING_H */
