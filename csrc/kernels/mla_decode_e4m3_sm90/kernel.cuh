// MLA decode on sm_90a over fp8_e4m3 caches (and fp8_ds_mla ones with bf16 queries), 64 query rows
// a block (for more than 32 rows a KV head: h_q 64 or 128, or h_q 32 from s_q 2), pages of a power
// of two of tokens: the 16-bit TMA kernel's seesaw (mla_decode_sm90/kernel.cuh) with the codes used
// as they are. A producer warpgroup lands the tiles, by TMA (pages of 16+ tokens) or by cp.async
// (smaller pages; config.h), into a ring its consumers release warp by warp; each sequence's
// query rows go through the ring too, ahead of its tiles.
//   S = Q K^T        float8_e4m3fn queries: on the FP8 tensor cores, m64n64k32, Q's and the tile's
//                    codes in shared memory; bf16 queries the same, a product for each of the two
//                    e4m3 terms each row is split into (split_queries.cuh)
//   S^T = K Q^T      fp16 queries: f16, m64n64k16, A = K converted from the tile's codes in
//                    registers, B = Q's rows (transposed_scores.cuh); the softmax's row
//                    statistics then reduce over lanes and warps, and one warp a warpgroup keeps
//                    them (two rows a lane)
//   O^T += V^T P     f16, m64n64k16: A = V^T converted from the tile's codes in registers
//                    (cvt.rn.f16x2.e4m3x2, exact), B = P (f16) in shared memory; over fp8_ds_mla
//                    the codes times their keys' scales, in f16 on tiles whose scales fit its
//                    range (10% faster than bf16), else in bf16
// fp8_ds_mla's scores: group by group (128 value codes, a scale a key), the partial sums times the
// ratio of a key's scales between groups, then the bf16 rotary values' product.
// Each warpgroup owns 256 value columns as the M dimension of O^T (4 m-tiles, 128 registers), with
// the value dimension permuted so that a thread's 8 values of a key are one 8-byte load:
// m-tile mt's rows 16 w + g (+ 8) are values wg * 256 + 8 (8 w + g) + 2 mt (+ 1).
// Pair order, as the 16-bit kernel's (warpgroup 0 the even tile's scores, 1 the odd one's):
//   wg 0: max0 | P0 | O_L = O_L a0 + V0_L P0 | wait a1 | O_L *= a1 | wait P1 | O_L += V1_L P1 | S0'
//   wg 1: wait max0 | max1, P1 | O_R *= a0 | wait P0 | O_R += V0_R P0 | O_R *= a1 | + V1_R P1 | S1'
// The cache's and the queries' scales (and split rows' powers of two) go into the scores'
// exponent, the cache's into the output.
#pragma once

#include <cuda.h>
#include <math.h>

#include "../common/decode_params.h"
#include "../common/e4m3.cuh"
#include "../common/online_softmax.cuh"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"
#include "../common/wgmma.cuh"
#include "../mla_decode_sm90/traits.h"  // BlockPlace
#include "traits.h"
#include "split_queries.cuh"
#include "transposed_scores.cuh"

