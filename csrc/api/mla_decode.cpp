// fmla_mla_decode: MLA decode over a paged latent cache (values = the first d_v columns of K);
// fmla_mla_decode_fp8: the same over an FP8 cache (docs/fp8-kv-cache.md).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <type_traits>

#include "../kernels/config.h"
#include "../kernels/mla_decode_e4m3_sm90/launch.h"
#include "../kernels/mla_decode_fp8_sm90/launch.h"
#include "../kernels/mla_decode_sm90/launch.h"
#include "decode_common.h"

using namespace fmla;

// The one shape the MLA kernels take.
static fmla_status check_mla_dims(int d_qk, int32_t head_dim_v) {
  if (d_qk != kMlaHeadDimQK || head_dim_v != kMlaHeadDimV)
    return fail(FMLA_ERROR_UNSUPPORTED,
                "q: MLA decode supports d_qk = %d with head_dim_v = %d, got d_qk = %d, "
                "head_dim_v = %d",
                kMlaHeadDimQK, kMlaHeadDimV, d_qk, head_dim_v);
  return FMLA_OK;
}

// The kernel choice. On an sm_90 device with this library's sm_90a code: the kernel of
// kernels/mla_decode_sm90/ with the loader mla_decode_sm90_load_for picks from the page size and
// a KV head's query rows;
// elsewhere the generic split-KV kernel (kernels/splitkv/, mma.sync on sm_80+). Both are
// followed by the same combine.
template <typename Elem>
static fmla_status dispatch(const DecodeParams& p, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  cudaError_t err = cudaSuccess;
  const MlaKvLoad load = mla_decode_sm90_load_for(p.page_size, p.rows_per_kv);
  if (launch_mla_decode_sm90<Elem>(p, load, s, &err)) {
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
  FMLA_TRY(check_mla_dims(d_qk, head_dim_v));
  if (q->dtype == FMLA_DTYPE_BFLOAT16) return dispatch<__nv_bfloat16>(p, stream);
  return dispatch<__half>(p, stream);
}

// Up to 32 query rows a KV head: the keys x rows kernel (kernels/mla_decode_fp8_sm90/), which
// converts codes in registers and pads nothing (e4m3 queries: the scores on the FP8 tensor cores).
// More rows over fp8_e4m3 (and with bf16 queries over fp8_ds_mla) on pages of a power of two of
// tokens take the 64-row kernel that reads the codes as the cache stores them
// (kernels/mla_decode_e4m3_sm90/);
// the rest the 64-row sm_90a kernel with the dequantizing producer (e4m3 queries converted to bf16
// as they load). Then the combine; no other kernel reads FP8 MLA caches.
template <typename Query, MlaCache CACHE>
static fmla_status dispatch_fp8(const DecodeParams& p, void* stream) {
  using Elem = mla_fp8_sm90::ComputeElem<Query>;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  cudaError_t err = cudaSuccess;
  if (!launch_mla_decode_fp8_sm90<Query, CACHE>(p, s, &err) &&
      !(CACHE == MlaCache::kFp8E4m3 && launch_mla_decode_e4m3_sm90<Query>(p, s, &err)) &&
      !(CACHE == MlaCache::kFp8DsMla && std::is_same<Query, __nv_bfloat16>::value &&
        launch_mla_decode_e4m3_sm90_ds_mla(p, s, &err)) &&
      !launch_mla_decode_sm90_fp8<Elem, CACHE>(p, s, &err))
    return fail(FMLA_ERROR_UNSUPPORTED,
                "kv_cache: MLA decode over an FP8 cache needs an sm_90 device and this library's "
                "sm_90a code");
  FMLA_TRY(from_cuda(err, "decode kernel launch"));
  return from_cuda(launch_combine<Elem, kMlaHeadDimV>(p, s), "combine kernel launch");
}

extern "C" fmla_status fmla_mla_decode_fp8(
    const fmla_tensor* q, const fmla_tensor* kv_cache, const fmla_tensor* block_table,
    const fmla_tensor* cache_seqlens, int32_t head_dim_v,
    const fmla_tensor* tile_scheduler_metadata, const fmla_tensor* num_splits,
    float softmax_scale, int32_t causal, int32_t format, const fmla_tensor* descale_q,
    const fmla_tensor* descale_k, fmla_tensor* out, fmla_tensor* lse, void* workspace,
    size_t workspace_bytes, void* stream) {
  FMLA_TRY(require_device());
  FMLA_TRY(check_kv_format(format));
  const bool ds_mla = format == FMLA_KV_FORMAT_FP8_DS_MLA;
  FMLA_TRY(check_tensor(q, "q", 4,
                        {FMLA_DTYPE_BFLOAT16, FMLA_DTYPE_FLOAT16, FMLA_DTYPE_FLOAT8_E4M3FN}));
  FMLA_TRY(check_tensor(kv_cache, "kv_cache", 4, {FMLA_DTYPE_FLOAT8_E4M3FN}));
  const bool e4m3_queries = q->dtype == FMLA_DTYPE_FLOAT8_E4M3FN;
  if (e4m3_queries && ds_mla)
    return fail(FMLA_ERROR_UNSUPPORTED,
                "q: MLA decode over an fp8_ds_mla cache takes bfloat16 queries (float8_e4m3fn "
                "queries go with FMLA_KV_FORMAT_FP8_E4M3), got float8_e4m3fn");
  FMLA_TRY(check_query_scale(q, descale_q));
  // fp8_ds_mla: checked here as 656-byte tokens, then passed on as their first 576 bytes (the
  // view the shared checks understand; the kernel reads whole rows through the same strides).
  fmla_tensor cache_view = *kv_cache;
  FMLA_TRY(check_format_scale(format, descale_k, "descale_k"));
  if (ds_mla) {
    if (q->dtype != FMLA_DTYPE_BFLOAT16)
      return fail(FMLA_ERROR_UNSUPPORTED,
                  "q: MLA decode over an fp8_ds_mla cache takes bfloat16 queries (its rotary "
                  "values are bfloat16)");
    FMLA_TRY(check_ds_mla_cache(kv_cache, "kv_cache"));
    cache_view.shape[3] = kMlaHeadDimQK;
  }
  DecodeArgs args{q, &cache_view, nullptr, block_table, cache_seqlens, tile_scheduler_metadata,
                  num_splits, out, lse, head_dim_v, softmax_scale, causal, workspace,
                  workspace_bytes, "kv_cache"};
  args.cache_dtype = FMLA_DTYPE_FLOAT8_E4M3FN;
  args.e4m3_queries = e4m3_queries;
  DecodeParams p;
  int d_qk = 0;
  FMLA_TRY(prepare_decode(args, &p, &d_qk));
  FMLA_TRY(check_mla_dims(d_qk, head_dim_v));
  if (ds_mla) return dispatch_fp8<__nv_bfloat16, MlaCache::kFp8DsMla>(p, stream);
  p.descale_k = p.descale_v = static_cast<const float*>(descale_k->data);
  if (e4m3_queries) {
    p.descale_q = static_cast<const float*>(descale_q->data);
    return dispatch_fp8<__nv_fp8_e4m3, MlaCache::kFp8E4m3>(p, stream);
  }
  if (q->dtype == FMLA_DTYPE_BFLOAT16)
    return dispatch_fp8<__nv_bfloat16, MlaCache::kFp8E4m3>(p, stream);
  return dispatch_fp8<__half, MlaCache::kFp8E4m3>(p, stream);
}
