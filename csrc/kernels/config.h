// Constants shared by the schedule, the decode kernels and the host-side launch logic.
#pragma once

namespace fmla {

// The split-KV schedule (docs/schedule.md). Changing any of these changes every schedule.
constexpr int kBlockM = 64;              // query rows a decode block handles at once
constexpr int kBlockN = 64;              // keys per tile; the unit in which work is counted and cut
constexpr int kFixedOverheadBlocks = 5;  // cost of starting a split, in key blocks
constexpr int kMetadataInts = 8;         // ints per part in tile_scheduler_metadata
// GQA decode: byte counters a part's row holds past the schedule's fields (schedule_fields.h), so
// the (KV head, row group) pairs whose split sequences it merges itself, and the most splits (and
// so parts) a byte counts.
constexpr int kArrivalCounters = 12;
constexpr int kArrivalMaxSplits = 255;

// MLA head dims (DeepSeek-V2/V3): 512 latent dims (shared K/V) + 64 rotary dims.
constexpr int kMlaHeadDimQK = 576;
constexpr int kMlaHeadDimV = 512;
// Bytes of an MLA query row of Query elements.
template <typename Query>
constexpr int kMlaQueryRowBytes = kMlaHeadDimQK * static_cast<int>(sizeof(Query));
// fp8_ds_mla (docs/fp8-kv-cache.md): 512 e4m3 codes, 4 float32 scales (one per 128 codes), 64
// bf16 rope values, at these byte offsets of a token.
constexpr int kDsMlaTokenBytes = 656;
constexpr int kDsMlaScaleOffset = 512;
constexpr int kDsMlaRopeOffset = 528;
static_assert(kDsMlaRopeOffset + 64 * 2 == kDsMlaTokenBytes, "the rope values end the token");

// Combine kernel: one block per (sequence with several splits, query row, column slice); the
// threads own a float4 of the slice each and split the partials between groups of them, so that
// many loads are in flight (a long sequence can have 100+ splits). Rows are cut into column slices
// until the grid has kCombineMinBlocks blocks (two per SM of an H100), which matters for small
// batches.
constexpr int kCombineThreads = 256;
// combine_kernel: partials a thread loads before the lse pass (in registers, float4 each).
constexpr int kCombinePrefetch = 8;
constexpr int kCombineMinBlocks = 264;
// When the batch is at least num_sm_parts / kCombineRowsMaxSplits (so sequences have a few splits
// each), one warp merges a whole row instead (combine_rows_kernel): the block-wide reductions cost
// more than a few loads.
constexpr int kCombineRowsMaxSplits = 4;
// The warp-a-row kernel also takes up to kCombineRowsManySplits splits a sequence where its grid
// has kCombineRowsMinWarps rows to merge (16 warps an SM): b 16 at h_q 128, about 5 splits a
// sequence, merged 12 us faster than by the block-a-row kernel (bench/NOTES.md, v40).
constexpr int kCombineRowsManySplits = 16;
constexpr int kCombineRowsMinWarps = 2048;
// combine_rows_kernel's blocks an SM (its registers kept to 65536 / (256 x 4) = 64): at b 128 and
// h_q 128 its 7,680 rows of two splits take waves of warps, each a trip to memory (bench/NOTES.md,
// v55).
constexpr int kCombineRowsBlocksPerSm = 4;

// Schedule kernel: batches up to kScheduleSmemSeqs sequences and kScheduleSmemParts parts are
// computed in shared memory by all threads (prefix sums and binary searches around a one-compare-
// per-part walk); larger ones fall back to one thread walking the batch in global memory.
constexpr int kScheduleThreads = 256;
constexpr int kScheduleSmemSeqs = 4096;
constexpr int kScheduleSmemParts = 1024;

// write_kv: threads per block.
constexpr int kWriteKvThreads = 256;

// Alignment (bytes) of each region of the decode workspace.
constexpr int kWorkspaceAlign = 256;

}  // namespace fmla
