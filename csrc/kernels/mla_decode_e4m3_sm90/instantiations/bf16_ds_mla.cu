// MLA decode over fp8_ds_mla caches with bf16 queries, 64 rows a block.
#include "../launch.cuh"

namespace fmla {
bool launch_mla_decode_e4m3_sm90_ds_mla(const DecodeParams& p, cudaStream_t stream,
                                        cudaError_t* err) {
  return launch_mla_decode_e4m3_sm90_impl<__nv_bfloat16, true>(p, stream, err);
}
}  // namespace fmla
