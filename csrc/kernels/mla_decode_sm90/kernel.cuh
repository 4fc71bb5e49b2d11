// MLA decode on sm_90a (d_qk 576, d_v 512, one latent KV head), any page size and row count.
//
// One block per (schedule part, group of 64 query rows), the grid and schedule of the split-KV
// kernels (docs/schedule.md). Two consumer warpgroups, the "seesaw" pair: keys come in pairs of
// 64-key tiles (tile 0 in buffer 0, tile 1 in buffer 1); wg 0 owns the value columns 0..255 of O,
// wg 1 the columns 256..511; each computes the 64 x 64 scores of "its" tile (S = Q K^T with N = 64,
// Q and K read once a tile), for the next pair at the end of this one:
//
//   wg 0: max0 | P0 | O_L = O_L a0 + P0 V0_L |  wait a1 | store P0 a1 | wait P1 | O_L = O_L a1 + P1 V1_L | S0'
//   wg 1:   wait max0 | max1, P1 | store P1 | O_R = O_R a0 a1 + P1 V1_R | wait P0 a1 | O_R += P0 a1 V0_R | P1 ready | S1'
//
// which is the online softmax over tile 0 then tile 1 for both halves. Each warpgroup multiplies its
// own P from registers (wgmma with A in registers) and the other's through shared memory: P0 in
// the rotary box of its tile (dead once the tile's scores exist), P1 too, or where TMA loads a
// 16-bit cache in a box of its own (traits.h, p1_apart); wg 0 scales P0 by tile 1's factor a1
// before storing it, so wg 1 never waits for P0 before its own product and rescales O_R once. So
// one warpgroup's softmax runs while the other's products occupy the tensor cores. Each box (64
// keys x 64 columns) has a "full" mbarrier, so S starts on the first box that lands; a buffer's
// half that only one warpgroup reads is refilled as soon as that warpgroup's product is done, the
// rest after the other warpgroup's. Rows past the end of a sequence in its last tile (unwritten
// cache memory, possibly NaN) are zeroed before P V; their scores are masked.
//
// Loading (KvLoad): pages of 64+ tokens come by TMA, one box a page and 64 columns, issued by one
// consumer thread as each buffer part frees up (256 threads, all registers to the consumers);
// where four or more row groups read each tile (h_q 128 at s_q >= 2), by a producer warpgroup;
// pages of 8 to 32 tokens by TMA too, one box a page and 64 columns, issued by the four warps of
// the releasing warpgroup; smaller or odd pages by a third, producer warpgroup that gathers rows
// through the block table with cp.async (block-table entries a tile ahead; each pair of boxes lands
// on one mbarrier through cp.async.mbarrier.arrive; a tile pair's halves in the order they free,
// each refilled 16 keys at a time as the P V products release them: key_parts) and loads the next
// sequence's Q while the consumers finish the current one, so the page size only changes
// addressing. Over FP8 caches (MlaCache) a producer warpgroup always loads, converting each
// tile's codes to 16-bit values in shared memory (produce_fp8.cuh).
#pragma once

#include <cuda.h>
#include <math.h>

#include <type_traits>

#include "../common/ptx.cuh"
#include "../common/wgmma.cuh"
#include "../common/decode_params.h"
#include "../common/online_softmax.cuh"
#include "../common/pdl.cuh"
#include "../common/schedule_fields.h"
#include "load_q.cuh"
#include "produce_fp8.cuh"
#include "traits.h"

