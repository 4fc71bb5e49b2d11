// fmla_gqa_decode: GQA / MHA / MQA decode with separate paged K and V caches, head dim 64/128/256;
// fmla_gqa_decode_e4m3: the same over float8_e4m3fn caches with per-tensor scales.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "../kernels/gqa_decode/launch.h"
#include "decode_common.h"

using namespace fmla;

// The few-rows kernel's parameters: where it can, it merges the sequences it cuts itself, counting
// their pieces in the spare ints of the schedule's rows (the caller's tile_scheduler_metadata, which
// the schedule leaves zero there and the kernel returns to zero; flash_mla.h); else (arrivals null)
// the combine kernel merges them.
static DecodeParams few_rows_params(const DecodeParams& p) {
  DecodeParams q = p;
  if (gqa_merges_splits(p)) q.arrivals = const_cast<int32_t*>(p.sched);
  return q;
}

// 16-bit caches with up to 16 query rows per KV head: the memory-bound kernel; more: the generic
// 64-row one.
template <typename Elem, int D>
static fmla_status run_gqa(const DecodeParams& p, void* stream) {
  if (!gqa_decode_fits(p)) return run_decode<Elem, D, D, true>(p, stream);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const DecodeParams q = few_rows_params(p);
  FMLA_TRY(from_cuda(launch_gqa_decode<Elem, D>(q, s), "decode kernel launch"));
  return q.arrivals ? FMLA_OK : from_cuda(launch_combine<Elem, D>(q, s), "combine kernel launch");
}

// float8_e4m3fn caches: the few-rows kernel only, a block for each 16 rows of a KV head.
// (e4m3 queries, p.descale_q set: their own instantiation, bf16 out.)
template <typename Elem, int D>
static fmla_status run_gqa_e4m3(const DecodeParams& p, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const DecodeParams q = few_rows_params(p);
  FMLA_TRY(from_cuda(q.descale_q ? launch_gqa_decode_e4m3_queries<D>(q, s)
                                 : launch_gqa_decode_e4m3<Elem, D>(q, s),
                     "decode kernel launch"));
  return q.arrivals ? FMLA_OK : from_cuda(launch_combine<Elem, D>(q, s), "combine kernel launch");
}

template <typename Elem, bool E4M3>
static fmla_status dispatch_head_dim(const DecodeParams& p, int d, void* stream) {
  switch (d) {
    case 64: return E4M3 ? run_gqa_e4m3<Elem, 64>(p, stream) : run_gqa<Elem, 64>(p, stream);
    case 128: return E4M3 ? run_gqa_e4m3<Elem, 128>(p, stream) : run_gqa<Elem, 128>(p, stream);
    case 256: return E4M3 ? run_gqa_e4m3<Elem, 256>(p, stream) : run_gqa<Elem, 256>(p, stream);
    default:
      return fail(FMLA_ERROR_UNSUPPORTED, "q: GQA decode supports head dims 64, 128, 256, got %d", d);
  }
}

extern "C" fmla_status fmla_gqa_decode(const fmla_tensor* q, const fmla_tensor* k_cache,
                                       const fmla_tensor* v_cache, const fmla_tensor* block_table,
                                       const fmla_tensor* cache_seqlens,
                                       const fmla_tensor* tile_scheduler_metadata,
                                       const fmla_tensor* num_splits, float softmax_scale,
                                       int32_t causal, fmla_tensor* out, fmla_tensor* lse,
                                       void* workspace, size_t workspace_bytes, void* stream) {
  FMLA_TRY(require_device());
  FMLA_TRY(check_tensor(q, "q", 4, {FMLA_DTYPE_BFLOAT16, FMLA_DTYPE_FLOAT16}));
  FMLA_TRY(check_tensor(v_cache, "v_cache", 4, {q->dtype}));
  const int64_t d = q->shape[3];  // not narrowed: prepare_decode checks q's dims against INT32_MAX
  const DecodeArgs args{q, k_cache, v_cache, block_table, cache_seqlens, tile_scheduler_metadata,
                        num_splits, out, lse, d, softmax_scale, causal, workspace,
                        workspace_bytes, "k_cache"};
  DecodeParams p;
  int d_qk = 0;
  FMLA_TRY(prepare_decode(args, &p, &d_qk));
  if (q->dtype == FMLA_DTYPE_BFLOAT16) return dispatch_head_dim<__nv_bfloat16, false>(p, d_qk, stream);
  return dispatch_head_dim<__half, false>(p, d_qk, stream);
}

extern "C" fmla_status fmla_gqa_decode_e4m3(
    const fmla_tensor* q, const fmla_tensor* k_cache, const fmla_tensor* v_cache,
    const fmla_tensor* block_table, const fmla_tensor* cache_seqlens,
    const fmla_tensor* tile_scheduler_metadata, const fmla_tensor* num_splits, float softmax_scale,
    int32_t causal, const fmla_tensor* descale_q, const fmla_tensor* descale_k,
    const fmla_tensor* descale_v, fmla_tensor* out, fmla_tensor* lse, void* workspace,
    size_t workspace_bytes, void* stream) {
  FMLA_TRY(require_device());
  FMLA_TRY(check_tensor(q, "q", 4,
                        {FMLA_DTYPE_BFLOAT16, FMLA_DTYPE_FLOAT16, FMLA_DTYPE_FLOAT8_E4M3FN}));
  FMLA_TRY(check_tensor(v_cache, "v_cache", 4, {FMLA_DTYPE_FLOAT8_E4M3FN}));
  FMLA_TRY(check_query_scale(q, descale_q));
  FMLA_TRY(check_scale(descale_k, "descale_k"));
  FMLA_TRY(check_scale(descale_v, "descale_v"));
  const int64_t d = q->shape[3];
  DecodeArgs args{q, k_cache, v_cache, block_table, cache_seqlens, tile_scheduler_metadata,
                  num_splits, out, lse, d, softmax_scale, causal, workspace,
                  workspace_bytes, "k_cache"};
  args.cache_dtype = FMLA_DTYPE_FLOAT8_E4M3FN;
  args.e4m3_queries = q->dtype == FMLA_DTYPE_FLOAT8_E4M3FN;
  DecodeParams p;
  int d_qk = 0;
  FMLA_TRY(prepare_decode(args, &p, &d_qk));
  if (!gqa_strides_fit(p))
    return fail(FMLA_ERROR_UNSUPPORTED,
                "k_cache: GQA decode over float8_e4m3fn caches takes cache strides below 2^31 "
                "elements");
  p.descale_k = static_cast<const float*>(descale_k->data);
  p.descale_v = static_cast<const float*>(descale_v->data);
  if (descale_q) p.descale_q = static_cast<const float*>(descale_q->data);
  if (q->dtype != FMLA_DTYPE_FLOAT16) return dispatch_head_dim<__nv_bfloat16, true>(p, d_qk, stream);
  return dispatch_head_dim<__half, true>(p, d_qk, stream);
}
