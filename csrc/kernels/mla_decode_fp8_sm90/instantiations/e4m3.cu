// MLA decode over FP8 caches for few query rows, float8_e4m3fn queries: fp8_e4m3.
#include "../launch.cuh"

namespace fmla {
template bool launch_mla_decode_fp8_sm90<__nv_fp8_e4m3, MlaCache::kFp8E4m3>(const DecodeParams&,
                                                                          cudaStream_t,
                                                                          cudaError_t*);
}  // namespace fmla
