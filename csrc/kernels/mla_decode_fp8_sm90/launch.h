// MLA decode over FP8 caches for few query rows (sm_90a): what csrc/api/ needs to launch it.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "../common/decode_params.h"
#include "../mla_decode_sm90/launch.h"

namespace fmla {
namespace mla_fp8_sm90 {

// float8_e4m3fn queries (over fp8_e4m3 caches): S^T runs on the FP8 tensor cores, the codes of K
// straight from the stage; the rest of the decode (P^T, O^T, the outputs) in bf16.
template <typename Query>
constexpr bool kE4m3Queries = std::is_same<Query, __nv_fp8_e4m3>::value;
template <typename Query>
using ComputeElem = std::conditional_t<kE4m3Queries<Query>, __nv_bfloat16, Query>;

}  // namespace mla_fp8_sm90

// Launches the keys x rows kernel over an FP8 cache (CACHE != k16Bit; p.k and its strides in
// bytes) and returns true (*err: the launch status) when it runs this problem: at most 32 query
// rows a KV head, one latent KV head, 16-byte aligned cache rows and query rows, an sm_90 device
// and this library's sm_90a code for it. Otherwise returns false, having done nothing (the 64-row
// kernel of mla_decode_sm90/ takes the problem). Query: bf16, fp16, or __nv_fp8_e4m3 (fp8_e4m3
// caches, p.descale_q set; out is bf16).
template <typename Query, MlaCache CACHE>
bool launch_mla_decode_fp8_sm90(const DecodeParams& p, cudaStream_t stream, cudaError_t* err);

}  // namespace fmla
