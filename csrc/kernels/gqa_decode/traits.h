// The GQA decode kernel: warps, tile sizes and the shared-memory layout for each head dim.
#pragma once

#include <stdint.h>

#include <algorithm>

#include "config.h"

namespace fmla {
namespace gqa {

// The shape of a block for a head dim: warps, keys a warp owns in a tile (one to four k16 steps of
// P V), and how many warps share those keys, each taking a part of the value columns (so that a
// warp's accumulator fits its registers). Every choice gives 64 KB stages, three of which fit.
struct GqaShape {
  int warps, slice_keys, col_split;
};
constexpr GqaShape default_gqa_shape(int d) {
  return d <= 64 ? GqaShape{8, 32, 1} : d <= 128 ? GqaShape{8, 16, 1} : GqaShape{8, 16, 2};
}

// COPIES_BEFORE: how many of a step's copy passes go out before its products (the rest after);
// -1: the default for the head dim. Cache_: the cache's element, Elem_ (q's) or uint8_t for
// float8_e4m3fn codes, which the warps convert to Elem_ in registers as they load their fragments.
// E4M3_QUERIES (with e4m3 caches): q is float8_e4m3fn codes (p.descale_q), out bf16 (Elem_).
template <typename Elem_, int D_, int WARPS = default_gqa_shape(D_).warps,
          int SLICE_KEYS = default_gqa_shape(D_).slice_keys,
          int COL_SPLIT = default_gqa_shape(D_).col_split, int COPIES_BEFORE = -1,
          typename Cache_ = Elem_, bool E4M3_QUERIES = false, bool SLICE_LOADS = false>
struct GqaTraits {
  using Elem = Elem_;
  using Cache = Cache_;
  static constexpr int D = D_;
  static constexpr bool kFp8 = sizeof(Cache) == 1;
  static constexpr bool kE4m3Queries = E4M3_QUERIES;
  static_assert(!kE4m3Queries || kFp8, "e4m3 queries with e4m3 caches");
  static constexpr bool kMergesSplits = kernel_merges_splits(kE4m3Queries);  // config.h
  static_assert(sizeof(Elem) == 2, "16-bit elements");
  static_assert(sizeof(Cache) == 2 || kFp8, "16-bit or e4m3 cache elements");
  static_assert(D % 64 == 0, "rows of whole 8-chunk swizzle groups");

  static constexpr int kWarps = WARPS;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kColSplit = COL_SPLIT;
  static constexpr int kKeySlices = kWarps / kColSplit;  // warps with distinct keys
  static constexpr int kSliceKeys = SLICE_KEYS;          // keys of one slice
  static constexpr int kKeyGroups = kSliceKeys / 16;     // k16 steps of P V a slice
  static_assert(kSliceKeys % 16 == 0 && kWarps % kColSplit == 0, "whole k16 steps and slices");
  static constexpr int kKeys = kKeySlices * kSliceKeys;  // keys a tile
  static constexpr int kCols = D / kColSplit;            // value columns of one warp
  static constexpr int kOTiles = kCols / 8;              // its 8-column accumulator tiles
  static constexpr int kChunks = D / 8;                  // 16-byte chunks a row of 16-bit values

  // Loads, by load groups: the whole block copies every tile and meets at a barrier each tile;
  // or (SLICE_LOADS) the warps of a slice (kColSplit of them) copy its keys' rows and nothing
  // else, so that a tile needs no barrier of the block: each slice runs its own copy pipeline and
  // the warps meet at a piece's start and end (e4m3 caches at head dims 128 and 256: 4-8% faster;
  // bench/NOTES.md, v34). 16-byte chunks of cached rows (8 values, or 16 e4m3 codes), up to 8
  // threads a row (one 128-byte swizzle group each pass of chunks), kRowsPerPass rows a pass.
  static constexpr bool kSliceLoads = SLICE_LOADS;
  static constexpr int kLoadGroups = kSliceLoads ? kKeySlices : 1;
  static constexpr int kGroupThreads = kSliceLoads ? 32 * kColSplit : kThreads;
  static constexpr int kGroupKeys = kSliceLoads ? kSliceKeys : kKeys;
  static constexpr int kCacheChunks = D * static_cast<int>(sizeof(Cache)) / 16;
  static constexpr int kThreadsPerRow = kCacheChunks < 8 ? kCacheChunks : 8;
  static constexpr int kRowsPerPass = kGroupThreads / kThreadsPerRow;
  static constexpr int kPasses = kGroupKeys / kRowsPerPass;
  static_assert(kGroupKeys % kRowsPerPass == 0, "whole passes");
  static_assert(!kSliceLoads || kColSplit == 1 || kKeySlices <= 15,
                "a named barrier a slice of several warps");
  // Copy passes a step issues before its products (all of them by default); the loader's own
  // bookkeeping (the next piece, the block-table loads) goes after the products, so that none of
  // its global loads sits ahead of the compute (bench/NOTES.md v13d, v18).
  static constexpr int kCopiesBefore = COPIES_BEFORE >= 0 ? COPIES_BEFORE : kPasses;
  static_assert(kCopiesBefore <= kPasses, "passes of a tile");

