// Split-KV paged decode with tensor cores: wgmma on sm_90a, mma.sync m16n8k16 elsewhere (sm80).
//
// One block per (schedule part, KV head, group of 64 query rows). The block walks the sequences of
// its part (docs/schedule.md); for each it keeps the 64 query rows in shared memory and streams the
// part's keys in tiles of 64 through a cp.async pipeline, each tile read once for all rows:
//
//   S = Q K^T           warpgroup h: 64 rows x keys 32h..32h+31 (warp r of it: rows 16r..16r+15)
//   online softmax      the row max is exchanged between the two halves through shared memory
//   O += P V            P (bf16/fp16) through shared memory; warpgroup h: value columns of half h
//
// Both paths leave the same accumulator layout in each thread (the m16n8 C fragment, repeated per
// 8 columns), so the softmax and the epilogue are shared. Every tile in shared memory (Q, K/V, P) is
// stored as blocks of 64 rows x 128 bytes with the 128-byte swizzle (chunk ^ row % 8), the layout
// wgmma's descriptors read; ldmatrix reads it just as well.
//
// A sequence with one split writes out/lse directly; the others write float32 partials that the
// combine kernel merges. Scores are kept in base 2 (scaled by softmax_scale * log2 e).
// Template parameters cover MLA (d_qk 576, d_v 512, V = the first 512 columns of the K cache) and
// GQA (d_qk = d_v = 64/128/256 with a separate V cache).
#pragma once

#include <math.h>

#include "../common/decode_params.h"
#include "../common/online_softmax.cuh"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"
#include "../common/smem_opt_in.h"
#include "../common/wgmma.cuh"
#include "config.h"
#include "traits.h"

