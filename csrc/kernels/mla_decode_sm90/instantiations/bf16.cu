// MLA decode on sm_90a, bf16.
#include "../launch.cuh"

namespace fmla {
template bool launch_mla_decode_sm90<__nv_bfloat16>(const DecodeParams&, MlaKvLoad, cudaStream_t,
                                            cudaError_t*);
}  // namespace fmla