namespace fmla {
namespace mla_e4m3_sm90 {

// The 64-row kernels' grid order: the row groups that read the same tiles launch side by side.
using Place = mla_sm90::BlockPlace;

// A sequence's query rows take the two ring positions before its tiles: rows 32 h .. 32 h + 31 of
// the block's 64 in position h, row r at (r % 32) times a row's bytes (rows past rows_per_kv not
// copied), so that they reach the SM in the stream's order instead of behind the stages in flight
// (1-6% faster than loads from q at the piece's start; bench/NOTES.md, v51, v52).
// The block's row r in q: query row m_base + r of its KV head, of ROW_BYTES bytes.
template <int ROW_BYTES>
__device__ __forceinline__ const uint8_t* q_row_source(const DecodeParams& p, int bi, int r) {
  return query_row_address<ROW_BYTES / kMlaHeadDimQK>(p, bi, blockIdx.y, Place::m_base() + r);
}
// Query rows of the block's half h that exist.
__device__ __forceinline__ int q_half_rows(const DecodeParams& p, int m_base, int h) {
  return max(0, min(32, p.rows_per_kv - m_base - 32 * h));
}

// The producer warpgroup of gathered rows (pages of 1-8 tokens): the part's tiles in
// order into the ring, each stage once every consumer warp has released it (empty), 8 threads a
// 128-byte row segment with 16-byte cp.async into the swizzled boxes (thread ptid: rows ptid / 8
// + 16 j, chunk ptid % 8; zeros past the piece's end), the pages of its rows looked up a tile
// ahead; each thread arrives on the tile's 5 "full" barriers once its copies have landed (or on
// box 0's alone, which then stands for the tile's: TILE_BARRIER). A sequence's query rows first,
// in two positions, the same way.
template <bool DS_MLA, bool TILE_BARRIER, int STAGES, int STAGE_BYTES, int QROW_BYTES>
__device__ __forceinline__ void produce_rows(const DecodeParams& p, uint32_t stages,
                                             uint32_t full_bars, uint32_t empty_bars, int ptid) {
  constexpr int kRows = kBlockN / 16;  // this thread's rows of a tile
  const int chunk = ptid % 8, row0 = ptid / 8;
  const int32_t* meta = p.sched + Place::part() * kMetadataInts;
  const int page_log2 = __ffs(p.page_size) - 1;
  const int last_bi = meta[kMetaEndBatch];
  uint32_t n = 0;  // ring position: the part's query-row places and tiles so far
  for (int bi = meta[kMetaBeginBatch]; bi <= last_bi; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    const int32_t* block_table = p.block_table + bi * p.bt_stride_b;
    int page[kRows];
    auto look_up = [&](int t) {
#pragma unroll
      for (int j = 0; j < kRows; ++j) {
        const int key = min(w.start + t * kBlockN + row0 + 16 * j, w.end - 1);
        page[j] = block_table[static_cast<int64_t>(key >> page_log2) * p.bt_stride_page];
      }
    };
    if (w.n_tiles > 0) look_up(0);
#pragma unroll 1
    for (int h = 0; h < 2; ++h, ++n) {  // the query rows
      const int st = n % STAGES;
      ptx::mbarrier_wait(empty_bars + st * 8, ((n / STAGES) & 1u) ^ 1u);
      constexpr int kChunks = QROW_BYTES / 16;
      const int rows = q_half_rows(p, Place::m_base(), h);
#pragma unroll 1
      for (int i = ptid; i < rows * kChunks; i += kProducerThreads)
        ptx::cp_async_16(stages + st * STAGE_BYTES + i * 16,
                         q_row_source<QROW_BYTES>(p, bi, 32 * h + i / kChunks) +
                             (i % kChunks) * 16,
                         16);
#pragma unroll
      for (int box = 0; box < (TILE_BARRIER ? 1 : kTileBoxes); ++box)
        ptx::cp_async_mbarrier_arrive_noinc(full_bars + (st * kTileBoxes + box) * 8);
    }
#pragma unroll 1
    for (int t = 0; t < w.n_tiles; ++t, ++n) {
      const int st = n % STAGES;
      int pg[kRows];
#pragma unroll
      for (int j = 0; j < kRows; ++j) pg[j] = page[j];
      if (t + 1 < w.n_tiles) look_up(t + 1);
      ptx::mbarrier_wait(empty_bars + st * 8, ((n / STAGES) & 1u) ^ 1u);
      const uint32_t dst0 = stages + st * STAGE_BYTES;
#pragma unroll
      for (int j = 0; j < kRows; ++j) {
        const int r = row0 + 16 * j, key = w.start + t * kBlockN + r;
        const int bytes = key < w.end ? 16 : 0;
        const uint8_t* src = static_cast<const uint8_t*>(p.k) +
                             static_cast<int64_t>(pg[j]) * p.k_stride_page +
                             static_cast<int64_t>(min(key, w.end - 1) & (p.page_size - 1)) *
                                 p.k_stride_row +
                             chunk * 16;
        const uint32_t dst = dst0 + box_offset(r, chunk);
#pragma unroll
        for (int box = 0; box < kTileBoxes - 1; ++box)
          ptx::cp_async_16(dst + box * kBoxBytes, src + box * kBoxCodes, bytes);
        if constexpr (DS_MLA) {  // the bf16 rotary values (a whole row), the scales
          ptx::cp_async_16(dst + (kTileBoxes - 1) * kBoxBytes, src + kDsMlaRopeOffset, bytes);
          if (chunk == 0)
            ptx::cp_async_16(dst0 + kDsOffScales + r * kDsScaleRowBytes, src + kDsMlaScaleOffset,
                             bytes);
        } else if (chunk < (kMlaHeadDimQK - (kTileBoxes - 1) * kBoxCodes) / 16) {  // rotary codes
          ptx::cp_async_16(dst + (kTileBoxes - 1) * kBoxBytes, src + (kTileBoxes - 1) * kBoxCodes,
                           bytes);
        }
      }
#pragma unroll
      for (int box = 0; box < (TILE_BARRIER ? 1 : kTileBoxes); ++box)
        ptx::cp_async_mbarrier_arrive_noinc(full_bars + (st * kTileBoxes + box) * 8);
    }
  }
  ptx::cp_async_wait<0>();  // nothing of this thread's in flight when it exits
}

// fp8_ds_mla: key `key`'s share of the tables of the tile in stage memory t (scales landed with
// box 0; `valid`: the key lies in the piece), for its groups 2 h and 2 h + 1: their scales rounded
// to bf16 as the values' scales (s_g 2^120, bf16, [g][key]), and the factors between the groups'
// partial scores ([j][key]: s_j / s_(j+1) for j < 3, s_3; h 0 writes j 0, h 1 the rest). A key
// past the piece's end takes a scale of 0 (its scores are masked, its codes zeroed later); a
// group whose scale is 0 reads as 1 in the factors, so that each factor is finite, and has its
// codes zeroed once they have landed (landed(g) waits for box g). The values' scales also as fp16;
// returns whether both groups' scales fit its range (ds_scale_fits_f16).
template <typename Landed>
__device__ __forceinline__ bool ds_key_tables(uint8_t* t, int key, int h, bool valid,
                                              Landed landed) {
  const float* sc = reinterpret_cast<const float*>(t + kDsOffScales + key * kDsScaleRowBytes);
  float v[4], fs[4];  // the key's scales; as the factors read them
#pragma unroll
  for (int grp = 0; grp < 4; ++grp) {
    v[grp] = valid ? __bfloat162float(__float2bfloat16_rn(sc[grp])) : 0.f;
    fs[grp] = v[grp] == 0.f ? 1.f : v[grp];
  }
  const float own[2] = {h ? v[2] : v[0], h ? v[3] : v[1]};  // groups 2 h, 2 h + 1
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    const int grp = 2 * h + j;
    reinterpret_cast<__nv_bfloat16*>(t + kDsOffValueScales)[grp * kBlockN + key] =
        __float2bfloat16_rn(own[j] * 0x1p120f);
    reinterpret_cast<__half*>(t + kDsOffValueScalesF16)[grp * kBlockN + key] =
        __float2half_rn(own[j]);
    if (own[j] == 0.f && valid) {
      landed(grp);
#pragma unroll
      for (int ch = 0; ch < 8; ++ch)
        *reinterpret_cast<uint4*>(t + grp * kBoxBytes + box_offset(key, ch)) =
            make_uint4(0u, 0u, 0u, 0u);
    }
  }
  float* f = reinterpret_cast<float*>(t + kDsOffFactors);
  if (h == 0) {
    f[key] = fs[0] / fs[1];
  } else {
    f[kBlockN + key] = fs[1] / fs[2];
    f[2 * kBlockN + key] = fs[2] / fs[3];
    f[3 * kBlockN + key] = fs[3];
  }
  return ds_scale_fits_f16(own[0]) && ds_scale_fits_f16(own[1]);
}

// fp8_ds_mla over whole TMA tiles: two warps of the producer warpgroup (idle beside the lane that
// issues the boxes) make each tile's tables (ds_key_tables, a thread a key) once its box 0 has
// landed, and announce them on the stage's "tables" barrier, so that the scoring warpgroup only
// waits for them. The part's tiles in ring order, as produce_tiles fills them.
template <int STAGES, int STAGE_BYTES>
__device__ __forceinline__ void produce_ds_tables(const DecodeParams& p, uint8_t* stages,
                                                  uint32_t full_bars, uint32_t table_bars,
                                                  uint8_t* f16_tiles, int key) {
  const int32_t* meta = p.sched + Place::part() * kMetadataInts;
  uint32_t n = 0;  // ring position: the part's query-row places and tiles so far
  for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    // The sequence's two positions of query rows: no tables, but an arrival each once they have
    // landed (so that the stage's barrier keeps a phase a position, and no arrival runs ahead
    // into a phase that the stage's last tile has not completed).
#pragma unroll 1
    for (int h = 0; h < 2; ++h, ++n) {
      ptx::mbarrier_wait_sleeping(full_bars + (n % STAGES) * kTileBoxes * 8, (n / STAGES) & 1u);
      ptx::mbarrier_arrive(table_bars + (n % STAGES) * 8);
    }
#pragma unroll 1
    for (int t = 0; t < w.n_tiles; ++t, ++n) {
      const int st = n % STAGES;
      const uint32_t parity = (n / STAGES) & 1u;
      auto landed = [&](int box) {
        ptx::mbarrier_wait_sleeping(full_bars + (st * kTileBoxes + box) * 8, parity);
      };
      landed(0);
      const bool valid = w.start + t * kBlockN + key < w.end;
      const bool fit0 = ds_key_tables(stages + st * STAGE_BYTES, key, 0, valid, landed);
      const bool fit1 = ds_key_tables(stages + st * STAGE_BYTES, key, 1, valid, landed);
      const bool fit = __all_sync(0xffffffffu, fit0 && fit1);
      if (key % 32 == 0) {  // this warp's byte; the first warp also the bytes of two it stands for
        f16_tiles[st * 4 + key / 32] = fit;
        if (key == 0) f16_tiles[st * 4 + 2] = f16_tiles[st * 4 + 3] = 1;
      }
      wgmma::fence_proxy_async();  // zeroed codes, for the products
      ptx::mbarrier_arrive(table_bars + st * 8);
    }
  }
}

