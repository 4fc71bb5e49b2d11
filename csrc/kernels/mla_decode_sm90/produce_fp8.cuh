// MLA decode on sm_90a over FP8 caches: the producer warpgroup that gathers float8_e4m3fn rows and
// dequantizes them into the 16-bit tiles the consumers read (kernel.cuh), so that nothing past the
// producer knows the cache's format but the fp8_e4m3 scale folded into the scores and the output.
//
// Where the codes land. A tile's 512 value codes a row (32 KB) are copied as soon as its buffer's
// own half (the 4 value boxes A_0..A_3 that one consumer warpgroup reads, freed first) is free, into
// that half: the codes of A_k in A_k's upper 4 KB, those of the other half's box R_k in A_k's lower
// 4 KB; fp8_e4m3's rotary codes in a stage beside the buffers, fp8_ds_mla's scales too. Once the
// rest of the buffer is free, fp8_ds_mla's bf16 rotary values follow (straight into box 8: 16 KB a
// pair of tiles, which no stage holds) and the tile is converted: the R boxes and the staged rotary
// codes first (their codes lie elsewhere), then each A box in place, its codes read by the whole
// warpgroup before any value is written (a producer barrier). The producer issues tile t's
// codes before it converts tile t - 1, so they are in flight meanwhile: buffer (t & 1)'s own half
// frees without tile t - 1, only its rest needs tile t - 1 (bench/NOTES.md, v15).
#pragma once

#include <type_traits>

#include "../common/decode_params.h"
#include "../common/e4m3.cuh"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"
#include "../common/wgmma.cuh"
#include "load_q.cuh"
#include "traits.h"