namespace fmla {
namespace mla_sm90 {

// ---------------------------------------------------------------- producer

// The 4 rows (ptid / 8 + 16 j) and the 16-byte chunk (ptid % 8) of every 64-row box that producer
// thread `ptid` copies; a warp covers 4 whole 128-byte row segments per instruction.
constexpr int kRowsPerThread = kBlockN / 16;

// The page (block-table entry) of the tile at key `tile_start` of sequence bi, for pages of a
// power of two of at least 64 rows (a shift, not a division; the tile lies in one page).
__device__ __forceinline__ int tile_page(const DecodeParams& p, int bi, int tile_start,
                                        int page_log2) {
  const int32_t* block_table = p.block_table + bi * p.bt_stride_b;
  return block_table[static_cast<int64_t>(tile_start >> page_log2) * p.bt_stride_page];
}

// One thread issues the TMA boxes i_from..i_to - 1 (in load order) of the tile at key `tile_start`
// (in `page`) into buffer b, one box per 64 columns, each completing its "full" barrier. Called
// with constant b and box ranges: the loop unrolls into straight-line copies.
template <bool P1_APART>
__device__ __forceinline__ void issue_tma_boxes(const CUtensorMap* k_map, const Smem& sm, int page,
                                                int page_log2, int b, int tile_start, int i_from,
                                                int i_to, uint64_t l2_policy) {
  const int row0 = tile_start & ((1 << page_log2) - 1);
#pragma unroll
  for (int i = i_from; i < i_to; ++i) {
    const int box = box_in_load_order<P1_APART>(b, i);
    ptx::mbarrier_arrive_expect_tx(sm.full(b, box), kBoxBytes);
    ptx::tma_load_3d(sm.tile(b) + box * kBoxBytes, k_map, sm.full(b, box), box * kBoxCols, row0,
                     page, l2_policy);
  }
}

// Pages of 8 to 32 rows: a tile is 64 >> page_log2 whole pages, one box a page and 64 columns
// (config.h). TMA takes one lane's copy at a time, so a refill of buffer b is shared by the four
// warps of the refilling warpgroup (bench/NOTES.md, v23, in the e4m3 kernel): warp `warp` lands,
// for every page of the tile (lane i holds `page`, the tile's i-th), the box of load order `warp`
// (the own half, `rest` false) or 4 + `warp` (the rest), and in the rest the rotary box of the
// pages i with i % 4 == warp. The rotary box's barrier takes one arrival a warp, with the bytes of
// its pages.
__device__ __forceinline__ void issue_page_boxes(const CUtensorMap* k_map, const Smem& sm, int page,
                                                 int page_log2, int b, bool rest, int warp,
                                                 int lane, uint64_t l2_policy) {
  static_assert(kBlockN == 64 && kBoxCols * 2 == 128, "shifts below");
  const int tile_pages = kBlockN >> page_log2;
  const int box = box_in_load_order<false>(b, (rest ? 4 : 0) + warp);
  if (lane == 0) {
    ptx::mbarrier_arrive_expect_tx(sm.full(b, box), kBoxBytes);
    if (rest)  // this warp's pages' rotary boxes, 128 bytes a row
      ptx::mbarrier_arrive_expect_tx(sm.full(b, kPBox),
                                     ((tile_pages - warp + 3) >> 2) << (page_log2 + 7));
  }
  __syncwarp();
  if (lane < tile_pages) {
    const uint32_t row_bytes = lane << (page_log2 + 7);
    ptx::tma_load_3d(sm.tile(b) + box * kBoxBytes + row_bytes, k_map, sm.full(b, box),
                     box * kBoxCols, 0, page, l2_policy);
    if (rest && lane % 4 == warp)
      ptx::tma_load_3d(sm.tile(b) + kPBox * kBoxBytes + row_bytes, k_map, sm.full(b, kPBox),
                       kPBox * kBoxCols, 0, page, l2_policy);
  }
}

// A piece's n_tiles tiles as halves (0: buffer B's own value half, 1: the rest), in the order the
// consumers free them: own 0, own 1, rest 0, rest 1 for each pair of tiles (v35c: one-token pages
// at h_q 128 -2.5%; tile by tile, buffer 1's own half waited behind buffer 0's rest, which frees
// last). on_tile(B, t) first, when tile t is met (B = t % 2, a constant); then on_half(B, H, t,
// parity), parity that of the buffer's "free" phase to wait for (1 on its first fill: free).
// fills0 / fills1 count the tiles put into buffer 0 / 1, across pieces.
template <typename OnTile, typename OnHalf>
__device__ __forceinline__ void for_halves_in_free_order(int n_tiles, uint32_t& fills0,
                                                         uint32_t& fills1, OnTile on_tile,
                                                         OnHalf on_half) {
  using C0 = std::integral_constant<int, 0>;
  using C1 = std::integral_constant<int, 1>;
  for (int t = 0; t < n_tiles; t += 2) {
    const uint32_t parity0 = (fills0++ & 1u) ^ 1u;
    on_tile(C0{}, t);
    on_half(C0{}, C0{}, t, parity0);
    if (t + 1 < n_tiles) {
      const uint32_t parity1 = (fills1++ & 1u) ^ 1u;
      on_tile(C1{}, t + 1);
      on_half(C1{}, C0{}, t + 1, parity1);
      on_half(C0{}, C1{}, t, parity0);
      on_half(C1{}, C1{}, t + 1, parity1);
    } else {
      on_half(C0{}, C1{}, t, parity0);
    }
  }
}

// The boxes [first, last) in load order of half H of a tile in buffer B.
template <int H, int B, bool P1_APART>
struct HalfBoxes {
  static constexpr int first = H == 0 ? 0 : own_boxes<P1_APART>(B);
  static constexpr int last = H == 0 ? own_boxes<P1_APART>(B) : kBoxes;
};

// The producer warpgroup of the gather kernel (pages under 8 tokens, or not a power of two), for
// pages of a power of two (shifts) or not (32-bit divisions). A row's address is two wide
// multiply-adds from its page and its row in the page, with byte strides that fit 32 bits
// (launch.cuh checks); rows past the piece take the page and row of its last key and copy nothing,
// so no branch a row. The tile loop runs two tiles a turn, so that each buffer's offsets and fill
// count are constants (bench/NOTES.md, v20: the producer's address arithmetic had been 42% of the
// kernel's instructions, issue slots taken from the consumers).
template <typename Elem, bool POW2_PAGES>
__device__ __forceinline__ void produce_rows(const DecodeParams& p, const Smem& sm, int ptid) {
  const int part = BlockPlace::part(), g = blockIdx.y, m_base = BlockPlace::m_base();
  const int32_t* meta = p.sched + part * kMetadataInts;
  uint32_t q_loads = 0, fills0 = 0, fills1 = 0;  // tiles issued into buffer 0 / 1
  const int lane_row = ptid / 8;
  // Row lane_row + 16 j keeps the swizzle phase of row lane_row: its offset in a box is 2048 j more.
  const uint32_t dst_row = box_offset(lane_row, ptid % 8);
  const uint64_t cache = reinterpret_cast<uint64_t>(p.k) +
                         static_cast<uint64_t>(g * p.k_stride_head + (ptid % 8) * 8) * sizeof(Elem);
  const uint32_t page_bytes = static_cast<uint32_t>(p.k_stride_page * sizeof(Elem));
  const uint32_t row_bytes = static_cast<uint32_t>(p.k_stride_row * sizeof(Elem));
  const uint32_t page_size = static_cast<uint32_t>(p.page_size);
  const int page_log2 = __ffs(p.page_size) - 1;

  for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    load_q_for_sequence<Elem>(p, sm, bi, g, m_base, ptid, q_loads++);
    const int32_t* block_table = p.block_table + bi * p.bt_stride_b;  // innermost stride 1
    const uint32_t last = static_cast<uint32_t>(w.end - 1);
    // Pages of this thread's rows of the next tile, looked up a tile ahead of their copies so that
    // the block table's latency hides behind the waits.
    uint32_t page[kRowsPerThread];
    auto look_up = [&](int tile_start) {
#pragma unroll
      for (int j = 0; j < kRowsPerThread; ++j) {
        const uint32_t key = min(static_cast<uint32_t>(tile_start + lane_row + 16 * j), last);
        page[j] = static_cast<uint32_t>(block_table[POW2_PAGES ? key >> page_log2 : key / page_size]);
      }
    };
    if (w.n_tiles > 0) look_up(w.start);

    // A tile's rows for this thread: their addresses and which lie in the piece (bit j: row j);
    // looks up the next tile's pages.
    struct Rows {
      uint64_t src[kRowsPerThread];
      uint32_t valid;
    };
    Rows rows[2];  // of the tiles in buffers 0 and 1
    auto prepare = [&](auto buffer, int t) {
      Rows& r = rows[decltype(buffer)::value];
      r.valid = 0;
      const int tile_start = w.start + t * kBlockN;
#pragma unroll
      for (int j = 0; j < kRowsPerThread; ++j) {
        const uint32_t key = static_cast<uint32_t>(tile_start + lane_row + 16 * j);
        const uint32_t k = min(key, last);
        const uint32_t in_page = POW2_PAGES ? k & (page_size - 1) : k % page_size;
        r.src[j] = static_cast<uint64_t>(page[j]) * page_bytes +
                   (static_cast<uint64_t>(in_page) * row_bytes + cache);
        r.valid |= (key <= last ? 1u : 0u) << j;
      }
      if (t + 1 < w.n_tiles) look_up(tile_start + kBlockN);
    };
    // Half H of a tile into buffer B, once it is free: each part of its value boxes' keys as soon
    // as the consumers release it (key_parts), the last with the P box once the half is free. Each
    // group of boxes lands on the "full" barrier of its first box (an arrival when this thread's
    // copies so far have landed), so the producer never waits for its own copies and keeps both
    // buffers loading.
    auto issue_half = [&](auto buffer, auto half, int, uint32_t parity) {
      constexpr int B = decltype(buffer)::value;
      constexpr int H = decltype(half)::value;
      constexpr int I0 = HalfBoxes<H, B, false>::first, I1 = HalfBoxes<H, B, false>::last;
      constexpr int kParts = key_parts<KvLoad::kGatherRows, MlaCache::k16Bit>();
      constexpr int kPartRows = kRowsPerThread / kParts;  // this thread's rows in a part
      const Rows& r = rows[B];
      const uint32_t dst = sm.tile(B) + dst_row;
      auto copy = [&](int box, int j) {
        ptx::cp_async_16(dst + box * kBoxBytes + j * 2048,
                         reinterpret_cast<const void*>(r.src[j] + box * kBoxCols * sizeof(Elem)),
                         (r.valid >> j) & 1u ? 16 : 0);
      };
#pragma unroll
      for (int k = 0; k + 1 < kParts; ++k) {
        ptx::mbarrier_wait(H == 0 ? sm.free_own_part(B, k) : sm.free_rest_part(B, k), parity);
#pragma unroll
        for (int i = I0; i < I1; ++i)
          if (box_in_load_order<false>(B, i) != kPBox)
#pragma unroll
            for (int j = k * kPartRows; j < (k + 1) * kPartRows; ++j)
              copy(box_in_load_order<false>(B, i), j);
      }
      ptx::mbarrier_wait(H == 0 ? sm.free_own(B) : sm.free_rest(B), parity);
      int group = I0;
#pragma unroll
      for (int i = I0; i < I1; ++i) {
        if (gathered_group_starts<MlaCache::k16Bit>(i)) group = i;
        const int box = box_in_load_order<false>(B, i);
#pragma unroll
        for (int j = box == kPBox ? 0 : kRowsPerThread - kPartRows; j < kRowsPerThread; ++j)
          copy(box, j);
        if (i + 1 == I1 || gathered_group_starts<MlaCache::k16Bit>(i + 1))
          ptx::cp_async_mbarrier_arrive_noinc(sm.full(B, box_in_load_order<false>(B, group)));
      }
    };
    for_halves_in_free_order(w.n_tiles, fills0, fills1, prepare, issue_half);
  }
  ptx::cp_async_wait<0>();  // nothing of this thread's in flight when it exits
}

template <typename Elem>
__device__ __forceinline__ void produce(const DecodeParams& p, const Smem& sm, int ptid) {
  if ((p.page_size & (p.page_size - 1)) == 0) {
    produce_rows<Elem, true>(p, sm, ptid);
  } else {
    produce_rows<Elem, false>(p, sm, ptid);
  }
}

// The producer warpgroup of kTmaProducer (four or more row groups read each tile): thread 0 issues
// each half of a tile's boxes once the consumers have released it, and warps 2 and 3 load the
// query rows. Against the consumers issuing the boxes (kTmaTiles), the refills go out at the
// release itself, without a warpgroup barrier, and the output is staged in Q's buffer while the
// producer refills the tiles: s_q 2 -0 to -9% as the contexts grow (bench/NOTES.md, v42). The
// waits sleep: these threads wait most of the time (spinning measured the same).
template <typename Elem>
__device__ __forceinline__ void produce_tma_boxes(const DecodeParams& p, const CUtensorMap* k_map,
                                                  const Smem& sm, int ptid) {
  const int part = BlockPlace::part(), g = blockIdx.y, m_base = BlockPlace::m_base();
  const int32_t* meta = p.sched + part * kMetadataInts;
  const int page_log2 = __ffs(p.page_size) - 1;
  const uint64_t l2_policy = ptx::l2_policy<0>();
  if (ptid >= 64) {
    uint32_t q_loads = 0;
    for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi)
      load_q_for_sequence<Elem, 64, false, true>(p, sm, bi, g, m_base, ptid - 64, q_loads++);
    ptx::cp_async_wait<0>();
    return;
  }
  if (ptid != 0) return;
  uint32_t fills0 = 0, fills1 = 0;  // tiles issued into buffer 0 / 1
  for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    int page[2];  // of the tiles in buffers 0 and 1
    auto look_up = [&](auto buffer, int t) {
      page[decltype(buffer)::value] = tile_page(p, bi, w.start + t * kBlockN, page_log2);
    };
    // Half H of tile t into buffer B once it is free.
    auto issue_half = [&](auto buffer, auto half, int t, uint32_t parity) {
      constexpr int B = decltype(buffer)::value;
      constexpr int H = decltype(half)::value;
      ptx::mbarrier_wait_sleeping(H == 0 ? sm.free_own(B) : sm.free_rest(B), parity);
      constexpr bool kP1Apart = p1_apart<KvLoad::kTmaProducer, MlaCache::k16Bit>();
      issue_tma_boxes<kP1Apart>(k_map, sm, page[B], page_log2, B, w.start + t * kBlockN,
                                HalfBoxes<H, B, kP1Apart>::first, HalfBoxes<H, B, kP1Apart>::last,
                                l2_policy);
    };
    for_halves_in_free_order(w.n_tiles, fills0, fills1, look_up, issue_half);
  }
}

