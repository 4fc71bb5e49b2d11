// MLA decode on sm_90a, fp16.
#include "../launch.cuh"

namespace fmla {
template bool launch_mla_decode_sm90<__half>(const DecodeParams&, MlaKvLoad, cudaStream_t,
                                            cudaError_t*);
}  // namespace fmla
