// The GQA decode kernel's units of work: a part's pieces of sequences, as the loader reads them
// from the schedule and passes them to the warps, and the query rows a block takes.
#pragma once

#include <math.h>

#include "../common/decode_params.h"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"
#include "config.h"

namespace fmla {
namespace gqa {

// What the schedule and the lengths say of one sequence: read by the loader only.
struct SequenceInfo {
  int seqlen;      // cache_seqlens[bi]
  int split_lo;    // num_splits[bi]
  int split_hi;    // num_splits[bi + 1]
};

__device__ __forceinline__ SequenceInfo fetch_info(const DecodeParams& p, int bi) {
  return SequenceInfo{p.cache_seqlens[bi * p.seqlens_stride], p.num_splits[bi],
                      p.num_splits[bi + 1]};
}

// The part's piece of one sequence, as the warps need it (written to shared memory by the loader).
struct PieceDesc {
  int bi;
  int start, end;    // keys of the piece
  int n_tiles;       // 0: the part has no further piece
  int split;         // index of the piece's partial result
  int n_splits;      // of the sequence; 1: the piece is the whole sequence, written out directly
  int seqlen;
  int first_split;   // the sequence's first split index
};

template <typename T>
__device__ __forceinline__ int tiles_of(int start, int end) {
  return end > start ? (end - start + T::kKeys - 1) / T::kKeys : 0;
}

template <typename T>
__device__ __forceinline__ PieceDesc piece_of(const int32_t* meta, int bi, const SequenceInfo& info) {
  const SequenceWork w = sequence_work_of(meta, bi, info.seqlen, info.split_lo, info.split_hi);
  return PieceDesc{bi, w.start, w.end, tiles_of<T>(w.start, w.end), w.split,
                   info.split_hi - info.split_lo, w.seqlen, info.split_lo};
}

// The query rows of this block: kMaxRows of its KV head's from m0 = blockIdx.z * kMaxRows (a
// KV head with more rows has a block for each group of them), n of them there. Row m of the
// block is the head's row m0 + m: query token j and head h of KV head g.
struct RowGroup {
  int m0, n;
  __device__ RowGroup(const DecodeParams& p)
      : m0(static_cast<int>(blockIdx.z) * kMaxRows), n(min(kMaxRows, p.rows_per_kv - m0)) {}
  __device__ int token(const DecodeParams& p, int m) const { return (m0 + m) / p.heads_per_kv; }
  __device__ int head(const DecodeParams& p, int g, int m) const {
    return g * p.heads_per_kv + (m0 + m) % p.heads_per_kv;
  }
  // Its row in the split outputs (o_accum, lse_accum) of split `split`.
  __device__ int64_t accum_row(const DecodeParams& p, int split, int g, int m) const {
    return static_cast<int64_t>(split) * (p.s_q * p.h_q) + g * p.rows_per_kv + m0 + m;
  }
};

}  // namespace gqa
}  // namespace fmla
