// MLA decode over FP8 caches for few query rows (sm_90a): a sequence's query rows into shared
// memory, their columns permuted as the keys' A fragments need (q_position, q8_position).
#pragma once

#include "../common/e4m3.cuh"
#include "../common/ptx.cuh"
#include "traits.h"

namespace fmla {
namespace mla_fp8_sm90 {

// A sequence's query rows as the producer stages them in a ring stage ahead of its tiles
// (produce.cuh), row m at m * kMlaQueryRowBytes<Query>, rows past rows_per_kv not copied.
// Read from global memory at a piece's start instead, behind the ring's copies in flight to the SM,
// they had held the consumers up 8% of the time with split rows at 32 columns, 3-4% with e4m3 ones
// (bench/NOTES.md, v51).

// The 16-byte chunks of the staged rows, item tid + i * kConsumerThreads = (row m, chunk) in v[i];
// rows past rows_per_kv are zero.
template <typename Query, int COLS>
struct QChunks {
  static constexpr int kChunks = kMlaQueryRowBytes<Query> / 16;  // a row
  static constexpr int kItems = (COLS * kChunks + kConsumerThreads - 1) / kConsumerThreads;
  uint4 v[kItems];

  __device__ __forceinline__ QChunks(const uint8_t* rows, int rows_per_kv, int tid) {
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const int item = tid + i * kConsumerThreads, m = item / kChunks;
      v[i] = make_uint4(0u, 0u, 0u, 0u);
      if (item < COLS * kChunks && m < rows_per_kv)
        v[i] = *reinterpret_cast<const uint4*>(rows + item * 16);  // rows are contiguous here
    }
  }

  // f(m, chunk, its four words) for each loaded chunk of the COLS rows.
  template <typename F>
  __device__ __forceinline__ void each(int tid, F&& f) const {
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const int item = tid + i * kConsumerThreads;
      if (item >= COLS * kChunks) break;
      const uint32_t words[4] = {v[i].x, v[i].y, v[i].z, v[i].w};
      f(item / kChunks, item % kChunks, words);
    }
  }
};

// Chunk `chunk` of row m (8 16-bit values, words[e] holding columns 2 e and 2 e + 1) into its
// permuted box (q_position).
template <int COLS>
__device__ __forceinline__ void store_q_chunk(uint32_t s_q, int m, int chunk,
                                              const uint32_t (&words)[4]) {
  const uint32_t box = s_q + (chunk / 8) * (COLS * 128);
#pragma unroll
  for (int k = 0; k < 2; ++k) {  // columns d .. d + 3: (d + 1, d + 3) and (d, d + 2) stay paired
    const int d = chunk * 8 + 4 * k;
    const int pos_odd = q_position(d + 1), pos_even = q_position(d);
    ptx::st_shared_u32(box + box_offset(m, pos_odd / 8) + (pos_odd % 8) * 2,
                       __byte_perm(words[2 * k], words[2 * k + 1], 0x7632));
    ptx::st_shared_u32(box + box_offset(m, pos_even / 8) + (pos_even % 8) * 2,
                       __byte_perm(words[2 * k], words[2 * k + 1], 0x5410));
  }
}

// Where the word of codes whose first column is d (a multiple of 4) of row m goes among a term's
// boxes of 128 columns (q8_position).
template <MlaCache CACHE, int COLS>
__device__ __forceinline__ uint32_t q8_word_at(uint32_t s_q, int m, int d) {
  const int pos = q8_position<CACHE>(d);
  return s_q + (d / 128) * (COLS * 128) + box_offset(m, pos / 16) + pos % 16;
}

// The staged Q rows into the permuted boxes (rows past rows_per_kv zero), by all consumer threads.
template <typename Elem, int COLS>
__device__ __forceinline__ void load_q(const uint8_t* rows, int rows_per_kv, uint32_t s_q,
                                       int tid) {
  QChunks<Elem, COLS>(rows, rows_per_kv, tid).each(tid, [&](int m, int chunk,
                                                             const uint32_t (&words)[4]) {
    store_q_chunk<COLS>(s_q, m, chunk, words);
  });
}

// The staged float8_e4m3fn Q rows into kQ8Boxes boxes of COLS rows of 128 bytes, each word of
// four codes where q8_position puts its first column (rows past rows_per_kv zero).
template <int COLS>
__device__ __forceinline__ void load_q_e4m3(const uint8_t* rows, int rows_per_kv, uint32_t s_q,
                                            int tid) {
  QChunks<__nv_fp8_e4m3, COLS>(rows, rows_per_kv, tid).each(tid, [&](int m, int chunk,
                                                                      const uint32_t (&words)[4]) {
#pragma unroll
    for (int k = 0; k < 4; ++k)
      ptx::st_shared_u32(q8_word_at<MlaCache::kFp8E4m3, COLS>(s_q, m, chunk * 16 + 4 * k),
                         words[k]);
  });
}

