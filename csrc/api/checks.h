// Argument checking and error reporting shared by every entry point: each check names the argument,
// the expected and the actual value, and records the message for fmla_last_error().
#pragma once

#include <cuda_runtime.h>
#include <stdint.h>

#include <initializer_list>

#include "../include/flash_mla.h"

namespace fmla {

// Records a printf-style message for fmla_last_error() and returns `status`.
fmla_status fail(fmla_status status, const char* format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

// Maps a CUDA error to a status (no device / out of memory / other) and records "what: message".
// A failure also clears CUDA's last error, so that the next launch's cudaGetLastError() does not
// report it again as its own.
fmla_status from_cuda(cudaError_t error, const char* what);

// FMLA_ERROR_NO_DEVICE (with the reason) when there is no usable GPU or driver; probed once.
fmla_status require_device();

// Checks the launch that just happened (cudaGetLastError).
fmla_status check_launch(const char* kernel);

// Element size in bytes of an fmla_dtype, 0 for an unknown one.
int dtype_bytes(int32_t dtype);
const char* dtype_name(int32_t dtype);

// Non-NULL; rank `ndim`, checked to lie in 0..FMLA_MAX_DIMS before any shape or stride is read
// (`ndim` may be t->ndim: any rank); a dtype from `dtypes`; non-negative shape; every stride times
// the element size, the element count and the bytes the view spans fit in int64; when non-empty,
// data that is non-NULL and aligned to the element size. Everything below assumes it passed.
fmla_status check_tensor(const fmla_tensor* t, const char* name, int ndim,
                         std::initializer_list<int32_t> dtypes);
// shape[dim] == expected; `what` says where the expected value comes from (may be NULL).
fmla_status check_dim(const fmla_tensor* t, const char* name, int dim, int64_t expected,
                      const char* what = nullptr);
// Every shape value <= INT32_MAX: for the tensors whose sizes the kernels take as int.
fmla_status check_shape_int32(const fmla_tensor* t, const char* name);
// Row-major contiguous (an empty tensor is).
fmla_status check_contiguous(const fmla_tensor* t, const char* name);
// The innermost stride is 1 (or that dimension has extent <= 1). Rank >= 1.
fmla_status check_inner_stride(const fmla_tensor* t, const char* name);
// Innermost stride 1, the data and every outer stride aligned to `bytes` (16: cp.async / vectors).
fmla_status check_vector_layout(const fmla_tensor* t, const char* name, int bytes);
// A scale: a float32 tensor of exactly one element, of any rank.
fmla_status check_scale(const fmla_tensor* t, const char* name);
// An fmla_kv_format value (FMLA_KV_FORMAT_FP8_DS_MLA or FMLA_KV_FORMAT_FP8_E4M3).
fmla_status check_kv_format(int32_t format);
// The cache's scale argument for a checked format: NULL with FMLA_KV_FORMAT_FP8_DS_MLA (its scales
// are in the tokens), a check_scale tensor with FMLA_KV_FORMAT_FP8_E4M3.
fmla_status check_format_scale(int32_t format, const fmla_tensor* scale, const char* name);
// An fp8_ds_mla cache after check_tensor: [num_pages, page_size, 1, 656], tokens packed (row
// stride 656) in pages at least page_size * 656 bytes apart.
fmla_status check_ds_mla_cache(const fmla_tensor* cache, const char* name);
// For a tensor a kernel writes: no two elements at one address. Refuses a zero stride on a
// dimension of extent > 1, and strides that do not nest (taken by increasing |stride|, each must
// exceed the span of the dimensions before it): a sufficient test, O(ndim^2) on ndim <= 6.
fmla_status check_no_overlap(const fmla_tensor* t, const char* name);

// The inputs the decodes and the reference share, after check_tensor on each: every dim of q, k,
// v, block_table and cache_seqlens <= INT32_MAX; innermost stride 1 for all five; q
// [b, s_q, h_q, d_qk] non-empty; k [num_pages, page_size, h_kv, d_qk] with sizes >= 1 and h_q a
// multiple of h_kv; v (NULL for MLA) with k's num_pages, page_size and h_kv; block_table [b, *],
// cache_seqlens [b]; a finite softmax_scale; causal 0 or 1.
fmla_status check_paged_inputs(const fmla_tensor* q, const fmla_tensor* k, const char* k_name,
                               const fmla_tensor* v, const fmla_tensor* block_table,
                               const fmla_tensor* cache_seqlens, float softmax_scale,
                               int32_t causal);

// The element count; exact (no overflow) once check_tensor passed.
int64_t numel(const fmla_tensor* t);

}  // namespace fmla

#define FMLA_TRY(expr)                         \
  do {                                         \
    const fmla_status fmla_try_ = (expr);      \
    if (fmla_try_ != FMLA_OK) return fmla_try_; \
  } while (0)
