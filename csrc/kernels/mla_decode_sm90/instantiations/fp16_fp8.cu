// MLA decode on sm_90a over fp8_e4m3 caches, fp16 queries.
#include "../launch.cuh"

namespace fmla {
template bool launch_mla_decode_sm90_fp8<__half, MlaCache::kFp8E4m3>(const DecodeParams&,
                                                                   cudaStream_t, cudaError_t*);
}  // namespace fmla
