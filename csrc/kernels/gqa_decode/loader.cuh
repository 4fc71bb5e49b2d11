// The GQA decode kernel's loader: every thread's share of the cp.async copies of its load group's
// rows of each cache tile (the whole tile, or its slice's keys: traits.h), the pages of those rows
// looked up a tile ahead of them, and the first group's share of a piece's query rows. A thread is
// lane `gtid` of the kGroupThreads of load group `group`.
#pragma once

#include <stdint.h>

#include <type_traits>

#include "../common/decode_params.h"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"
#include "merge.cuh"
#include "pieces.cuh"
#include "traits.h"

namespace fmla {
namespace gqa {

// This thread's column of the cached rows of KV head g: byte addresses (the thread's first chunk
// folded in) and the strides in bytes, which fit 32 bits (launch.h checks the element strides fit
// int32), so that a row's address is two wide multiply-adds from its page and its row in the page.
struct CacheRows {
  uint64_t k, v;
  uint32_t k_page, k_row, v_page, v_row;
};

template <typename T>
__device__ __forceinline__ CacheRows cache_rows_of(const DecodeParams& p, int g, int gtid) {
  constexpr int64_t kBytes = sizeof(typename T::Cache);
  const uint64_t chunk = (gtid % T::kThreadsPerRow) * 16;
  return CacheRows{reinterpret_cast<uint64_t>(p.k) + g * p.k_stride_head * kBytes + chunk,
                   reinterpret_cast<uint64_t>(p.v) + g * p.v_stride_head * kBytes + chunk,
                   static_cast<uint32_t>(p.k_stride_page * kBytes),
                   static_cast<uint32_t>(p.k_stride_row * kBytes),
                   static_cast<uint32_t>(p.v_stride_page * kBytes),
                   static_cast<uint32_t>(p.v_stride_row * kBytes)};
}

// The loader's position in the part's stream of tiles: tile `tile` of the piece `piece`, and the
// pages of this thread's rows of that tile, looked up a tile ahead of the copies.
template <typename T>
struct Loader {
  PieceDesc piece;
  int tile;
  int ordinal;        // pieces with tiles passed so far: selects the ring slots
  SequenceInfo next;  // of piece.bi + 1, fetched when the piece began
  uint32_t page[T::kPasses];
  __device__ bool done() const { return piece.n_tiles == 0; }
};

// Moves the loader to the first piece with keys at or after sequence `bi` (whose info is given),
// writing the pieces without keys on the way and noting the pieces of split sequences (the first
// group does), and publishes the piece (or the end) in its group's ring slot.
template <typename T>
__device__ __forceinline__ void seek_piece(Loader<T>& c, const DecodeParams& p, const int32_t* meta,
                                           int bi, SequenceInfo info, PieceDesc* ring, int g,
                                           int group, int gtid, SplitPieces* splits) {
  const int last = meta[kMetaEndBatch];
  c.tile = 0;
  c.piece.n_tiles = 0;
  for (; bi <= last; ++bi) {
    const PieceDesc d = piece_of<T>(meta, bi, info);
    if constexpr (T::kMergesSplits)
      if (group == 0) note_split_piece(p, d, gtid, splits);  // counted after the last piece
    if (d.n_tiles > 0) {
      c.piece = d;
      if (bi < last) c.next = fetch_info(p, bi + 1);
      break;
    }
    if (group == 0) write_empty_piece<T>(p, d, g, gtid);
    if (bi < last) info = fetch_info(p, bi + 1);
  }
  if (gtid == 0) ring[c.ordinal % T::kPieceSlots] = c.piece;
}

// Rows past the piece take the page of its last key (so that every address formed is the cache's;
// their copies read nothing): no branch a row.
template <typename T, bool POW2_PAGES>
__device__ __forceinline__ void look_up_pages_of(Loader<T>& c, const DecodeParams& p, int page_shift,
                                                 int group, int gtid) {
  const int32_t* table = p.block_table + static_cast<int64_t>(c.piece.bi) * p.bt_stride_b;
  const int first =
      c.piece.start + c.tile * T::kKeys + group * T::kGroupKeys + gtid / T::kThreadsPerRow;
  const int last = c.piece.end - 1;
#pragma unroll
  for (int pass = 0; pass < T::kPasses; ++pass) {
    const uint32_t t = min(first + pass * T::kRowsPerPass, last);
    const uint32_t index = POW2_PAGES ? t >> page_shift : t / static_cast<uint32_t>(p.page_size);
    c.page[pass] = static_cast<uint32_t>(table[index]);  // the table's innermost stride is 1
  }
}

template <typename T>
__device__ __forceinline__ void look_up_pages(Loader<T>& c, const DecodeParams& p, int page_shift,
                                              int group, int gtid) {
  if (c.done()) return;
  if (page_shift >= 0) {
    look_up_pages_of<T, true>(c, p, page_shift, group, gtid);
  } else {
    look_up_pages_of<T, false>(c, p, page_shift, group, gtid);
  }
}

// Issues copy passes [FIRST_PASS, END_PASS) of the loader's tile into stage buffers s_k / s_v.
// Keys past the piece are zero-filled without being read.
template <typename T, int FIRST_PASS, int END_PASS, bool POW2_PAGES>
__device__ __forceinline__ void issue_rows(const Loader<T>& c, const DecodeParams& p,
                                           const CacheRows& rows, uint32_t s_k, uint32_t s_v,
                                           int group, int gtid) {
  const int row0 = group * T::kGroupKeys + gtid / T::kThreadsPerRow;  // of the tile
  const int lane_chunk = gtid % T::kThreadsPerRow;
  const int t0 = c.piece.start + c.tile * T::kKeys + row0;
  const uint32_t page_mask = static_cast<uint32_t>(p.page_size) - 1;
#pragma unroll
  for (int pass = FIRST_PASS; pass < END_PASS; ++pass) {
    const int t = t0 + pass * T::kRowsPerPass;
    const uint32_t in_page =
        POW2_PAGES ? static_cast<uint32_t>(t) & page_mask
                   : static_cast<uint32_t>(t) % static_cast<uint32_t>(p.page_size);
    const uint64_t k_src = static_cast<uint64_t>(c.page[pass]) * rows.k_page +
                           (static_cast<uint64_t>(in_page) * rows.k_row + rows.k);
    const uint64_t v_src = static_cast<uint64_t>(c.page[pass]) * rows.v_page +
                           (static_cast<uint64_t>(in_page) * rows.v_row + rows.v);
    const int bytes = t < c.piece.end ? 16 : 0;
    const uint32_t at = staged<T>(row0 + pass * T::kRowsPerPass, lane_chunk);
#pragma unroll
    for (int i = 0; i < T::kCacheChunks / T::kThreadsPerRow; ++i) {
      // chunk lane_chunk + 8 i: the next 64-column block of the 16-bit layout
      ptx::cp_async_16(s_k + at + i * (T::kKeys * 128),
                       reinterpret_cast<const void*>(k_src + i * T::kThreadsPerRow * 16), bytes);
      ptx::cp_async_16(s_v + at + i * (T::kKeys * 128),
                       reinterpret_cast<const void*>(v_src + i * T::kThreadsPerRow * 16), bytes);
    }
  }
}

// The piece's query rows into s_q, as they are (16-bit values, or e4m3 codes; the warps convert
// them where the scores need it), by the first load group's threads; a barrier of the block at the
// piece's start makes them visible to the others. Query rows past rows_per_kv are zero-filled without
// being read.
template <typename T>
__device__ __forceinline__ void issue_query(const Loader<T>& c, const DecodeParams& p, int g,
                                            uint32_t s_q, int gtid) {
  using Query = std::conditional_t<T::kE4m3Queries, uint8_t, typename T::Elem>;
  constexpr int kRowChunks = T::D * static_cast<int>(sizeof(Query)) / 16;
  const RowGroup rg(p);
  for (int i = gtid; i < kMaxRows * kRowChunks; i += T::kGroupThreads) {
    const int m = i / kRowChunks, chunk = i % kRowChunks;
    const bool valid = m < rg.n;
    const Query* q_row = static_cast<const Query*>(p.q);
    if (valid)
      q_row += c.piece.bi * p.q_stride_b + rg.token(p, m) * p.q_stride_s +
               rg.head(p, g, m) * p.q_stride_h;
    ptx::cp_async_16(s_q + swizzled<kMaxRows>(m, chunk),
                     reinterpret_cast<const uint8_t*>(q_row) + chunk * 16, valid ? 16 : 0);
  }
}

// Issues copy passes [FIRST_PASS, END_PASS) of the group's rows of the loader's tile, and with the
// last passes of a piece's first tile (the first group) its query rows.
template <typename T, int FIRST_PASS, int END_PASS>
__device__ __forceinline__ void issue_tile(const Loader<T>& c, const DecodeParams& p,
                                           const CacheRows& rows, int page_shift, int g,
                                           uint32_t s_k, uint32_t s_v, uint32_t s_q, int group,
                                           int gtid) {
  if (page_shift >= 0) {
    issue_rows<T, FIRST_PASS, END_PASS, true>(c, p, rows, s_k, s_v, group, gtid);
  } else {
    issue_rows<T, FIRST_PASS, END_PASS, false>(c, p, rows, s_k, s_v, group, gtid);
  }
  if (FIRST_PASS < END_PASS && END_PASS == T::kPasses && c.tile == 0 && group == 0)
    issue_query<T>(c, p, g, s_q, gtid);
}

}  // namespace gqa
}  // namespace fmla
