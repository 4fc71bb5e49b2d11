// The generic split-KV decode kernel: types and shared-memory layout for each head-dim instantiation.
#pragma once

#include <stdint.h>

#include "config.h"

namespace fmla {

template <typename Elem_, int D_QK_, int D_V_, bool SEPARATE_V_>
struct SplitKvTraits {
  using Elem = Elem_;
  static constexpr int D_QK = D_QK_;
  static constexpr int D_V = D_V_;
  static constexpr bool SEPARATE_V = SEPARATE_V_;
  static_assert(sizeof(Elem) == 2, "16-bit elements");
  static_assert(D_QK % 64 == 0, "rows of whole 8-chunk swizzle groups");
  static_assert(D_V % 64 == 0, "each half of the value columns is whole 16-column pairs");
  static_assert(SEPARATE_V || D_V <= D_QK, "shared K/V: values are the first d_v columns");

  static constexpr int kQChunks = D_QK / 8;  // 16-byte chunks per K / Q row
  static constexpr int kVChunks = D_V / 8;
  static constexpr int kQBytes = kBlockM * D_QK * 2;
  static constexpr int kKTileBytes = kBlockN * D_QK * 2;
  static constexpr int kVTileBytes = SEPARATE_V ? kBlockN * D_V * 2 : 0;
  static constexpr int kPBytes = kBlockM * kBlockN * 2;
  static constexpr int kRowStatBytes = 2 * kBlockM * 4;  // [2 halves][64 rows] floats

  // Deepest pipeline (2..4 stages) that fits beside Q, P and the row statistics.
  static constexpr int kFixedBytes = kQBytes + kPBytes + 2 * kRowStatBytes;
  static constexpr int kStageBytes = kKTileBytes + kVTileBytes;
  static constexpr int kFitStages = (kMaxSmemPerBlock - kFixedBytes) / kStageBytes;
  static constexpr int STAGES = kFitStages > 4 ? 4 : kFitStages;
  static_assert(STAGES >= 2, "two cache tiles must fit");

  static constexpr int kOffQ = 0;
  static constexpr int kOffK = kOffQ + kQBytes;
  static constexpr int kOffV = kOffK + STAGES * kKTileBytes;
  static constexpr int kOffP = kOffV + STAGES * kVTileBytes;
  static constexpr int kOffMax = kOffP + kPBytes;
  static constexpr int kOffSum = kOffMax + kRowStatBytes;
  static constexpr int kSmemBytes = kOffSum + kRowStatBytes;

  static constexpr int kDvHalf = D_V / 2;     // value columns per warp
  static constexpr int kOTiles = kDvHalf / 8;  // 8-column accumulator tiles per warp

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  // wgmma B operands of p.v start on whole 64-column blocks.
  static constexpr bool kWgmma = kDvHalf % 64 == 0;
#else
  static constexpr bool kWgmma = false;
#endif
};

// Byte offset of 16-byte chunk `chunk` of row `row` in a 64-row tile: 64-column blocks of
// 64 rows x 128 bytes (8 KB each), and inside a block the 128-byte swizzle, which spreads the 8 rows
// an ldmatrix (or wgmma) reads over all 32 banks.
constexpr int kTileBlockBytes = 64 * 128;
__device__ __forceinline__ uint32_t tile_offset(int row, int chunk) {
  return static_cast<uint32_t>((chunk >> 3) * kTileBlockBytes + row * 128 +
                               (((chunk & 7) ^ (row & 7)) << 4));
}

}  // namespace fmla
