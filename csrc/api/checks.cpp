#include "checks.h"

#include <stdarg.h>
#include <stdio.h>

#include <mutex>

namespace fmla {

namespace {
thread_local char g_last_error[1024] = "";

struct DeviceProbe {
  fmla_status status = FMLA_OK;
  char message[512] = "";
};

const DeviceProbe& probe_device() {
  static DeviceProbe probe;
  static std::once_flag once;
  std::call_once(once, [] {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      probe.status = FMLA_ERROR_NO_DEVICE;
      snprintf(probe.message, sizeof probe.message,
               "no usable CUDA device: cudaGetDeviceCount failed with %s (%s)",
               cudaGetErrorName(err), cudaGetErrorString(err));
      cudaGetLastError();  // clear the sticky-free error state
    } else if (count == 0) {
      probe.status = FMLA_ERROR_NO_DEVICE;
      snprintf(probe.message, sizeof probe.message, "no CUDA device found (device count is 0)");
    }
  });
  return probe;
}
}  // namespace

fmla_status fail(fmla_status status, const char* format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(g_last_error, sizeof g_last_error, format, args);
  va_end(args);
  return status;
}

const char* last_error_message() { return g_last_error; }

fmla_status from_cuda(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return FMLA_OK;
  fmla_status status = FMLA_ERROR_CUDA;
  switch (error) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInitializationError:
    case cudaErrorStubLibrary:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorDevicesUnavailable:
      status = FMLA_ERROR_NO_DEVICE;
      break;
    case cudaErrorMemoryAllocation:
      status = FMLA_ERROR_OUT_OF_MEMORY;
      break;
    default:
      break;
  }
  return fail(status, "%s failed: %s (%s)", what, cudaGetErrorName(error),
              cudaGetErrorString(error));
}

fmla_status require_device() {
  const DeviceProbe& probe = probe_device();
  if (probe.status != FMLA_OK) return fail(probe.status, "%s", probe.message);
  return FMLA_OK;
}

fmla_status check_launch(const char* kernel) { return from_cuda(cudaGetLastError(), kernel); }

int dtype_bytes(int32_t dtype) {
  switch (dtype) {
    case FMLA_DTYPE_FLOAT32:
    case FMLA_DTYPE_INT32:
      return 4;
    case FMLA_DTYPE_BFLOAT16:
    case FMLA_DTYPE_FLOAT16:
      return 2;
    case FMLA_DTYPE_FLOAT8_E4M3FN:
      return 1;
    default:
      return 0;
  }
}

const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case FMLA_DTYPE_FLOAT32: return "float32";
    case FMLA_DTYPE_BFLOAT16: return "bfloat16";
    case FMLA_DTYPE_FLOAT16: return "float16";
    case FMLA_DTYPE_FLOAT8_E4M3FN: return "float8_e4m3fn";
    case FMLA_DTYPE_INT32: return "int32";
    default: return "unknown dtype";
  }
}

int64_t numel(const fmla_tensor* t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim; ++d) n *= t->shape[d];
  return n;
}

fmla_status check_tensor(const fmla_tensor* t, const char* name, int ndim,
                         std::initializer_list<int32_t> dtypes) {
  if (!t) return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected a tensor, got NULL", name);
  if (t->ndim != ndim)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected rank %d, got %d", name, ndim, t->ndim);
  bool dtype_ok = false;
  char expected[128] = "";
  size_t used = 0;
  for (int32_t d : dtypes) {
    dtype_ok = dtype_ok || d == t->dtype;
    used += snprintf(expected + used, sizeof expected - used, "%s%s", used ? " or " : "",
                     dtype_name(d));
    if (used >= sizeof expected) used = sizeof expected - 1;
  }
  if (!dtype_ok)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected dtype %s, got %s (%d)", name, expected,
                dtype_name(t->dtype), t->dtype);
  for (int d = 0; d < ndim; ++d)
    if (t->shape[d] < 0)
      return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected shape[%d] >= 0, got %lld", name, d,
                  static_cast<long long>(t->shape[d]));
  if (!t->data && numel(t) > 0)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected device data, got a NULL pointer", name);
  return FMLA_OK;
}

fmla_status check_dim(const fmla_tensor* t, const char* name, int dim, int64_t expected,
                      const char* what) {
  if (t->shape[dim] == expected) return FMLA_OK;
  return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected shape[%d] = %lld%s%s%s, got %lld", name,
              dim, static_cast<long long>(expected), what ? " (" : "", what ? what : "",
              what ? ")" : "", static_cast<long long>(t->shape[dim]));
}

fmla_status check_contiguous(const fmla_tensor* t, const char* name) {
  int64_t expected = 1;
  for (int d = t->ndim - 1; d >= 0; --d) {
    if (t->shape[d] > 1 && t->strides[d] != expected)
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "%s: expected a contiguous tensor (strides[%d] = %lld), got strides[%d] = %lld",
                  name, d, static_cast<long long>(expected), d,
                  static_cast<long long>(t->strides[d]));
    expected *= t->shape[d];
  }
  return FMLA_OK;
}

fmla_status check_vector_layout(const fmla_tensor* t, const char* name, int bytes) {
  const int esize = dtype_bytes(t->dtype);
  const int inner = t->ndim - 1;
  if (t->shape[inner] > 1 && t->strides[inner] != 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "%s: expected a contiguous last dimension (strides[%d] = 1), got %lld", name, inner,
                static_cast<long long>(t->strides[inner]));
  if (reinterpret_cast<uintptr_t>(t->data) % bytes != 0)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected data aligned to %d bytes, got %p", name,
                bytes, t->data);
  if ((t->shape[inner] * esize) % bytes != 0)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "%s: expected the last dimension to span a multiple of %d bytes, got %lld elements",
                name, bytes, static_cast<long long>(t->shape[inner]));
  for (int d = 0; d < inner; ++d)
    if ((t->strides[d] * esize) % bytes != 0 || t->strides[d] < 0)
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "%s: expected strides[%d] to be a non-negative multiple of %d elements, got %lld",
                  name, d, bytes / esize, static_cast<long long>(t->strides[d]));
  return FMLA_OK;
}

}  // namespace fmla
