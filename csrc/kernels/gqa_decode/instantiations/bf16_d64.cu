// GQA / MHA / MQA decode (bf16, head dim 64): separate K and V caches. The few-rows kernel, the
// generic one for more query rows per KV head, and the combine step.
#include "../../combine/combine.cuh"
#include "../../splitkv/kernel.cuh"
#include "../kernel.cuh"

namespace fmla {
template cudaError_t launch_gqa_decode<__nv_bfloat16, 64>(const DecodeParams&, cudaStream_t);
template cudaError_t launch_splitkv_decode<__nv_bfloat16, 64, 64, true>(const DecodeParams&, cudaStream_t);
template cudaError_t launch_combine<__nv_bfloat16, 64>(const DecodeParams&, cudaStream_t);
}  // namespace fmla
