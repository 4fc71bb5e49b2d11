// fmla_write_kv: scatter new cache rows to their slots; fmla_write_kv_fp8: the same, quantizing.
#include "../kernels/config.h"
#include "../kernels/kv_write/write_kv.cuh"
#include "../kernels/kv_write/write_kv_fp8.cuh"
#include "checks.h"

using namespace fmla;

// What both writes fill alike: the slots and where each one lands in the cache (cache strides in
// bytes: esize is the cache's element size).
template <typename Params>
static void fill_slots(Params& p, const fmla_tensor* cache, const fmla_tensor* slot_mapping,
                       int64_t n, int esize) {
  p.slot_mapping = static_cast<const int32_t*>(slot_mapping->data);
  p.cache_stride_page = cache->strides[0] * esize;
  p.cache_stride_row = cache->strides[1] * esize;
  p.cache_stride_head = cache->strides[2] * esize;
  p.slot_stride = slot_mapping->strides[0];
  p.num_slots = cache->shape[0] * cache->shape[1];
  p.n = n;
  p.h_kv = static_cast<int>(cache->shape[2]);
  p.page_size = static_cast<int>(cache->shape[1]);
}

extern "C" fmla_status fmla_write_kv(fmla_tensor* cache, const fmla_tensor* rows,
                                     const fmla_tensor* slot_mapping, void* stream) {
  FMLA_TRY(require_device());
  // Any fmla_dtype: the kernel copies bytes (flash_mla.h).
  FMLA_TRY(check_tensor(cache, "cache", 4,
                        {FMLA_DTYPE_BFLOAT16, FMLA_DTYPE_FLOAT16, FMLA_DTYPE_FLOAT32,
                         FMLA_DTYPE_FLOAT8_E4M3FN, FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(rows, "rows", 3, {cache->dtype}));
  FMLA_TRY(check_tensor(slot_mapping, "slot_mapping", 1, {FMLA_DTYPE_INT32}));
  const int64_t n = rows->shape[0];
  const int64_t page_size = cache->shape[1], h_kv = cache->shape[2], d = cache->shape[3];
  FMLA_TRY(check_dim(rows, "rows", 1, h_kv, "h_kv of cache"));
  FMLA_TRY(check_dim(rows, "rows", 2, d, "head dim of cache"));
  FMLA_TRY(check_dim(slot_mapping, "slot_mapping", 0, n, "n of rows"));
  if (page_size < 1 || h_kv < 1 || d < 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "cache: expected page_size, h_kv and d >= 1, got [%lld, %lld, %lld, %lld]",
                static_cast<long long>(cache->shape[0]), static_cast<long long>(page_size),
                static_cast<long long>(h_kv), static_cast<long long>(d));
  FMLA_TRY(check_shape_int32(cache, "cache"));  // page_size and h_kv are taken as int
  const int esize = dtype_bytes(cache->dtype);
  const int64_t row_bytes = d * esize;
  if (row_bytes > INT32_MAX)
    return fail(FMLA_ERROR_UNSUPPORTED,
                "cache: expected rows of at most %d bytes (shape[3] * %d), got %lld bytes",
                INT32_MAX, esize, static_cast<long long>(row_bytes));
  FMLA_TRY(check_vector_layout(cache, "cache", 1));
  FMLA_TRY(check_vector_layout(rows, "rows", 1));
  FMLA_TRY(check_inner_stride(slot_mapping, "slot_mapping"));
  FMLA_TRY(check_no_overlap(cache, "cache"));  // two slots at one address would race
  if (n == 0) return FMLA_OK;

  // The widest access that the data pointers, the row size and every outer stride allow.
  int vec = 1;
  for (int candidate : {16, 8, 4, 2}) {
    const fmla_tensor* ts[2] = {cache, rows};
    bool ok = row_bytes % candidate == 0;
    for (const fmla_tensor* t : ts) {
      ok = ok && reinterpret_cast<uintptr_t>(t->data) % candidate == 0;
      for (int dim = 0; dim + 1 < t->ndim; ++dim) ok = ok && (t->strides[dim] * esize) % candidate == 0;
    }
    if (ok) {
      vec = candidate;
      break;
    }
  }

  WriteKvParams p{};
  p.cache = cache->data;
  p.rows = rows->data;
  fill_slots(p, cache, slot_mapping, n, esize);
  p.rows_stride_n = rows->strides[0] * esize;
  p.rows_stride_head = rows->strides[1] * esize;
  p.row_bytes = static_cast<int>(row_bytes);
  p.vector_bytes = vec;
  return from_cuda(launch_write_kv(p, static_cast<cudaStream_t>(stream)), "write_kv kernel launch");
}

extern "C" fmla_status fmla_write_kv_fp8(fmla_tensor* cache, const fmla_tensor* rows,
                                         const fmla_tensor* slot_mapping, int32_t format,
                                         const fmla_tensor* descale, void* stream) {
  FMLA_TRY(require_device());
  FMLA_TRY(check_kv_format(format));
  const bool ds_mla = format == FMLA_KV_FORMAT_FP8_DS_MLA;
  FMLA_TRY(check_tensor(cache, "cache", 4, {FMLA_DTYPE_FLOAT8_E4M3FN}));
  FMLA_TRY(check_tensor(rows, "rows", 3, {FMLA_DTYPE_BFLOAT16, FMLA_DTYPE_FLOAT16}));
  FMLA_TRY(check_tensor(slot_mapping, "slot_mapping", 1, {FMLA_DTYPE_INT32}));
  const int64_t n = rows->shape[0];
  const int64_t page_size = cache->shape[1], h_kv = cache->shape[2];
  const int64_t d = ds_mla ? kMlaHeadDimQK : cache->shape[3];
  if (ds_mla) FMLA_TRY(check_ds_mla_cache(cache, "cache"));
  FMLA_TRY(check_format_scale(format, descale, "descale"));
  FMLA_TRY(check_dim(rows, "rows", 1, h_kv, "h_kv of cache"));
  FMLA_TRY(check_dim(rows, "rows", 2, d, ds_mla ? "d_qk of the fp8_ds_mla format" : "d of cache"));
  FMLA_TRY(check_dim(slot_mapping, "slot_mapping", 0, n, "n of rows"));
  if (page_size < 1 || h_kv < 1 || d < 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "cache: expected page_size, h_kv and d >= 1, got [%lld, %lld, %lld, %lld]",
                static_cast<long long>(cache->shape[0]), static_cast<long long>(page_size),
                static_cast<long long>(h_kv), static_cast<long long>(cache->shape[3]));
  FMLA_TRY(check_shape_int32(cache, "cache"));
  FMLA_TRY(check_shape_int32(rows, "rows"));
  if (h_kv * d > INT32_MAX)
    return fail(FMLA_ERROR_UNSUPPORTED, "cache: expected h_kv * d <= %d, got %lld", INT32_MAX,
                static_cast<long long>(h_kv * d));
  FMLA_TRY(check_vector_layout(cache, "cache", 1));
  FMLA_TRY(check_vector_layout(rows, "rows", 2));
  FMLA_TRY(check_inner_stride(slot_mapping, "slot_mapping"));
  FMLA_TRY(check_no_overlap(cache, "cache"));
  if (n == 0) return FMLA_OK;

  WriteKvFp8Params p{};
  p.cache = static_cast<uint8_t*>(cache->data);
  p.rows = rows->data;
  fill_slots(p, cache, slot_mapping, n, 1);  // float8: elements are bytes
  p.descale = ds_mla ? nullptr : static_cast<const float*>(descale->data);
  p.rows_stride_n = rows->strides[0];  // elements
  p.rows_stride_head = rows->strides[1];
  p.d = static_cast<int>(d);
  // Four values at a time when no access of four straddles an alignment of 4 codes.
  p.wide = d % 4 == 0 && (reinterpret_cast<uintptr_t>(cache->data) | cache->strides[0] |
                          cache->strides[1] | cache->strides[2]) % 4 == 0;
  return from_cuda(launch_write_kv_fp8(p, ds_mla ? Fp8WriteFormat::kDsMla : Fp8WriteFormat::kE4m3,
                                       rows->dtype == FMLA_DTYPE_FLOAT16,
                                       static_cast<cudaStream_t>(stream)),
                   "write_kv_fp8 kernel launch");
}
