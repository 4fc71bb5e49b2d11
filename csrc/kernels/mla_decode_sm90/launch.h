// MLA decode on sm_90a: what csrc/api/ needs to choose and launch it.
#pragma once

#include <cuda_runtime.h>

#include "../mla_decode/params.h"

namespace fmla {

// Whether the sm_90a kernel runs this problem on the current device: one latent KV head, 16-byte
// aligned cache rows, an sm_90 device, and this library built with sm_90a code for it (a build that
// carries only older PTX has an empty body here and must take the generic kernel).
template <typename Elem>
bool mla_decode_sm90_usable(const DecodeParams& p);

// Launches it; call only when mla_decode_sm90_usable(p).
template <typename Elem>
cudaError_t launch_mla_decode_sm90(const DecodeParams& p, cudaStream_t stream);

}  // namespace fmla
