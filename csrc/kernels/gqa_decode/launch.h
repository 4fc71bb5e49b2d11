// GQA / MHA / MQA decode for few query rows per KV head: what csrc/api/ needs to choose and launch it.
#pragma once

#include <cuda_runtime.h>

#include "../common/decode_params.h"
#include "config.h"

namespace fmla {

// The kernel takes problems with at most gqa::kMaxRows query rows per KV head (s_q * h_q / h_kv).
inline bool gqa_decode_fits(const DecodeParams& p) { return p.rows_per_kv <= gqa::kMaxRows; }

// One instantiation per element type and head dim (instantiations/*.cu): the decode kernel alone;
// the combine kernel merges split sequences after it.
template <typename Elem, int D>
cudaError_t launch_gqa_decode(const DecodeParams& p, cudaStream_t stream);

}  // namespace fmla
