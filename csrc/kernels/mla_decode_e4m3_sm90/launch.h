// MLA decode on sm_90a over fp8_e4m3 (and, with bf16 queries, fp8_ds_mla) caches, 64 query rows a
// block: what csrc/api/ needs to launch it.
#pragma once

#include <cuda_runtime.h>

#include "../common/decode_params.h"

namespace fmla {

// Launches the kernel and returns true (*err: the launch status) when it runs this problem: one
// latent KV head, Query queries (float8_e4m3fn with p.descale_q set, or __nv_bfloat16 / __half
// without) over an fp8_e4m3 cache (p.k and its strides in bytes), pages of a power of two of
// tokens, 16-byte aligned cache and query rows, an sm_90 device and this library's sm_90a code for
// it. Otherwise returns false, having done nothing. Output bf16,
// fp16 for fp16 queries.
template <typename Query>
bool launch_mla_decode_e4m3_sm90(const DecodeParams& p, cudaStream_t stream, cudaError_t* err);

// The same over an fp8_ds_mla cache (656-byte rows, 16-byte aligned) with bf16 queries, pages of a
// power of two of tokens.
bool launch_mla_decode_e4m3_sm90_ds_mla(const DecodeParams& p, cudaStream_t stream,
                                        cudaError_t* err);

}  // namespace fmla
