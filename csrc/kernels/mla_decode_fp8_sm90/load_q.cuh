// MLA decode over FP8 caches for few query rows (sm_90a): a sequence's query rows into shared
// memory, their columns permuted as the keys' A fragments need (q_position, q8_position).
#pragma once

#include "../common/decode_params.h"
#include "../common/e4m3.cuh"
#include "../common/ptx.cuh"
#include "traits.h"

namespace fmla {
namespace mla_fp8_sm90 {

// The 16-byte chunks of sequence bi's Q rows (576 values of Query a row), item
// tid + i * kConsumerThreads = (row m, chunk) in v[i], every load in flight at once; rows past
// rows_per_kv are zero.
template <typename Query, int COLS>
struct QChunks {
  static constexpr int kChunks = kMlaHeadDimQK * static_cast<int>(sizeof(Query)) / 16;  // a row
  static constexpr int kItems = (COLS * kChunks + kConsumerThreads - 1) / kConsumerThreads;
  uint4 v[kItems];

  __device__ __forceinline__ QChunks(const DecodeParams& p, int bi, int tid) {
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const int item = tid + i * kConsumerThreads, m = item / kChunks, chunk = item % kChunks;
      v[i] = make_uint4(0u, 0u, 0u, 0u);
      if (item < COLS * kChunks && m < p.rows_per_kv) {
        const Query* row = static_cast<const Query*>(p.q) + bi * p.q_stride_b +
                           (m / p.heads_per_kv) * p.q_stride_s +
                           (blockIdx.y * p.heads_per_kv + m % p.heads_per_kv) * p.q_stride_h;
        v[i] = reinterpret_cast<const uint4*>(row)[chunk];
      }
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

// Q rows of sequence bi into the permuted boxes (rows past rows_per_kv zero), by all consumer
// threads.
template <typename Elem, int COLS>
__device__ __forceinline__ void load_q(const DecodeParams& p, int bi, uint32_t s_q, int tid) {
  QChunks<Elem, COLS>(p, bi, tid).each(tid, [&](int m, int chunk, const uint32_t (&words)[4]) {
    store_q_chunk<COLS>(s_q, m, chunk, words);
  });
}

// float8_e4m3fn Q rows of sequence bi into kQ8Boxes boxes of COLS rows of 128 bytes, each word
// of four codes where q8_position puts its first column (rows past rows_per_kv zero).
template <int COLS>
__device__ __forceinline__ void load_q_e4m3(const DecodeParams& p, int bi, uint32_t s_q, int tid) {
  QChunks<__nv_fp8_e4m3, COLS>(p, bi, tid).each(tid, [&](int m, int chunk,
                                                          const uint32_t (&words)[4]) {
#pragma unroll
    for (int k = 0; k < 4; ++k)
      ptx::st_shared_u32(q8_word_at<MlaCache::kFp8E4m3, COLS>(s_q, m, chunk * 16 + 4 * k),
                         words[k]);
  });
}

// bf16 Q rows of sequence bi as two e4m3 terms (docs/fp8-kv-cache.md: q 2^k = q1 + q2, 2^k putting
// the row's largest magnitude in [2^7, 2^8)), each in boxes of 128 columns permuted as the keys'
// code loads need (q8_position<CACHE>): q1 from s_q, q2 kQTermBoxes<CACHE> boxes further.
// fp8_ds_mla's rotary dims (its rotary keys are bf16) stay bf16, times 2^k (exact), in load_q's
// permuted box 8. Row m's 2^-k goes into row_mul[m]. row_max (COLS words, zero on entry) is where
// the row maxima meet; the caller's barrier after this makes row_mul and Q visible.
template <MlaCache CACHE, int COLS>
__device__ __forceinline__ void load_q_split(const DecodeParams& p, int bi, uint32_t s_q,
                                             uint32_t* row_max, float* row_mul, int tid) {
  constexpr int kCodeDims = CACHE == MlaCache::kFp8DsMla ? kMlaHeadDimV : kMlaHeadDimQK;
  constexpr uint32_t kTermBytes = kQTermBoxes<CACHE> * COLS * 128;
  const QChunks<__nv_bfloat16, COLS> q(p, bi, tid);
  auto lo = [](uint32_t w) { return __uint_as_float(w << 16); };
  auto hi = [](uint32_t w) { return __uint_as_float(w & 0xffff0000u); };
  q.each(tid, [&](int m, int, const uint32_t (&words)[4]) {
    float mx = 0.f;
#pragma unroll
    for (int e = 0; e < 4; ++e) mx = fmaxf(mx, fmaxf(fabsf(lo(words[e])), fabsf(hi(words[e]))));
    atomicMax(row_max + m, __float_as_uint(mx));  // magnitudes order as their bits
  });
  ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);
  q.each(tid, [&](int m, int chunk, const uint32_t (&words)[4]) {
    const int k = split_row_exponent(__uint_as_float(row_max[m]));
    const float rscale = pow2(k);
    if (chunk == 0) row_mul[m] = pow2(-k);
    if (chunk * 8 >= kCodeDims) {  // fp8_ds_mla's rotary dims: bf16, placed as load_q places them
      uint32_t w[4];
#pragma unroll
      for (int e = 0; e < 4; ++e)
        w[e] = pack2<__nv_bfloat16>(lo(words[e]) * rscale, hi(words[e]) * rscale);
      store_q_chunk<COLS>(s_q, m, chunk, w);
      return;
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
  });
}

}  // namespace mla_fp8_sm90
}  // namespace fmla