  static constexpr int kTileBytes = kKeys * D * static_cast<int>(sizeof(Cache));  // K or V
  static constexpr int kStageBytes = 2 * kTileBytes;
  static constexpr int kQBytes = kMaxRows * D * 2;
  // The slices' outputs meet, kRedCols columns at a time, in the stage just computed (its tiles are
  // not refilled before the next step's barrier): [slice][row][kRedCols] floats, columns swizzled.
  // A pass of columns lies within one warp's columns (and an e4m3 stage, half the bytes, takes
  // passes of half the columns).
  static constexpr int kRedColsFit = kStageBytes / (kKeySlices * kMaxRows * 4);
  static constexpr int kRedCols = std::min({kCols, 128, kRedColsFit});
  static_assert(kRedCols % 16 == 0 && kCols % kRedCols == 0, "a merge pass within one warp's columns");
  static_assert(kKeySlices * kMaxRows * kRedCols * 4 <= kStageBytes, "the merge fits a stage");
  static constexpr int kStatBytes = 2 * kKeySlices * kMaxRows * 4;  // row max and sum per slice
  static constexpr int kPieceBytes = 8 * 4;                          // one PieceDesc

  // Q and the piece's description travel with the first tile of a piece, into rings: Q is copied
  // at most STAGES - 1 tiles (so pieces) ahead of the warps reading it, a description STAGES ahead
  // (written when the loader moves past the tile it issues), hence one more slot.
  static constexpr int kQScaleBytes = kMaxRows * 4;  // each query row's 2^-k (kernel.cuh)
  static constexpr int kSplitsBytes = 8 + 2 * kPieceBytes;  // a SplitPieces (merge.cuh)
  // Each load group keeps its own ring of descriptions.
  static constexpr int kFitStages =
      (kSmemBudget - kStatBytes - kLoadGroups * kPieceBytes - kQScaleBytes - kSplitsBytes) /
      (kStageBytes + kQBytes + kLoadGroups * kPieceBytes);
  static constexpr int STAGES = kFitStages > kMaxStages ? kMaxStages : kFitStages;
  static_assert(STAGES >= 3, "two tiles in flight beside the one computed");
  static constexpr int kPieceSlots = STAGES + 1;

  // Stage s: its K tile at s * kStageBytes, its V tile right after.
  static constexpr int kOffQ = STAGES * kStageBytes;
  static constexpr int kOffPieces = kOffQ + STAGES * kQBytes;
  static constexpr int kOffMax = kOffPieces + kLoadGroups * kPieceSlots * kPieceBytes;
  static constexpr int kOffSum = kOffMax + kStatBytes / 2;
  static constexpr int kOffQScale = kOffSum + kStatBytes / 2;
  static constexpr int kOffSplits = kOffQScale + kQScaleBytes;
  static constexpr int kSmemBytes = kOffSplits + kSplitsBytes;
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

// The e4m3-cache kernel's shape: a tile of e4m3 codes is half the bytes of a 16-bit one, so each
// warp takes twice the keys of the 16-bit shape (64 at d 64, 32 at d 128 and 256) in a 64 KB stage,
// which halves the per-tile work (the barrier, the softmax bookkeeping, the loader's) per key; the
// kernel is bound by its instructions, not by HBM (bench/NOTES.md, v19, v20).
constexpr GqaShape e4m3_gqa_shape(int d) {
  return d == 64 ? GqaShape{8, 64, 1} : d == 128 ? GqaShape{8, 32, 1} : GqaShape{8, 32, 2};
}

// The traits of the e4m3-cache kernel (E4M3_QUERIES: and e4m3 queries, Elem bf16): slice loads at
// head dims 128 and 256; at 64 they measured 7% slower on one-token pages (bench/NOTES.md, v34).
template <typename Elem, int D, bool E4M3_QUERIES = false>
using GqaE4m3Traits = GqaTraits<Elem, D, e4m3_gqa_shape(D).warps, e4m3_gqa_shape(D).slice_keys,
                                e4m3_gqa_shape(D).col_split, -1, uint8_t, E4M3_QUERIES,
                                /*SLICE_LOADS=*/D >= 128>;

// Byte offset of 16-byte chunk `chunk` of cached row `row` in a loaded tile: the 16-bit layout
// (swizzled) where a row holds 8 or more chunks; rows of 4 chunks (64 e4m3 codes) go two to a
// 128-byte line, swizzled by the line, so that the 8 rows of an ldmatrix fall on all 32 banks.
template <typename T>
__device__ __forceinline__ uint32_t staged(int row, int chunk) {
  if constexpr (T::kCacheChunks >= 8) {
    return swizzled<T::kKeys>(row, chunk);
  } else {
    static_assert(T::kCacheChunks == 4, "64 e4m3 codes a row");
    const int line = row >> 1;
    return static_cast<uint32_t>(line * 128 + ((((row & 1) * 4 + chunk) ^ (line & 7)) << 4));
  }
}

}  // namespace gqa
}  // namespace fmla