// The producer warpgroup of TMA loads (pages of 16+ tokens): its first warp issues each tile's
// boxes once every consumer warp has released the tile's stage. Pages of 64+ tokens: lane 0, 5
// boxes of 64 rows (fp8_ds_mla: and the scales' box). Smaller pages: a box a page for each 128
// codes (fp8_ds_mla: and for its scales), lane l the tile's page l % P (P pages a tile) and boxes
// l / P, l / P + 32 / P, ...; a lane reads its page a tile ahead (past the piece's end, the last
// key's page: those rows are masked and zeroed). The waits sleep: these threads wait most of the
// time. A sequence's query rows go first, in two positions: a bulk copy a half where q holds the
// rows end to end (else a copy a row, over the lanes), counted on box 0's barrier (the other
// boxes' arrive empty).
template <bool DS_MLA, CodeLoad LOAD, int STAGES, int STAGE_BYTES, int QROW_BYTES>
__device__ __forceinline__ void produce_tiles(const DecodeParams& p, const CUtensorMap* k_map,
                                              const CUtensorMap* scale_map, uint32_t stages,
                                              uint32_t full_bars, uint32_t empty_bars, int ptid) {
  static_assert(LOAD != CodeLoad::kGatherRows, "TMA loads");
  constexpr int kLanes = LOAD == CodeLoad::kTmaTiles ? 1 : 32;  // whole tiles: lane 0 alone
  if (ptid >= kLanes) return;
  const int lane = ptid;
  const bool rows_contiguous = query_rows_contiguous(p, kMlaHeadDimQK);
  const int32_t* meta = p.sched + Place::part() * kMetadataInts;
  const int page_log2 = __ffs(p.page_size) - 1;
  const uint64_t l2_policy = ptx::l2_policy<0>();
  constexpr int kScaleBytes = DS_MLA ? kBlockN * kDsScaleRowBytes : 0;
  // Small pages: this lane's page of a tile, and its first box and box step.
  const int tile_pages_log2 = LOAD == CodeLoad::kTmaPages ? 6 - page_log2 : 0;
  const int page_in_tile = lane & ((1 << tile_pages_log2) - 1);
  const int box_step = 32 >> tile_pages_log2;
  uint32_t n = 0;  // ring position: the part's query-row places and tiles so far
  for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    const int32_t* block_table = p.block_table + bi * p.bt_stride_b;
    auto look_up = [&](int t) {
      const int key = min(w.start + t * kBlockN + (page_in_tile << page_log2), w.end - 1);
      return block_table[static_cast<int64_t>(key >> page_log2) * p.bt_stride_page];
    };
    int next = w.n_tiles > 0 ? look_up(0) : 0;
#pragma unroll 1
    for (int h = 0; h < 2; ++h, ++n) {  // the query rows
      const int st = n % STAGES;
      auto full = [&](int box) { return full_bars + (st * kTileBoxes + box) * 8; };
      ptx::mbarrier_wait_sleeping(empty_bars + st * 8, ((n / STAGES) & 1u) ^ 1u);
      const int rows = q_half_rows(p, Place::m_base(), h);
      if (lane == 0) {
        ptx::mbarrier_arrive_expect_tx(full(0), rows * QROW_BYTES);
#pragma unroll
        for (int box = 1; box < kTileBoxes; ++box) ptx::mbarrier_arrive(full(box));
      }
      const uint8_t* first = q_row_source<QROW_BYTES>(p, bi, 32 * h);
      if (rows_contiguous) {
        if (lane == 0 && rows > 0)
          ptx::bulk_load(stages + st * STAGE_BYTES, first, rows * QROW_BYTES, full(0),
                         ptx::l2_policy<1>());
      } else {
        if constexpr (kLanes == 32) __syncwarp();  // box 0's bytes expected before they land
#pragma unroll 1
        for (int r = lane; r < rows; r += kLanes)
          ptx::bulk_load(stages + st * STAGE_BYTES + r * QROW_BYTES,
                         q_row_source<QROW_BYTES>(p, bi, 32 * h + r),
                         QROW_BYTES, full(0), ptx::l2_policy<1>());
      }
    }
#pragma unroll 1
    for (int t = 0; t < w.n_tiles; ++t, ++n) {
      const int page = next;
      if (t + 1 < w.n_tiles) next = look_up(t + 1);
      const int st = n % STAGES;
      const uint32_t dst = stages + st * STAGE_BYTES;
      auto full = [&](int box) { return full_bars + (st * kTileBoxes + box) * 8; };
      ptx::mbarrier_wait_sleeping(empty_bars + st * 8, ((n / STAGES) & 1u) ^ 1u);
      if constexpr (LOAD == CodeLoad::kTmaTiles) {
        const int row0 = (w.start + t * kBlockN) & (p.page_size - 1);
#pragma unroll
        for (int box = 0; box < kTileBoxes; ++box) {
          ptx::mbarrier_arrive_expect_tx(full(box), kBoxBytes + (box == 0 ? kScaleBytes : 0));
          const int col = DS_MLA && box == kTileBoxes - 1 ? kDsMlaRopeOffset : box * kBoxCodes;
          ptx::tma_load_3d(dst + box * kBoxBytes, k_map, full(box), col, row0, page, l2_policy);
          if (DS_MLA && box == 0)
            ptx::tma_load_3d(dst + kDsOffScales, scale_map, full(0), kDsMlaScaleOffset, row0, page,
                             l2_policy);
        }
      } else {
        if (lane < kTileBoxes)
          ptx::mbarrier_arrive_expect_tx(full(lane), kBoxBytes + (lane == 0 ? kScaleBytes : 0));
        __syncwarp();
        const int row = page_in_tile << page_log2;  // the page's first row in the tile
        constexpr int kPageBoxes = kTileBoxes + (DS_MLA ? 1 : 0);  // fp8_ds_mla: the scales' last
        for (int box = lane >> tile_pages_log2; box < kPageBoxes; box += box_step) {
          if (box == kTileBoxes) {
            ptx::tma_load_3d(dst + kDsOffScales + row * kDsScaleRowBytes, scale_map, full(0),
                             kDsMlaScaleOffset, 0, page, l2_policy);
          } else {
            const int col = DS_MLA && box == kTileBoxes - 1 ? kDsMlaRopeOffset : box * kBoxCodes;
            ptx::tma_load_3d(dst + box * kBoxBytes + row * kBoxCodes, k_map, full(box), col, 0,
                             page, l2_policy);
          }
        }
      }
    }
  }
}

