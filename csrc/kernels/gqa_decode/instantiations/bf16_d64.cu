// GQA / MHA / MQA decode (bf16, head dim 64): separate K and V caches.
#include "../../combine/combine.cuh"
#include "../../splitkv/kernel.cuh"

namespace fmla {
template cudaError_t launch_splitkv_decode<__nv_bfloat16, 64, 64, true>(const DecodeParams&, cudaStream_t);
template cudaError_t launch_combine<__nv_bfloat16, 64>(const DecodeParams&, cudaStream_t);
}  // namespace fmla
