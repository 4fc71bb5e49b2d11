// MLA decode over fp8_e4m3 caches with float8_e4m3fn queries, 64 rows a block.
#include "../launch.cuh"

namespace fmla {
template bool launch_mla_decode_e4m3_sm90<__nv_fp8_e4m3>(const DecodeParams&, cudaStream_t,
                                                         cudaError_t*);
}  // namespace fmla
