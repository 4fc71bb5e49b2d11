// MLA decode over FP8 caches for few query rows (sm_90a): the constants of the kernel family.
#pragma once

#include "../config.h"

namespace fmla {
namespace mla_fp8_sm90 {

// The query rows of one KV head are the N of both products (S^T = K Q^T, O^T = V^T P^T), 16 or 32
// of them; more rows take the 64-row kernel (mla_decode_sm90/), which pads nothing then.
constexpr int kMaxRows = 32;

// Two consumer warpgroups take a sequence's tiles in turn (tile t to warpgroup t % 2), each with
// its own softmax state and whole O^T (512 x rows: 64 or 128 registers a thread), merged at the
// sequence's end; a third warpgroup's first warp streams tiles into a ring with bulk copies.
// setmaxnreg: 2 x 128 x 232 + 128 x 40 = 64512, what 384 threads get at launch.
constexpr int kConsumerWarpgroups = 2;
constexpr int kConsumerThreads = kConsumerWarpgroups * 128;
constexpr int kThreads = kConsumerThreads + 128;
constexpr int kProducerWarpgroup = 2;
constexpr int kConsumerRegs = 232;
constexpr int kProducerRegs = 40;

// Tiles of 64 keys, each in one ring stage as the cache stores its tokens (656 or 576 bytes a
// row); 4 stages keep two tiles a consumer in flight (168 KB of fp8_ds_mla).
constexpr int kStages = 4;

// 64-column boxes of Q (and the one box of P^T), 128 bytes a row, the 128-byte swizzle.
constexpr int kBoxCols = 64;
constexpr int kBoxes = kMlaHeadDimQK / kBoxCols;

// Named barriers (0 is __syncthreads): each consumer warpgroup alone (its tile maxima exchanged,
// its P^T written), and the two consumer warpgroups together (a sequence's start and merge).
constexpr int kBarWg0 = 1, kBarWg1 = 2, kBarConsumers = 3;

}  // namespace mla_fp8_sm90
}  // namespace fmla
