#include "checks.h"

#include "../kernels/config.h"

#include <math.h>
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
  // The runtime keeps a failed call's error as its last error, and every launch here is checked
  // with cudaGetLastError(): clear it, or the next launch reports it as its own. A sticky error (a
  // kernel fault) is not lost: the context stays broken and every later call returns it again.
  cudaGetLastError();
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

namespace {
// "[a, b, c]" of the first n values, for messages.
const char* format_dims(char* buf, size_t size, const int64_t* v, int n) {
  size_t used = static_cast<size_t>(snprintf(buf, size, "["));
  for (int d = 0; d < n && used < size; ++d)
    used += static_cast<size_t>(
        snprintf(buf + used, size - used, "%s%lld", d ? ", " : "", static_cast<long long>(v[d])));
  if (used < size) snprintf(buf + used, size - used, "]");
  return buf;
}

// |stride|; check_tensor refuses INT64_MIN before any call.
int64_t magnitude(int64_t stride) { return stride < 0 ? -stride : stride; }
}  // namespace

fmla_status check_tensor(const fmla_tensor* t, const char* name, int ndim,
                         std::initializer_list<int32_t> dtypes) {
  if (!t) return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected a tensor, got NULL", name);
  // The rank before anything else: shape[] and strides[] hold FMLA_MAX_DIMS values.
  if (t->ndim != ndim || ndim < 0 || ndim > FMLA_MAX_DIMS) {
    if (ndim >= 0 && ndim <= FMLA_MAX_DIMS)
      return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected rank %d, got %d", name, ndim, t->ndim);
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected rank 0..%d (FMLA_MAX_DIMS), got %d",
                name, FMLA_MAX_DIMS, t->ndim);
  }
  bool dtype_ok = false;
  for (int32_t d : dtypes) dtype_ok = dtype_ok || d == t->dtype;
  if (!dtype_ok) {  // the message is built only here: this runs on every call
    char expected[128] = "";
    size_t used = 0;
    for (int32_t d : dtypes) {
      used += snprintf(expected + used, sizeof expected - used, "%s%s", used ? " or " : "",
                       dtype_name(d));
      if (used >= sizeof expected) used = sizeof expected - 1;
    }
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected dtype %s, got %s (%d)", name, expected,
                dtype_name(t->dtype), t->dtype);
  }
  const int64_t esize = dtype_bytes(t->dtype);
  bool empty = false;
  for (int d = 0; d < ndim; ++d) {
    if (t->shape[d] < 0)
      return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected shape[%d] >= 0, got %lld", name, d,
                  static_cast<long long>(t->shape[d]));
    empty = empty || t->shape[d] == 0;
  }
  // Sizes in bytes fit in int64, so that no product of a size and a stride below overflows.
  const int64_t max_elements = INT64_MAX / esize;
  char dims[160], steps[160];
  int64_t bytes = esize;
  for (int d = 0; d < ndim && !empty; ++d)
    if (__builtin_mul_overflow(bytes, t->shape[d], &bytes))
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "%s: expected at most INT64_MAX bytes of %s elements, got shape %s", name,
                  dtype_name(t->dtype), format_dims(dims, sizeof dims, t->shape, ndim));
  for (int d = 0; d < ndim; ++d)
    if (t->strides[d] < -max_elements || t->strides[d] > max_elements)
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "%s: expected |strides[%d]| <= %lld (INT64_MAX bytes), got %lld", name, d,
                  static_cast<long long>(max_elements), static_cast<long long>(t->strides[d]));
  if (empty) return FMLA_OK;
  int64_t span = 0;  // elements from the lowest addressed element to the highest
  for (int d = 0; d < ndim; ++d) {
    int64_t step = 0;
    if (t->shape[d] > 1 &&
        (__builtin_mul_overflow(t->shape[d] - 1, magnitude(t->strides[d]), &step) ||
         __builtin_add_overflow(span, step, &span) || span >= max_elements))
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "%s: expected a view spanning at most INT64_MAX bytes, got shape %s, strides %s",
                  name, format_dims(dims, sizeof dims, t->shape, ndim),
                  format_dims(steps, sizeof steps, t->strides, ndim));
  }
  if (!t->data)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected device data, got a NULL pointer", name);
  if (reinterpret_cast<uintptr_t>(t->data) % esize != 0)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "%s: expected data aligned to %lld bytes (the %s element size), got %p", name,
                static_cast<long long>(esize), dtype_name(t->dtype), t->data);
  return FMLA_OK;
}

fmla_status check_dim(const fmla_tensor* t, const char* name, int dim, int64_t expected,
                      const char* what) {
  if (t->shape[dim] == expected) return FMLA_OK;
  return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected shape[%d] = %lld%s%s%s, got %lld", name,
              dim, static_cast<long long>(expected), what ? " (" : "", what ? what : "",
              what ? ")" : "", static_cast<long long>(t->shape[dim]));
}

