// The split-KV schedule as the decode and combine kernels read it (docs/schedule.md): the fields of
// one part's row of tile_scheduler_metadata, named once, and the piece of one sequence a part does.
#pragma once

#include <stdint.h>

#include "../config.h"

namespace fmla {

// Field indices within a part's kMetadataInts ints (the rest are zero, reserved).
constexpr int kMetaBeginBatch = 0;  // first sequence of the part
constexpr int kMetaBeginToken = 1;  // its first key (a multiple of kBlockN)
constexpr int kMetaEndBatch = 2;    // last sequence of the part (inclusive)
constexpr int kMetaEndToken = 3;    // one past its last key
constexpr int kMetaBeginSplit = 4;  // split index of the first sequence's piece
static_assert(kMetaBeginSplit < kMetadataInts, "the fields fit a part's row");
// The rest of the row, zero as the schedule leaves it, is the GQA decode's scratch during a call:
// a byte a (KV head, row group) counting the pieces done of the sequence whose first split this
// part holds, returned to zero by the piece that completes the count (gqa_decode/merge.cuh).
constexpr int kMetaArrivals = kMetaBeginSplit + 1;
static_assert(kArrivalCounters == (kMetadataInts - kMetaArrivals) * 4, "a byte a counter");

// Keys [start, end) of sequence bi, the part's piece of it, and where its result goes.
struct SequenceWork {
  int seqlen;         // cache_seqlens[bi], negatives read as 0
  int start, end;     // keys of this piece
  int n_tiles;        // ceil((end - start) / kBlockN), 0 for an empty piece
  int split;          // index of this piece's partial result (when the sequence is split)
  bool single_split;  // the piece is the whole sequence: write out / lse directly
};

// The piece of sequence bi in a part, from what the lengths and num_splits say of it (a kernel that
// reads those ahead passes them in).
__device__ __forceinline__ SequenceWork sequence_work_of(const int32_t* meta, int bi, int seqlen,
                                                         int splits_before, int splits_through) {
  SequenceWork w;
  const int begin_batch = meta[kMetaBeginBatch], end_batch = meta[kMetaEndBatch];
  w.seqlen = max(0, seqlen);
  w.start = bi == begin_batch ? meta[kMetaBeginToken] : 0;
  w.end = min(w.seqlen, bi == end_batch ? meta[kMetaEndToken] : w.seqlen);
  w.n_tiles = w.end > w.start ? (w.end - w.start + kBlockN - 1) / kBlockN : 0;
  w.split = meta[kMetaBeginSplit] + (bi - begin_batch);
  w.single_split = splits_through - splits_before == 1;
  return w;
}

template <typename Params>
__device__ __forceinline__ SequenceWork sequence_work(const Params& p, const int32_t* meta,
                                                      int bi) {
  return sequence_work_of(meta, bi, p.cache_seqlens[bi * p.seqlens_stride], p.num_splits[bi],
                          p.num_splits[bi + 1]);
}

}  // namespace fmla
