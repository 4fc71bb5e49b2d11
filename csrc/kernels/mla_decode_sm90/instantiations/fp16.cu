// MLA decode on sm_90a, fp16.
#include "../launch.cuh"

namespace fmla {
template bool mla_decode_sm90_usable<__half>(const DecodeParams&, MlaKvLoad);
template cudaError_t launch_mla_decode_sm90<__half>(const DecodeParams&, MlaKvLoad,
                                                         cudaStream_t);
}  // namespace fmla
