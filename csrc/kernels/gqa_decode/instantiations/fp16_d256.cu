// GQA / MHA / MQA decode (fp16, head dim 256): separate K and V caches.
#include "../../combine/combine.cuh"
#include "../../splitkv/kernel.cuh"

namespace fmla {
template cudaError_t launch_splitkv_decode<__half, 256, 256, true>(const DecodeParams&, cudaStream_t);
template cudaError_t launch_combine<__half, 256>(const DecodeParams&, cudaStream_t);
}  // namespace fmla
