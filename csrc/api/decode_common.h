// Argument checks and parameter packing shared by fmla_mla_decode and fmla_gqa_decode.
#pragma once

#include "../kernels/common/decode_params.h"
#include "checks.h"

namespace fmla {

struct DecodeArgs {
  const fmla_tensor* q;
  const fmla_tensor* k;  // kv_cache (MLA) or k_cache (GQA)
  const fmla_tensor* v;  // NULL for MLA
  const fmla_tensor* block_table;
  const fmla_tensor* cache_seqlens;
  const fmla_tensor* tile_scheduler_metadata;
  const fmla_tensor* num_splits;
  fmla_tensor* out;
  fmla_tensor* lse;
  int64_t head_dim_v;  // GQA passes q's head dim unnarrowed: prepare_decode range-checks it
  float softmax_scale;
  int32_t causal;
  void* workspace;
  size_t workspace_bytes;
  const char* k_name;
  int32_t cache_dtype = -1;  // the caches' fmla_dtype; -1: q's
  bool e4m3_queries = false;  // q is float8_e4m3fn (scaled by a descale_q) and out bfloat16
};

// descale_q with float8_e4m3fn queries (a float32 scale of one element), NULL with 16-bit ones.
fmla_status check_query_scale(const fmla_tensor* q, const fmla_tensor* descale_q);

// Checks every argument and fills `p`; afterwards p.q/p.k/p.v and the dims are safe to launch on.
fmla_status prepare_decode(const DecodeArgs& a, DecodeParams* p, int* d_qk);

// Runs the decode kernel then the combine kernel through the given instantiation.
template <typename Elem, int D_QK, int D_V, bool SEPARATE_V>
fmla_status run_decode(const DecodeParams& p, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  FMLA_TRY(from_cuda(launch_splitkv_decode<Elem, D_QK, D_V, SEPARATE_V>(p, s), "decode kernel launch"));
  return from_cuda(launch_combine<Elem, D_V>(p, s), "combine kernel launch");
}

}  // namespace fmla
