// MLA decode over FP8 caches for few query rows: the shared-memory layout of one block.
#pragma once

#include <stdint.h>

#include "../common/wgmma.cuh"
#include "../mla_decode_sm90/launch.h"
#include "config.h"

namespace fmla {
namespace mla_fp8_sm90 {

// Bytes of one cached token as a ring stage holds it (the cache's own row, copied whole).
__host__ __device__ constexpr int token_bytes(MlaCache cache) {
  return cache == MlaCache::kFp8DsMla ? kDsMlaTokenBytes : kMlaHeadDimQK;
}

// e4m3 query codes (e4m3 queries, and bf16 ones split into two e4m3 terms over fp8_e4m3): 4 boxes
// of 128 columns and a half box a term (q8_position).
constexpr int kQ8Boxes = 5;
// Split bf16 rows: a term's boxes (fp8_ds_mla: the 512 value dims' 4; its rotary dims stay bf16,
// in box 8 as load_q places them).
template <MlaCache CACHE>
constexpr int kQTermBoxes = CACHE == MlaCache::kFp8DsMla ? 4 : kQ8Boxes;

// The producer's copies: runs of tokens contiguous in both the cache and the tile. A tile (64
// keys from a multiple of 64) lies in one page when pages hold a multiple of 64 tokens, in whole
// pages when they hold a divisor of 64; rows with gaps go one by one.
template <MlaCache CACHE>
__host__ __device__ constexpr int copy_run(int page_size, int64_t k_stride_row) {
  return k_stride_row != token_bytes(CACHE) ? 1
         : page_size % kBlockN == 0         ? kBlockN
         : kBlockN % page_size == 0         ? page_size
                                            : 1;
}

// EARLY_V (16 columns, tiles copied a row at a time): a consumer loads all its V codes of a tile
// right after the scores and releases the stage before the softmax, so that the 64 copies of the
// next fill start half a tile sooner: 8-11% faster there, 2-8% slower with runs of 4+ tokens
// (bench/NOTES.md, v32). O^T = V^T P^T runs on the FP8 tensor cores with V's codes as they are
// over fp8_e4m3 always, over fp8_ds_mla with EARLY_V (P^T then a version a group of 128 values,
// P times each key's group scale); otherwise over fp8_ds_mla V's codes are converted (fp16 where a
// tile's scales allow, else bf16: kernel.cuh), which measured 3% faster with whole tiles (then in
// bf16), and the four versions do not fit beside 32 columns' Q and ring.
template <MlaCache CACHE, bool EARLY_V>
constexpr bool kCodeValues = CACHE == MlaCache::kFp8E4m3 || EARLY_V;
// P^T boxes a consumer warpgroup: fp8_ds_mla's value groups each their own.
template <MlaCache CACHE, bool EARLY_V>
constexpr int kPBoxes = CACHE == MlaCache::kFp8DsMla && kCodeValues<CACHE, EARLY_V> ? 4 : 1;

// COLS: the query rows padded to 16 or 32.
template <MlaCache CACHE, int COLS, bool EARLY_V>
struct SmemLayout {
  static_assert(!EARLY_V || COLS == 16, "a tile's V codes fit in registers beside 16 columns");
  static constexpr int kTokenBytes = token_bytes(CACHE);
  // Q, its 576 columns permuted within each box (q_position), as 9 boxes of COLS rows (over
  // fp8_e4m3, room for the two terms of split bf16 rows); once a sequence's scores are done, the
  // place where the warpgroups exchange halves of O^T.
  static constexpr int kQBoxBytes = COLS * 128;
  static constexpr int kOffQ = 0;
  static constexpr int kQBytes =
      (CACHE == MlaCache::kFp8E4m3 ? 2 * kQ8Boxes : kBoxes) * kQBoxBytes;
  // Each consumer warpgroup's P^T of its current tile: COLS rows of 64 keys (a box a value group
  // over fp8_ds_mla's codes).
  static constexpr int kOffP = kOffQ + kQBytes;
  static constexpr int kPBytes = kPBoxes<CACHE, EARLY_V> * kQBoxBytes;
  static constexpr int kOffRing = kOffP + kConsumerWarpgroups * kPBytes;
  static constexpr int kStageBytes = kBlockN * kTokenBytes;
  // Column maxima of a tile (warpgroup, tile parity, column, warp: a column's four maxima are one
  // load), then a sequence's column maxima and sums (warpgroup, warp, column).
  static constexpr int kOffMax = kOffRing + kStages * kStageBytes;
  // fp8_ds_mla's codes as values: a tile's largest group scales (warpgroup, tile parity, warp,
  // group), as float bits.
  static constexpr int kOffScaleMax = kOffMax + kConsumerWarpgroups * 2 * 4 * COLS * 4;
  static constexpr int kOffSeqStats = kOffScaleMax + kConsumerWarpgroups * 2 * 4 * 4 * 4;
  // Split bf16 rows: each row's 2^-k.
  static constexpr int kOffRowMul = kOffSeqStats + kConsumerWarpgroups * 5 * COLS * 4;
  // fp8_ds_mla's values converted: whether a tile takes them in fp16, a byte a warp (warpgroup,
  // tile parity, warp).
  static constexpr int kOffF16Tiles = kOffRowMul + COLS * 4;
  static constexpr int kOffBars =
      kOffF16Tiles + (CACHE == MlaCache::kFp8DsMla && !kCodeValues<CACHE, EARLY_V>
                          ? kConsumerWarpgroups * 2 * 4
                          : 0);
  // full[kStages] (a tile landed), empty[kStages] (its consumer's warps are done with it).
  static constexpr int kBytes = kOffBars + 2 * kStages * 8;
  static_assert(kOffP % 1024 == 0 && kQBoxBytes % 1024 == 0, "swizzle atoms stay aligned");
  static_assert(kOffMax % 16 == 0, "a column's tile maxima one 16-byte load");
  static_assert(COLS * 1024 <= kQBytes, "a warpgroup's half of O^T fits where Q was");
  static_assert(COLS * kMlaQueryRowBytes<__nv_bfloat16> <= kStageBytes,
                "a stage holds the query rows");
};
static_assert(SmemLayout<MlaCache::kFp8DsMla, 32, false>::kBytes <= 227 * 1024 &&
                  SmemLayout<MlaCache::kFp8E4m3, 32, false>::kBytes <= 227 * 1024 &&
                  SmemLayout<MlaCache::kFp8DsMla, 16, true>::kBytes <= 227 * 1024,
              "the largest layouts fit");

// Shared-memory addresses of one block's buffers and barriers.
template <MlaCache CACHE, int COLS, bool EARLY_V>
struct Smem {
  using L = SmemLayout<CACHE, COLS, EARLY_V>;
  uint32_t base;
  __device__ uint32_t q() const { return base + L::kOffQ; }
  __device__ uint32_t p(int wg) const { return base + L::kOffP + wg * L::kPBytes; }
  __device__ uint32_t stage(int s) const { return base + L::kOffRing + s * L::kStageBytes; }
  __device__ uint32_t full(int s) const { return base + L::kOffBars + s * 8; }
  __device__ uint32_t empty(int s) const { return base + L::kOffBars + (kStages + s) * 8; }
};

// Where Q's column d goes within its box. With d % 64 = 16 c + 4 u + j, the code bytes j = 0..3 of
// word u of lane quad c's 16 bytes (of a cached row's 64) become e4m3x4_to_bits_interleaved's .x
// (bytes 1, 3) and .y (bytes 0, 2): the A fragment's columns 2 c, 2 c + 1 and 2 c + 8, 2 c + 9 of
// k-step u. So a thread converts whole words and its 16 code bytes of a box serve its 4 k-steps.
__host__ __device__ constexpr int q_position(int d) {
  return 16 * ((d % 16) / 4) + 2 * ((d % 64) / 16) + (d % 2 == 1 ? 0 : 8) + (d % 4) / 2;
}

// e4m3 query codes: Q is 4 boxes of 128 columns (128 codes a row) and a half box of the last 64,
// and where its column d goes within its box mirrors how a thread takes K's codes: lane quad c
// loads two 16-byte pieces of a cached row's box, whose words i = 0, 1, ... are the A fragment's
// k columns 4 c .. 4 c + 3 (i even) and 16 + 4 c .. (i odd) of k-step i / 2. So a thread's code
// words are its fragments as they load. The pieces are chosen so that each quarter warp's 8 loads
// (keys g, g + 1 of 4 lanes c) fall in 8 different 16-byte bank groups: over fp8_e4m3 (rows 576
// bytes apart, 64 mod 128) bytes 16 c and 64 + 16 c (the half box: 16 c); over fp8_ds_mla (656
// bytes, 16 mod 128) bytes 32 c and 32 c + 16.
template <MlaCache CACHE>
__host__ __device__ constexpr int q8_position(int d) {
  const int dd = d % 128;
  const int c = CACHE == MlaCache::kFp8DsMla ? dd / 32 : (dd % 64) / 16;
  const int i = CACHE == MlaCache::kFp8DsMla ? (dd % 32) / 4 : 4 * (dd / 64) + (dd % 16) / 4;
  return 32 * (i / 2) + 16 * (i % 2) + 4 * c + dd % 4;
}
// Where lane quad c's piece j (0, 1) of a box starts in a cached row.
template <MlaCache CACHE>
__host__ __device__ constexpr int q8_piece(int c, int j) {
  return CACHE == MlaCache::kFp8DsMla ? 32 * c + 16 * j : 16 * c + 64 * j;
}

}  // namespace mla_fp8_sm90
}  // namespace fmla