// Query: float8_e4m3fn, __nv_bfloat16 or __half (the output: bf16, or fp16 for fp16 queries).
// DS_MLA: an fp8_ds_mla cache (bf16 queries), its scales' boxes
// through scale_map. LOAD: how tiles land (config.h); a kernel each, so that the page-64 one
// stays as lean.
template <typename Query, bool DS_MLA, CodeLoad LOAD>
__global__ void __launch_bounds__(kBlockThreads, 1)
    mla_decode_e4m3_sm90_kernel(const DecodeParams p, const __grid_constant__ CUtensorMap k_map,
                                const __grid_constant__ CUtensorMap scale_map) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr QueryForm kForm = kQueryForm<Query>;
  // The scores as S = Q K^T on the codes (e4m3 queries, and bf16 ones split in two terms), or as
  // S^T = K Q^T (fp16 queries).
  constexpr bool kCodesQ = kForm != QueryForm::kF16Rows;
  constexpr bool kSplitQ = kForm == QueryForm::kSplitCodes;
  using L = SmemLayout<kForm, DS_MLA>;
  using Out = std::conditional_t<std::is_same<Query, __half>::value, __half, __nv_bfloat16>;
  // P and V^T's element: fp16 (the codes exactly); over fp8_ds_mla (codes times scales) fp16 on
  // tiles whose scales all fit its range (ds_key_tables), else bf16.
  constexpr int kStages = L::kStages;
  constexpr int kQRowBytes = kMlaQueryRowBytes<Query>;
  static_assert(32 * kQRowBytes <= L::kStageBytes, "a stage holds 32 query rows");
  extern __shared__ __align__(1024) uint8_t smem[];
  const int tid = threadIdx.x;
  const int wg = __shfl_sync(0xffffffffu, tid / 128, 0);  // warp-uniform for ptxas
  const int ctid = tid % 128, warp = ctid / 32, lane = tid % 32, g = lane / 4, c = lane % 4;
  const uint32_t base = ptx::smem_addr(smem);
  auto full = [&](int st, int box) { return base + L::kOffBars + (st * kTileBoxes + box) * 8; };
  auto stage = [&](int st) { return base + L::kOffStages + st * L::kStageBytes; };
  auto p_box = [&](int b) { return base + L::kOffP + b * kBoxBytes; };
  constexpr bool kGather = LOAD == CodeLoad::kGatherRows;
  // Gathered rows land a tile's five boxes at once (each producer thread's copies complete
  // together). With e4m3 and fp16 queries the consumers wait on box 0's barrier alone and fence
  // once a tile (2.5-3.5% faster on pages of 1-8 tokens); split queries keep a wait and a fence a
  // box (1.5-2% slower with one a tile; bench/NOTES.md, v46).
  constexpr bool kTileBarrier = kGather && kForm != QueryForm::kSplitCodes;
  static_assert(!(DS_MLA && kTileBarrier), "fp8_ds_mla waits on each group's box");
  // fp8_ds_mla's scale tables made by two producer warps beside the lane that issues the boxes,
  // on pages of 64+ tokens (5-7% faster there); on pages of 16 and 32 tokens the same measured
  // 0-4% slower (ptxas spilled 48 more bytes), and gathered rows keep all 128 producer threads
  // copying: there the scoring warpgroup makes them (bench/NOTES.md, v47).
  constexpr bool kProducerTables = DS_MLA && LOAD == CodeLoad::kTmaTiles;
  // A box's fill: the producer's one arrival with its bytes (TMA), or its warpgroup's (gathered).
  if (tid == 0) {
    for (int i = 0; i < kStages * kTileBoxes; ++i)
      ptx::mbarrier_init(base + L::kOffBars + i * 8, kGather ? kProducerThreads : 1);
    for (int st = 0; st < kStages; ++st)  // the producer waits on these: an arrival a consumer warp
      ptx::mbarrier_init(base + L::kOffEmpty + st * 8, kThreads / 32);
    if constexpr (kProducerTables)  // the producer's table threads (produce_ds_tables)
      for (int st = 0; st < kStages; ++st)
        ptx::mbarrier_init(base + L::kOffTables + st * 8, kBlockN);
    ptx::fence_mbarrier_init();
    // fp16 queries: one warp a warpgroup publishes the rows' moves; the other warps' bytes
    // stay 0.
    if constexpr (!kCodesQ) *reinterpret_cast<uint64_t*>(smem + L::kOffMoved) = 0ull;
  }
  __syncthreads();
  if (wg == kProducerWarpgroup) {
    ptx::setmaxnreg_dec<kProducerRegs>();
    if constexpr (kGather)
      produce_rows<DS_MLA, kTileBarrier, kStages, L::kStageBytes, kQRowBytes>(
          p, base + L::kOffStages, base + L::kOffBars, base + L::kOffEmpty, ctid);
    else if (!kProducerTables || ctid < kProducerThreads - kBlockN)
      produce_tiles<DS_MLA, LOAD, kStages, L::kStageBytes, kQRowBytes>(
          p, &k_map, &scale_map, base + L::kOffStages, base + L::kOffBars, base + L::kOffEmpty,
          ctid);
    else  // fp8_ds_mla: warps 2 and 3, a key a thread
      produce_ds_tables<kStages, L::kStageBytes>(p, smem + L::kOffStages, base + L::kOffBars,
                                                 base + L::kOffTables, smem + L::kOffF16Tiles,
                                                 ctid - (kProducerThreads - kBlockN));
    return;
  }
  ptx::setmaxnreg_inc<kConsumerRegs>();
  // Box `box` of stage st has landed (its barrier's phase `parity`); gathered boxes are then
  // fenced for the products that read them through the async proxy (wgmma), since cp.async wrote
  // them through the generic one (fp16 queries read them with ld.shared only).
  auto wait_box = [&](int st, int box, uint32_t parity) {
    if (kTileBarrier && box != 0) return;
    ptx::mbarrier_wait(full(st, box), parity);
    if constexpr (kGather && kCodesQ) wgmma::fence_proxy_async();
  };
  // This warp is done with the stage of part tile n: the producer may refill it.
  auto release_stage = [&](uint32_t n) {
    __syncwarp();
    if (lane == 0) ptx::mbarrier_arrive(base + L::kOffEmpty + (n % kStages) * 8);
  };

  const int part = Place::part(), kv = blockIdx.y, m_base = Place::m_base();
  const int32_t* meta = p.sched + part * kMetadataInts;
  const float value_scale = DS_MLA ? 1.f : *p.descale_k;  // fp8_ds_mla: scales in the tiles
  const float scale_log2 =
      p.scale_log2 * value_scale * (kForm == QueryForm::kCodes ? *p.descale_q : 1.f);
  const mla_sm90::PairStats stats(smem + L::kOffStats);
  float* s_mfin = reinterpret_cast<float*>(smem + L::kOffMaxima);
  // The rows whose statistics this thread keeps: code queries, its rows of the S accumulator
  // (both warpgroups alike); fp16 queries, rows 2 lane, 2 lane + 1 in each warpgroup's warp 0.
  const bool owner = kCodesQ || warp == 0;
  int my_row[2];
  my_row[0] = kCodesQ ? warp * 16 + g : 2 * lane;
  my_row[1] = kCodesQ ? my_row[0] + 8 : my_row[0] + 1;
  float* s_row_mul = reinterpret_cast<float*>(smem + L::kOffRowMul);
  int* s_row_limit = reinterpret_cast<int*>(smem + L::kOffRowLimit);
  const uint64_t q_desc = wgmma::desc_sw128(base + L::kOffQ, 16, 1024);
  // This thread's 8 values of a key in the tile's code rows (the permuted value dimension).
  const int d0 = wg * 256 + 8 * (8 * warp + g);
  const int d_box = d0 / 128, d_chunk = (d0 % 128) / 16, d_half = d0 % 16;
  uint32_t n_before = 0;  // ring position of the sequence's query rows, then of its first tile

  for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    const int start = w.start, end = w.end, n_tiles = w.n_tiles;
    // Block row r (m = m_base + r): the key it attends up to (causal rows end early; rows past
    // rows_per_kv are never written).
    auto key_limit = [&](int r) {
      const int m = m_base + r;
      const int j = m < p.rows_per_kv ? m / p.heads_per_kv : 0;
      return p.causal ? min(end, w.seqlen - p.s_q + j + 1) : end;
    };
    int limit[2];  // code queries: this thread's rows'
#pragma unroll
    for (int x = 0; x < 2; ++x) limit[x] = key_limit(my_row[x]);
    int mask_from = end;
    if (p.causal) mask_from = min(end, w.seqlen - p.s_q + 1);
    ptx::named_barrier_sync(kBarAll, kThreads);  // the last sequence is done with Q
    // Q's rows, staged in the sequence's two ring positions.
    const uint32_t nq = n_before;
#pragma unroll
    for (uint32_t n = nq; n < nq + 2; ++n) {
      ptx::mbarrier_wait(full(n % kStages, 0), (n / kStages) & 1u);
      // The table threads' arrival on the position too: a later wait on this stage's tables
      // barrier then finds the phase before it complete (parity waits see two phases alone).
      if constexpr (kProducerTables)
        ptx::mbarrier_wait(base + L::kOffTables + (n % kStages) * 8, (n / kStages) & 1u);
    }
    auto q_row = [&](int r) -> const uint8_t* {
      if (m_base + r >= p.rows_per_kv) return nullptr;
      return smem + L::kOffStages + ((nq + r / 32) % kStages) * L::kStageBytes +
             (r % 32) * kQRowBytes;
    };
    if constexpr (kSplitQ) {
      // Q's rows as two terms of codes, 8 threads a row (dims 64 i + 8 (tid % 8) .. + 7), 32 rows
      // a pass; rows past rows_per_kv zero; negated where the scale is negative, so that the
      // multipliers are positive. Each row's multiplier into s_row_mul.
#pragma unroll 1
      for (int pass = 0; pass < kBlockM / (kThreads / 8); ++pass) {
        const int r = pass * (kThreads / 8) + tid / 8;
        const uint16_t* row = reinterpret_cast<const uint16_t*>(q_row(r));
        const float mul = store_q_row_split<8, DS_MLA>(
            base + L::kOffQ, base + L::kOffQ + L::kQTermBytes, base + L::kOffQRotary, r, row,
            8 * (tid % 8), scale_log2 < 0.f);
        if (tid % 8 == 0) s_row_mul[r] = fabsf(scale_log2) * mul;
      }
    } else if constexpr (kCodesQ) {
      // Q's codes: 64 rows x 36 chunks of 16 bytes; rows past rows_per_kv zero.
      for (int item = tid; item < kBlockM * 36; item += kThreads) {
        const int r = item / 36, ch = item % 36;
        uint4 v = make_uint4(0u, 0u, 0u, 0u);
        const uint8_t* row = q_row(r);
        if (row != nullptr) v = *reinterpret_cast<const uint4*>(row + ch * 16);
        ptx::st_shared_v4(base + L::kOffQ + (ch / 8) * kBoxBytes + box_offset(r, ch % 8),
                          {v.x, v.y, v.z, v.w});
      }
    } else {
      // Q's fp16 rows, 8 threads a row (dims 64 i + 8 (tid % 8) .. + 7), 32 rows a pass; rows
      // past rows_per_kv zero; negated where the scale is negative, so that the multipliers are
      // positive and a row's largest logit its largest score. Each row's multiplier and key limit
      // into s_row_mul, s_row_limit.
#pragma unroll 1
      for (int pass = 0; pass < kBlockM / (kThreads / 8); ++pass) {
        const int r = pass * (kThreads / 8) + tid / 8;
        const uint16_t* row = reinterpret_cast<const uint16_t*>(q_row(r));
        store_q_row_f16(base + L::kOffQ, r, row, 8 * (tid % 8), scale_log2 < 0.f);
        if (tid % 8 == 0) {
          s_row_mul[r] = fabsf(scale_log2);
          s_row_limit[r] = key_limit(r);
        }
      }
    }
    wgmma::fence_proxy_async();  // Q is read by wgmma
    ptx::named_barrier_sync(kBarAll, kThreads);
    __syncwarp();  // every warp is done with the staged rows
    if (lane == 0) {
      ptx::mbarrier_arrive(base + L::kOffEmpty + (nq % kStages) * 8);
      ptx::mbarrier_arrive(base + L::kOffEmpty + ((nq + 1) % kStages) * 8);
    }
    n_before += 2;

    float o[4][32];  // O^T: m-tile mt, the C fragment of 8 query-row tiles
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int i = 0; i < 32; ++i) o[mt][i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};  // owners' (above)
    float row_sum[2] = {0.f, 0.f};
    float my_mul[2];  // the owned rows' logit multipliers (split and fp16 queries: positive)
