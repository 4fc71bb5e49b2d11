// MLA decode over FP8 caches for few query rows, bf16 queries: fp8_e4m3 and fp8_ds_mla.
#include "../launch.cuh"

namespace fmla {
template bool launch_mla_decode_fp8_sm90<__nv_bfloat16, MlaCache::kFp8E4m3>(const DecodeParams&,
                                                                          cudaStream_t,
                                                                          cudaError_t*);
template bool launch_mla_decode_fp8_sm90<__nv_bfloat16, MlaCache::kFp8DsMla>(const DecodeParams&,
                                                                           cudaStream_t,
                                                                           cudaError_t*);
}  // namespace fmla
