// MLA decode on sm_90a: the constants of the kernel family, each with its reason.
#pragma once

#include "../config.h"

namespace fmla {
namespace mla_sm90 {

// Two consumer warpgroups share one 64 x 512 float output (each owns 256 value columns: 128
// registers a thread), which is about all the register file holds. Where TMA can load the pages,
// they issue the loads themselves (256 threads, 255 registers each); otherwise a third warpgroup
// gathers rows with cp.async (or, where four or more row groups read each tile, issues the TMA
// boxes), and setmaxnreg moves registers to the consumers:
// 2 x 128 x 232 + 128 x 40 = 64512, what 384 threads get at launch (168 each). Measured: 240 / 24
// spills in the producer and is slower (bench/NOTES.md, v12).
constexpr int kConsumerWarpgroups = 2;
constexpr int kProducerWarpgroup = 2;
constexpr int kConsumerThreads = kConsumerWarpgroups * 128;
constexpr int kConsumerRegs = 232;
constexpr int kProducerRegs = 40;
// Over FP8 caches the producer also dequantizes (produce_fp8.cuh) and needs more registers:
// 2 x 128 x 224 + 128 x 56 = 64512 as well.
constexpr int kConsumerRegsFp8 = 224;
constexpr int kProducerRegsFp8 = 56;

// A tile is 64 keys x 576 columns, stored as 9 boxes of 64 rows x 64 columns (128 bytes a row, the
// 128-byte swizzle wgmma reads). Boxes 0-7 hold the values, box 8 the rotary columns, which are
// dead once the tile's scores exist and then hold P (buffer 1's only where P1 has no box of its
// own: traits.h, p1_apart).
constexpr int kBoxCols = 64;
constexpr int kBoxes = kMlaHeadDimQK / kBoxCols;
constexpr int kPBox = kMlaHeadDimV / kBoxCols;
constexpr int kBoxBytes = kBlockN * kBoxCols * 2;
constexpr int kTileBytes = kBoxes * kBoxBytes;

// TMA loads pages of a power of two of at least 64 rows, where a tile lies in one page: one box a
// 64-column slice. Pages of 8 to 32 rows: one box a page and slice; the swizzle follows the
// shared-memory address, so a page's box lands where the tile's 64-row box puts those rows (boxes
// of fewer rows would too, but cost more to issue than a gather: bench/NOTES.md, v28c). Any page
// can be gathered row by row with cp.async (since v20 within 1-9% of TMA at page 64). api/ picks
// (launch.h).
constexpr int kMinTmaPageRows = kBlockN;
constexpr int kMinTmaBoxRows = 8;

// Named barriers (0 is __syncthreads), each between the two consumer warpgroups (one arrives, the
// other waits) unless said: wg 0's row maxima ready, wg 1's, P0 stored, P1 stored; the two consumer
// warpgroups alone (a producer never joins); each consumer warpgroup alone (all its warps done with
// the boxes it refills); the row sums of wg 0 / wg 1 ready for the other.
constexpr int kBarMax0 = 1, kBarMax1 = 2, kBarP0 = 3, kBarP1 = 4, kBarConsumers = 5;
constexpr int kBarWg0 = 6, kBarWg1 = 7, kBarSum0 = 8, kBarSum1 = 9;
// The epilogue's rows of one warpgroup's half of O (bf16) in its tile buffer: 256 values and 16
// bytes of padding, so that the accumulator layout's stores (8 rows a warp) meet no bank twice.
constexpr int kEpilogueRowBytes = 256 * 2 + 16;
static_assert(64 * kEpilogueRowBytes <= kTileBytes, "a warpgroup's half of O fits its buffer");
static_assert(2 * 64 * kEpilogueRowBytes <= kTileBytes, "both halves fit Q's buffer (producer)");
// The most parts a buffer's keys are released in (traits.h, key_parts): 16 keys a part.
constexpr int kMaxKeyParts = kBlockN / 16;
// FP8 caches: the producer warpgroup alone (a box's codes all read before its values overwrite them).
constexpr int kBarProducer = 10;

}  // namespace mla_sm90
}  // namespace fmla