#pragma unroll
    for (int x = 0; x < 2; ++x)
      my_mul[x] = kForm == QueryForm::kCodes ? scale_log2 : s_row_mul[my_row[x]];

    // fp8_ds_mla: the tables of stage st's tile (keys from tile_start on; ds_key_tables), before
    // its scores' first product: made by the producer (kProducerTables: produce_ds_tables), or by
    // the warpgroup that owns the scores, two threads a key.
    auto ds_tables = [&](int st, uint32_t parity, int tile_start) {
      if constexpr (!kProducerTables) {
        const int key = ctid % kBlockN;
        const bool fit = ds_key_tables(smem + L::kOffStages + st * L::kStageBytes, key,
                                       ctid / kBlockN, tile_start + key < end,
                                       [&](int box) { ptx::mbarrier_wait(full(st, box), parity); });
        const bool warp_fits = __all_sync(0xffffffffu, fit);
        if (lane == 0) smem[L::kOffF16Tiles + st * 4 + warp] = warp_fits;
        wgmma::fence_proxy_async();  // zeroed codes, for the products
        ptx::named_barrier_sync(wg == 0 ? kBarWg0 : kBarWg1, 128);
      } else {
        ptx::mbarrier_wait(base + L::kOffTables + st * 8, parity);
      }
    };
    // The scores of part tile n (issued and committed; the code queries' not waited for).
    // Code queries: S = Q K^T, each box as it lands. fp16 queries: S^T = K Q^T in 9 groups of 4
    // k-steps, a group's codes (a 16-byte load for each of the thread's two keys) loaded while the
    // group before runs, converted once it is done (one register set of A fragments: two spilled
    // more and ran slower).
    // One k32 step of S = Q K^T on the codes, at 16-byte unit kb of Q and of the tile (k_desc): a
    // product a query term (the second term's codes a term's bytes further); `first` overwrites s.
    auto code_step = [&](float (&s)[32], uint64_t k_desc, uint32_t kb, bool first) {
      const uint64_t kd = wgmma::desc_advance(k_desc, kb);
      if (first)
        wgmma::Mma<__nv_fp8_e4m3, 64, 0>::overwrite(s, wgmma::desc_advance(q_desc, kb), kd);
      else
        wgmma::Mma<__nv_fp8_e4m3, 64, 0>::run(s, wgmma::desc_advance(q_desc, kb), kd, 1);
      if constexpr (kSplitQ)
        wgmma::Mma<__nv_fp8_e4m3, 64, 0>::run(
            s, wgmma::desc_advance(q_desc, kb + (L::kQTermBytes >> 4)), kd, 1);
    };
    auto issue_scores = [&](float (&s)[32], uint32_t n) {
      const int st = n % kStages;
      const uint32_t parity = (n / kStages) & 1u;
      if constexpr (DS_MLA) {
        // S = sum_g s_g Q_g K_g^T + Q_r K_r^T over the four groups of 128 value codes (scale s_g a
        // key: the accumulator's columns) and the bf16 rotary box: each group's two products into
        // the one accumulator, times s_g / s_(g+1) a key once they are done, the last times s_3,
        // then the rotary product.
        const uint64_t k_desc = wgmma::desc_sw128(stage(st), 16, 1024);
        const uint64_t qr_desc = wgmma::desc_sw128(base + L::kOffQRotary, 16, 1024);
        wait_box(st, 0, parity);  // box 0 and the scales
        ds_tables(st, parity, start + static_cast<int>(n - n_before) * kBlockN);
        const float* f = reinterpret_cast<const float*>(smem + L::kOffStages +
                                                        st * L::kStageBytes + kDsOffFactors);
        auto rescale_keys = [&](int j) {  // each score times factor j of its key
#pragma unroll
          for (int nt = 0; nt < 8; ++nt) {
            const float2 ff = *reinterpret_cast<const float2*>(f + j * kBlockN + 8 * nt + 2 * c);
            s[4 * nt] *= ff.x, s[4 * nt + 1] *= ff.y, s[4 * nt + 2] *= ff.x, s[4 * nt + 3] *= ff.y;
          }
        };
#pragma unroll
        for (int grp = 0; grp < 4; ++grp) {
          if (grp > 0) {
            wait_box(st, grp, parity);
            wgmma::wait<0>();
            rescale_keys(grp - 1);
          }
          wgmma::fence();
#pragma unroll
          for (int k = 0; k < kBoxCodes / 32; ++k) {
            code_step(s, k_desc, (grp * kBoxBytes + k * 32) >> 4, grp == 0 && k == 0);
          }
          wgmma::commit();
        }
        wait_box(st, kTileBoxes - 1, parity);  // the rotary box
        wgmma::wait<0>();
        rescale_keys(3);
        wgmma::fence();
#pragma unroll
        for (int k = 0; k < 4; ++k)
          wgmma::Mma<__nv_bfloat16, 64, 0>::run(
              s, wgmma::desc_advance(qr_desc, k * 2),
              wgmma::desc_advance(k_desc, ((kTileBoxes - 1) * kBoxBytes + k * 32) >> 4), 1);
        wgmma::commit();
      } else if constexpr (kCodesQ) {
        const uint64_t k_desc = wgmma::desc_sw128(stage(st), 16, 1024);
        wgmma::fence();
#pragma unroll
        for (int box = 0; box < kTileBoxes; ++box) {
          wait_box(st, box, parity);
#pragma unroll
          for (int k = 0; k < (box < kTileBoxes - 1 ? kBoxCodes / 32 : kRotaryK32Steps); ++k) {
            code_step(s, k_desc, (box * kBoxBytes + k * 32) >> 4, box == 0 && k == 0);
          }
        }
        wgmma::commit();
      } else {
        constexpr int kGroups = kMlaHeadDimQK / 64;
        const uint32_t key_row = stage(st) + (16 * warp + g) * kBoxCodes;  // and + 8 rows
        uint32_t x0[4], x1[4];
        auto load = [&](int grp) {
          const uint32_t a = key_row + (grp / 2) * kBoxBytes + ((((grp % 2) * 4 + c) ^ g) << 4);
          ptx::ld_shared_v4(x0, a);
          ptx::ld_shared_v4(x1, a + 8 * kBoxCodes);
        };
        wait_box(st, 0, parity);
        load(0);
        uint32_t af[4][4];
#pragma unroll
        for (int grp = 0; grp < kGroups; ++grp) {
          if (grp > 0) wgmma::wait<0>();  // the group before is done with af
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const uint2 k0 = e4m3x4_to_f16x4(x0[j]), k1 = e4m3x4_to_f16x4(x1[j]);
            af[j][0] = k0.x, af[j][1] = k1.x, af[j][2] = k0.y, af[j][3] = k1.y;
          }
          if (grp + 1 < kGroups) {
            if ((grp + 1) % 2 == 0) wait_box(st, (grp + 1) / 2, parity);
            load(grp + 1);
          }
          wgmma::fence();
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const uint64_t qd = wgmma::desc_advance(q_desc, (grp * L::kQBoxBytes + j * 32) >> 4);
            if (grp == 0 && j == 0)
              wgmma::MmaRegA<__half, 64, 0>::overwrite(s, af[0], qd);
            else
              wgmma::MmaRegA<__half, 64, 0>::run(s, af[j], qd, 1);
          }
          wgmma::commit();
        }
      }
    };
    // The scores as base-2 logits, -inf where masked or past the piece's end.
    // Whether the tile at tile_start holds keys masked for some row of this block (causal rows end
    // early) or past the piece's end; if it does, its code rows past the end are zeroed for the
    // products (rows of other pages or sequences may hold NaN codes). The scores stay as the
    // wgmma left them (written elsewhere, ptxas serializes every wgmma of the kernel): masked
    // ones are dropped where they are read.
    auto masked_tile = [&](uint32_t n, int tile_start) {
      if (tile_start + kBlockN <= mask_from) return false;
      const int valid = end - tile_start;
      if (valid < kBlockN) {  // rows valid..63 of the value boxes: 32 16-byte stores a row
        uint8_t* codes = smem + L::kOffStages + (n % kStages) * L::kStageBytes;
        for (int i = ctid; i < (kBlockN - valid) * 32; i += 128) {
          const int r = valid + i / 32, ch = i % 32;
          *reinterpret_cast<uint4*>(codes + (ch / 8) * kBoxBytes + box_offset(r, ch % 8)) =
              make_uint4(0u, 0u, 0u, 0u);
        }
        wgmma::fence_proxy_async();  // before the stage's next TMA fill
      }
      return true;
    };
    // Whether score i of this thread (key 8 (i / 4) + 2 c + i % 2 of the tile, row (i / 2) % 2)
    // is attended.
    auto attended = [&](int i, int tile_start) {
      return tile_start + (i / 4) * 8 + 2 * c + i % 2 < limit[(i / 2) % 2];
    };
    // Row maxima of the base-2 logits: of raw scores for unmasked tiles; of the attended logits,
    // formed here, for masked ones (the scores stay as the wgmma left them).
    // fp16 queries: the key limits of this thread's rows 8 jn + 2 c, + 1, and its first key
    // of a tile (the other: + 8).
    auto row_limits = [&](int jn) {
      return reinterpret_cast<const int2*>(s_row_limit)[4 * jn + c];
    };
    const int my_key = 16 * warp + g;
    // fp16 queries: this warpgroup's maxima of its tile over each warp's keys, [warp][row].
    float* s_col_max = reinterpret_cast<float*>(smem + L::kOffColMax) + wg * 4 * kBlockM;
    float4* s_mul_base = reinterpret_cast<float4*>(smem + L::kOffMulBase) + wg * (kBlockM / 2);
    auto tile_max = [&](const float (&s)[32], bool masked, int tile_start, float (&mx)[2]) {
      if constexpr (kSplitQ) {  // positive multipliers a row
        if (!masked) {
          tile_row_max(s, true, 1.f, mx);
        } else {
          float lg[32];
#pragma unroll
          for (int i = 0; i < 32; ++i) lg[i] = attended(i, tile_start) ? s[i] : -INFINITY;
          tile_row_max(lg, true, 1.f, mx);
        }
        mx[0] *= my_mul[0], mx[1] *= my_mul[1];
      } else if constexpr (kCodesQ) {
        if (!masked) return tile_row_max(s, false, scale_log2, mx);
        float lg[32];
#pragma unroll
        for (int i = 0; i < 32; ++i)
          lg[i] = attended(i, tile_start) ? s[i] * scale_log2 : -INFINITY;
        tile_row_max(lg, true, 1.f, mx);
      } else {
        // Maxima of the raw scores over the thread's keys, the warp's, then the four warps'
        // (owners), times the multiplier.
        float v[16];
        if (masked) {
          const int key = tile_start + my_key;
#pragma unroll
          for (int jn = 0; jn < 8; ++jn) {
            const int2 lim = row_limits(jn);
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int li = e ? lim.y : lim.x, i = 4 * jn + e;  // keys g, g + 8: i, i + 2
              v[2 * jn + e] =
                  fmaxf(key < li ? s[i] : -INFINITY, key + 8 < li ? s[i + 2] : -INFINITY);
            }
          }
        } else {
#pragma unroll
          for (int k = 0; k < 16; ++k) {
            const int i = 4 * (k / 2) + k % 2;
            v[k] = fmaxf(s[i], s[i + 2]);
          }
        }
        const float2 r = reduce_over_keys(v, lane, [](float x, float y) { return fmaxf(x, y); });
        *reinterpret_cast<float2*>(s_col_max + warp * kBlockM + 2 * lane) = r;
        ptx::named_barrier_sync(wg == 0 ? kBarWg0 : kBarWg1, 128);
        if (owner) {
#pragma unroll
          for (int x = 0; x < 2; ++x) {
            float t = s_col_max[my_row[x]];
#pragma unroll
            for (int w2 = 1; w2 < 4; ++w2) t = fmaxf(t, s_col_max[w2 * kBlockM + my_row[x]]);
            mx[x] = t * my_mul[x];
          }
        }
      }
    };
    // This warpgroup's new maxima and factors for the other one (and its own rescale), with a
    // byte a warp saying whether any of its 16 rows moved.
    uint8_t* s_moved = smem + L::kOffMoved;
    auto publish = [&](const float (&a)[2], float* s_m, float* s_a) {
      if (!kCodesQ || c == 0) {
#pragma unroll
        for (int x = 0; x < 2; ++x) s_m[my_row[x]] = row_max[x], s_a[my_row[x]] = a[x];
      }
      const bool moved = __any_sync(0xffffffffu, a[0] != 1.f || a[1] != 1.f);
      if (lane == 0) s_moved[wg * 4 + warp] = moved;
    };
    // The other warpgroup's published maxima become this one's running maxima; its factors for
    // this thread's rows into a, and into the row sums where `rescale_sums`.
    auto adopt = [&](const float* s_m, const float* s_a, float (&a)[2], bool rescale_sums) {
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        a[x] = s_a[my_row[x]];
        row_max[x] = s_m[my_row[x]];
        if (rescale_sums) row_sum[x] *= a[x];
      }
    };
    // fp8_ds_mla: whether part tile n takes fp16 values and P (its table makers' four bytes).
    auto f16_tile = [&](uint32_t n) {
      if constexpr (!DS_MLA) return true;
      return *reinterpret_cast<const uint32_t*>(smem + L::kOffF16Tiles + (n % kStages) * 4) ==
             0x01010101u;
    };
    // P = 2^(x mul[row] - base) of scores x into P box b, fp16 or bf16 (keys contiguous: the B
    // operand of O^T); its row sums.
    auto store_p_of = [&](const float (&x)[32], const float (&mul)[2], const float (&bs)[2], int b,
                          bool f16, float (&psum)[2]) {
      psum[0] = psum[1] = 0.f;
      uint32_t pw[16];  // pw[2 nt + r]: row my_row[r], keys 8 nt + 2 c, + 1
#pragma unroll
      for (int nt = 0; nt < 8; ++nt)
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int i = 4 * nt + 2 * r;
          const float p0 = ptx::ex2(fmaf(x[i], mul[r], -bs[r]));
          const float p1 = ptx::ex2(fmaf(x[i + 1], mul[r], -bs[r]));
          psum[r] += p0 + p1;
          pw[2 * nt + r] = f16 ? pack2<__half>(p0, p1) : pack2<__nv_bfloat16>(p0, p1);
        }
      store_warp_rows(p_box(b), pw, warp, lane);
      wgmma::fence_proxy_async();  // P is read by both warpgroups' wgmma
    };
    // P of the tile at tile_start from its raw scores s, 0 where masked: tiles that hold masked
    // keys take a copy of their logits (-inf where masked), the others none of that work.
    auto store_p = [&](const float (&s)[32], bool masked, int tile_start, const float (&bs)[2],
                       int b, bool f16, float (&psum)[2]) {
      if (masked) {
        float lg[32];
#pragma unroll
        for (int i = 0; i < 32; ++i)
          lg[i] = attended(i, tile_start) ? s[i] * my_mul[(i / 2) % 2] : -INFINITY;
        const float one[2] = {1.f, 1.f};
        store_p_of(lg, one, bs, b, f16, psum);
      } else {
        store_p_of(s, my_mul, bs, b, f16, psum);
      }
    };
    // This warpgroup's tile b (= wg) of the pair, with its row maxima mx: the running maxima
    // folded (factors into a), published for the other warpgroup (kBarMax0 + b), then P into box
    // b and its row sums, released once all four warps have stored theirs (kBarP0 + b).
    // fp16 queries: P^T of the tile's S^T into P box b (stmatrix.trans: query rows, keys
    // contiguous), each row's multiplier and base from its owner. Returns the P sums over the
    // warp's keys of rows 2 lane, 2 lane + 1.
    auto store_p_t = [&](const float (&s)[32], bool masked, int tile_start, int b) {
      float cs[16];
#pragma unroll
      for (int k = 0; k < 16; ++k) cs[k] = 0.f;
      const int key = tile_start + my_key;
#pragma unroll
      for (int h = 0; h < 4; ++h) {
        // rows 8 jn + 2 c, + 1 of jn = 2 h, 2 h + 1: (mul, mul, base, base)
        const float4 mb[2] = {s_mul_base[8 * h + c], s_mul_base[8 * h + 4 + c]};
        uint32_t r[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int i = 8 * h + 2 * q, jn = i / 4;
          const float4 m = mb[q / 2];
          float p0 = ptx::ex2(fmaf(s[i], m.x, -m.z));
          float p1 = ptx::ex2(fmaf(s[i + 1], m.y, -m.w));
          if (masked) {  // element i: key + 8 ((i / 2) % 2), rows of jn
            const int2 lim = row_limits(jn);
            const int k = key + 8 * (q % 2);
            if (k >= lim.x) p0 = 0.f;
            if (k >= lim.y) p1 = 0.f;
          }
          cs[2 * jn] += p0, cs[2 * jn + 1] += p1;
          r[q] = pack2<__half>(p0, p1);
        }
        const int mi = lane / 8;
        ptx::stmatrix_x4_trans(
            p_box(b) + box_offset(16 * h + 8 * (mi / 2) + lane % 8, 2 * warp + mi % 2), r);
      }
      wgmma::fence_proxy_async();  // P is read by both warpgroups' wgmma
      return reduce_over_keys(cs, lane, [](float x, float y) { return x + y; });
    };
    auto share_tile = [&](int b, const float (&s)[32], bool masked, int tile_start, bool f16,
                          const float (&mx)[2], float (&a)[2], float (&psum)[2]) {
      if constexpr (kCodesQ) {
        float bs[2];
        fold_tile_max_lazy(mx, row_max, bs, a);
        publish(a, b == 0 ? stats.m0 : stats.m1, b == 0 ? stats.a0 : stats.a1);
        ptx::named_barrier_arrive(b == 0 ? kBarMax0 : kBarMax1, kThreads);
        store_p(s, masked, tile_start, bs, b, f16, psum);
        ptx::named_barrier_sync(b == 0 ? kBarWg0 : kBarWg1, 128);  // P and a of all four warps
        ptx::named_barrier_arrive(b == 0 ? kBarP0 : kBarP1, kThreads);
      } else {
        // The owners fold, publish and hand each row's (multiplier, base) to the other warps; all
        // store P^T and keep their warp's sums of rows 2 lane, 2 lane + 1 (a[] the factors the
        // owners published), which the epilogue adds up.
        float* s_a = b == 0 ? stats.a0 : stats.a1;
        if (owner) {
          float bs[2];
          fold_tile_max_lazy(mx, row_max, bs, a);
          publish(a, b == 0 ? stats.m0 : stats.m1, s_a);
          s_mul_base[lane] = make_float4(my_mul[0], my_mul[1], bs[0], bs[1]);
        }
        ptx::named_barrier_sync(b == 0 ? kBarWg0 : kBarWg1, 128);  // the bases and factors
        ptx::named_barrier_arrive(b == 0 ? kBarMax0 : kBarMax1, kThreads);
        if (!owner) a[0] = s_a[my_row[0]], a[1] = s_a[my_row[1]];
        const float2 ps = store_p_t(s, masked, tile_start, b);
        psum[0] = ps.x, psum[1] = ps.y;
        ptx::named_barrier_arrive(b == 0 ? kBarP0 : kBarP1, kThreads);
      }
    };
    // O^T rows (query rows 8 jn + 2 c + {0, 1}) times the factors f[row] that warpgroup `from`
    // published; skipped where none of its rows moved (the maxima settled: most tiles).
    auto rescale_cols = [&](const float* f, int from) {
      if (*reinterpret_cast<const uint32_t*>(s_moved + 4 * from) == 0u) return;
#pragma unroll
      for (int jn = 0; jn < 8; ++jn) {
        const float2 ff = *reinterpret_cast<const float2*>(f + 8 * jn + 2 * c);
#pragma unroll
        for (int mt = 0; mt < 4; ++mt) {
          o[mt][4 * jn] *= ff.x, o[mt][4 * jn + 1] *= ff.y;
          o[mt][4 * jn + 2] *= ff.x, o[mt][4 * jn + 3] *= ff.y;
        }
      }
    };
    // O^T += V^T P for part tile n and P box b: 4 k-steps of 16 keys; a k-step's code bytes are
    // loaded while the one before runs and converted into the register set of A fragments the
    // k-step kAfSets before used, once that one is done. Two sets with e4m3 queries (2.5-4%
    // faster: the next k-step's fragments are made while one runs); one elsewhere, where a second
    // set measured no faster (split queries), spilled 280 more bytes (fp8_ds_mla) or had ptxas
    // serialize the products (fp16 queries) (bench/NOTES.md, v47).
    constexpr int kAfSets = kForm == QueryForm::kCodes ? 2 : 1;
    auto products_as = [&](auto f16_values, uint32_t n, int b) {
      constexpr bool kF16 = decltype(f16_values)::value;
      using VElem = std::conditional_t<kF16, __half, __nv_bfloat16>;
      const uint8_t* codes =
          smem + L::kOffStages + (n % kStages) * L::kStageBytes + d_box * kBoxBytes + d_half;
      const uint64_t pd = wgmma::desc_sw128(p_box(b), 16, 1024);
      uint32_t afs[kAfSets][4][4];
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk) {
        uint32_t(&af)[4][4] = afs[kk % kAfSets];
        const int k0 = 16 * kk + 2 * c;
        const int keys[4] = {k0, k0 + 1, k0 + 8, k0 + 9};
        uint2 v[4];
#pragma unroll
        for (int e = 0; e < 4; ++e)
          v[e] = *reinterpret_cast<const uint2*>(codes + keys[e] * 128 +
                                                  ((d_chunk ^ (keys[e] & 7)) << 4));
        // fp8_ds_mla: the values' scales of keys (k0, k0 + 1), (k0 + 8, k0 + 9).
        uint32_t sv[2] = {};
        if constexpr (DS_MLA) {
          const uint32_t* vs = reinterpret_cast<const uint32_t*>(
              smem + L::kOffStages + (n % kStages) * L::kStageBytes +
              (kF16 ? kDsOffValueScalesF16 : kDsOffValueScales) + d_box * kBlockN * 2);
          sv[0] = vs[k0 / 2], sv[1] = vs[k0 / 2 + 4];
        }
        if (kk >= kAfSets) wgmma::wait<kAfSets - 1>();  // the k-step that used af is done
        // Codes j, j + 1 of two keys' words a, b as the A operand's two registers (the keys
        // paired): fp16 (exact); for fp8_ds_mla times the keys' scales, in fp16 where the tile's
        // scales fit, else in bf16 (the codes' fields moved, then a product by s 2^120).
        auto convert = [&](uint32_t a, uint32_t b, int j, int h) {
          if constexpr (DS_MLA && !kF16) {
            return make_uint2(
                mul2<__nv_bfloat16>(e4m3_pair_to_bf16_bits_2p_minus120(a, b, j), sv[h]),
                mul2<__nv_bfloat16>(e4m3_pair_to_bf16_bits_2p_minus120(a, b, j + 1), sv[h]));
          } else {
            const uint2 x = e4m3x4_to_f16x4(__byte_perm(a, b, j == 0 ? 0x5140 : 0x7362));
            if constexpr (!DS_MLA) return x;
            return make_uint2(mul2<__half>(x.x, sv[h]), mul2<__half>(x.y, sv[h]));
          }
        };
#pragma unroll
        for (int h = 0; h < 2; ++h) {  // keys (k0, k0 + 1) then (k0 + 8, k0 + 9)
          const uint2 x = v[2 * h], y = v[2 * h + 1];
          // byte j of a key's 8 is m-tile j / 2, row j % 2: pair the two keys' bytes.
          const uint2 m01 = convert(x.x, y.x, 0, h);
          const uint2 m23 = convert(x.x, y.x, 2, h);
          const uint2 m45 = convert(x.y, y.y, 0, h);
          const uint2 m67 = convert(x.y, y.y, 2, h);
          af[0][2 * h] = m01.x, af[0][2 * h + 1] = m01.y;
          af[1][2 * h] = m23.x, af[1][2 * h + 1] = m23.y;
          af[2][2 * h] = m45.x, af[2][2 * h + 1] = m45.y;
          af[3][2 * h] = m67.x, af[3][2 * h + 1] = m67.y;
        }
        wgmma::fence();
#pragma unroll
        for (int mt = 0; mt < 4; ++mt)
          wgmma::MmaRegA<VElem, 64, 0>::run(o[mt], af[mt], pd + ((kk * 32) >> 4), 1);
        wgmma::commit();
      }
      // fp8_ds_mla: done before the two element types' paths meet (ptxas serializes every wgmma
      // where either path's could still be running there).
      if constexpr (DS_MLA) wgmma::wait<0>();
    };
    auto products = [&](uint32_t n, int b) {
      if constexpr (!DS_MLA)
        products_as(std::true_type{}, n, b);
      else if (f16_tile(n))
        products_as(std::true_type{}, n, b);
      else
        products_as(std::false_type{}, n, b);
    };

    float s[32];  // the scores of this warpgroup's tile (the first product overwrites them)
    if (wg < n_tiles) {
      issue_scores(s, n_before + wg);
      wgmma::wait<0>();
    }
    const int n_pairs = (n_tiles + 1) / 2;
    for (int jp = 0; jp < n_pairs; ++jp) {
      const int t0 = 2 * jp, t1 = t0 + 1;
      const bool has1 = t1 < n_tiles;
      const int start0 = start + t0 * kBlockN, start1 = start0 + kBlockN;
      const uint32_t n0 = n_before + t0, n1 = n0 + 1;
      if (wg == 0) {
        float mx[2], a0[2], psum[2];
        const bool masked = masked_tile(n0, start0);
        tile_max(s, masked, start0, mx);
        if (jp > 0) ptx::named_barrier_sync(kBarP0Free, kThreads);
        share_tile(0, s, masked, start0, f16_tile(n0), mx, a0, psum);
        row_sum[0] = row_sum[0] * a0[0] + psum[0];
        row_sum[1] = row_sum[1] * a0[1] + psum[1];
        rescale_cols(stats.a0, 0);
        products(n0, 0);
        wgmma::wait<0>();
        release_stage(n0);
        if (has1) {
          ptx::named_barrier_sync(kBarMax1, kThreads);
          float a1[2];
          adopt(stats.m1, stats.a1, a1, true);
          rescale_cols(stats.a1, 1);
          ptx::named_barrier_sync(kBarP1, kThreads);
          products(n1, 1);
          if (t0 + 2 < n_tiles) issue_scores(s, n0 + 2);
          wgmma::wait<0>();
          release_stage(n1);
        }
      } else {
        float a[2];
        if (has1) {
          float mx[2], a1[2], psum[2];
          const bool masked = masked_tile(n1, start1);
          tile_max(s, masked, start1, mx);
          ptx::named_barrier_sync(kBarMax0, kThreads);
          adopt(stats.m0, stats.a0, a, false);
          share_tile(1, s, masked, start1, f16_tile(n1), mx, a1, psum);
          row_sum[0] = row_sum[0] * a[0] * a1[0] + psum[0];
          row_sum[1] = row_sum[1] * a[1] * a1[1] + psum[1];
          rescale_cols(stats.a0, 0);
          ptx::named_barrier_sync(kBarP0, kThreads);
          products(n0, 0);
          wgmma::wait<0>();
          release_stage(n0);
          if (jp + 1 < n_pairs) ptx::named_barrier_arrive(kBarP0Free, kThreads);
          rescale_cols(stats.a1, 1);
          products(n1, 1);
          if (t1 + 2 < n_tiles) issue_scores(s, n1 + 2);
          wgmma::wait<0>();
          release_stage(n1);
        } else {  // the piece's last tile is a tile 0
          ptx::named_barrier_sync(kBarMax0, kThreads);
          adopt(stats.m0, stats.a0, a, true);
          rescale_cols(stats.a0, 0);
          ptx::named_barrier_sync(kBarP0, kThreads);
          products(n0, 0);
          wgmma::wait<0>();
          release_stage(n0);
        }
      }
    }
    n_before += n_tiles;

    // ---- epilogue: row sums over the quad and both warpgroups; O^T written row by row ----
    if constexpr (kCodesQ) {
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 1);
        row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 2);
        if (c == 0) stats.sum[wg * kBlockM + my_row[x]] = row_sum[x];
      }
    } else {  // each warp's sums of rows 2 lane, + 1; a row's eight added up
      float* s_sums = reinterpret_cast<float*>(smem + L::kOffColSum);  // [wg][warp][row]
      *reinterpret_cast<float2*>(s_sums + (wg * 4 + warp) * kBlockM + 2 * lane) =
          make_float2(row_sum[0], row_sum[1]);
      ptx::named_barrier_sync(kBarAll, kThreads);
      if (tid < 2 * kBlockM) {
        float t = 0.f;
        if (tid < kBlockM)
#pragma unroll
          for (int k = 0; k < 8; ++k) t += s_sums[k * kBlockM + tid];
        stats.sum[tid] = t;  // the second warpgroup's slots 0
      }
    }
    // The running maxima for the lse (warpgroup 0's final row_max is the pair's).
    if (wg == 0 && (kCodesQ ? c == 0 : owner)) {
#pragma unroll
      for (int x = 0; x < 2; ++x) s_mfin[my_row[x]] = row_max[x];
    }
    ptx::named_barrier_sync(kBarAll, kThreads);
    const int total_rows = p.s_q * p.h_q;
