// fmla_mla_decode: MLA decode over a paged latent cache (values = the first d_v columns of K).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "../kernels/config.h"
#include "../kernels/mla_decode_sm90/launch.h"
#include "decode_common.h"

using namespace fmla;

// The kernel choice. On an sm_90 device with this library's sm_90a code: the kernel of
// kernels/mla_decode_sm90/ with the loader mla_decode_sm90_load_for picks from the page size;
// elsewhere the generic split-KV kernel (kernels/splitkv/, mma.sync on sm_80+). Both are
// followed by the same combine.
template <typename Elem>
static fmla_status dispatch(const DecodeParams& p, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  cudaError_t err = cudaSuccess;
  if (launch_mla_decode_sm90<Elem>(p, mla_decode_sm90_load_for(p.page_size), s, &err)) {
    FMLA_TRY(from_cuda(err, "decode kernel launch"));
    return from_cuda(launch_combine<Elem, kMlaHeadDimV>(p, s), "combine kernel launch");
  }
  return run_decode<Elem, kMlaHeadDimQK, kMlaHeadDimV, false>(p, stream);
}

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
  if (q->dtype == FMLA_DTYPE_BFLOAT16) return dispatch<__nv_bfloat16>(p, stream);
  return dispatch<__half>(p, stream);
}
