// The GQA decode kernel: warps, tile sizes and the shared-memory layout for each head dim.
#pragma once

#include <stdint.h>

#include "config.h"

namespace fmla {
namespace gqa {

// Warps a block for a head dim: a stage (one K and one V tile) of 64 KB where three still fit.
constexpr int default_gqa_warps(int d) { return d > 128 ? 4 : 8; }

template <typename Elem_, int D_, int WARPS = default_gqa_warps(D_)>
struct GqaTraits {
  using Elem = Elem_;
  static constexpr int D = D_;
  static_assert(sizeof(Elem) == 2, "16-bit elements");
  static_assert(D % 64 == 0, "rows of whole 8-chunk swizzle groups");

  static constexpr int kWarps = WARPS;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kKeys = kWarps * kKeysPerWarp;  // keys a tile
  static constexpr int kChunks = D / 8;                // 16-byte chunks a row

  // Loads: 8 threads a row (one 128-byte swizzle group each pass of chunks), kThreads / 8 rows a pass.
  static constexpr int kRowsPerPass = kThreads / 8;
  static constexpr int kPasses = kKeys / kRowsPerPass;
  static_assert(kKeys % kRowsPerPass == 0, "whole passes");

  static constexpr int kTileBytes = kKeys * D * 2;  // K or V
  static constexpr int kQBytes = kMaxRows * D * 2;
  // The warps' outputs meet, 128 columns at a time, in the stage just computed (its tiles are not
  // refilled before the next step's barrier): [warp][row][kRedCols] floats, columns swizzled.
  static constexpr int kRedCols = D < 128 ? D : 128;
  static_assert(kWarps * kMaxRows * kRedCols * 4 <= 2 * kTileBytes, "the merge fits a stage");
  static constexpr int kStatBytes = 2 * kWarps * kMaxRows * 4;  // row max and sum per warp

  // Q travels with the first tile of its sequence, into a ring of one slot a stage: the loader is at
  // most STAGES - 1 tiles (so sequences) ahead of the warps reading Q.
  static constexpr int kFitStages = (kSmemBudget - kStatBytes) / (2 * kTileBytes + kQBytes);
  static constexpr int STAGES = kFitStages > kMaxStages ? kMaxStages : kFitStages;
  static_assert(STAGES >= 3, "two tiles in flight beside the one computed");

  // Stage s: its K tile at s * kStageBytes, its V tile right after.
  static constexpr int kStageBytes = 2 * kTileBytes;
  static constexpr int kOffQ = STAGES * kStageBytes;
  static constexpr int kOffMax = kOffQ + STAGES * kQBytes;
  static constexpr int kOffSum = kOffMax + kStatBytes / 2;
  static constexpr int kSmemBytes = kOffSum + kStatBytes / 2;

  static constexpr int kOTiles = D / 8;  // 8-column accumulator tiles of each warp
};

// Float index of column `col` of merge row `row` (warp * 16 + query row): the columns of each row
// XOR-shifted by 8 per row, so that the quads of a warp storing float2s hit distinct banks.
template <int COLS>
__device__ __forceinline__ int merge_index(int row, int col) {
  return row * COLS + (col ^ ((row & 7) << 3));
}

// Byte offset of 16-byte chunk `chunk` of row `row` in a tile of ROWS rows: 64-column blocks of
// ROWS x 128 bytes, and inside a block the 128-byte swizzle (chunk ^ row % 8), so that the 8 rows an
// ldmatrix reads fall on all 32 banks.
template <int ROWS>
__device__ __forceinline__ uint32_t swizzled(int row, int chunk) {
  return static_cast<uint32_t>((chunk >> 3) * (ROWS * 128) + row * 128 +
                               (((chunk & 7) ^ (row & 7)) << 4));
}

}  // namespace gqa
}  // namespace fmla