namespace fmla {
namespace mla_sm90 {

// 16-byte chunk q (0..3) of code row r of a box, in its upper (a box's own codes) or lower half.
__device__ __forceinline__ uint32_t code_offset(int r, int q, bool upper) {
  return static_cast<uint32_t>((upper ? kBoxBytes / 2 : 0) + r * 64 + q * 16);
}

template <typename Elem, MlaCache CACHE>
__device__ __forceinline__ void produce_fp8(const DecodeParams& p, const Smem& sm, int ptid) {
  constexpr bool kDs = CACHE == MlaCache::kFp8DsMla;
  static_assert(CACHE != MlaCache::k16Bit, "16-bit caches are gathered by produce()");
  static_assert(!kDs || std::is_same<Elem, __nv_bfloat16>::value, "fp8_ds_mla: bf16 queries");
  const int part = BlockPlace::part(), g = blockIdx.y, m_base = BlockPlace::m_base();
  const int32_t* meta = p.sched + part * kMetadataInts;
  const int warp = ptid / 32, lane = ptid % 32;
  const uint8_t* cache = static_cast<const uint8_t*>(p.k);
  const int page_log2 = (p.page_size & (p.page_size - 1)) == 0 ? __ffs(p.page_size) - 1 : -1;
  uint32_t q_loads = 0, fills[2] = {0u, 0u};

  // 16 codes (chunk q of row r) as 16 values into chunks 2q, 2q + 1 of row r of the box at `dst`;
  // bf16: times `mul` = 2^120 (times fp8_ds_mla's group scale: exact for the power-of-two scales
  // writeKv stores), fp16: converted exactly.
  auto convert_chunk = [&](const uint32_t (&c)[4], uint32_t dst, int r, int q, __nv_bfloat162 mul) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      uint32_t v[4];
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        const uint32_t codes = c[2 * h + u];
        if constexpr (std::is_same<Elem, __nv_bfloat16>::value) {
          const uint2 bits = e4m3x4_to_bf16_bits_2p_minus120(codes);
          const uint32_t m = *reinterpret_cast<const uint32_t*>(&mul);
          v[2 * u] = mul2<__nv_bfloat16>(bits.x, m);
          v[2 * u + 1] = mul2<__nv_bfloat16>(bits.y, m);
        } else {
          v[2 * u] = e4m3x2_to<Elem>(static_cast<uint16_t>(codes));
          v[2 * u + 1] = e4m3x2_to<Elem>(static_cast<uint16_t>(codes >> 16));
        }
      }
      ptx::st_shared_v4(dst + box_offset(r, 2 * q + h), v);
    }
  };
  // The bf16 multiplier of row r's values in box `box` of buffer b.
  auto scale_of = [&](int b, int r, int box) {
    const float s = kDs ? ptx::ld_shared_f32(sm.scales(b, r) + box / 2 * 4) : 1.f;
    return __float2bfloat162_rn(s * 0x1p120f);
  };

  for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    load_q_for_sequence<Elem, 128, CACHE == MlaCache::kFp8E4m3>(p, sm, bi, g, m_base, ptid,
                                                             q_loads++);
    const int32_t* block_table = p.block_table + bi * p.bt_stride_b;
    // Row 16 warp + lane % 16 of the tile at `tile_start` (the rows this warp copies): its address
    // in the cache, or null past the sequence's end (zero-filled, never read). One block-table read a
    // lane, all in flight together; the rows reach the other lanes by shuffles.
    auto lane_row = [&](int tile_start) -> const uint8_t* {
      const int key = tile_start + 16 * warp + lane % 16;
      if (key >= w.end) return nullptr;
      const int slot = page_log2 >= 0 ? key >> page_log2 : key / p.page_size;
      const int in_page = page_log2 >= 0 ? key & ((1 << page_log2) - 1) : key % p.page_size;
      const int page = block_table[static_cast<int64_t>(slot) * p.bt_stride_page];
      return cache + static_cast<int64_t>(page) * p.k_stride_page +
             static_cast<int64_t>(in_page) * p.k_stride_row + g * p.k_stride_head;
    };
    // Row 16 warp + j's address from lane j (every lane takes part).
    auto row_from = [&](const uint8_t* mine, int j) {
      return reinterpret_cast<const uint8_t*>(
          __shfl_sync(0xffffffffu, reinterpret_cast<uintptr_t>(mine), j));
    };
    auto copy = [&](uint32_t dst, const uint8_t* row, int offset) {
      ptx::cp_async_16(dst, row != nullptr ? row + offset : cache, row != nullptr ? 16 : 0);
    };
    // The value codes (and fp8_ds_mla scales) of the tile at `tile_start` into buffer b's own half:
    // warp w copies rows 16 w.., one row's 512 codes an instruction (lane l: box l / 4).
    auto issue_codes = [&](int b, int tile_start) {
      const int box = lane / 4;
      const uint32_t dst = sm.tile(b) + (4 * b + box % 4) * kBoxBytes +
                           code_offset(0, lane % 4, box / 4 == b);
      const uint8_t* mine = lane_row(tile_start);
#pragma unroll 4
      for (int j = 0; j < 16; ++j) copy(dst + (16 * warp + j) * 64, row_from(mine, j), lane * 16);
      if (kDs && lane < 16) copy(sm.scales(b, 16 * warp + lane), mine, kDsMlaScaleOffset);
      if (!kDs) {  // fp8_e4m3's rotary codes: 8 rows of 64 bytes a warp instruction, staged
#pragma unroll 1
        for (int j = 0; j < 2; ++j) {
          const int rj = 8 * j + lane / 4, q = lane % 4;
          copy(sm.stage(b) + code_offset(16 * warp + rj, q, false), row_from(mine, rj),
               kMlaHeadDimV + q * 16);
        }
      }
      ptx::cp_async_mbarrier_arrive_noinc(sm.codes_landed(b));
    };
    // fp8_ds_mla's rotary values into box 8 of buffer b (bf16, 4 rows of 128 bytes a warp
    // instruction), once the buffer's rest is free.
    auto issue_rope = [&](int b, int tile_start) {
      const uint8_t* mine = lane_row(tile_start);
#pragma unroll 1
      for (int j = 0; j < 4; ++j) {
        const int rj = 4 * j + lane / 8, c = lane % 8;
        copy(sm.tile(b) + kPBox * kBoxBytes + box_offset(16 * warp + rj, c), row_from(mine, rj),
             kDsMlaRopeOffset + c * 16);
      }
      ptx::cp_async_mbarrier_arrive_noinc(sm.rope_landed(b));
    };
    // Tile `t` (its codes issued): the rest of its buffer awaited, the rotary part issued, then
    // every box converted, each half announced on its "full" barrier. Thread ptid converts chunk
    // ptid % 4 of rows ptid / 4 and ptid / 4 + 32 of every box.
    auto convert_tile = [&](auto buffer, int t) {
      constexpr int b = decltype(buffer)::value;
      const uint32_t n = fills[b] - 1;  // this tile's fill of buffer b
      ptx::mbarrier_wait(sm.free_rest(b), (n & 1u) ^ 1u);
      if constexpr (kDs) issue_rope(b, w.start + t * kBlockN);
      const int q = ptid % 4, r0 = ptid / 4;
      ptx::mbarrier_wait(sm.codes_landed(b), n & 1u);
#pragma unroll
      for (int k = 0; k < (kDs ? 4 : 5); ++k) {  // R_k (codes in the lower half of A_k), staged rope
        const int box = k < 4 ? 4 * (1 - b) + k : kPBox;
        const uint32_t src = k < 4 ? sm.tile(b) + (4 * b + k) * kBoxBytes : sm.stage(b);
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int r = r0 + 32 * j;
          uint32_t c[4];
          ptx::ld_shared_v4(c, src + code_offset(r, q, false));
          convert_chunk(c, sm.tile(b) + box * kBoxBytes, r, q, scale_of(b, r, box));
        }
      }
      // In place: A_k (and fp8_e4m3's box 8) read whole before written.
      auto convert_in_place = [&](int box) {
        const uint32_t base = sm.tile(b) + box * kBoxBytes;
        uint32_t c[2][4];
#pragma unroll
        for (int j = 0; j < 2; ++j) ptx::ld_shared_v4(c[j], base + code_offset(r0 + 32 * j, q, true));
        ptx::named_barrier_sync(kBarProducer, 128);
#pragma unroll
        for (int j = 0; j < 2; ++j)
          convert_chunk(c[j], base, r0 + 32 * j, q, scale_of(b, r0 + 32 * j, box));
      };
