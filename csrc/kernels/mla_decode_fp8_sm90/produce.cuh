// MLA decode over FP8 caches for few query rows (sm_90a): the producer warpgroup, which streams a
// part's tiles into the ring with bulk copies.
#pragma once

#include "../common/decode_params.h"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"
#include "traits.h"

namespace fmla {
namespace mla_fp8_sm90 {

// The producer warpgroup: warp k fills ring stage k with the part's ring positions n = k, k + 4,
// ... (one stage a warp, kStages = 4), so that four block-table reads and copy streams are in
// flight at once. A sequence with keys takes 1 + n_tiles positions: first its query rows (row m at
// m * QROW_BYTES, a lane a row; rows past rows_per_kv are not copied), which then reach the SM in
// the stream's order ahead of the tiles (load_q.cuh), then its tiles, as runs of tokens contiguous
// in both the cache and the tile (a lane a run, its first run's page read before the stage's wait).
template <MlaCache CACHE, int QROW_BYTES, class SMEM>
__device__ __forceinline__ void produce(const DecodeParams& p, const SMEM& sm, int warp, int lane) {
  static_assert(kStages == 4, "a producer warp a stage");
  constexpr int kTok = token_bytes(CACHE);
  const int32_t* meta = p.sched + blockIdx.x * kMetadataInts;
  const uint8_t* cache = static_cast<const uint8_t*>(p.k);
  const int run = copy_run<CACHE>(p.page_size, p.k_stride_row);
  const uint64_t policy = ptx::l2_policy<0>();  // read once
  const uint32_t s = warp;
  uint32_t n = 0, laps = 0;  // ring positions of the part so far; this warp's fills so far
  for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    if (w.n_tiles == 0) continue;
    if (n % kStages == s) {  // the query rows
      ptx::mbarrier_wait_sleeping(sm.empty(s), (laps & 1u) ^ 1u);
      if (lane == 0) ptx::mbarrier_arrive_expect_tx(sm.full(s), p.rows_per_kv * QROW_BYTES);
      __syncwarp();
      for (int m = lane; m < p.rows_per_kv; m += 32)
        ptx::bulk_load(sm.stage(s) + m * QROW_BYTES,
                       query_row_address<QROW_BYTES / kMlaHeadDimQK>(p, bi, blockIdx.y, m),
                       QROW_BYTES, sm.full(s), ptx::l2_policy<1>());
      ++laps;
    }
    ++n;
    const int32_t* block_table = p.block_table + bi * p.bt_stride_b;
    auto page_of = [&](int key) {
      return block_table[static_cast<int64_t>(key / p.page_size) * p.bt_stride_page];
    };
    // This warp's tiles of the sequence: t = (s - n) mod 4, then every 4th.
    for (int t = (s - n) % kStages; t < w.n_tiles; t += kStages, ++laps) {
      const int tile_start = w.start + t * kBlockN;
      const int valid = min(kBlockN, w.end - tile_start);
      const int runs = (valid + run - 1) / run;
      // The lane's first run's page, read before the stage frees: its trip to memory runs
      // inside the wait instead of after it (5-10% on pages of 1-2 tokens). A second run (one-token
      // pages) reads after: reading both first moved ptxas's consumer registers and cost split
      // bf16 rows at 32 columns 1-3% on larger pages (bench/NOTES.md, v53).
      const int first_page = lane < runs ? page_of(tile_start + lane * run) : 0;
      ptx::mbarrier_wait_sleeping(sm.empty(s), (laps & 1u) ^ 1u);  // the first lap: free
      if (lane == 0) ptx::mbarrier_arrive_expect_tx(sm.full(s), valid * kTok);
      __syncwarp();
      for (int j = lane; j < runs; j += 32) {
        const int key = tile_start + j * run;
        const int rows = min(run, w.end - key);
        const int page = j == lane ? first_page : page_of(key);
        const uint8_t* src = cache + static_cast<int64_t>(page) * p.k_stride_page +
                             static_cast<int64_t>(key % p.page_size) * p.k_stride_row;
        ptx::bulk_load(sm.stage(s) + j * run * kTok, src, rows * kTok, sm.full(s), policy);
      }
    }
    n += w.n_tiles;
  }
}

}  // namespace mla_fp8_sm90
}  // namespace fmla
