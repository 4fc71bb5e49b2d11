#include "decode_common.h"

#include <stdint.h>

#include <initializer_list>

#include "../kernels/config.h"

namespace fmla {

static int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

// The product of non-negative factors, -1 when it is past INT64_MAX (a zero factor gives 0).
static int64_t checked_product(std::initializer_list<int64_t> factors) {
  for (const int64_t x : factors)
    if (x == 0) return 0;
  int64_t product = 1;
  for (const int64_t x : factors)
    if (__builtin_mul_overflow(product, x, &product)) return -1;
  return product;
}

fmla_status check_query_scale(const fmla_tensor* q, const fmla_tensor* descale_q) {
  if (q->dtype == FMLA_DTYPE_FLOAT8_E4M3FN) {
    if (!descale_q)
      return fail(FMLA_ERROR_INVALID_ARGUMENT,
                  "descale_q: expected a float32 tensor of one element with float8_e4m3fn "
                  "queries, got NULL");
    return check_scale(descale_q, "descale_q");
  }
  if (descale_q)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "descale_q: expected NULL with 16-bit queries (it scales float8_e4m3fn ones), got a "
                "tensor");
  return FMLA_OK;
}

fmla_status prepare_decode(const DecodeArgs& a, DecodeParams* p, int* d_qk_out) {
  if (a.e4m3_queries)
    FMLA_TRY(check_tensor(a.q, "q", 4, {FMLA_DTYPE_FLOAT8_E4M3FN}));
  else
    FMLA_TRY(check_tensor(a.q, "q", 4, {FMLA_DTYPE_BFLOAT16, FMLA_DTYPE_FLOAT16}));
  const int32_t dtype = a.e4m3_queries ? FMLA_DTYPE_BFLOAT16 : a.q->dtype;  // out's
  const int32_t cache_dtype = a.cache_dtype >= 0 ? a.cache_dtype : dtype;
  FMLA_TRY(check_tensor(a.k, a.k_name, 4, {cache_dtype}));
  if (a.v) FMLA_TRY(check_tensor(a.v, "v_cache", 4, {cache_dtype}));
  FMLA_TRY(check_tensor(a.block_table, "block_table", 2, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(a.cache_seqlens, "cache_seqlens", 1, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(a.tile_scheduler_metadata, "tile_scheduler_metadata", 2, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(a.num_splits, "num_splits", 1, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(a.out, "out", 4, {dtype}));
  FMLA_TRY(check_tensor(a.lse, "lse", 3, {FMLA_DTYPE_FLOAT32}));
  // q, the caches, block_table, cache_seqlens, softmax_scale, causal (shared with the reference).
  FMLA_TRY(check_paged_inputs(a.q, a.k, a.k_name, a.v, a.block_table, a.cache_seqlens,
                              a.softmax_scale, a.causal));

  const int64_t b = a.q->shape[0], s_q = a.q->shape[1], h_q = a.q->shape[2], d_qk = a.q->shape[3];
  const int64_t num_pages = a.k->shape[0], page_size = a.k->shape[1], h_kv = a.k->shape[2];
  const int64_t d_v = a.head_dim_v;
  if (a.v) {
    FMLA_TRY(check_dim(a.v, "v_cache", 3, d_v, "head dim"));
  } else if (d_v < 1 || d_v > d_qk) {
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "head_dim_v: expected 1 <= head_dim_v <= d_qk = %lld, got %lld",
                static_cast<long long>(d_qk), static_cast<long long>(d_v));
  }
  const int64_t parts = a.tile_scheduler_metadata->shape[0];
  if (parts < 1 || parts > INT32_MAX)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "tile_scheduler_metadata: expected shape[0] (num_sm_parts) >= 1, got %lld",
                static_cast<long long>(parts));
  FMLA_TRY(check_dim(a.tile_scheduler_metadata, "tile_scheduler_metadata", 1, kMetadataInts));
  FMLA_TRY(check_contiguous(a.tile_scheduler_metadata, "tile_scheduler_metadata"));
  FMLA_TRY(check_dim(a.num_splits, "num_splits", 0, b + 1, "b + 1"));
  FMLA_TRY(check_contiguous(a.num_splits, "num_splits"));
  FMLA_TRY(check_dim(a.out, "out", 0, b, "b of q"));
  FMLA_TRY(check_dim(a.out, "out", 1, s_q, "s_q of q"));
  FMLA_TRY(check_dim(a.out, "out", 2, h_q, "h_q of q"));
  FMLA_TRY(check_dim(a.out, "out", 3, d_v, "head_dim_v"));
  FMLA_TRY(check_dim(a.lse, "lse", 0, b, "b of q"));
  FMLA_TRY(check_dim(a.lse, "lse", 1, h_q, "h_q of q"));
  FMLA_TRY(check_dim(a.lse, "lse", 2, s_q, "s_q of q"));
  FMLA_TRY(check_vector_layout(a.q, "q", 16));
  FMLA_TRY(check_vector_layout(a.k, a.k_name, 16));
  if (a.v) FMLA_TRY(check_vector_layout(a.v, "v_cache", 16));
  FMLA_TRY(check_vector_layout(a.out, "out", 16));
  // The outputs: each element written once. lse may be any such view (e.g. a transposed one).
  FMLA_TRY(check_no_overlap(a.out, "out"));
  FMLA_TRY(check_no_overlap(a.lse, "lse"));

  // Launch limits: the grid's y and z dims, the combine kernel's row blocks, b + 1 splits.
  const int64_t rows_per_kv = s_q * (h_q / h_kv);
  if (h_kv > 65535 || (rows_per_kv + kBlockM - 1) / kBlockM > 65535 ||
      s_q * h_q > 65535 || b > INT32_MAX - 1)
    return fail(FMLA_ERROR_UNSUPPORTED,
                "q: shape [b=%lld, s_q=%lld, h_q=%lld] with h_kv=%lld exceeds the launch limits",
                static_cast<long long>(b), static_cast<long long>(s_q), static_cast<long long>(h_q),
                static_cast<long long>(h_kv));

  const size_t needed = fmla_decode_workspace_bytes(b, s_q, h_q, d_v, parts);
  if (needed == SIZE_MAX)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "workspace_bytes: expected a workspace of at most INT64_MAX bytes, got "
                "fmla_decode_workspace_bytes(%lld, %lld, %lld, %lld, %lld) past it",
                static_cast<long long>(b), static_cast<long long>(s_q), static_cast<long long>(h_q),
                static_cast<long long>(d_v), static_cast<long long>(parts));
  if (a.workspace_bytes < needed)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "workspace_bytes: expected >= %zu (fmla_decode_workspace_bytes), got %zu", needed,
                a.workspace_bytes);
  if (!a.workspace || reinterpret_cast<uintptr_t>(a.workspace) % 16 != 0)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "workspace: expected device memory aligned to 16 bytes, got %p", a.workspace);

  const fmla_tensor* v = a.v ? a.v : a.k;
  *p = DecodeParams{};
  p->q = a.q->data;
  p->k = a.k->data;
  p->v = v->data;
  p->block_table = static_cast<const int32_t*>(a.block_table->data);
  p->cache_seqlens = static_cast<const int32_t*>(a.cache_seqlens->data);
  p->sched = static_cast<const int32_t*>(a.tile_scheduler_metadata->data);
  p->num_splits = static_cast<const int32_t*>(a.num_splits->data);
  p->out = a.out->data;
  p->lse = static_cast<float*>(a.lse->data);
  p->o_accum = static_cast<float*>(a.workspace);
  p->lse_accum = reinterpret_cast<float*>(
      static_cast<char*>(a.workspace) +
      align_up((b + parts) * s_q * h_q * d_v * static_cast<int64_t>(sizeof(float)), kWorkspaceAlign));
  p->q_stride_b = a.q->strides[0];
  p->q_stride_s = a.q->strides[1];
  p->q_stride_h = a.q->strides[2];
  p->k_stride_page = a.k->strides[0];
  p->k_stride_row = a.k->strides[1];
  p->k_stride_head = a.k->strides[2];
  p->v_stride_page = v->strides[0];
  p->v_stride_row = v->strides[1];
  p->v_stride_head = v->strides[2];
  p->bt_stride_b = a.block_table->strides[0];
  p->bt_stride_page = a.block_table->strides[1];
  p->seqlens_stride = a.cache_seqlens->strides[0];
  p->o_stride_b = a.out->strides[0];
  p->o_stride_s = a.out->strides[1];
  p->o_stride_h = a.out->strides[2];
  p->lse_stride_b = a.lse->strides[0];
  p->lse_stride_h = a.lse->strides[1];
  p->lse_stride_s = a.lse->strides[2];
  p->b = static_cast<int>(b);
  p->s_q = static_cast<int>(s_q);
  p->h_q = static_cast<int>(h_q);
  p->h_kv = static_cast<int>(h_kv);
  p->heads_per_kv = static_cast<int>(h_q / h_kv);
  p->rows_per_kv = static_cast<int>(rows_per_kv);
  p->page_size = static_cast<int>(page_size);
  p->num_pages = static_cast<int>(num_pages);
  p->num_sm_parts = static_cast<int>(parts);
  p->causal = a.causal ? 1 : 0;
  p->scale_log2 = a.softmax_scale * 1.4426950408889634f;
  *d_qk_out = static_cast<int>(d_qk);
  return FMLA_OK;
}

}  // namespace fmla

extern "C" size_t fmla_decode_workspace_bytes(int64_t b, int64_t s_q, int64_t h_q, int64_t d_v,
                                              int64_t num_sm_parts) {
  if (b < 0 || s_q < 0 || h_q < 0 || d_v < 0 || num_sm_parts < 0) return 0;
  // Exact: SIZE_MAX only when the true size is past INT64_MAX.
  if (b > INT64_MAX - num_sm_parts) return s_q == 0 || h_q == 0 ? 0 : SIZE_MAX;
  const int64_t splits = b + num_sm_parts;
  const int64_t f = static_cast<int64_t>(sizeof(float));
  int64_t total = 0;
  for (const int64_t region : {fmla::checked_product({splits, s_q, h_q, d_v, f}),
                               fmla::checked_product({splits, s_q, h_q, f})})
    if (region < 0 || region > INT64_MAX - (fmla::kWorkspaceAlign - 1) ||
        __builtin_add_overflow(total, fmla::align_up(region, fmla::kWorkspaceAlign), &total))
      return SIZE_MAX;
  return static_cast<size_t>(total);
}
