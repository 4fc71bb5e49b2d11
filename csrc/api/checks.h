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
fmla_status from_cuda(cudaError_t error, const char* what);

// FMLA_ERROR_NO_DEVICE (with the reason) when there is no usable GPU or driver; probed once.
fmla_status require_device();

// Checks the launch that just happened (cudaGetLastError).
fmla_status check_launch(const char* kernel);

// Element size in bytes of an fmla_dtype, 0 for an unknown one.
int dtype_bytes(int32_t dtype);
const char* dtype_name(int32_t dtype);

// Non-NULL, rank `ndim`, a dtype from `dtypes`, non-negative shape, non-NULL data when non-empty.
fmla_status check_tensor(const fmla_tensor* t, const char* name, int ndim,
                         std::initializer_list<int32_t> dtypes);
// shape[dim] == expected; `what` says where the expected value comes from (may be NULL).
fmla_status check_dim(const fmla_tensor* t, const char* name, int dim, int64_t expected,
                      const char* what = nullptr);
// Row-major contiguous.
fmla_status check_contiguous(const fmla_tensor* t, const char* name);
// Innermost stride 1, the data and every outer stride aligned to `bytes` (16: cp.async / vectors).
fmla_status check_vector_layout(const fmla_tensor* t, const char* name, int bytes);

int64_t numel(const fmla_tensor* t);

}  // namespace fmla

#define FMLA_TRY(expr)                         \
  do {                                         \
    const fmla_status fmla_try_ = (expr);      \
    if (fmla_try_ != FMLA_OK) return fmla_try_; \
  } while (0)