// The staged bf16 Q rows as two e4m3 terms (docs/fp8-kv-cache.md: q 2^k = q1 + q2, 2^k putting
// the row's largest magnitude in [2^7, 2^8)), each in boxes of 128 columns permuted as the keys'
// code loads need (q8_position<CACHE>): q1 from s_q, q2 kQTermBoxes<CACHE> boxes further.
// fp8_ds_mla's rotary dims (its rotary keys are bf16) stay bf16, times 2^k (exact), in load_q's
// permuted box 8. Row m's 2^-k goes into row_mul[m]. A warp a row (consumer warp m % 8): its
// lanes' chunks give the row's largest magnitude through shuffles, then are split and stored.
// The caller's barrier after this makes row_mul and Q visible.
template <MlaCache CACHE, int COLS>
__device__ __forceinline__ void load_q_split(const uint8_t* rows, int rows_per_kv, uint32_t s_q,
                                             float* row_mul, int tid) {
  constexpr int kCodeDims = CACHE == MlaCache::kFp8DsMla ? kMlaHeadDimV : kMlaHeadDimQK;
  constexpr uint32_t kTermBytes = kQTermBoxes<CACHE> * COLS * 128;
  constexpr int kRowBytes = kMlaQueryRowBytes<__nv_bfloat16>;
  constexpr int kChunks = kRowBytes / 16;  // 72 a row
  constexpr int kLaneChunks = (kChunks + 31) / 32;
  constexpr int kWarps = kConsumerThreads / 32;
  auto lo = [](uint32_t w) { return __uint_as_float(w << 16); };
  auto hi = [](uint32_t w) { return __uint_as_float(w & 0xffff0000u); };
  const int lane = tid % 32;
#pragma unroll 1
  for (int m = tid / 32; m < COLS; m += kWarps) {
    uint4 v[kLaneChunks];
    float mx = 0.f;
#pragma unroll
    for (int j = 0; j < kLaneChunks; ++j) {
      const int chunk = lane + 32 * j;
      v[j] = make_uint4(0u, 0u, 0u, 0u);
      if (chunk < kChunks && m < rows_per_kv)
        v[j] = *reinterpret_cast<const uint4*>(rows + m * kRowBytes + chunk * 16);
      const uint32_t words[4] = {v[j].x, v[j].y, v[j].z, v[j].w};
#pragma unroll
      for (int e = 0; e < 4; ++e)
        mx = fmaxf(mx, fmaxf(fabsf(lo(words[e])), fabsf(hi(words[e]))));
    }
#pragma unroll
    for (int d = 16; d > 0; d /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, d));
    const int k = split_row_exponent(mx);
    const float rscale = pow2(k);
    if (lane == 0) row_mul[m] = pow2(-k);
#pragma unroll
    for (int j = 0; j < kLaneChunks; ++j) {
      const int chunk = lane + 32 * j;
      if (chunk >= kChunks) break;
      const uint32_t words[4] = {v[j].x, v[j].y, v[j].z, v[j].w};
      if (chunk * 8 >= kCodeDims) {  // fp8_ds_mla's rotary dims: bf16, placed as load_q places them
        uint32_t w[4];
#pragma unroll
        for (int e = 0; e < 4; ++e)
          w[e] = pack2<__nv_bfloat16>(lo(words[e]) * rscale, hi(words[e]) * rscale);
        store_q_chunk<COLS>(s_q, m, chunk, w);
        continue;
      }
#pragma unroll
      for (int h = 0; h < 2; ++h) {  // columns d .. d + 3 of the chunk's 8: one word a term
        uint32_t t1 = 0u, t2 = 0u;
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const uint32_t w = words[2 * h + e];
          uint32_t c1, c2;
          e4m3x2_split(lo(w) * rscale, hi(w) * rscale, c1, c2);
          t1 |= c1 << (16 * e);
          t2 |= c2 << (16 * e);
        }
        const uint32_t at = q8_word_at<CACHE, COLS>(s_q, m, chunk * 8 + 4 * h);
        ptx::st_shared_u32(at, t1);
        ptx::st_shared_u32(at + kTermBytes, t2);
      }
    }
  }
}

}  // namespace mla_fp8_sm90
}  // namespace fmla