fmla_status check_shape_int32(const fmla_tensor* t, const char* name) {
  for (int d = 0; d < t->ndim; ++d)
    if (t->shape[d] > INT32_MAX)
      return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected shape[%d] <= %d (INT32_MAX), got %lld",
                  name, d, INT32_MAX, static_cast<long long>(t->shape[d]));
  return FMLA_OK;
}

fmla_status check_contiguous(const fmla_tensor* t, const char* name) {
  if (numel(t) == 0) return FMLA_OK;
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

fmla_status check_inner_stride(const fmla_tensor* t, const char* name) {
  const int inner = t->ndim - 1;
  if (inner >= 0 && t->shape[inner] > 1 && t->strides[inner] != 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "%s: expected a contiguous last dimension (strides[%d] = 1), got %lld", name, inner,
                static_cast<long long>(t->strides[inner]));
  return FMLA_OK;
}

fmla_status check_vector_layout(const fmla_tensor* t, const char* name, int bytes) {
  const int esize = dtype_bytes(t->dtype);
  const int inner = t->ndim - 1;
  FMLA_TRY(check_inner_stride(t, name));
  if (reinterpret_cast<uintptr_t>(t->data) % bytes != 0)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected data aligned to %d bytes, got %p", name,
                bytes, t->data);
  if ((t->shape[inner] * esize) % bytes != 0)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "%s: expected the last dimension to span a multiple of %d bytes, got %lld elements",
                name, bytes, static_cast<long long>(t->shape[inner]));
  for (int d = 0; d < inner; ++d)
    if ((t->strides[d] * esize) % bytes != 0 || t->strides[d] < 0) {
      if (bytes <= esize)
        return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected strides[%d] >= 0, got %lld", name, d,
                    static_cast<long long>(t->strides[d]));
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "%s: expected strides[%d] to be a non-negative multiple of %d elements, got %lld",
                  name, d, bytes / esize, static_cast<long long>(t->strides[d]));
    }
  return FMLA_OK;
}

fmla_status check_no_overlap(const fmla_tensor* t, const char* name) {
  if (numel(t) == 0) return FMLA_OK;
  int order[FMLA_MAX_DIMS];  // the dims of extent > 1 by increasing |stride| (insertion sort)
  int n = 0;
  for (int d = 0; d < t->ndim; ++d) {
    if (t->shape[d] < 2) continue;
    if (t->strides[d] == 0)
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "%s: expected strides[%d] != 0 (an output's elements at distinct addresses), "
                  "got 0 with shape[%d] = %lld",
                  name, d, d, static_cast<long long>(t->shape[d]));
    int i = n++;
    for (; i > 0 && magnitude(t->strides[order[i - 1]]) > magnitude(t->strides[d]); --i)
      order[i] = order[i - 1];
    order[i] = d;
  }
  int64_t span = 0;  // fits: check_tensor bounded the whole view's span
  for (int i = 0; i < n; ++i) {
    const int d = order[i];
    if (magnitude(t->strides[d]) <= span)
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "%s: expected strides that keep an output's elements apart (|strides[%d]| > "
                  "%lld, the span of the dimensions with smaller strides), got %lld",
                  name, d, static_cast<long long>(span), static_cast<long long>(t->strides[d]));
    span += (t->shape[d] - 1) * magnitude(t->strides[d]);
  }
  return FMLA_OK;
}

fmla_status check_scale(const fmla_tensor* t, const char* name) {
  FMLA_TRY(check_tensor(t, name, t ? t->ndim : 0, {FMLA_DTYPE_FLOAT32}));
  int64_t elements = 1;  // bounded: check_tensor checked the element count
  for (int i = 0; i < t->ndim; ++i) elements *= t->shape[i];
  if (elements != 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "%s: expected a float32 tensor of one element, got %lld elements", name,
                static_cast<long long>(elements));
  return FMLA_OK;
}

fmla_status check_format_scale(int32_t format, const fmla_tensor* scale, const char* name) {
  if (format == FMLA_KV_FORMAT_FP8_DS_MLA) {
    if (scale)
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "%s: expected NULL with FMLA_KV_FORMAT_FP8_DS_MLA (its scales are in the "
                  "tokens), got a tensor",
                  name);
    return FMLA_OK;
  }
  if (!scale)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "%s: expected a float32 tensor of one element with FMLA_KV_FORMAT_FP8_E4M3, got "
                "NULL",
                name);
  return check_scale(scale, name);
}

