// Where a GQA piece's result goes. A piece that is a whole sequence writes out and lse; a piece of a
// sequence cut into splits writes its partial (o_accum, lse_accum), and then, when the launcher
// sets p.arrivals, is counted done on a byte of the schedule row of the part that holds the
// sequence's first split (schedule_fields.h, kMetaArrivals). The block whose piece completes the
// count merges every partial of the sequence, in split order (so the bits do not depend on which
// piece ends last), writes out and lse, and returns the byte to zero. The call then needs no
// combine kernel: the merge reads a few KB of partials from L2 where the combine read them after a
// second launch and a wait for the whole grid (bench/NOTES.md, v38). A block counts its pieces and
// merges after its last piece, so that none of that code sits in the loop over tiles, whose
// instruction issue bounds the e4m3 kernel (v39).
#pragma once

#include <math.h>
#include <stdint.h>

#include "../common/decode_params.h"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"
#include "pieces.cuh"

namespace fmla {
namespace gqa {

// Counts piece d (of a split sequence) done for this block's KV head g and row group, once every
// thread that stored its partial has fenced; true for the piece that completes the count, which
// has returned the byte to zero. The parts holding a sequence's splits are consecutive, split
// first_split in the first of them.
__device__ __forceinline__ bool arrive(const DecodeParams& p, const PieceDesc& d, int g) {
  const int part = static_cast<int>(blockIdx.x) - (d.split - d.first_split);
  const int k = g * static_cast<int>(gridDim.z) + static_cast<int>(blockIdx.z);
  unsigned* word = reinterpret_cast<unsigned*>(p.arrivals + part * kMetadataInts + kMetaArrivals + k / 4);
  const int shift = 8 * (k % 4);
  const unsigned done = (atomicAdd(word, 1u << shift) >> shift) & 0xffu;
  if (done != static_cast<unsigned>(d.n_splits - 1)) return false;
  atomicAnd(word, ~(0xffu << shift));
  return true;
}

// The partials of piece d's sequence merged for this block's rows: lse = ln(sum_k exp(lse_k)),
// out = sum_k exp(lse_k - lse) o_k (a row no key reaches: out = 0, lse = +inf), in one pass over
// the splits in order, rescaling as the running maximum grows, so that the splits' loads do not
// wait for each other. Threads t = 0 .. threads - 1, four columns of a row each at a time; the
// partials are read from L2 (other SMs wrote them).
template <typename T>
__device__ void merge_splits(const DecodeParams& p, const PieceDesc& d, int g, int t, int threads) {
  using Elem = typename T::Elem;
  constexpr int kQuads = T::D / 4;
  const RowGroup rg(p);
  const int64_t split_rows = static_cast<int64_t>(p.s_q) * p.h_q;
  for (int i = t; i < rg.n * kQuads; i += threads) {
    const int m = i / kQuads, col = (i % kQuads) * 4;
    const int64_t row0 = rg.accum_row(p, d.first_split, g, m);
    float mx = -INFINITY, sum = 0.f;
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
    for (int k = 0; k < d.n_splits; ++k) {
      const int64_t row = row0 + k * split_rows;
      const float l = __ldcg(p.lse_accum + row);
      const float4 o = __ldcg(reinterpret_cast<const float4*>(p.o_accum + row * T::D + col));
      if (l == -INFINITY) continue;  // no key in that split
      const float next = fmaxf(mx, l);
      const float a = expf(mx - next), w = expf(l - next);  // a = 0 for the first split with keys
      sum = sum * a + w;
      acc.x = acc.x * a + w * o.x, acc.y = acc.y * a + w * o.y;
      acc.z = acc.z * a + w * o.z, acc.w = acc.w * a + w * o.w;
      mx = next;
    }
    const bool empty = !(sum > 0.f);
    const float inv = empty ? 0.f : 1.f / sum;
    const float lse = empty ? INFINITY : mx + logf(sum);
    const int j = rg.token(p, m), h = rg.head(p, g, m);
    Elem* out = static_cast<Elem*>(p.out) + d.bi * p.o_stride_b + j * p.o_stride_s + h * p.o_stride_h + col;
    *reinterpret_cast<uint2*>(out) =
        make_uint2(pack2<Elem>(acc.x * inv, acc.y * inv), pack2<Elem>(acc.z * inv, acc.w * inv));
    if (col == 0) p.lse[d.bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] = lse;
  }
}

// The pieces of split sequences a block has computed: a part cuts at most its first and its last
// sequence. Thread 0 notes them as the block goes; once it has no piece left, it counts them done
// and the block merges the sequences whose count it completed (`complete`, a bit a piece).
struct SplitPieces {
  int count, complete;
  PieceDesc piece[2];
};

// Notes piece d if the kernel merges its sequence (thread t of the block; the loader notes each
// piece as it reaches it, the warps' partials are fenced before the count).
__device__ __forceinline__ void note_split_piece(const DecodeParams& p, const PieceDesc& d, int t,
                                                 SplitPieces* s) {
  if (t == 0 && d.n_splits > 1 && p.arrivals) s->piece[s->count++] = d;
}

// After the block's last piece: its partials fenced, the noted pieces counted done, and the
// sequences they complete merged.
template <typename T>
__device__ __forceinline__ void finish_split_pieces(const DecodeParams& p, SplitPieces* s, int g,
                                                    int tid) {
  __syncthreads();  // thread 0's notes visible
  if (s->count == 0) return;
  __threadfence();  // every thread's partials visible before they are counted
  __syncthreads();
  if (tid == 0) {
    int complete = 0;
    for (int i = 0; i < s->count; ++i) complete |= arrive(p, s->piece[i], g) << i;
    s->complete = complete;
  }
  __syncthreads();
  const int complete = s->complete;
  if (complete == 0) return;
  __threadfence();  // the other pieces' partials, fenced before their counts, read after ours
  for (int i = 0; i < s->count; ++i)
    if (complete >> i & 1) merge_splits<T>(p, s->piece[i], g, tid, T::kThreads);
}

// The output of a piece no key reaches (an empty sequence): zeros, and the log-sum-exp of nothing;
// written by the first load group's threads (gtid: one of its kGroupThreads).
template <typename T>
__device__ void write_empty_piece(const DecodeParams& p, const PieceDesc& d, int g, int gtid) {
  using Elem = typename T::Elem;
  const RowGroup rg(p);
  for (int i = gtid; i < rg.n * T::D; i += T::kGroupThreads) {
    const int m = i / T::D, col = i % T::D;
    const int j = rg.token(p, m), h = rg.head(p, g, m);
    if (d.n_splits == 1) {
      static_cast<Elem*>(p.out)[d.bi * p.o_stride_b + j * p.o_stride_s + h * p.o_stride_h + col] =
          from_float<Elem>(0.f);
      if (col == 0) p.lse[d.bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] = INFINITY;
    } else {
      const int64_t row = rg.accum_row(p, d.split, g, m);
      p.o_accum[row * T::D + col] = 0.f;
      if (col == 0) p.lse_accum[row] = -INFINITY;
    }
  }
}

}  // namespace gqa
}  // namespace fmla
