// MLA decode on sm_90a: how the cache is loaded, and the shared-memory layout.
#pragma once

#include <stdint.h>

#include <algorithm>

#include "../common/wgmma.cuh"
#include "config.h"
#include "launch.h"

namespace fmla {
namespace mla_sm90 {

using KvLoad = MlaKvLoad;  // launch.h: TMA boxes, or rows gathered by a producer

// Whether the consumers issue the TMA boxes themselves; otherwise a producer warpgroup loads (the
// gather, and the TMA boxes of kTmaProducer).
__host__ __device__ constexpr bool consumers_load(KvLoad load) {
  return load == KvLoad::kTmaTiles || load == KvLoad::kTmaPages;
}

// The two consumer warpgroups, and the producer warpgroup where there is one.
__host__ __device__ constexpr int threads_for(KvLoad load) {
  return consumers_load(load) ? kConsumerThreads : kConsumerThreads + 128;
}

// A block's place in the grid: its group of 64 query rows, KV head and schedule part. The row
// groups of a part sit side by side in x, so that the blocks that read the same tiles are launched
// together and the second one's loads find the first one's in L2 (bench/NOTES.md: v21, h_q 128
// -7% with TMA; v35, one-token pages -1 to -3%).
struct BlockPlace {
  static dim3 grid(const DecodeParams& p) {
    return dim3(mla_row_groups(p.rows_per_kv), p.h_kv, p.num_sm_parts);
  }
#ifdef __CUDACC__
  __device__ static int part() { return blockIdx.z; }
  __device__ static int m_base() { return blockIdx.x * kBlockM; }
#endif
};

// The seesaw's row statistics in shared memory, kBlockM floats each: m0, a0 (warpgroup 0's new
// maxima and factors, for warpgroup 1), m1, a1 (warpgroup 1's), and the row sums of both
// ([wg][row]). The 16-bit and the e4m3 kernels exchange them alike.
struct PairStats {
  static constexpr int kFloats = 6 * kBlockM;
  float* m0;
  float* a0;
  float* m1;
  float* a1;
  float* sum;
#ifdef __CUDACC__
  __device__ explicit PairStats(uint8_t* at)
      : m0(reinterpret_cast<float*>(at)),
        a0(m0 + kBlockM),
        m1(m0 + 2 * kBlockM),
        a1(m0 + 3 * kBlockM),
        sum(m0 + 4 * kBlockM) {}
#endif
};

struct SmemLayout {
  static constexpr int kOffQ = 0;
  static constexpr int kOffK = kTileBytes;  // two tile buffers
  static constexpr int kOffStats = kOffK + 2 * kTileBytes;  // PairStats
  static constexpr int kOffBars = kOffStats + PairStats::kFloats * 4;
  // full[2][9] (a box landed), free_own[2], free_rest[2] (a buffer's boxes read: a producer
  // warpgroup waits on them; where the consumers load, the releasing warpgroup refills directly),
  // q_full, q_free; FP8 caches: codes_landed[2], rope_landed[2] (produce_fp8.cuh); gathered 16-bit
  // tiles: free_own_part[2][kMaxKeyParts - 1], free_rest_part[2][kMaxKeyParts - 1] (key_parts).
  static constexpr int kBars = 2 * kBoxes + 4 + 2 + 4 + 4 * (kMaxKeyParts - 1);
  // FP8 caches, for each buffer: fp8_ds_mla's 4 float32 scales of each row of a tile, or fp8_e4m3's
  // rotary codes of a tile (64 bytes a row), landed with its value codes (produce_fp8.cuh).
  static constexpr int kOffStage = kOffBars + kBars * 8;
  static constexpr int kStageBytes = kBlockN * 64;
  // 16-bit caches loaded by TMA: warpgroup 1's P in a box of its own (p1_apart), over the FP8
  // stages, aligned for the 128-byte swizzle.
  static constexpr int kOffP1 = (kOffStage + 1023) / 1024 * 1024;
  static constexpr int kBytes = std::max(kOffStage + 2 * kStageBytes, kOffP1 + kBoxBytes);
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
  // The 4 value boxes only consumer b reads in buffer b (its half of V; with P1 apart, buffer 1's
  // rotary box too), freed by it alone...
  __device__ uint32_t free_own(int b) const { return bar(2 * kBoxes + b); }
  // ...and the others, freed once both consumers are done with the buffer.
  __device__ uint32_t free_rest(int b) const { return bar(2 * kBoxes + 2 + b); }
  __device__ uint32_t q_full() const { return bar(2 * kBoxes + 4); }
  __device__ uint32_t q_free() const { return bar(2 * kBoxes + 5); }
  __device__ uint32_t codes_landed(int b) const { return bar(2 * kBoxes + 6 + b); }
  __device__ uint32_t rope_landed(int b) const { return bar(2 * kBoxes + 8 + b); }
  // Where a buffer's keys are released in parts (key_parts): its own / rest boxes' rows of part k
  // (k < kMaxKeyParts - 1) read; the last part frees with free_own / free_rest.
  __device__ uint32_t free_own_part(int b, int k) const {
    return bar(2 * kBoxes + 10 + b * (kMaxKeyParts - 1) + k);
  }
  __device__ uint32_t free_rest_part(int b, int k) const {
    return bar(2 * kBoxes + 10 + (2 + b) * (kMaxKeyParts - 1) + k);
  }
  __device__ uint32_t stage(int b) const {
    return base + SmemLayout::kOffStage + b * SmemLayout::kStageBytes;
  }
  __device__ uint32_t scales(int b, int row) const { return stage(b) + row * 16; }
  __device__ uint32_t p1() const { return base + SmemLayout::kOffP1; }
};

// Where warpgroup 1's P goes. In buffer 1's rotary box (dead once the tile's scores exist) it
// ties that box to buffer 1's rest, which frees only with the pair's last product (warpgroup 0's
// P1 V1_L), so the next S1 waits for five boxes issued that late. In a box of its own (16-bit
// caches loaded by TMA, where the FP8 stages are unused), the rotary box refills with buffer 1's
// own half, fifth in load order, and four boxes are left that late: h_q 128 -0.3 to -2.6%
// (bench/NOTES.md, v60). Pages of 8-32 tokens keep it there (their rotary boxes come a page a warp
// with the rest), and so does the gather, where P1 apart measured 1% slower and whose box order
// is the FP8 producer's, which the native check compares bit for bit.
template <KvLoad LOAD, MlaCache CACHE>
__host__ __device__ constexpr bool p1_apart() {
  return CACHE == MlaCache::k16Bit && (LOAD == KvLoad::kTmaTiles || LOAD == KvLoad::kTmaProducer);
}

// The i-th box of buffer b in load order: the boxes that free early first (b's own value half,
// and with P1 apart buffer 1's rotary box), then the rest.
template <bool P1_APART>
__device__ __forceinline__ int box_in_load_order(int b, int i) {
  if (P1_APART && b == 1) return i < 4 ? 4 + i : i == 4 ? kPBox : i - 5;
  return i < 4 ? 4 * b + i : i < 8 ? 4 * (1 - b) + (i - 4) : kPBox;
}

// How many boxes (load order) of buffer b free early: its own half.
template <bool P1_APART>
__host__ __device__ constexpr int own_boxes(int b) {
  return P1_APART && b == 1 ? 5 : 4;
}

// In how many parts of a tile's keys buffers are released and refilled: a P V product is that many
// commit groups (keys 0-15, 16-31, ... for four), and each part's value rows go back to the
// producer as soon as its group is done, so that most of a tile's refill is issued before the tile
// is released. The gather, whose copies wait on their trip from memory behind two tiles of lead
// (bench/NOTES.md, v43). The P / rotary box is released whole (P's rows are query rows, all read by
// every part).
template <KvLoad LOAD, MlaCache CACHE>
__host__ __device__ constexpr int key_parts() {
  return LOAD == KvLoad::kGatherRows && CACHE == MlaCache::k16Bit ? kMaxKeyParts : 1;
}

// Whether a gathered tile's box i (load order) starts a group of boxes that land together, on the
// group's first "full" barrier: pairs of 16-bit boxes, so the scores start after two boxes rather
// than four (one-token pages at h_q 128: -3.5%, bench/NOTES.md v22); the halves of FP8 tiles,
// which the producer converts a half at a time (produce_fp8.cuh).
template <MlaCache CACHE>
__host__ __device__ constexpr bool gathered_group_starts(int i) {
  return CACHE == MlaCache::k16Bit ? i % 2 == 0 : i == 0 || i == 4;
}

}  // namespace mla_sm90
}  // namespace fmla
