// MLA decode on sm_90a over fp8_e4m3 caches with e4m3 queries: the shared-memory layout.
#pragma once

#include "../mla_decode_sm90/traits.h"  // PairStats
#include "config.h"

namespace fmla {
namespace mla_e4m3_sm90 {

struct SmemLayout {
  static constexpr int kOffQ = 0;  // Q's codes in the tiles' box layout (rows past h_q zero)
  static constexpr int kOffStages = kOffQ + kTileBytes;
  static constexpr int kOffP = kOffStages + kStages * kTileBytes;  // P0, P1: f16, 64 x 64 each
  static constexpr int kOffStats = kOffP + 2 * kBoxBytes;  // mla_sm90::PairStats
  static constexpr int kOffMaxima = kOffStats + mla_sm90::PairStats::kFloats * 4;  // final, 64 floats
  // Whether a warp's rows moved their max (a factor other than 1): a byte for each warp of each
  // warpgroup, read as one word per warpgroup, so a rescale can be skipped on one load.
  static constexpr int kOffMoved = kOffMaxima + kBlockM * 4;
  // Gathered rows: the pages of the rows being copied, two slots of two tiles (a row an int).
  static constexpr int kOffRowPages = kOffMoved + 8;
  static constexpr int kOffBars = kOffRowPages + 2 * kGatherThreads * 4;
  static constexpr int kBytes = kOffBars + kStages * kTileBoxes * 8;  // full[stage][box]
};
static_assert(SmemLayout::kOffStages % 1024 == 0 && SmemLayout::kOffP % 1024 == 0,
              "the 128-byte swizzle's boxes start at 1024-byte boundaries");
static_assert(SmemLayout::kBytes <= 227 * 1024, "Q, four stages, P and the barriers fit");

}  // namespace mla_e4m3_sm90
}  // namespace fmla