namespace fmla {

// Issues the cp.async copies of cache tile [tile_start, tile_start + 64) of KV head `g`. Keys at or
// past `end` are zero-filled without being read (their pages may not exist).
template <typename T>
__device__ __forceinline__ void load_kv_tile(const DecodeParams& p, const int32_t* block_table,
                                             int g, int tile_start, int end, uint32_t s_k,
                                             uint32_t s_v, int tid) {
  using Elem = typename T::Elem;
  const int lane_row = tid / 8, lane_chunk = tid % 8;  // 8 threads per row, 32 rows per pass
#pragma unroll
  for (int pass = 0; pass < kBlockN / 32; ++pass) {
    const int r = lane_row + 32 * pass;
    const int t = tile_start + r;
    const bool valid = t < end;
    const Elem* k_row = static_cast<const Elem*>(p.k);
    const Elem* v_row = static_cast<const Elem*>(p.v);
    if (valid) {
      const int64_t page = block_table[static_cast<int64_t>(t / p.page_size) * p.bt_stride_page];
      const int64_t in_page = t % p.page_size;
      k_row += page * p.k_stride_page + in_page * p.k_stride_row + g * p.k_stride_head;
      if (T::SEPARATE_V) v_row += page * p.v_stride_page + in_page * p.v_stride_row + g * p.v_stride_head;
    }
    const int bytes = valid ? 16 : 0;
#pragma unroll
    for (int i = 0; i < T::kQChunks / 8; ++i) {
      const int c = lane_chunk + 8 * i;
      ptx::cp_async_16(s_k + tile_offset(r, c), k_row + c * 8, bytes);
    }
    if (T::SEPARATE_V) {
#pragma unroll
      for (int i = 0; i < T::kVChunks / 8; ++i) {
        const int c = lane_chunk + 8 * i;
        ptx::cp_async_16(s_v + tile_offset(r, c), v_row + c * 8, bytes);
      }
    }
  }
}

// Issues the cp.async copies of the block's 64 query rows of sequence `bi` (rows past rows_per_kv
// are zero-filled).
template <typename T>
__device__ __forceinline__ void load_q(const DecodeParams& p, int bi, int g, int m_base,
                                       uint32_t s_q, int tid) {
  using Elem = typename T::Elem;
  const int lane_row = tid / 8, lane_chunk = tid % 8;
#pragma unroll
  for (int pass = 0; pass < kBlockM / 32; ++pass) {
    const int r = lane_row + 32 * pass;
    const int m = m_base + r;
    const bool valid = m < p.rows_per_kv;
    const Elem* q_row = static_cast<const Elem*>(p.q);
    if (valid) {
      const int j = m / p.heads_per_kv;
      const int h = g * p.heads_per_kv + m % p.heads_per_kv;
      q_row += bi * p.q_stride_b + j * p.q_stride_s + h * p.q_stride_h;
    }
    const int bytes = valid ? 16 : 0;
#pragma unroll
    for (int i = 0; i < T::kQChunks / 8; ++i) {
      const int c = lane_chunk + 8 * i;
      ptx::cp_async_16(s_q + tile_offset(r, c), q_row + c * 8, bytes);
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kDecodeThreads, 1) splitkv_decode_kernel(const DecodeParams p) {
  using Elem = typename T::Elem;
  constexpr int STAGES = T::STAGES;
  extern __shared__ __align__(1024) uint8_t smem[];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int row_group = warp % 4;  // rows 16 * row_group ..
  const int half = warp / 4;       // keys 32 * half .. of each tile; value columns of half
  const int part = blockIdx.x, g = blockIdx.y, m_base = blockIdx.z * kBlockM;

  const uint32_t s_base = ptx::smem_addr(smem);
  const uint32_t s_q = s_base + T::kOffQ;
  const uint32_t s_p = s_base + T::kOffP;
  float* s_max = reinterpret_cast<float*>(smem + T::kOffMax);  // [half][row]
  float* s_sum = reinterpret_cast<float*>(smem + T::kOffSum);  // [half][row]

  // The two rows of this thread in the mma accumulator layout (lane / 4 and lane / 4 + 8).
  int my_row[2];
  my_row[0] = row_group * 16 + lane / 4;
  my_row[1] = my_row[0] + 8;
  // A warp whose 16 rows are all padding skips the arithmetic (not the loads or barriers).
  const bool warp_active = m_base + row_group * 16 < p.rows_per_kv;

  // ldmatrix lane offsets inside one 8-chunk swizzle group (every ldmatrix row index here is
  // lane % 8 modulo 8): A operands (Q, P, and V's column pairs) take chunk 2i + lane / 16, the K
  // operand chunk 2i + (lane / 8) % 2.
  uint32_t xor_a[4], xor_b[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    xor_a[i] = ((2 * i + lane / 16) ^ (lane % 8)) * 16;
    xor_b[i] = ((2 * i + (lane / 8) % 2) ^ (lane % 8)) * 16;
  }

  const int32_t* meta = p.sched + part * kMetadataInts;
  for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    const int seqlen = w.seqlen, start = w.start, end = w.end, split = w.split;
    const bool single_split = w.single_split;
    const int n_tiles = w.n_tiles;
    const int32_t* block_table = p.block_table + bi * p.bt_stride_b;

    // Keys t < limit[x] are attended by row x (causal: query j sits at position L - s_q + j).
    int limit[2];
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      const int m = m_base + my_row[x];
      const int j = m < p.rows_per_kv ? m / p.heads_per_kv : 0;
      limit[x] = p.causal ? min(end, seqlen - p.s_q + j + 1) : end;
    }

    // Prologue: Q travels with tile 0; one commit group per stage even when empty, so that
    // wait_group counts stay uniform.
    load_q<T>(p, bi, g, m_base, s_q, tid);
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
      if (s < n_tiles)
        load_kv_tile<T>(p, block_table, g, start + s * kBlockN, end,
                        s_base + T::kOffK + s * T::kKTileBytes,
                        s_base + T::kOffV + s * T::kVTileBytes, tid);
      ptx::cp_async_commit();
    }
    float o[T::kOTiles * 4];  // o[4 * i + e]: the m16n8 C fragment of value columns 8i..
#pragma unroll
    for (int i = 0; i < T::kOTiles * 4; ++i) o[i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float row_sum[2] = {0.f, 0.f};  // this thread's share; summed over the quad and halves at the end

    for (int it = 0; it < n_tiles; ++it) {
      ptx::cp_async_wait<STAGES - 2>();
      if constexpr (T::kWgmma) wgmma::fence_proxy_async();  // the tile is read by wgmma
      __syncthreads();  // tile `it` visible to all; everyone is done with the stage refilled next
      {
        const int next = it + STAGES - 1;
        const int ns = next % STAGES;
        if (next < n_tiles)
          load_kv_tile<T>(p, block_table, g, start + next * kBlockN, end,
                          s_base + T::kOffK + ns * T::kKTileBytes,
                          s_base + T::kOffV + ns * T::kVTileBytes, tid);
        ptx::cp_async_commit();
      }
      const int stage = it % STAGES;
      const uint32_t s_k = s_base + T::kOffK + stage * T::kKTileBytes;
      const uint32_t s_v = T::SEPARATE_V ? s_base + T::kOffV + stage * T::kVTileBytes : s_k;
      const int tile_start = start + it * kBlockN;

      // ---- S = Q K^T for 16 rows x 32 keys (per warp), masked and scaled to base 2 ----
      float s[16];  // s[4 * nt + e]: the m16n8 C fragment of 8-key block nt
      if constexpr (T::kWgmma) {
        // Warpgroup `half`: all 64 rows x keys 32 half .. 32 half + 31, one k16 step at a time.
        wgmma::fence();
#pragma unroll
        for (int k = 0; k < T::D_QK / 16; ++k) {
          const uint32_t kb = (k / 4) * kTileBlockBytes + (k % 4) * 32;
          wgmma::Mma<Elem, 32, 0>::run(s, wgmma::desc_sw128(s_q + kb, 16, 1024),
                                       wgmma::desc_sw128(s_k + half * 32 * 128 + kb, 16, 1024),
                                       k > 0);
        }
        wgmma::commit();
        wgmma::wait<0>();
      } else if (warp_active) {
#pragma unroll
        for (int i = 0; i < 16; ++i) s[i] = 0.f;
        // Within a 64-column block the lane's ldmatrix offsets are the 4 constants xor_a / xor_b.
        const uint32_t q_base = s_q + (row_group * 16 + lane % 16) * 128;
        const uint32_t k_base = s_k + (half * 32 + lane % 8 + 8 * (lane / 16)) * 128;
#pragma unroll 1
        for (int block = 0; block < T::D_QK / 64; ++block) {
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            uint32_t a[4];
            ptx::ldmatrix_x4(a, q_base + block * kTileBlockBytes + xor_a[i]);
#pragma unroll
            for (int np = 0; np < 2; ++np) {
              uint32_t b[4];
              ptx::ldmatrix_x4(b, k_base + np * 16 * 128 + block * kTileBlockBytes + xor_b[i]);
              ptx::mma_m16n8k16<Elem>(*reinterpret_cast<float(*)[4]>(&s[8 * np]), a, b[0], b[1]);
              ptx::mma_m16n8k16<Elem>(*reinterpret_cast<float(*)[4]>(&s[8 * np + 4]), a, b[2], b[3]);
            }
          }
        }
      }
      if (warp_active) {
        float local_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int x = e / 2;
            const int key = tile_start + half * 32 + nt * 8 + 2 * (lane % 4) + e % 2;
            const float v = key < limit[x] ? s[4 * nt + e] * p.scale_log2 : -INFINITY;
            s[4 * nt + e] = v;
            local_max[x] = fmaxf(local_max[x], v);
          }
        }
#pragma unroll
        for (int x = 0; x < 2; ++x) {
          local_max[x] = fmaxf(local_max[x], __shfl_xor_sync(0xffffffffu, local_max[x], 1));
          local_max[x] = fmaxf(local_max[x], __shfl_xor_sync(0xffffffffu, local_max[x], 2));
          if (lane % 4 == 0) s_max[half * kBlockM + my_row[x]] = local_max[x];
        }
      }
      __syncthreads();  // both halves' maxima are in s_max

