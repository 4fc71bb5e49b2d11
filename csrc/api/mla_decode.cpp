// fmla_mla_decode: MLA decode over a paged latent cache (values = the first d_v columns of K).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "../kernels/config.h"
#include "decode_common.h"

using namespace fmla;

extern "C" fmla_status fmla_mla_decode(const fmla_tensor* q, const fmla_tensor* kv_cache,
                                       const fmla_tensor* block_table,
                                       const fmla_tensor* cache_seqlens, int32_t head_dim_v,
                                       const fmla_tensor* tile_scheduler_metadata,
                                       const fmla_tensor* num_splits, float softmax_scale,
                                       int32_t causal, fmla_tensor* out, fmla_tensor* lse,
                                       void* workspace, size_t workspace_bytes, void* stream) {
  FMLA_TRY(require_device());
  const DecodeArgs args{q, kv_cache, nullptr, block_table, cache_seqlens, tile_scheduler_metadata,
                        num_splits, out, lse, head_dim_v, softmax_scale, causal, workspace,
                        workspace_bytes, "kv_cache"};
  DecodeParams p;
  int d_qk = 0;
  FMLA_TRY(prepare_decode(args, &p, &d_qk));
  if (d_qk != kMlaHeadDimQK || head_dim_v != kMlaHeadDimV)
    return fail(FMLA_ERROR_UNSUPPORTED,
                "q: MLA decode supports d_qk = %d with head_dim_v = %d, got d_qk = %d, "
                "head_dim_v = %d",
                kMlaHeadDimQK, kMlaHeadDimV, d_qk, head_dim_v);
  if (q->dtype == FMLA_DTYPE_BFLOAT16)
    return run_decode<__nv_bfloat16, kMlaHeadDimQK, kMlaHeadDimV, false>(p, stream);
  return run_decode<__half, kMlaHeadDimQK, kMlaHeadDimV, false>(p, stream);
}