fmla_status check_kv_format(int32_t format) {
  if (format != FMLA_KV_FORMAT_FP8_DS_MLA && format != FMLA_KV_FORMAT_FP8_E4M3)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "format: expected FMLA_KV_FORMAT_FP8_DS_MLA (%d) or FMLA_KV_FORMAT_FP8_E4M3 (%d), "
                "got %d",
                FMLA_KV_FORMAT_FP8_DS_MLA, FMLA_KV_FORMAT_FP8_E4M3, format);
  return FMLA_OK;
}

fmla_status check_ds_mla_cache(const fmla_tensor* cache, const char* name) {
  FMLA_TRY(check_dim(cache, name, 2, 1, "h_kv: an fp8_ds_mla cache holds one latent head"));
  FMLA_TRY(check_dim(cache, name, 3, kDsMlaTokenBytes, "the bytes of an fp8_ds_mla token"));
  if (cache->strides[1] != kDsMlaTokenBytes ||
      (cache->shape[0] > 1 && cache->strides[0] < cache->shape[1] * kDsMlaTokenBytes))
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "%s: expected fp8_ds_mla tokens packed (row stride %d) in pages at least "
                "page_size * %d bytes apart, got strides [%lld, %lld, %lld, %lld]",
                name, kDsMlaTokenBytes, kDsMlaTokenBytes,
                static_cast<long long>(cache->strides[0]),
                static_cast<long long>(cache->strides[1]),
                static_cast<long long>(cache->strides[2]),
                static_cast<long long>(cache->strides[3]));
  return FMLA_OK;
}

fmla_status check_paged_inputs(const fmla_tensor* q, const fmla_tensor* k, const char* k_name,
                               const fmla_tensor* v, const fmla_tensor* block_table,
                               const fmla_tensor* cache_seqlens, float softmax_scale,
                               int32_t causal) {
  // The kernels take every size as int.
  FMLA_TRY(check_shape_int32(q, "q"));
  FMLA_TRY(check_shape_int32(k, k_name));
  if (v) FMLA_TRY(check_shape_int32(v, "v_cache"));
  FMLA_TRY(check_shape_int32(block_table, "block_table"));
  FMLA_TRY(check_shape_int32(cache_seqlens, "cache_seqlens"));
  FMLA_TRY(check_inner_stride(q, "q"));
  FMLA_TRY(check_inner_stride(k, k_name));
  if (v) FMLA_TRY(check_inner_stride(v, "v_cache"));
  FMLA_TRY(check_inner_stride(block_table, "block_table"));
  FMLA_TRY(check_inner_stride(cache_seqlens, "cache_seqlens"));

  const int64_t b = q->shape[0], s_q = q->shape[1], h_q = q->shape[2], d_qk = q->shape[3];
  if (b < 1 || s_q < 1 || h_q < 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "q: expected a non-empty [b, s_q, h_q, d_qk], got "
                "[%lld, %lld, %lld, %lld]", static_cast<long long>(b), static_cast<long long>(s_q),
                static_cast<long long>(h_q), static_cast<long long>(d_qk));
  const int64_t num_pages = k->shape[0], page_size = k->shape[1], h_kv = k->shape[2];
  FMLA_TRY(check_dim(k, k_name, 3, d_qk, "d_qk of q"));
  if (num_pages < 1 || page_size < 1 || h_kv < 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "%s: expected num_pages, page_size and h_kv >= 1, got [%lld, %lld, %lld, %lld]",
                k_name, static_cast<long long>(num_pages), static_cast<long long>(page_size),
                static_cast<long long>(h_kv), static_cast<long long>(d_qk));
  if (h_q % h_kv != 0)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "q: expected h_q to be a multiple of h_kv = %lld (%s shape[2]), got h_q = %lld",
                static_cast<long long>(h_kv), k_name, static_cast<long long>(h_q));
  if (v) {
    const int64_t expected[3] = {num_pages, page_size, h_kv};
    static const char* const what[3] = {"num_pages", "page_size", "h_kv"};
    for (int d = 0; d < 3; ++d)
      if (v->shape[d] != expected[d])
        return fail(FMLA_ERROR_INVALID_ARGUMENT,
                    "v_cache: expected shape[%d] = %lld (%s of %s), got %lld", d,
                    static_cast<long long>(expected[d]), what[d], k_name,
                    static_cast<long long>(v->shape[d]));
  }
  FMLA_TRY(check_dim(block_table, "block_table", 0, b, "b of q"));
  FMLA_TRY(check_dim(cache_seqlens, "cache_seqlens", 0, b, "b of q"));
  if (!isfinite(softmax_scale))
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "softmax_scale: expected a finite number, got %g",
                static_cast<double>(softmax_scale));
  if (causal != 0 && causal != 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "causal: expected 0 or 1, got %d", causal);
  return FMLA_OK;
}

}  // namespace fmla
