// fmla_gqa_decode: GQA / MHA / MQA decode with separate paged K and V caches, head dim 64/128/256.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "decode_common.h"

using namespace fmla;

template <typename Elem>
static fmla_status dispatch_head_dim(const DecodeParams& p, int d, void* stream) {
  switch (d) {
    case 64: return run_decode<Elem, 64, 64, true>(p, stream);
    case 128: return run_decode<Elem, 128, 128, true>(p, stream);
    case 256: return run_decode<Elem, 256, 256, true>(p, stream);
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
  const int32_t d = static_cast<int32_t>(q->shape[3]);
  const DecodeArgs args{q, k_cache, v_cache, block_table, cache_seqlens, tile_scheduler_metadata,
                        num_splits, out, lse, d, softmax_scale, causal, workspace,
                        workspace_bytes, "k_cache"};
  DecodeParams p;
  int d_qk = 0;
  FMLA_TRY(prepare_decode(args, &p, &d_qk));
  if (q->dtype == FMLA_DTYPE_BFLOAT16) return dispatch_head_dim<__nv_bfloat16>(p, d_qk, stream);
  return dispatch_head_dim<__half>(p, d_qk, stream);
}
