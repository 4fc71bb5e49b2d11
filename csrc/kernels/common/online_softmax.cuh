// One step of the online softmax for the two query rows a thread holds in m16n8 (or wgmma)
// accumulator fragments (rows lane / 4 and lane / 4 + 8). Scores are in base 2.
#pragma once

#include <math.h>

#include "ptx.cuh"

namespace fmla {

// Row maxima of a score tile in the wgmma / mma C layout (s[i] in row (i / 2) % 2 of the thread's
// two) over the quad that holds each row. logits: s holds base-2 logits; else raw scores, whose
// logits are s * scale (the largest logit is the smallest score if the scale is negative).
template <int N>
__device__ __forceinline__ void tile_row_max(const float (&s)[N], bool logits, float scale,
                                             float (&mx)[2]) {
  mx[0] = mx[1] = -INFINITY;
  if (!logits && scale < 0.f) {
#pragma unroll
    for (int i = 0; i < N; ++i) mx[(i / 2) % 2] = fmaxf(mx[(i / 2) % 2], -s[i]);
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) mx[(i / 2) % 2] = fmaxf(mx[(i / 2) % 2], s[i]);
  }
#pragma unroll
  for (int x = 0; x < 2; ++x) {
    mx[x] = fmaxf(mx[x], __shfl_xor_sync(0xffffffffu, mx[x], 1));
    mx[x] = fmaxf(mx[x], __shfl_xor_sync(0xffffffffu, mx[x], 2));
    if (!logits) mx[x] *= fabsf(scale);
  }
}

// Folds the new tile maxima into row_max and returns in `base` the exponent offset of this tile's
// probabilities (the new max, or 0 for a row nothing has reached yet, so that -inf - base stays
// -inf instead of NaN) and in `alpha` the factor 2^(old max - new max) for the old state.
__device__ __forceinline__ void fold_tile_max(const float (&tile_max)[2], float (&row_max)[2],
                                              float (&base)[2], float (&alpha)[2]) {
#pragma unroll
  for (int x = 0; x < 2; ++x) {
    const float new_max = fmaxf(row_max[x], tile_max[x]);
    base[x] = new_max == -INFINITY ? 0.f : new_max;
    alpha[x] = ptx::ex2(row_max[x] - base[x]);
    row_max[x] = new_max;
  }
}

// The running max moves only when a tile's exceeds it by more than this (base 2): the tile's
// probabilities then stay under 2^8 (exact in f16 as any, far from float's range) and, once the
// maxima settle, alpha is 1 for whole tiles, whose rescale is skipped. Exact: the row sum and the
// output use the same base, which cancels in out = sum_t p_t v_t / sum_t p_t (and the lse adds it).
constexpr float kLazyRescaleLog2 = 8.f;

// fold_tile_max with that rule: alpha 1 where the max stays.
__device__ __forceinline__ void fold_tile_max_lazy(const float (&tile_max)[2],
                                                   float (&row_max)[2], float (&base)[2],
                                                   float (&alpha)[2]) {
#pragma unroll
  for (int x = 0; x < 2; ++x) {
    // A row nothing has reached yet moves to any finite tile max (alpha 0 then).
    const bool moves = tile_max[x] > row_max[x] + kLazyRescaleLog2;
    const float new_max = moves ? tile_max[x] : row_max[x];
    base[x] = new_max == -INFINITY ? 0.f : new_max;
    alpha[x] = moves ? ptx::ex2(row_max[x] - base[x]) : 1.f;
    row_max[x] = new_max;
  }
}

// row_sum and the accumulator o (o[4 * i + e]: the C fragment of 8-column tile i, rows e / 2)
// scaled by alpha per row.
template <int O_TILES>
__device__ __forceinline__ void rescale_rows(const float (&alpha)[2], float (&row_sum)[2],
                                             float (&o)[O_TILES * 4]) {
  row_sum[0] *= alpha[0];
  row_sum[1] *= alpha[1];
  // Once the row maxima settle, alpha is 1 for the whole warp: skip the rescale.
  if (__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) {
#pragma unroll
    for (int i = 0; i < O_TILES; ++i) {
      o[4 * i] *= alpha[0], o[4 * i + 1] *= alpha[0];
      o[4 * i + 2] *= alpha[1], o[4 * i + 3] *= alpha[1];
    }
  }
}

// fold_tile_max, then rescale_rows by its alpha.
template <int O_TILES>
__device__ __forceinline__ void online_softmax_step(const float (&tile_max)[2], float (&row_max)[2],
                                                    float (&row_sum)[2], float (&base)[2],
                                                    float (&o)[O_TILES * 4]) {
  float alpha[2];
  fold_tile_max(tile_max, row_max, base, alpha);
  rescale_rows<O_TILES>(alpha, row_sum, o);
}

}  // namespace fmla
