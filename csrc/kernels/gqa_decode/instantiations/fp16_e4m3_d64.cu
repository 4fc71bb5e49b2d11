// GQA / MHA / MQA decode (fp16 queries, float8_e4m3fn K and V caches, head dim 64): the few-rows
// kernel (the combine step is the 16-bit one's, instantiations/fp16_d64.cu).
#include "../kernel.cuh"

namespace fmla {
template cudaError_t launch_gqa_decode_e4m3<__half, 64>(const DecodeParams&, cudaStream_t);
}  // namespace fmla