// ---------------------------------------------------------------- consumers

// LOAD == kTmaTiles: the consumers issue the TMA boxes themselves (one thread, at the points where
// a buffer part frees up), which leaves them all 255 registers; kTmaPages: the same, a refill
// shared by the releasing warpgroup's warps; kGatherRows and kTmaProducer: a producer warpgroup
// loads everything and the consumers only release buffers.
template <typename Elem, KvLoad LOAD, MlaCache CACHE>
__device__ __forceinline__ void consume(const DecodeParams& p, const CUtensorMap* k_map,
                                        const Smem& sm, uint8_t* smem, int tid, int wg) {
  constexpr bool kSelfLoad = consumers_load(LOAD);
  constexpr bool kTmaProducer = LOAD == KvLoad::kTmaProducer;  // a producer issues TMA boxes
  constexpr bool kSmallPages = LOAD == KvLoad::kTmaPages;  // pages of 8-32 tokens, a box each
  constexpr int kKeyParts = key_parts<LOAD, CACHE>();  // releases a part of the keys at a time
  constexpr bool kP1Apart = p1_apart<LOAD, CACHE>();  // P1 in a box of its own
  constexpr int kKSteps = kBlockN / 16;  // k16 steps of a P V product
  // Whether k-step kk closes a part of the keys that is not the product's last (its own group).
  constexpr auto part_ends_at = [](int kk) {
    return kk + 1 < kKSteps && (kk + 1) % (kKSteps / kKeyParts) == 0;
  };
  using C0 = std::integral_constant<int, 0>;
  using CPv = std::integral_constant<int, kKeyParts>;  // commit groups a P V product
  using L = SmemLayout;
  const int lane = tid % 32, warp = (tid / 32) % 4, ctid = tid % 128;
  const int part = BlockPlace::part(), g = blockIdx.y, m_base = BlockPlace::m_base();
  const PairStats stats(smem + L::kOffStats);
  // fp8_e4m3: the cache's one scale folded out of the products (docs/fp8-kv-cache.md), into the
  // scores' and, for the values (the same latent rows), into the output.
  // e4m3 queries (p.descale_q): their scale too.
  const float scale_log2 =
      CACHE == MlaCache::kFp8E4m3
          ? p.scale_log2 * *p.descale_k * (p.descale_q ? *p.descale_q : 1.f)
          : p.scale_log2;
  const float value_scale = CACHE == MlaCache::kFp8E4m3 ? *p.descale_k : 1.f;

  int my_row[2];  // this thread's rows in the wgmma accumulator layout (both warpgroups alike)
  my_row[0] = warp * 16 + lane / 4;
  my_row[1] = my_row[0] + 8;
  uint32_t q_uses = 0, fills[2] = {0u, 0u};  // every consumer thread counts alike
  const int page_log2 = __ffs(p.page_size) - 1;  // TMA pages are powers of two
  const int32_t* meta = p.sched + part * kMetadataInts;
  const uint64_t l2_policy = ptx::l2_policy<0>();  // a tile is read by its part's blocks only

  // The page of tile t of piece w of sequence bi (pages of a power of two of at least 64 rows: a
  // shift, not a division). Small pages: of the tile's lane-th page (0 for lanes past the tile's
  // pages); tiles start on pages (start is a multiple of 64), so that is page index (start >>
  // page_log2) + t * tile_pages + lane, past the piece's end its last key's (those rows are masked
  // and zeroed).
  auto page_in = [&](int bi, const SequenceWork& w, int t) {
    const int32_t* block_table = p.block_table + bi * p.bt_stride_b;
    if constexpr (kSmallPages) {
      if (lane >= (kBlockN >> page_log2)) return 0;
      const int first_page = w.start >> page_log2, last_page = max(w.end - 1, 0) >> page_log2;
      const int page = min(first_page + ((t << 6) >> page_log2) + lane, last_page);
      return block_table[page * p.bt_stride_page];
    }
    return tile_page(p, bi, w.start + t * kBlockN, page_log2);
  };
  // A piece's first two tiles (buffers 0 and 1) and its query rows, one commit group of cp.async.
  // Issued for the next piece before this one's output is stored (both warpgroups' products are
  // done, so the buffers and Q are free), so that they land while the stores go out; `q_for` is
  // the sequence whose rows are in flight, `tiles_for` the one whose tiles are.
  int q_for = -1, tiles_for = -1;
  auto issue_query = [&](int bi) {
    __syncwarp();
    load_q_rows<Elem, kConsumerThreads>(p, bi, g, m_base, sm.q(), tid);
    ptx::cp_async_commit();
    q_for = bi;
  };
  auto issue_first_tiles = [&](int bi, const SequenceWork& w) {
    if constexpr (kSmallPages) {  // warpgroup b's warps fill buffer b
      if (wg < w.n_tiles) {
        const int page = page_in(bi, w, wg);
        issue_page_boxes(k_map, sm, page, page_log2, wg, false, warp, lane, l2_policy);
        issue_page_boxes(k_map, sm, page, page_log2, wg, true, warp, lane, l2_policy);
      }
    } else {
      if (tid == 0) {
        for (int b = 0; b < 2; ++b)
          if (b < w.n_tiles)
            issue_tma_boxes<kP1Apart>(k_map, sm, page_in(bi, w, b), page_log2, b,
                                      w.start + b * kBlockN, 0, kBoxes, l2_policy);
      }
    }
    tiles_for = bi;
  };

  const int last_bi = meta[kMetaEndBatch];  // the block's last sequence, read once
  for (int bi = meta[kMetaBeginBatch]; bi <= last_bi; ++bi) {
    // The block's first piece: its query rows need only the sequence's index, so they go out
    // before its length and pages are read, and land first.
    if (kSelfLoad && tiles_for != bi) {
      ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);  // the last sequence is done
      if (q_for != bi) issue_query(bi);
    }
    const SequenceWork w = sequence_work(p, meta, bi);
    const int start = w.start, end = w.end, n_tiles = w.n_tiles;
    int limit[2];  // keys t < limit[x] are attended by row x
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      const int m = m_base + my_row[x];
      const int j = m < p.rows_per_kv ? m / p.heads_per_kv : 0;
      limit[x] = p.causal ? min(end, w.seqlen - p.s_q + j + 1) : end;
    }

    // Boxes [i_from, i_to) in load order of tile t (in `page`) into buffer b.
    auto refill = [&](int t, int page, int b, int i_from, int i_to) {
      issue_tma_boxes<kP1Apart>(k_map, sm, page, page_log2, b, start + t * kBlockN, i_from, i_to,
                                l2_policy);
    };
    auto page_of = [&](int t) { return page_in(bi, w, t); };
    if constexpr (kSelfLoad) {
      if (tiles_for != bi) issue_first_tiles(bi, w);  // the block's first piece
      ptx::cp_async_wait<0>();
      wgmma::fence_proxy_async();
      ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);
    } else {
      ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);  // the last sequence is done
      ptx::mbarrier_wait(sm.q_full(), q_uses++ & 1u);
      wgmma::fence_proxy_async();  // Q came through cp.async
    }

    float o[128];  // this warpgroup's half of O (64 x 256): o[4 i + e], columns 8 i ..
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float row_sum[2] = {0.f, 0.f};  // this thread's share of the row sums of this wg's tiles

    // Descriptors of Q and the two tile buffers; an operand at byte offset c is desc + c / 16 (the
    // start address field cannot carry: shared addresses are below 2^18).
    const uint64_t q_desc = wgmma::desc_sw128(sm.q(), 16, 1024);
    const uint64_t tile_desc[2] = {wgmma::desc_sw128(sm.tile(0), 16, 1024),
                                   wgmma::desc_sw128(sm.tile(1), 16, 1024)};
    // S = Q K_b^T over the boxes [i_from, i_to) (load order) of buffer b, box by box as they land
    // (issued, not waited for), a commit group a box, so that a wait counts boxes (ptxas splits
    // the groups at each landing wait anyway); the first box overwrites s. Called with constant b
    // and box ranges, so that every descriptor is a constant offset.
    auto issue_scores = [&](float (&s)[32], int b, uint32_t parity, int i_from, int i_to) {
      wgmma::fence();
#pragma unroll
      for (int i = i_from; i < i_to; ++i) {
        const int box = box_in_load_order<kP1Apart>(b, i);
        if constexpr (LOAD != KvLoad::kGatherRows) {  // TMA: a barrier a box
          ptx::mbarrier_wait(sm.full(b, box), parity);
        } else if (gathered_group_starts<CACHE>(i)) {  // a gathered group lands on its first box
          ptx::mbarrier_wait(sm.full(b, box), parity);
          wgmma::fence_proxy_async();  // cp.async wrote it through the generic proxy
        }
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const uint32_t kb = (box * kBoxBytes + k * 32) >> 4;
          wgmma::Mma<Elem, 64, 0>::run(s, wgmma::desc_advance(q_desc, kb),
                                       wgmma::desc_advance(tile_desc[b], kb), i > 0 || k > 0);
        }
        wgmma::commit();
      }
    };
    // Keys at or past mask_from are masked for some row of this block (causal rows end early), or
    // lie past the sequence's end.
    int mask_from = end;
    if (p.causal) mask_from = min(end, w.seqlen - p.s_q + 1);
    // Once S has landed, a tile that holds masked keys: its scores become base-2 logits, -inf where
    // masked, and its rows past `end` are zeroed for P V. Returns whether it did (other tiles keep
    // raw scores, scaled in the exponent).
    auto finish_scores = [&](float (&s)[32], int b, int tile_start) {
      if (tile_start + kBlockN <= mask_from) return false;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = tile_start + nt * 8 + 2 * (lane % 4) + e % 2;
          s[4 * nt + e] = key < limit[e / 2] ? s[4 * nt + e] * scale_log2 : -INFINITY;
        }
      const int valid = end - tile_start;
      if (valid < kBlockN) {
        // Rows valid..63 of the 8 value boxes: 16-byte stores, 64 per row.
        const int words = (kBlockN - valid) * 64;
        for (int i = ctid; i < words; i += 128) {
          const int r = valid + i / 64, c = i % 64;
          *reinterpret_cast<uint4*>(smem + L::kOffK + b * kTileBytes + (c / 8) * kBoxBytes +
                                    box_offset(r, c % 8)) = make_uint4(0u, 0u, 0u, 0u);
        }
        wgmma::fence_proxy_async();  // for the P V products that read them
      }
      return true;
    };
    // Row maxima of the base-2 logits over the quad (the 4 lanes of one row); `logits`: s holds
    // them already, else raw scores (whose largest logit is the smallest score if the scale is
    // negative).
    auto tile_max = [&](const float (&s)[32], bool logits, float (&mx)[2]) {
      tile_row_max(s, logits, scale_log2, mx);
    };
    // New running max from a tile's maxima (fold_tile_max_lazy: the rescale of rows whose max
    // moves little is skipped, v22), published for the other warpgroup.
    auto update_max = [&](const float (&mx)[2], float (&base)[2], float (&a)[2], float* s_m,
                          float* s_a) {
      fold_tile_max_lazy(mx, row_max, base, a);
      if (lane % 4 == 0) {
#pragma unroll
        for (int x = 0; x < 2; ++x) s_m[my_row[x]] = row_max[x], s_a[my_row[x]] = a[x];
      }
    };
    // s = P = 2^(s mul - base) in place (mul: 1 for logits, the scale for raw scores); psum: this
    // thread's share of its row sums.
    auto exp_scores = [&](float (&s)[32], float mul, const float (&base)[2], float (&psum)[2]) {
      psum[0] = psum[1] = 0.f;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[4 * nt + e] = ptx::ex2(fmaf(s[4 * nt + e], mul, -base[e / 2]));
          psum[e / 2] += s[4 * nt + e];
        }
    };
    // P (times f per row) as the A operand of P V: pa[2 nt + x] holds the keys 8 nt + 2 (lane % 4)
    // + {0, 1} of row x, which is the mma.m16n8k16 A fragment of each 16-key step.
    auto pack_p = [&](const float (&s)[32], const float (&f)[2], uint32_t (&pa)[16]) {
#pragma unroll
      for (int nt = 0; nt < 8; ++nt)
#pragma unroll
        for (int x = 0; x < 2; ++x)
          pa[2 * nt + x] = pack2<Elem>(s[4 * nt + 2 * x] * f[x], s[4 * nt + 2 * x + 1] * f[x]);
    };
    // Where P of buffer b goes for the other warpgroup: the rotary box of buffer b (dead once the
    // tile's scores exist), or P1's own box (p1_apart).
    auto p_box = [&](int b) {
      return kP1Apart && b == 1 ? sm.p1() : sm.tile(b) + kPBox * kBoxBytes;
    };
    auto store_p = [&](const uint32_t (&pa)[16], int b) {
      store_warp_rows(p_box(b), pa, warp, lane);
    };
    auto rescale = [&](const float (&a)[2]) { rescale_rows<32>(a, row_sum, o); };
    // O_half += P_b V_b,half with this warpgroup's own P from registers (issued, not waited for).
    auto pv_local = [&](const uint32_t (&pa)[16], int b) {
      const uint64_t v_desc = wgmma::desc_sw128(sm.tile(b) + wg * 4 * kBoxBytes, kBoxBytes, 1024);
      wgmma::fence();
#pragma unroll
      for (int kk = 0; kk < kKSteps; ++kk) {
        const uint32_t a[4] = {pa[4 * kk], pa[4 * kk + 1], pa[4 * kk + 2], pa[4 * kk + 3]};
        wgmma::MmaRegA<Elem, 256, 1>::run(o, a, wgmma::desc_advance(v_desc, kk * 16 * 128 / 16), 1);
        if (part_ends_at(kk)) wgmma::commit();
      }
      wgmma::commit();
    };
    // O_half += P_b V_b,half with the other warpgroup's P (p_box).
    auto pv_remote = [&](int b) {
      const uint64_t v_desc = wgmma::desc_sw128(sm.tile(b) + wg * 4 * kBoxBytes, kBoxBytes, 1024);
      const uint64_t p_desc = wgmma::desc_sw128(p_box(b), 16, 1024);
      wgmma::fence();
#pragma unroll
      for (int kk = 0; kk < kKSteps; ++kk) {
        wgmma::Mma<Elem, 256, 1>::run(o, wgmma::desc_advance(p_desc, kk * 32 / 16),
                                      wgmma::desc_advance(v_desc, kk * 16 * 128 / 16), 1);
        if (part_ends_at(kk)) wgmma::commit();
      }
      wgmma::commit();
    };
    // Buffer b's own half (the 4 value boxes only this warpgroup reads; own_boxes) is done with:
    // refill it with tile `next` (TMA), or tell the producer. This warpgroup is then done with the
    // whole buffer, so it also counts towards the rest.
    // next_page[b]: the page of the tile that refills buffer b, read at the start of the pair so
    // that the refilling thread does not wait for the block table (bench/NOTES.md, v21).
    int next_page[2] = {0, 0};
    // A producer loads: an arrival a warp, once all its lanes are done with the buffer (own: this
    // warpgroup's own half, and towards the rest; else the rest), on its own / rest barriers.
    auto release_warp_on = [&](uint32_t own_bar, uint32_t rest_bar, bool own) {
      __syncwarp();
      if (lane == 0) {
        if (own) ptx::mbarrier_arrive(own_bar);
        ptx::mbarrier_arrive(rest_bar);
      }
    };
    auto release_warp = [&](int b, bool own) {
      release_warp_on(sm.free_own(b), sm.free_rest(b), own);
    };
    // key_parts: part k of buffer b's keys is done with.
    auto release_part = [&](int b, int k, bool own) {
      release_warp_on(sm.free_own_part(b, k), sm.free_rest_part(b, k), own);
    };
    // The P V product (kKeyParts commit groups) issued with N more groups behind it: wait for its
    // parts [F, T) (T < kKeyParts: the last part frees with the product), releasing each, then
    // (LAST) for the whole product.
    auto wait_pv_release_parts = [&](auto behind, auto from, auto to, int b, bool own, auto last) {
      constexpr int N = decltype(behind)::value, F = decltype(from)::value;
      constexpr int T = decltype(to)::value;
      static_assert(kKeyParts == 1 || kKeyParts == 2 || kKeyParts == 4, "parts of 16-key steps");
      if constexpr (F <= 0 && 0 < T && kKeyParts > 1)
        wgmma::wait<N + kKeyParts - 1>(), release_part(b, 0, own);
      if constexpr (F <= 1 && 1 < T && kKeyParts > 2) wgmma::wait<N + 2>(), release_part(b, 1, own);
      if constexpr (F <= 2 && 2 < T && kKeyParts > 2) wgmma::wait<N + 1>(), release_part(b, 2, own);
      if constexpr (decltype(last)::value) wgmma::wait<N>();
    };
    using CLast = std::true_type;
    using CNotLast = std::false_type;
    using CParts = std::integral_constant<int, kKeyParts - 1>;  // all parts but the last
    auto release_own = [&](int b, int next) {
      if constexpr (kSelfLoad) {
        if (next < n_tiles) {
          ptx::named_barrier_sync(wg == 0 ? kBarWg0 : kBarWg1, 128);  // all its warps are done
          if constexpr (kSmallPages)
            issue_page_boxes(k_map, sm, next_page[b], page_log2, b, false, warp, lane, l2_policy);
          else if (ctid == 0)
            refill(next, next_page[b], b, 0, own_boxes<kP1Apart>(b));
          __syncwarp();
        }
      } else {
        release_warp(b, true);
      }
    };
    // The rest of buffer b (the other value half, and the P / rotary box unless P1 is apart and b
    // is 1), read last by this warpgroup's remote P V.
    auto release_rest = [&](int b, int next) {
      if constexpr (kSelfLoad) {
        if (next < n_tiles) {
          ptx::named_barrier_sync(wg == 0 ? kBarWg0 : kBarWg1, 128);
          if constexpr (kSmallPages)
            issue_page_boxes(k_map, sm, next_page[b], page_log2, b, true, warp, lane, l2_policy);
          else if (ctid == 0)
            refill(next, next_page[b], b, own_boxes<kP1Apart>(b), kBoxes);
          __syncwarp();
        }
      } else {
        release_warp(b, false);
      }
    };

    // Each warpgroup enters a pair with the scores of its tile; the next pair's are issued at the
    // end of this one, behind the P V products.
    float s[32];
    uint32_t pa[16];
    if (wg == 0 && n_tiles > 0) {
      issue_scores(s, 0, fills[0] & 1u, 0, kBoxes);
      wgmma::wait<0>();
    } else if (wg == 1 && n_tiles > 1) {
      issue_scores(s, 1, fills[1] & 1u, 0, kBoxes);
      wgmma::wait<0>();
    }
    const int n_pairs = (n_tiles + 1) / 2;
    for (int jp = 0; jp < n_pairs; ++jp) {
      const int t0 = 2 * jp, t1 = t0 + 1;
      const bool has1 = t1 < n_tiles;
      fills[0]++;
      if (has1) fills[1]++;
      const int start0 = start + t0 * kBlockN, start1 = start0 + kBlockN;
      if constexpr (kSelfLoad) {
        if (kSmallPages || ctid == 0) {  // small pages: every warp's lanes, a page each
          if (t0 + 2 < n_tiles) next_page[0] = page_of(t0 + 2);
          if (t1 + 2 < n_tiles) next_page[1] = page_of(t1 + 2);
        }
      }
      if (wg == 0) {
        // Tile 0: max, P0 in registers, O_L = O_L a0 + P0 V0_L.
        float mx[2], base[2], a0[2], psum[2];
        const bool logits = finish_scores(s, 0, start0);
        tile_max(s, logits, mx);
        update_max(mx, base, a0, stats.m0, stats.a0);
        ptx::named_barrier_arrive(kBarMax0, kConsumerThreads);
        exp_scores(s, logits ? 1.f : scale_log2, base, psum);
        const float one[2] = {1.f, 1.f};
        pack_p(s, one, pa);
        rescale(a0);
        row_sum[0] += psum[0];
        row_sum[1] += psum[1];
        pv_local(pa, 0);
        wait_pv_release_parts(C0{}, C0{}, CParts{}, 0, true, CLast{});
        release_own(0, t0 + 2);
        // P0 rescaled to tile 1's max (so that wg 1 rescales O_R once), stored for wg 1.
        float a1[2] = {1.f, 1.f};
        if (has1) {
          ptx::named_barrier_sync(kBarMax1, kConsumerThreads);
#pragma unroll
          for (int x = 0; x < 2; ++x) {
            a1[x] = stats.a1[my_row[x]];
            row_max[x] = stats.m1[my_row[x]];
          }
          if (__any_sync(0xffffffffu, a1[0] != 1.f || a1[1] != 1.f)) pack_p(s, a1, pa);
        }
        store_p(pa, 0);
        wgmma::fence_proxy_async();  // P0 is read by wg 1's wgmma
        ptx::named_barrier_arrive(kBarP0, kConsumerThreads);
        if (has1) {
          // O_L = O_L a1 + P1 V1_L, then the next pair's S0: its own half first (refilled since
          // P0 V0_L), the rest once buffer 1's rest is released.
          ptx::named_barrier_sync(kBarP1, kConsumerThreads);
          rescale(a1);
          pv_remote(1);
          // Its first half of the keys released before the next S0 waits for boxes.
          using CHalf = std::integral_constant<int, kKeyParts / 2>;
          wait_pv_release_parts(C0{}, C0{}, CHalf{}, 1, false, CNotLast{});
          if (t0 + 2 < n_tiles) {
            issue_scores(s, 0, fills[0] & 1u, 0, 4);
            using C4 = std::integral_constant<int, 4>;
            // P1 V1_L done; S0's four boxes may still run.
            wait_pv_release_parts(C4{}, CHalf{}, CParts{}, 1, false, CLast{});
            release_rest(1, t1 + 2);
            issue_scores(s, 0, fills[0] & 1u, 4, kBoxes);
            wgmma::wait<0>();  // nothing in flight across iterations (ptxas would serialise)
          } else {
            wait_pv_release_parts(C0{}, CHalf{}, CParts{}, 1, false, CLast{});
            release_rest(1, t1 + 2);
          }
        }
      } else {
        // Tile 1: max after wg 0's, O_R = O_R a0 a1 + P1 V1_R, then + P0 V0_R with wg 0's P0
        // already scaled by a1. Two whole paths, so that no wgmma pipeline spans a branch.
        float a[2];
        if (has1) {
          float mx[2], base[2], a1[2], psum[2];
          const bool logits = finish_scores(s, 1, start1);
          tile_max(s, logits, mx);
          ptx::named_barrier_sync(kBarMax0, kConsumerThreads);
#pragma unroll
          for (int x = 0; x < 2; ++x) {
            a[x] = stats.a0[my_row[x]];
            row_max[x] = stats.m0[my_row[x]];
          }
          update_max(mx, base, a1, stats.m1, stats.a1);
          ptx::named_barrier_arrive(kBarMax1, kConsumerThreads);
          exp_scores(s, logits ? 1.f : scale_log2, base, psum);
          const float one[2] = {1.f, 1.f};
          pack_p(s, one, pa);
          a[0] *= a1[0];
          a[1] *= a1[1];
          rescale(a);
          row_sum[0] += psum[0];
          row_sum[1] += psum[1];
          store_p(pa, 1);
          pv_local(pa, 1);  // from registers: queued before the fence waits for the stores
          wgmma::fence_proxy_async();  // P1, for wg 0
          ptx::named_barrier_sync(kBarP0, kConsumerThreads);
          pv_remote(0);
          // P1 is published once both products are queued, so that the tensor cores run P0 V0_R
          // before wg 0's P1 V1_L and buffer 0's rest, which the next S0 waits for, frees first.
          ptx::named_barrier_arrive(kBarP1, kConsumerThreads);
          wait_pv_release_parts(CPv{}, C0{}, CParts{}, 1, true, CLast{});  // P1 V1_R done
          release_own(1, t1 + 2);
          wait_pv_release_parts(C0{}, C0{}, CParts{}, 0, false, CLast{});  // P0 V0_R done
          release_rest(0, t0 + 2);
          if (t1 + 2 < n_tiles) {  // the next pair's S1
            issue_scores(s, 1, fills[1] & 1u, 0, kBoxes);
            wgmma::wait<0>();
          }
        } else {  // the sequence's last tile is a tile 0
          ptx::named_barrier_sync(kBarMax0, kConsumerThreads);
#pragma unroll
          for (int x = 0; x < 2; ++x) {
            a[x] = stats.a0[my_row[x]];
            row_max[x] = stats.m0[my_row[x]];
          }
          rescale(a);
          ptx::named_barrier_sync(kBarP0, kConsumerThreads);
          pv_remote(0);
          wait_pv_release_parts(C0{}, C0{}, CParts{}, 0, false, CLast{});
          release_rest(0, t0 + 2);
        }
      }
    }
    // Every S of it is done (kTmaProducer stages the output in Q's buffer first: below).
    if constexpr (LOAD == KvLoad::kGatherRows) ptx::mbarrier_arrive(sm.q_free());

    // ---- epilogue: row sums over the quad and both warpgroups; each wg writes its half of O ----
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 1);
      row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 2);
      if (lane % 4 == 0) stats.sum[wg * kBlockM + my_row[x]] = row_sum[x];
    }
    // Each warpgroup publishes its sums and waits for the other's (the P exchange's pattern).
    ptx::named_barrier_arrive(wg == 0 ? kBarSum0 : kBarSum1, kConsumerThreads);
    ptx::named_barrier_sync(wg == 0 ? kBarSum1 : kBarSum0, kConsumerThreads);
    // Past that exchange both warpgroups' products are done (each waited for its own before
    // publishing its sums): the next piece's query rows go out now, its tiles after the stores
    // (their pages need its length, loaded meanwhile).
    const bool next_piece = kSelfLoad && bi < last_bi;
    // The block's last piece: the combine kernel may be set up now (it waits for this grid to
    // finish before it reads anything), so that its blocks start as these exit.
    if (bi == last_bi) allow_next_kernel_launch();
    int next_len = 0, next_splits_lo = 0, next_splits_hi = 0;
    if (next_piece) {
      issue_query(bi + 1);
      next_len = p.cache_seqlens[(bi + 1) * p.seqlens_stride];
      next_splits_lo = p.num_splits[bi + 1];
      next_splits_hi = p.num_splits[bi + 2];
    }
    const int total_rows = p.s_q * p.h_q;
    if (LOAD != KvLoad::kGatherRows && w.single_split) {
      // A whole sequence's rows through shared memory: each warpgroup puts its half of O (bf16)
      // row by row into its tile buffer, free until the next piece's first tiles are issued below
      // (kTmaProducer: into Q's buffer, since its producer refills the tiles meanwhile; the next
      // query rows wait until the stage is read: equal lengths at s_q 2 -2 to -8%, varlen
      // unchanged, v41), then writes whole rows with 16-byte stores. Written straight from the
      // accumulators, a warp's store touches 8 rows 16 bytes each, which took 5-10 us a piece
      // where every block stores at once (equal lengths; bench/NOTES.md, v40). Cut sequences'
      // float32 partials keep the direct stores (whole 32-byte sectors, and staging them measured
      // slower).
      uint8_t* stage = kTmaProducer ? smem + L::kOffQ + wg * kBlockM * kEpilogueRowBytes
                                    : smem + L::kOffK + wg * kTileBytes;
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        const int m = m_base + my_row[x];
        const float sum = row_sum[x] + stats.sum[(1 - wg) * kBlockM + my_row[x]];
        const bool empty = !(sum > 0.f);
        const float inv = empty ? 0.f : value_scale / sum;
        uint8_t* row = stage + my_row[x] * kEpilogueRowBytes;
#pragma unroll
        for (int i = 0; i < 32; ++i)
          *reinterpret_cast<uint32_t*>(row + (8 * i + 2 * (lane % 4)) * 2) =
              pack2<Elem>(o[4 * i + 2 * x] * inv, o[4 * i + 2 * x + 1] * inv);
        if (wg == 0 && lane % 4 == 0 && m < p.rows_per_kv) {
          const int j = m / p.heads_per_kv;
          const int h = g * p.heads_per_kv + m % p.heads_per_kv;
          p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] =
              empty ? INFINITY : (row_max[x] + log2f(sum)) * kLn2;
        }
      }
      ptx::named_barrier_sync(wg == 0 ? kBarWg0 : kBarWg1, 128);
      // Warp `warp` writes rows warp, warp + 4, ...: a row's half is 512 bytes, 16 a lane.
      const int rows = min(kBlockM, p.rows_per_kv - m_base);
      for (int r = warp; r < rows; r += 4) {
        const int m = m_base + r;
        const int j = m / p.heads_per_kv;
        const int h = g * p.heads_per_kv + m % p.heads_per_kv;
        Elem* out = static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s +
                    h * p.o_stride_h + wg * (kMlaHeadDimV / 2);
        reinterpret_cast<uint4*>(out)[lane] =
            *reinterpret_cast<const uint4*>(stage + r * kEpilogueRowBytes + lane * 16);
      }
      // The stage is read before the next piece's boxes overwrite it (issued by thread 0 below).
      if (next_piece) ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);
    } else {
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        const int m = m_base + my_row[x];
        if (m >= p.rows_per_kv) continue;
        const float sum = row_sum[x] + stats.sum[(1 - wg) * kBlockM + my_row[x]];
        const bool empty = !(sum > 0.f);
        const float inv = empty ? 0.f : value_scale / sum;
        const float lse2 = empty ? 0.f : row_max[x] + log2f(sum);
        const int j = m / p.heads_per_kv;
        const int h = g * p.heads_per_kv + m % p.heads_per_kv;
        const int col0 = wg * (kMlaHeadDimV / 2) + 2 * (lane % 4);
        if (w.single_split) {
          Elem* out =
              static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s + h * p.o_stride_h;
#pragma unroll
          for (int i = 0; i < 32; ++i)
            *reinterpret_cast<uint32_t*>(out + col0 + i * 8) =
                pack2<Elem>(o[4 * i + 2 * x] * inv, o[4 * i + 2 * x + 1] * inv);
          if (wg == 0 && lane % 4 == 0)
            p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] =
                empty ? INFINITY : lse2 * kLn2;
        } else {
          const int64_t row = static_cast<int64_t>(w.split) * total_rows + g * p.rows_per_kv + m;
          float* acc = p.o_accum + row * kMlaHeadDimV;
#pragma unroll
          for (int i = 0; i < 32; ++i)
            *reinterpret_cast<float2*>(acc + col0 + i * 8) =
                make_float2(o[4 * i + 2 * x] * inv, o[4 * i + 2 * x + 1] * inv);
          if (wg == 0 && lane % 4 == 0) p.lse_accum[row] = empty ? -INFINITY : lse2 * kLn2;
        }
      }
    }
    if constexpr (kTmaProducer) ptx::mbarrier_arrive(sm.q_free());  // the stage is read
    if (next_piece)
      issue_first_tiles(bi + 1,
                        sequence_work_of(meta, bi + 1, next_len, next_splits_lo, next_splits_hi));
  }
}

