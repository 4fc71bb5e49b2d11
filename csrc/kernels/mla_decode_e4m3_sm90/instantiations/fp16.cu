// MLA decode over fp8_e4m3 caches with fp16 queries, 64 rows a block.
#include "../launch.cuh"

namespace fmla {
template bool launch_mla_decode_e4m3_sm90<__half>(const DecodeParams&, cudaStream_t,
                                                  cudaError_t*);
}  // namespace fmla