#pragma unroll
    for (int jn = 0; jn < 8; ++jn)
#pragma unroll
      for (int e2 = 0; e2 < 2; ++e2) {
        const int n = 8 * jn + 2 * c + e2, m = m_base + n;
        if (m >= p.rows_per_kv) continue;
        const float sum = stats.sum[n] + stats.sum[kBlockM + n];
        const bool empty = !(sum > 0.f);
        const float inv = empty ? 0.f : value_scale / sum;
        float v[8];
#pragma unroll
        for (int mt = 0; mt < 4; ++mt)
#pragma unroll
          for (int r = 0; r < 2; ++r) v[2 * mt + r] = o[mt][4 * jn + 2 * r + e2] * inv;
        const int j = m / p.heads_per_kv, h = kv * p.heads_per_kv + m % p.heads_per_kv;
        if (w.single_split) {
          Out* out = static_cast<Out*>(p.out) + bi * p.o_stride_b +
                               j * p.o_stride_s + h * p.o_stride_h + d0;
          *reinterpret_cast<uint4*>(out) =
              make_uint4(pack2<Out>(v[0], v[1]), pack2<Out>(v[2], v[3]), pack2<Out>(v[4], v[5]),
                         pack2<Out>(v[6], v[7]));
          if (wg == 0 && warp == 0 && g == 0) {
            const float lse2 = empty ? 0.f : s_mfin[n] + log2f(sum);
            p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] =
                empty ? INFINITY : lse2 * kLn2;
          }
        } else {
          const int64_t row = static_cast<int64_t>(w.split) * total_rows + kv * p.rows_per_kv + m;
          float* acc = p.o_accum + row * kMlaHeadDimV + d0;
          *reinterpret_cast<float4*>(acc) = make_float4(v[0], v[1], v[2], v[3]);
          *reinterpret_cast<float4*>(acc + 4) = make_float4(v[4], v[5], v[6], v[7]);
          if (wg == 0 && warp == 0 && g == 0) {
            const float lse2 = empty ? 0.f : s_mfin[n] + log2f(sum);
            p.lse_accum[row] = empty ? -INFINITY : lse2 * kLn2;
          }
        }
      }
  }
#endif
}

}  // namespace mla_e4m3_sm90
}  // namespace fmla
