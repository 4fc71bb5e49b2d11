// MLA decode on sm_90a over fp8_e4m3 caches, 64 query rows a block: the shared-memory layout.
#pragma once

#include "../mla_decode_sm90/traits.h"  // PairStats
#include "config.h"

namespace fmla {
namespace mla_e4m3_sm90 {

template <QueryForm F, bool DS_MLA = false>
struct SmemLayout {
  static constexpr bool kScoresOnCodes = F != QueryForm::kF16Rows;  // S = Q K^T on the codes
  static_assert(!DS_MLA || F == QueryForm::kSplitCodes, "fp8_ds_mla: bf16 queries, split");
  static constexpr int kStages = kStagesOf<F>;
  static constexpr int kStageBytes = DS_MLA ? kDsStageBytes : kTileBytes;
  // Q: its codes (each term's) in the tiles' box layout, or its fp16 rows in 9 boxes of 64 rows x
  // 64 values (the 128-byte swizzle), columns permuted (transposed_scores.cuh); rows past h_q zero.
  // fp8_ds_mla: each term's 512 value codes in 4 boxes, then the rotary values' bf16 box.
  static constexpr int kQBoxBytes = kBlockM * 128;
  static constexpr int kQTermBytes = (DS_MLA ? 4 : kTileBoxes) * kBoxBytes;
  static constexpr int kOffQRotary = 2 * kQTermBytes;  // fp8_ds_mla
  static constexpr int kQBytes = DS_MLA ? kOffQRotary + kQBoxBytes
                                 : kScoresOnCodes ? kQueryTerms<F> * kTileBytes
                                                  : (kMlaHeadDimQK / 64) * kQBoxBytes;
  static constexpr int kOffQ = 0;
  static constexpr int kOffStages = kOffQ + kQBytes;
  static constexpr int kOffP = kOffStages + kStages * kStageBytes;  // P0, P1: 64 x 64 each
  static constexpr int kOffStats = kOffP + 2 * kBoxBytes;  // mla_sm90::PairStats
  static constexpr int kOffMaxima = kOffStats + mla_sm90::PairStats::kFloats * 4;  // final, 64 floats
  // Whether a warp's rows moved their max (a factor other than 1): a byte for each warp of each
  // warpgroup, read as one word per warpgroup, so a rescale can be skipped on one load.
  static constexpr int kOffMoved = kOffMaxima + kBlockM * 4;
  // Split and fp16 queries: each row's logit multiplier (|scale|, over its power of two where
  // split). fp16 queries also: each row's key limit (causal rows end early); each warpgroup's score
  // maxima of its tile over each warp's 16 keys ([wg][warp][row]); each warp's row sums at a
  // sequence's end (the same shape); and for each warpgroup's tile the rows' (multiplier, base)
  // pairs, a float4 a row pair.
  static constexpr int kOffRowMul = kOffMoved + 8;
  static constexpr int kOffRowLimit = kOffRowMul + (F == QueryForm::kCodes ? 0 : kBlockM * 4);
  static constexpr int kOffColMax =
      kScoresOnCodes ? kOffRowLimit : (kOffRowLimit + kBlockM * 4 + 15) / 16 * 16;
  static constexpr int kOffColSum = kOffColMax + (kScoresOnCodes ? 0 : 2 * 4 * kBlockM * 4);
  static constexpr int kOffMulBase = kOffColSum + (kScoresOnCodes ? 0 : 2 * 4 * kBlockM * 4);
  static constexpr int kOffBars = kOffMulBase + (kScoresOnCodes ? 0 : 2 * kBlockM * 8);
  // full[stage][box], then empty[stage] (the consumer warps done with a stage, for the producer);
  // fp8_ds_mla: tables[stage] (a tile's scale tables made, where the producer makes them).
  static constexpr int kOffEmpty = kOffBars + kStages * kTileBoxes * 8;
  static constexpr int kOffTables = kOffEmpty + kStages * 8;
  // fp8_ds_mla: whether a stage's tile takes the fp16 values: a byte for each warp that made its
  // tables, 1 where all of its keys' scales fit (the producer's two warps set the other two bytes
  // to 1); read as one word.
  static constexpr int kOffF16Tiles = kOffTables + (DS_MLA ? kStages * 8 : 0);
  static constexpr int kBytes = kOffF16Tiles + (DS_MLA ? kStages * 4 : 0);
  static_assert(kOffStages % 1024 == 0 && kOffP % 1024 == 0,
                "the 128-byte swizzle's boxes start at 1024-byte boundaries");
  static_assert(kScoresOnCodes || kOffMulBase % 16 == 0, "float4 pairs");
  static_assert(kBytes <= 227 * 1024, "Q, the stages, P and the barriers fit");
};

}  // namespace mla_e4m3_sm90
}  // namespace fmla
