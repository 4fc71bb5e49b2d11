// GQA / MHA / MQA decode (float8_e4m3fn queries and K and V caches, bf16 out, head dim 64): the
// few-rows kernel, the query codes made fp16 once a piece (the combine step is bf16's, bf16_d64.cu).
#include "../kernel.cuh"

namespace fmla {
template cudaError_t launch_gqa_decode_e4m3_queries<64>(const DecodeParams&, cudaStream_t);
}  // namespace fmla