      // ---- online softmax; P to shared memory ----
      if (warp_active) {
        float tile_max[2], base[2];
#pragma unroll
        for (int x = 0; x < 2; ++x)
          tile_max[x] = fmaxf(s_max[my_row[x]], s_max[kBlockM + my_row[x]]);
        online_softmax_step<T::kOTiles>(tile_max, row_max, row_sum, base, o);
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
#pragma unroll
          for (int x = 0; x < 2; ++x) {
            const float p0 = ptx::ex2(s[4 * nt + 2 * x] - base[x]);
            const float p1 = ptx::ex2(s[4 * nt + 2 * x + 1] - base[x]);
            row_sum[x] += p0 + p1;
            const int key = half * 32 + nt * 8 + 2 * (lane % 4);
            const uint32_t off = T::kOffP + tile_offset(my_row[x], key / 8) + (key % 8) * 2;
            *reinterpret_cast<uint32_t*>(smem + off) = pack2<Elem>(p0, p1);
          }
        }
      } else if constexpr (T::kWgmma) {
        // Padding rows still go through the warpgroup MMA: give them P = 0 (their S is 0 anyway).
#pragma unroll
        for (int nt = 0; nt < 4; ++nt)
#pragma unroll
          for (int x = 0; x < 2; ++x) {
            const int key = half * 32 + nt * 8 + 2 * (lane % 4);
            *reinterpret_cast<uint32_t*>(smem + T::kOffP + tile_offset(my_row[x], key / 8) +
                                         (key % 8) * 2) = 0u;
          }
      }
      if constexpr (T::kWgmma) wgmma::fence_proxy_async();  // P is read by wgmma next
      __syncthreads();  // P complete

      // ---- O += P V for 16 rows x D_V / 2 columns (per warp) ----
      if constexpr (T::kWgmma) {
        // Warpgroup `half`: 64 rows x value columns half * D_V / 2 .., V read N-major.
        wgmma::fence();
#pragma unroll
        for (int kk = 0; kk < kBlockN / 16; ++kk) {
          wgmma::Mma<Elem, T::kDvHalf, 1>::run(
              o, wgmma::desc_sw128(s_p + kk * 32, 16, 1024),
              wgmma::desc_sw128(s_v + (half * T::kDvHalf / 64) * kTileBlockBytes + kk * 16 * 128,
                                kTileBlockBytes, 1024),
              1);
        }
        wgmma::commit();
        wgmma::wait<0>();  // the stage and P are overwritten after the next barrier
      } else if (warp_active) {
        const uint32_t p_base = s_p + (row_group * 16 + lane % 16) * 128;
        const uint32_t v_base = s_v + (lane % 8 + 8 * ((lane / 8) % 2)) * 128;
        const int chunk_base = half * T::kDvHalf / 8;  // first value chunk of this warp's half
#pragma unroll 1
        for (int kk = 0; kk < kBlockN / 16; ++kk) {
          uint32_t a[4];
          ptx::ldmatrix_x4(a, p_base + ((2 * kk + lane / 16) ^ (lane % 8)) * 16);
          const uint32_t v_rows = v_base + kk * 16 * 128;
#pragma unroll
          for (int np = 0; np < T::kOTiles / 2; ++np) {
            uint32_t b[4];
            uint32_t offset;
            if constexpr (T::kDvHalf % 64 == 0) {  // chunk_base starts a 64-column block
              offset = (chunk_base + np * 2) / 8 * kTileBlockBytes + xor_a[np % 4];
            } else {
              offset = tile_offset(lane % 8, chunk_base + np * 2 + lane / 16) - (lane % 8) * 128;
            }
            ptx::ldmatrix_x4_trans(b, v_rows + offset);
            ptx::mma_m16n8k16<Elem>(*reinterpret_cast<float(*)[4]>(&o[8 * np]), a, b[0], b[1]);
            ptx::mma_m16n8k16<Elem>(*reinterpret_cast<float(*)[4]>(&o[8 * np + 4]), a, b[2], b[3]);
          }
        }
      }
    }
    ptx::cp_async_wait<0>();  // drain (empty groups, or Q of an empty sequence)

    // ---- epilogue: finish the row sums across the quad and the two halves ----
    if (warp_active) {
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 1);
        row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 2);
        if (lane % 4 == 0) s_sum[half * kBlockM + my_row[x]] = row_sum[x];
      }
    }
    __syncthreads();
    if (warp_active) {
      const int total_rows = p.s_q * p.h_q;
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        const int m = m_base + my_row[x];
        if (m >= p.rows_per_kv) continue;
        const float sum = s_sum[my_row[x]] + s_sum[kBlockM + my_row[x]];
        const bool empty = !(sum > 0.f);  // no key attended in this split
        const float inv = empty ? 0.f : 1.f / sum;
        const float lse2 = empty ? 0.f : row_max[x] + log2f(sum);
        const int j = m / p.heads_per_kv;
        const int h = g * p.heads_per_kv + m % p.heads_per_kv;
        const int col0 = half * T::kDvHalf + 2 * (lane % 4);
        if (single_split) {
          Elem* out = static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s +
                      h * p.o_stride_h;
#pragma unroll
          for (int i = 0; i < T::kOTiles; ++i)
            *reinterpret_cast<uint32_t*>(out + col0 + i * 8) =
                pack2<Elem>(o[4 * i + 2 * x] * inv, o[4 * i + 2 * x + 1] * inv);
          if (half == 0 && lane % 4 == 0)
            p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] =
                empty ? INFINITY : lse2 * kLn2;
        } else {
          const int64_t row = static_cast<int64_t>(split) * total_rows + g * p.rows_per_kv + m;
          float* acc = p.o_accum + row * T::D_V;
#pragma unroll
          for (int i = 0; i < T::kOTiles; ++i)
            *reinterpret_cast<float2*>(acc + col0 + i * 8) =
                make_float2(o[4 * i + 2 * x] * inv, o[4 * i + 2 * x + 1] * inv);
          if (half == 0 && lane % 4 == 0)
            p.lse_accum[row] = empty ? -INFINITY : lse2 * kLn2;
        }
      }
    }
    // s_sum and the stage buffers are reused by the next sequence only after later barriers.
  }
}

template <typename Elem, int D_QK, int D_V, bool SEPARATE_V>
cudaError_t launch_splitkv_decode(const DecodeParams& p, cudaStream_t stream) {
  using T = SplitKvTraits<Elem, D_QK, D_V, SEPARATE_V>;
  const cudaError_t err = opt_in_shared_memory<splitkv_decode_kernel<T>>(T::kSmemBytes);
  if (err != cudaSuccess) return err;
  const dim3 grid(p.num_sm_parts, p.h_kv, (p.rows_per_kv + kBlockM - 1) / kBlockM);
  splitkv_decode_kernel<T><<<grid, kDecodeThreads, T::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fmla