#pragma unroll 1
      for (int k = 0; k < 4; ++k) convert_in_place(4 * b + k);
      wgmma::fence_proxy_async();  // the values are read by wgmma
      ptx::mbarrier_arrive(sm.full(b, box_in_load_order<false>(b, 0)));
      if constexpr (kDs) ptx::mbarrier_wait(sm.rope_landed(b), n & 1u);
      wgmma::fence_proxy_async();
      ptx::mbarrier_arrive(sm.full(b, box_in_load_order<false>(b, 4)));
    };
    auto convert = [&](int t) {
      if (t & 1)
        convert_tile(std::integral_constant<int, 1>(), t);
      else
        convert_tile(std::integral_constant<int, 0>(), t);
    };

    for (int t = 0; t < w.n_tiles; ++t) {
      const int b = t & 1;
      ptx::mbarrier_wait(sm.free_own(b), (fills[b] & 1u) ^ 1u);  // the first fill finds it free
      issue_codes(b, w.start + t * kBlockN);
      ++fills[b];
      if (t > 0) convert(t - 1);
    }
    if (w.n_tiles > 0) convert(w.n_tiles - 1);
  }
  ptx::cp_async_wait<0>();  // nothing of this thread's in flight when it exits
}

}  // namespace mla_sm90
}  // namespace fmla
