// MLA decode on sm_90a over fp8_e4m3 caches, 64 query rows a block: the constants of the kernel
// family, each with its reason.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <type_traits>

#include "../config.h"

namespace fmla {
namespace mla_e4m3_sm90 {

// Two consumer warpgroups, as the 16-bit TMA kernel's (mla_decode_sm90/): each owns 256 value
// columns of the 64 x 512 float output (O^T: 128 registers a thread). A third warpgroup produces
// the tiles (kProducerWarpgroup, below).
constexpr int kThreads = 256;

// A tile is 64 keys x 576 codes in 5 boxes of 64 rows x 128 codes (the 128-byte swizzle, the only
// layout the FP8 wgmma reads); the fifth box's second half lies past column 576 (TMA fills it with
// zeros; the scores read only the first half). 40 KB a tile.
constexpr int kBoxCodes = 128;
constexpr int kBoxBytes = kBlockN * kBoxCodes;
constexpr int kTileBoxes = (kMlaHeadDimQK + kBoxCodes - 1) / kBoxCodes;
constexpr int kTileBytes = kTileBoxes * kBoxBytes;
// Codes 0..511 (the values, boxes 0-3) and the rotary codes' box: its k32 steps that hold codes.
constexpr int kRotaryK32Steps = (kMlaHeadDimQK - (kTileBoxes - 1) * kBoxCodes) / 32;

// How a tile's codes land. Pages of 64+ tokens: TMA, 5 boxes of 64 rows. Pages of 16 or 32
// tokens: one TMA box a page for each 128 codes (a page's rows fill whole 1024-byte atoms of the
// 128-byte swizzle, 8 rows of 128 bytes, so the boxes of a tile's pages tile its box exactly as one
// 64-row box would). Pages of 1 to 8 tokens: the rows gathered with 16-byte cp.async into the
// swizzled layout, 8 threads a 128-byte row segment (at 8 tokens, a tile's 40 boxes cost more to
// issue than the gather: bench/NOTES.md, v46). Powers of two only.
enum class CodeLoad { kTmaTiles, kTmaPages, kGatherRows };
constexpr int kMinPageRows = 16;  // TMA boxes

// The queries' form in the kernel. float8_e4m3fn ones meet the codes on the FP8 tensor cores (S =
// Q K^T, both from shared memory). bf16 ones are split into two e4m3 terms a row, q 2^k = q1 + q2
// (split_queries.cuh), and meet them the same way, one product a term. fp16 ones are kept fp16 and
// the scores computed as S^T = K Q^T on the fp16 tensor cores, K's codes converted in registers
// as the A operand (cvt, exact), Q's rows the B operand (72 KB; transposed_scores.cuh).
enum class QueryForm { kCodes, kSplitCodes, kF16Rows };
template <typename Query>
constexpr QueryForm kQueryForm =
    std::is_same<Query, __nv_fp8_e4m3>::value   ? QueryForm::kCodes
    : std::is_same<Query, __nv_bfloat16>::value ? QueryForm::kSplitCodes
                                                : QueryForm::kF16Rows;
// The e4m3 terms of a query row in shared memory (a tile's box layout each).
template <QueryForm F>
constexpr int kQueryTerms = F == QueryForm::kSplitCodes ? 2 : 1;

// fp8_ds_mla tiles (bf16 queries): boxes 0-3 the value codes as fp8_e4m3's; box 4 the token's 64
// bf16 rotary values (bytes 528..655, one 128-byte row); then each token's four float32 scales (16
// bytes a row, unswizzled), and what the warpgroup that owns the tile's scores makes of them: the
// factors between the groups' partial scores ([4][64] float) and the values' scales ([4][64] bf16,
// times 2^120; and [4][64] fp16, for tiles whose scales all fit fp16's range: ds_scale_fits_f16).
constexpr int kDsScaleRowBytes = 16;
constexpr int kDsOffScales = kTileBytes;
constexpr int kDsOffFactors = kDsOffScales + kBlockN * kDsScaleRowBytes;
constexpr int kDsOffValueScales = kDsOffFactors + 4 * kBlockN * 4;
constexpr int kDsOffValueScalesF16 = kDsOffValueScales + 4 * kBlockN * 2;
constexpr int kDsStageBytes = (kDsOffValueScalesF16 + 4 * kBlockN * 2 + 1023) / 1024 * 1024;
static_assert(kDsStageBytes == 43 * 1024, "the fp16 scales take the stage's rounding, no more");

// Stages of the tile ring. e4m3 queries: four, the pair of tiles being multiplied and the next
// pair, whose copies then go out about a pair before their scores are needed (Q 40 KB + 4 x 40 KB
// + P 16 KB fits 227 KB). Split and fp16 queries: three beside the 80 / 72 KB Q; a tile's stage is
// refilled as soon as both warpgroups' products have read it.
template <QueryForm F>
constexpr int kStagesOf = F == QueryForm::kCodes ? 4 : 3;
// A producer warpgroup fills the ring: each stage once every consumer warp has released it, by
// TMA (its first warp issues the boxes; on small pages, a lane a page) or by gathering rows (all
// 128 threads, 8 a row segment: 16 rows of a tile at a time). The loads leave the consumers'
// stream and run ahead of their pair order: where the consumers issued them, TMA tiles were 5-11%
// slower (fp8_ds_mla the same) and gathered rows 12-17% (bench/NOTES.md, v45, v46). setmaxnreg
// moves registers to the consumers, 2 x 128 x 240 + 128 x 24 = 64512 (at 240 the consumers'
// products run within 0-6% of 255: v44).
constexpr int kProducerWarpgroup = 2;
constexpr int kProducerThreads = 128;
constexpr int kBlockThreads = kThreads + kProducerThreads;
static_assert(kProducerThreads == 2 * kBlockN, "8 gathering threads a row segment");
static_assert(kBlockN / kMinPageRows * (kTileBoxes + 1) <= 32,
              "a warp issues a tile's page boxes (fp8_ds_mla: and its scales')");
constexpr int kConsumerRegs = 240;
constexpr int kProducerRegs = 24;
static_assert(2 * 128 * kConsumerRegs + 128 * kProducerRegs <= 64512,
              "the split fits the launch's registers");

// Named barriers (0 is __syncthreads): as the 16-bit kernel's seesaw, and kBarP0Free, warpgroup 1
// done with P0 and the first tile's statistics of a pair, so warpgroup 0 may write the next pair's.
// kBarAll: the two consumer warpgroups.
constexpr int kBarMax0 = 1, kBarMax1 = 2, kBarP0 = 3, kBarP1 = 4, kBarAll = 5;
constexpr int kBarWg0 = 6, kBarWg1 = 7, kBarP0Free = 8;

}  // namespace mla_e4m3_sm90
}  // namespace fmla
