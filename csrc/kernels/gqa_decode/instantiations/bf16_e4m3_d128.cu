// GQA / MHA / MQA decode (bf16 queries, float8_e4m3fn K and V caches, head dim 128): the few-rows
// kernel (the combine step is the 16-bit one's, instantiations/bf16_d128.cu).
#include "../kernel.cuh"

namespace fmla {
template cudaError_t launch_gqa_decode_e4m3<__nv_bfloat16, 128>(const DecodeParams&, cudaStream_t);
}  // namespace fmla
