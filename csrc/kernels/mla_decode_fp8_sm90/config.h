// MLA decode over FP8 caches for few query rows (sm_90a): the constants of the kernel family.
#pragma once

#include "../config.h"

namespace fmla {
namespace mla_fp8_sm90 {

// The query rows of one KV head are the N of both products (S^T = K Q^T, O^T = V^T P^T), 16 or 32
// of them; more rows take the 64-row kernel (mla_decode_sm90/), which pads nothing then.
constexpr int kMaxRows = 32;

// Two consumer warpgroups take the part's tiles in turn (tile n to warpgroup n % 2), each with
// its own softmax state and whole O^T (512 x rows: 64 or 128 registers a thread), merged at the
// sequence's end; a third warpgroup's 4 warps stream tiles into a ring with bulk copies.
// setmaxnreg splits what 384 threads get at launch (2 x 128 x C + 128 x P <= 64512): 216 / 72
// with 16 columns (no spills), 224 / 56 with 32 (O^T's 128 accumulators do not all fit: ptxas
// spills 80-316 bytes a thread; bench/NOTES.md, v30, v31).
constexpr int kConsumerWarpgroups = 2;
constexpr int kConsumerThreads = kConsumerWarpgroups * 128;
constexpr int kThreads = kConsumerThreads + 128;
constexpr int kProducerWarpgroup = 2;
__host__ __device__ constexpr int consumer_regs(int cols) { return cols == 16 ? 216 : 224; }
__host__ __device__ constexpr int producer_regs(int cols) { return cols == 16 ? 72 : 56; }
static_assert(2 * consumer_regs(16) + producer_regs(16) <= 504 &&
                  2 * consumer_regs(32) + producer_regs(32) <= 504,
              "the split fits the launch's registers");

// Tiles of 64 keys, each in one ring stage as the cache stores its tokens (656 or 576 bytes a
// row); 4 stages, one a producer warp, keep two tiles a consumer in flight (168 KB of fp8_ds_mla).
constexpr int kStages = 4;

// 64-column boxes of Q (and the one box of P^T), 128 bytes a row, the 128-byte swizzle.
constexpr int kBoxCols = 64;
constexpr int kBoxes = kMlaHeadDimQK / kBoxCols;

// Named barriers (0 is __syncthreads): each consumer warpgroup alone (its tile maxima exchanged,
// its P^T written), and the two consumer warpgroups together (a sequence's start and merge).
constexpr int kBarWg0 = 1, kBarWg1 = 2, kBarConsumers = 3;

}  // namespace mla_fp8_sm90
}  // namespace fmla
