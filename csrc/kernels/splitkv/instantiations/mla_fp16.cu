// MLA decode (fp16): d_qk = 576, d_v = 512, values shared with the keys.
#include "../../combine/combine.cuh"
#include "../kernel.cuh"

namespace fmla {
template cudaError_t launch_splitkv_decode<__half, kMlaHeadDimQK, kMlaHeadDimV, false>(
    const DecodeParams&, cudaStream_t);
template cudaError_t launch_combine<__half, kMlaHeadDimV>(const DecodeParams&, cudaStream_t);
}  // namespace fmla