// ---------------------------------------------------------------- the kernel

template <typename Elem, KvLoad LOAD, MlaCache CACHE>
__global__ void __launch_bounds__(threads_for(LOAD), 1)
    mla_decode_sm90_kernel(const DecodeParams p, const __grid_constant__ CUtensorMap k_map) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(1024) uint8_t smem[];
  const int tid = threadIdx.x;
  // Warp-uniform as far as the compiler can see (a divergent-looking branch around wgmma makes
  // ptxas serialize the wgmma instructions).
  const int wg = __shfl_sync(0xffffffffu, tid / 128, 0);
  const Smem sm{ptx::smem_addr(smem)};
  if (tid == 0) {
    // A TMA box: one arrival with its bytes (on small pages, the rotary box: one a warp); a
    // gathered group: the producer warpgroup's.
    for (int b = 0; b < 2; ++b) {
      for (int box = 0; box < kBoxes; ++box) {
        const bool warps_arrive = LOAD == KvLoad::kTmaPages && box == kPBox;
        ptx::mbarrier_init(sm.full(b, box),
                           LOAD == KvLoad::kGatherRows ? 128 : warps_arrive ? 4 : 1);
      }
      // Where a producer waits: an arrival a consumer warp (4 read the own half, all 8 the rest);
      // where the consumers load, the barriers are unused.
      ptx::mbarrier_init(sm.free_own(b), 128 / 32);
      ptx::mbarrier_init(sm.free_rest(b), kConsumerThreads / 32);
      for (int k = 0; k + 1 < key_parts<LOAD, CACHE>(); ++k) {
        ptx::mbarrier_init(sm.free_own_part(b, k), 128 / 32);
        ptx::mbarrier_init(sm.free_rest_part(b, k), kConsumerThreads / 32);
      }
    }
    // The threads that load the query rows.
    ptx::mbarrier_init(sm.q_full(), LOAD == KvLoad::kTmaProducer ? 64 : 128);
    for (int b = 0; b < 2; ++b) {  // FP8 caches: the producer's copies of a tile (produce_fp8.cuh)
      ptx::mbarrier_init(sm.codes_landed(b), 128);
      ptx::mbarrier_init(sm.rope_landed(b), 128);
    }
    ptx::mbarrier_init(sm.q_free(), kConsumerThreads);
    ptx::fence_mbarrier_init();
  }
  __syncthreads();
  static_assert(CACHE == MlaCache::k16Bit || LOAD == KvLoad::kGatherRows,
                "FP8 caches come through the dequantizing producer");
  if constexpr (consumers_load(LOAD)) {
    consume<Elem, LOAD, CACHE>(p, &k_map, sm, smem, tid, wg);
  } else if constexpr (CACHE == MlaCache::k16Bit) {
    if (wg == kProducerWarpgroup) {
      ptx::setmaxnreg_dec<kProducerRegs>();
      if constexpr (LOAD == KvLoad::kTmaProducer)
        produce_tma_boxes<Elem>(p, &k_map, sm, tid - kConsumerThreads);
      else
        produce<Elem>(p, sm, tid - kConsumerThreads);
    } else {
      ptx::setmaxnreg_inc<kConsumerRegs>();
      consume<Elem, LOAD, CACHE>(p, &k_map, sm, smem, tid, wg);
    }
  } else {
    if (wg == kProducerWarpgroup) {
      ptx::setmaxnreg_dec<kProducerRegsFp8>();
      produce_fp8<Elem, CACHE>(p, sm, tid - kConsumerThreads);
    } else {
      ptx::setmaxnreg_inc<kConsumerRegsFp8>();
      consume<Elem, LOAD, CACHE>(p, &k_map, sm, smem, tid, wg);
    }
  }
#endif
}

}  // namespace mla_sm90
}  // namespace fmla
