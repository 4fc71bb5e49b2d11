// MLA decode on sm_90a: how the cache is loaded, and the shared-memory layout.
#pragma once

#include <stdint.h>

#include "../common/wgmma.cuh"
#include "config.h"
#include "launch.h"

namespace fmla {
namespace mla_sm90 {

using KvLoad = MlaKvLoad;  // launch.h: TMA boxes a page, or rows gathered by a producer

// TMA pages: the two consumer warpgroups alone; gather: a producer warpgroup beside them.
constexpr int threads_for(KvLoad load) {
  return load == KvLoad::kTmaPages ? kConsumerThreads : kConsumerThreads + 128;
}

struct SmemLayout {
  static constexpr int kOffQ = 0;
  static constexpr int kOffK = kTileBytes;  // two tile buffers
  static constexpr int kOffStats = kOffK + 2 * kTileBytes;
  // Row statistics, 64 floats each: m0, a0 (from wg 0), m1, a1 (from wg 1), row sums of wg 0, wg 1.
  static constexpr int kStatFloats = 6 * kBlockM;
  static constexpr int kOffBars = kOffStats + kStatFloats * 4;
  // full[2][9] (a box landed), free_own[2], free_rest[2] (a buffer's boxes read: the producer of
  // the gather path waits on them; on the TMA path the releasing warpgroup refills directly),
  // q_full, q_free; FP8 caches: codes_landed[2], rope_landed[2] (produce_fp8.cuh).
  static constexpr int kBars = 2 * kBoxes + 4 + 2 + 4;
  // FP8 caches, for each buffer: fp8_ds_mla's 4 float32 scales of each row of a tile, or fp8_e4m3's
  // rotary codes of a tile (64 bytes a row), landed with its value codes (produce_fp8.cuh).
  static constexpr int kOffStage = kOffBars + kBars * 8;
  static constexpr int kStageBytes = kBlockN * 64;
  static constexpr int kBytes = kOffStage + 2 * kStageBytes;
};
static_assert(SmemLayout::kBytes <= 227 * 1024, "Q, two tiles and the barriers fit");
static_assert(kBlockN == 64 && kBlockM == 64, "64-key tiles, 64 query rows a block");

// Shared-memory addresses of one block's buffers and barriers.
struct Smem {
  uint32_t base;
  __device__ uint32_t q() const { return base + SmemLayout::kOffQ; }
  __device__ uint32_t tile(int b) const { return base + SmemLayout::kOffK + b * kTileBytes; }
  __device__ uint32_t bar(int i) const { return base + SmemLayout::kOffBars + i * 8; }
  __device__ uint32_t full(int b, int box) const { return bar(b * kBoxes + box); }
  // The 4 value boxes only consumer b reads in buffer b (its half of V), freed by it alone...
  __device__ uint32_t free_own(int b) const { return bar(2 * kBoxes + b); }
  // ...and the other 5, freed once both consumers are done with the buffer.
  __device__ uint32_t free_rest(int b) const { return bar(2 * kBoxes + 2 + b); }
  __device__ uint32_t q_full() const { return bar(2 * kBoxes + 4); }
  __device__ uint32_t q_free() const { return bar(2 * kBoxes + 5); }
  __device__ uint32_t codes_landed(int b) const { return bar(2 * kBoxes + 6 + b); }
  __device__ uint32_t rope_landed(int b) const { return bar(2 * kBoxes + 8 + b); }
  __device__ uint32_t stage(int b) const {
    return base + SmemLayout::kOffStage + b * SmemLayout::kStageBytes;
  }
  __device__ uint32_t scales(int b, int row) const { return stage(b) + row * 16; }
};

// The i-th box of buffer b in load order: the boxes that free early (b's own value half) first.
__device__ __forceinline__ int box_in_load_order(int b, int i) {
  return i < 4 ? 4 * b + i : i < 8 ? 4 * (1 - b) + (i - 4) : 8;
}

}  // namespace mla_sm90
}  // namespace fmla
