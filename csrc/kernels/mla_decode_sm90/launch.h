// MLA decode on sm_90a: what csrc/api/ needs to choose and launch it.
#pragma once

#include <cuda_runtime.h>

#include "../common/decode_params.h"
#include "config.h"

namespace fmla {

// How the kernel brings cache tiles into shared memory: TMA boxes, one per 64 columns of a tile's
// page (pages of a power of two of at least 64 rows), issued by the consumers; the same boxes
// issued by a producer warpgroup; TMA boxes of whole pages, one per page and 64 columns (pages of
// 8, 16 or 32 rows); or a producer warpgroup gathering rows with cp.async through the block table
// (any page size). The e4m3 kernel's CodeLoad names its loaders alike.
enum class MlaKvLoad { kTmaTiles, kTmaProducer, kTmaPages, kGatherRows };

// Pages TMA takes a tile from: a power of two (the issuing thread shifts instead of dividing) of at
// least mla_sm90::kMinTmaPageRows rows, so that a tile lies in one page.
inline bool mla_pages_fit_tma(int page_size) {
  return page_size >= mla_sm90::kMinTmaPageRows && (page_size & (page_size - 1)) == 0;
}

// Pages TMA takes whole, a box each: a power of two of mla_sm90::kMinTmaBoxRows to
// kMinTmaPageRows / 2 rows, so that a tile is whole pages. Smaller pages would land as well (the
// swizzle follows the shared-memory address), but a warp issues a box in about 50 cycles, too
// many for a tile of one-row boxes (bench/NOTES.md, v28c).
inline bool mla_pages_fit_tma_boxes(int page_size) {
  return page_size >= mla_sm90::kMinTmaBoxRows && page_size < mla_sm90::kMinTmaPageRows &&
         (page_size & (page_size - 1)) == 0;
}

// The blocks of 64 query rows (row groups) that read each tile of a KV head with rows_per_kv rows.
inline int mla_row_groups(int rows_per_kv) { return (rows_per_kv + kBlockM - 1) / kBlockM; }

// The loader for a page size and a KV head's query rows: TMA where the pages fit it, the producer
// for smaller or odd pages. Where four or more row groups read each tile (h_q 128 at s_q >= 2), a
// producer warpgroup issues the boxes: 1.5-4% faster than the consumers issuing them, and than
// clusters of two row groups sharing each box, which read the cache from DRAM about once but run
// in step (bench/NOTES.md, v42).
inline MlaKvLoad mla_decode_sm90_load_for(int page_size, int rows_per_kv) {
  if (mla_pages_fit_tma(page_size))
    return mla_row_groups(rows_per_kv) >= 4 ? MlaKvLoad::kTmaProducer : MlaKvLoad::kTmaTiles;
  return mla_pages_fit_tma_boxes(page_size) ? MlaKvLoad::kTmaPages : MlaKvLoad::kGatherRows;
}

// What the cache holds: rows of Q's 16-bit dtype, or float8_e4m3fn codes the producer dequantizes
// into the same 16-bit tiles (docs/fp8-kv-cache.md): fp8_e4m3 (576 codes a row, one scale per
// tensor at p.descale_k, folded out of the products) or fp8_ds_mla (656-byte rows: 512 codes, 4
// float32 scales, 64 bf16 rotary values; bf16 queries only).
enum class MlaCache { k16Bit, kFp8E4m3, kFp8DsMla };

// Launches the sm_90a kernel with that loader and returns true (*err: the launch status) when it
// runs this problem on the current device: one latent KV head, 16-byte aligned cache rows (and
// pages TMA can tile, for the TMA loaders), an sm_90 device, and this library built with sm_90a
// code for it (a build that carries only older PTX has an empty body here and must take the
// generic kernel). Otherwise returns false, having done nothing. One call checks, encodes the
// cache's tensor map and launches, so a decode pays for each once.
template <typename Elem>
bool launch_mla_decode_sm90(const DecodeParams& p, MlaKvLoad load, cudaStream_t stream,
                            cudaError_t* err);

// The same over an FP8 cache (CACHE != k16Bit), always through the dequantizing producer; p.k and
// its strides in bytes. Returns false, having done nothing, where the sm_90a kernel cannot run.
template <typename Elem, MlaCache CACHE>
bool launch_mla_decode_sm90_fp8(const DecodeParams& p, cudaStream_t stream, cudaError_t* err);

}  // namespace fmla
