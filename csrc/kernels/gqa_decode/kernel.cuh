// GQA / MHA / MQA decode over a paged cache, 16 query rows of a KV head a block (sm_80+).
//
// Decode with few query rows per KV head is a stream of K and V through the SMs: every byte is read
// once and meets 2 * rows flops. The kernel is built to keep that stream at HBM speed:
//
// - One block per (schedule part, KV head). The block walks the pieces of sequences of its part
//   (docs/schedule.md) as one stream of cache tiles: the cp.async pipeline runs across sequence
//   boundaries, so a short sequence never drains it. Block-table entries are fetched a tile before
//   their rows are, so the copies never wait on them.
// - Each warp owns a slice of the keys of every tile (16 to 64) and keeps its own online softmax
//   and accumulator in registers (mma.sync m16n8k16; P goes from the score fragment straight into
//   the A operand). For d 256 two warps share a slice, each with half of the value columns. The
//   warps of a slice copy its rows of every tile themselves, so a tile needs no barrier of the
//   block: each slice is its own pipeline, and the block's warps meet only at a piece's start (its
//   query rows) and end, where the slices' partial results are merged through shared memory.
// - Only the loader reads the schedule and the sequence lengths (the next sequence's a sequence
//   ahead); each slice's loader passes each piece's description to its warps through shared
//   memory with its first tile.
//
// A sequence with one split writes out / lse directly; the others write float32 partials, which a
// block merges after its last piece where it completed the sequence's count (merge.cuh; or the
// combine kernel, where the launcher leaves p.arrivals null). Scores are kept in base 2 (scaled by
// softmax_scale * log2 e).
//
// With float8_e4m3fn caches (GqaE4m3Traits) the tiles are loaded as codes, half the bytes, and the
// warps convert their fragments in registers (see the e4m3 branches): both products run on the
// fp16 mma, in which the codes are exact, with the query rows made fp16 once a piece
// (convert_query); the scales are folded out of the products, K's (and q's) into the scores' scale
// and V's into the output's (bench/NOTES.md, v18).
//
// A KV head with more than 16 query rows has a block for each 16 (RowGroup).
//
// pieces.cuh holds the units of work, loader.cuh the copies, merge.cuh where results go, query.cuh
// the e4m3 caches' query rows.
#pragma once

#include <cuda_fp8.h>
#include <math.h>

#include <type_traits>

#include "../common/decode_params.h"
#include "../common/e4m3.cuh"
#include "../common/online_softmax.cuh"
#include "../common/pdl.cuh"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"
#include "../common/smem_opt_in.h"
#include "launch.h"
#include "loader.cuh"
#include "merge.cuh"
#include "pieces.cuh"
#include "query.cuh"
#include "traits.h"

namespace fmla {
namespace gqa {

template <typename T>
__global__ void __launch_bounds__(T::kThreads, 1) gqa_decode_kernel(const DecodeParams p) {
  using Elem = typename T::Elem;
  // P V runs in fp16 over e4m3 values (exact in fp16, one conversion each; P in [0, 1] keeps more
  // bits in fp16 than in bf16), in q's type otherwise.
  using PvElem = std::conditional_t<T::kFp8, __half, Elem>;
  constexpr int STAGES = T::STAGES;
  static_assert(sizeof(PieceDesc) == T::kPieceBytes, "a piece description fills its ring slot");
  extern __shared__ __align__(1024) uint8_t smem[];
  allow_next_kernel_launch();  // the combine kernel waits for this grid before it reads anything

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int slice = warp % T::kKeySlices, half = warp / T::kKeySlices;
  // The load group (traits.h): the block, or this warp's slice.
  const int group = T::kSliceLoads ? slice : 0;
  const int gtid = T::kSliceLoads ? half * 32 + lane : tid;  // of the group's kGroupThreads
  const int g = blockIdx.y;
  const int32_t* meta = p.sched + blockIdx.x * kMetadataInts;
  const uint32_t s_base = ptx::smem_addr(smem);
  // The group's ring of piece descriptions (its loader's, a tile ahead of its warps).
  PieceDesc* ring = reinterpret_cast<PieceDesc*>(smem + T::kOffPieces) + group * T::kPieceSlots;
  // A group's warps meet at every tile (their copies of its rows are then visible to each other,
  // and all are done with the stage refilled next).
  auto group_sync = [&]() {
    if constexpr (!T::kSliceLoads)
      __syncthreads();
    else if constexpr (T::kColSplit == 1)
      __syncwarp();
    else
      ptx::named_barrier_sync(1 + slice, T::kGroupThreads);
  };
  float* s_max = reinterpret_cast<float*>(smem + T::kOffMax);  // [slice][row]
  float* s_sum = reinterpret_cast<float*>(smem + T::kOffSum);  // [slice][row]
  float* s_qscale = reinterpret_cast<float*>(smem + T::kOffQScale);  // [row]
  static_assert(sizeof(SplitPieces) == T::kSplitsBytes, "the split pieces' notes fill their bytes");
  SplitPieces* splits = reinterpret_cast<SplitPieces*>(smem + T::kOffSplits);
  if (tid == 0) splits->count = 0;  // (only thread 0 writes it before the loop ends)
  const int page_shift = (p.page_size & (p.page_size - 1)) == 0 ? __ffs(p.page_size) - 1 : -1;
  // e4m3 caches: the scales folded out of the products (docs/fp8-kv-cache.md), K's into the scores'
  // scale, V's into the output's; e4m3 queries' too.
  const float score_scale = T::kE4m3Queries ? p.scale_log2 * *p.descale_k * *p.descale_q
                            : T::kFp8       ? p.scale_log2 * *p.descale_k
                                            : p.scale_log2;
  const float value_scale = T::kFp8 ? *p.descale_v : 1.f;

  Loader<T> load;
  load.ordinal = 0;
  const int first_bi = meta[kMetaBeginBatch];
  if (first_bi <= meta[kMetaEndBatch]) {
    seek_piece<T>(load, p, meta, first_bi, fetch_info(p, first_bi), ring, g, group, gtid, splits);
  } else {  // a part without work
    load.piece.n_tiles = 0;
    if (gtid == 0) ring[0] = load.piece;
  }
  look_up_pages<T>(load, p, page_shift, group, gtid);
  const CacheRows rows = cache_rows_of<T>(p, g, gtid);
  const RowGroup rg(p);
  int issued = 0;  // tiles issued: the stage of tile n is n % STAGES
  // A step's copies go out in two parts, passes [0, kCopiesBefore) before its products and the
  // rest after, both in the step's one commit group. issue_next sends the rest, then does the
  // loader's bookkeeping (the next tile or piece, the block-table loads) and commits, after the
  // products.
  auto issue_passes = [&](auto first_pass, auto end_pass) {
    if (!load.done()) {
      const int stage = issued % STAGES;
      issue_tile<T, decltype(first_pass)::value, decltype(end_pass)::value>(
          load, p, rows, page_shift, g, s_base + stage * T::kStageBytes,
          s_base + stage * T::kStageBytes + T::kTileBytes,
          s_base + T::kOffQ + (load.ordinal % STAGES) * T::kQBytes, group, gtid);
    }
  };
  using NoPass = std::integral_constant<int, 0>;
  using Before = std::integral_constant<int, T::kCopiesBefore>;
  using AllPasses = std::integral_constant<int, T::kPasses>;
  auto issue_next = [&]() {
    issue_passes(Before{}, AllPasses{});
    if (!load.done()) {
      ++issued;
      if (++load.tile == load.piece.n_tiles) {
        ++load.ordinal;
        seek_piece<T>(load, p, meta, load.piece.bi + 1, load.next, ring, g, group, gtid, splits);
      }
      look_up_pages<T>(load, p, page_shift, group, gtid);
    }
    ptx::cp_async_commit();  // one group a step, even empty, so that wait_group counts stay uniform
  };
#pragma unroll 1
  for (int s = 0; s < STAGES - 1; ++s) {
    issue_passes(NoPass{}, Before{});
    issue_next();
  }

  // The two rows of this thread in the mma fragments (lane / 4 and lane / 4 + 8).
  const int row0 = lane / 4;
  float o[T::kOTiles * 4];  // o[4 * i + e]: the m16n8 C fragment of this warp's value columns 8i..
  float row_max[2], row_sum[2];
  int limit[2];        // keys t < limit[x] are attended by row x
  float row_scale[2];  // the scores' scale for row x (score_scale, times its 2^-k where q was scaled)

  // ldmatrix row addresses: Q (A operand) rows lane % 16 at chunk 2k + lane / 16; K (B operand, keys
  // as n) rows lane % 8 + 8 (lane / 16) at chunk 2k + (lane / 8) % 2; V (B operand through .trans)
  // rows lane % 8 + 8 ((lane / 8) % 2) at chunk 2n + lane / 16.
  const int first_key = slice * T::kSliceKeys;
  const int q_row = lane % 16, q_chunk = lane / 16;
  const int k_row = first_key + lane % 8 + 8 * (lane / 16), k_chunk = (lane / 8) % 2;
  const int v_row = first_key + lane % 8 + 8 * ((lane / 8) % 2), v_chunk = lane / 16;
  const int v_chunk0 = half * T::kCols / 8;  // first value chunk of this warp's columns
  const int v_code_chunk0 = half * T::kCols / 16;  // the same for e4m3 codes

  PieceDesc piece;
  int tile = 0, ordinal = 0;
  for (int n = 0;; ++n) {
    ptx::cp_async_wait<STAGES - 2>();
    group_sync();  // the group's rows of tile n visible to its warps
    if (tile == 0) {
      piece = ring[ordinal % T::kPieceSlots];  // came with the piece's first tile
      if (piece.n_tiles == 0) break;           // (every group at once)
      // Slice loads: every warp is past the last piece (so the Q slot of the one issued below is
      // free), and this piece's Q, copied by the first slice, is visible to all.
      if constexpr (T::kSliceLoads) __syncthreads();
    }
    issue_passes(NoPass{}, Before{});

    const uint32_t s_q = s_base + T::kOffQ + (ordinal % STAGES) * T::kQBytes;
    if (tile == 0) {  // a new piece: fresh state
      if constexpr (kConvertsQuery<T>) {
        convert_query<T>(s_q, s_qscale, warp, lane);
        __syncthreads();
      }
#pragma unroll
      for (int i = 0; i < T::kOTiles * 4; ++i) o[i] = 0.f;
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        row_max[x] = -INFINITY, row_sum[x] = 0.f;
        const int m = row0 + 8 * x;
        const int j = m < rg.n ? rg.token(p, m) : 0;
        limit[x] = p.causal ? min(piece.end, piece.seqlen - p.s_q + j + 1) : piece.end;
        row_scale[x] = kScalesQueryRows<T> ? score_scale * s_qscale[m] : score_scale;
      }
    }
    const int stage = n % STAGES;
    const uint32_t s_k = s_base + stage * T::kStageBytes;
    const uint32_t s_v = s_k + T::kTileBytes;

    // ---- S = Q K^T: 16 rows x this warp's keys ----
    float s[T::kKeyGroups * 8];  // [group of 16 keys][key block of 8][m16n8 C fragment]
#pragma unroll
    for (int i = 0; i < T::kKeyGroups * 8; ++i) s[i] = 0.f;
    if constexpr (T::kFp8) {
      // For each k16 step one ldmatrix gives the B fragments of all the warp's blocks of 8 keys
      // (matrix nb: keys 8 nb.., lane (g, t) codes 4t..4t + 3 of key g), each pair of codes then
      // converted for the fp16 mma (Q made fp16 at the piece's start).
#pragma unroll 4
      for (int c = 0; c < T::D / 16; ++c) {
        static_assert(T::kKeyGroups % 2 == 0, "e4m3 shapes give a warp 32 keys or more");
        uint32_t codes[2 * T::kKeyGroups];  // [block of 8 keys]
#pragma unroll
        for (int q = 0; q < T::kKeyGroups / 2; ++q)
          ptx::ldmatrix_x4(*reinterpret_cast<uint32_t(*)[4]>(&codes[4 * q]),
                           s_k + staged<T>(first_key + 32 * q + lane, c));
        uint32_t a[4];
        load_q_e4m3_order(a, s_q, c, lane);
#pragma unroll
        for (int nb = 0; nb < 2 * T::kKeyGroups; ++nb)
          ptx::mma_m16n8k16<__half>(*reinterpret_cast<float(*)[4]>(&s[4 * nb]), a,
                                    e4m3x2_to<__half>(static_cast<uint16_t>(codes[nb] & 0xffffu)),
                                    e4m3x2_to<__half>(static_cast<uint16_t>(codes[nb] >> 16)));
      }
    } else {
#pragma unroll
      for (int k = 0; k < T::D / 16; ++k) {
        uint32_t a[4];
        ptx::ldmatrix_x4(a, s_q + swizzled<kMaxRows>(q_row, 2 * k + q_chunk));
#pragma unroll
        for (int kg = 0; kg < T::kKeyGroups; ++kg) {
          uint32_t b[4];
          ptx::ldmatrix_x4(b, s_k + swizzled<T::kKeys>(k_row + 16 * kg, 2 * k + k_chunk));
          ptx::mma_m16n8k16<Elem>(*reinterpret_cast<float(*)[4]>(&s[8 * kg]), a, b[0], b[1]);
          ptx::mma_m16n8k16<Elem>(*reinterpret_cast<float(*)[4]>(&s[8 * kg + 4]), a, b[2], b[3]);
        }
      }
    }

    // ---- online softmax over the warp's keys; P into the A fragments of P V ----
    const int key0 = piece.start + tile * T::kKeys + first_key + 2 * (lane % 4);
    float tile_max[2] = {-INFINITY, -INFINITY};
    // Every tile but a piece's last (and the causal rows' last ones) is attended by all the rows of
    // the warp: no mask to apply.
    const int last_key = key0 + (2 * T::kKeyGroups - 1) * 8 + 1;
    if (__all_sync(0xffffffffu, last_key < min(limit[0], limit[1]))) {
#pragma unroll
      for (int e = 0; e < T::kKeyGroups * 8; ++e) {
        const int x = (e / 2) % 2;
        s[e] *= row_scale[x];
        tile_max[x] = fmaxf(tile_max[x], s[e]);
      }
    } else {
#pragma unroll
      for (int e = 0; e < T::kKeyGroups * 8; ++e) {
        const int x = (e / 2) % 2;
        const int key = key0 + (e / 4) * 8 + e % 2;
        s[e] = key < limit[x] ? s[e] * row_scale[x] : -INFINITY;
        tile_max[x] = fmaxf(tile_max[x], s[e]);
      }
    }
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      tile_max[x] = fmaxf(tile_max[x], __shfl_xor_sync(0xffffffffu, tile_max[x], 1));
      tile_max[x] = fmaxf(tile_max[x], __shfl_xor_sync(0xffffffffu, tile_max[x], 2));
    }
    float base[2];
    online_softmax_step<T::kOTiles>(tile_max, row_max, row_sum, base, o);
    // A fragment of group kg: (row0, keys 0-7), (row0 + 8, keys 0-7), then keys 8-15.
    uint32_t pa[T::kKeyGroups][4];
#pragma unroll
    for (int e = 0; e < T::kKeyGroups * 8; e += 2) {
      const int x = (e / 2) % 2;
      const float p0 = ptx::ex2(s[e] - base[x]), p1 = ptx::ex2(s[e + 1] - base[x]);
      row_sum[x] += p0 + p1;
      pa[e / 8][(e % 8) / 2] = pack2<PvElem>(p0, p1);
    }

    // ---- O += P V: 16 rows x this warp's value columns over its keys ----
    if constexpr (T::kFp8) {
      // e4m3 V through ldmatrix.trans on the 16-bit view: lane (g, t) holds keys 2t, 2t + 1 of
      // codes 2g, 2g + 1 of an 8-key x 16-code block. Split by code, they are the B fragments of
      // two 8-column tiles: the even columns of 16 and the odd ones (the output's columns are put
      // back in order before the merge). Blocks: keys 0-7 / 8-15 of the k16 step, codes 0-15 /
      // 16-31 of 32 columns.
#pragma unroll
      for (int kg = 0; kg < T::kKeyGroups; ++kg) {
#pragma unroll
        for (int c = 0; c < T::kCols / 32; ++c) {
          uint32_t b[4];
          ptx::ldmatrix_x4_trans(b, s_v + staged<T>(first_key + 16 * kg + 8 * ((lane / 8) % 2) + lane % 8,
                                                    v_code_chunk0 + 2 * c + lane / 16));
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int tile = 4 * c + 2 * h;  // the even-column tile; tile + 1: the odd one
            ptx::mma_m16n8k16<PvElem>(*reinterpret_cast<float(*)[4]>(&o[4 * tile]), pa[kg],
                                      e4m3x2_to<PvElem>(static_cast<uint16_t>(__byte_perm(b[2 * h], 0, 0x20))),
                                      e4m3x2_to<PvElem>(static_cast<uint16_t>(__byte_perm(b[2 * h + 1], 0, 0x20))));
            ptx::mma_m16n8k16<PvElem>(*reinterpret_cast<float(*)[4]>(&o[4 * tile + 4]), pa[kg],
                                      e4m3x2_to<PvElem>(static_cast<uint16_t>(__byte_perm(b[2 * h], 0, 0x31))),
                                      e4m3x2_to<PvElem>(static_cast<uint16_t>(__byte_perm(b[2 * h + 1], 0, 0x31))));
          }
        }
      }
    } else {
#pragma unroll
      for (int kg = 0; kg < T::kKeyGroups; ++kg) {
#pragma unroll
        for (int c = 0; c < T::kCols / 16; ++c) {
          uint32_t b[4];
          ptx::ldmatrix_x4_trans(b, s_v + swizzled<T::kKeys>(v_row + 16 * kg, v_chunk0 + 2 * c + v_chunk));
          ptx::mma_m16n8k16<Elem>(*reinterpret_cast<float(*)[4]>(&o[8 * c]), pa[kg], b[0], b[1]);
          ptx::mma_m16n8k16<Elem>(*reinterpret_cast<float(*)[4]>(&o[8 * c + 4]), pa[kg], b[2], b[3]);
        }
      }
    }

    // The rest of the next tile's copies and the loader's bookkeeping go out once this tile's
    // products are issued (the stage they refill was last read a step ago).
    issue_next();
    if (++tile < piece.n_tiles) continue;
    tile = 0, ++ordinal;

    // ---- the piece is done: merge the slices' partial results and write them ----
    if constexpr (T::kFp8) {
      // The even / odd column tiles of each 16 columns (the e4m3 V fragments) as the columns
      // 4t, 4t + 1 (tile 2i) and 4t + 2, 4t + 3 (tile 2i + 1).
#pragma unroll
      for (int i = 0; i < T::kOTiles / 2; ++i) {
#pragma unroll
        for (int x = 0; x < 2; ++x) {
          const float odd = o[4 * (2 * i + 1) + 2 * x];
          o[4 * (2 * i + 1) + 2 * x] = o[4 * (2 * i) + 2 * x + 1];
          o[4 * (2 * i) + 2 * x + 1] = odd;
        }
      }
    }
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 1);
      row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 2);
      if (half == 0 && lane % 4 == 0) {
        s_max[slice * kMaxRows + row0 + 8 * x] = row_max[x];
        s_sum[slice * kMaxRows + row0 + 8 * x] = row_sum[x];
      }
    }
    __syncthreads();
    // Each row's maximum and sum over the slices; this slice's share of the row's result.
    float scale[2], total_max[2], total_sum[2];
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      const int r = row0 + 8 * x;
      float mx = -INFINITY;
#pragma unroll
      for (int v = 0; v < T::kKeySlices; ++v) mx = fmaxf(mx, s_max[v * kMaxRows + r]);
      const float b = mx == -INFINITY ? 0.f : mx;
      float sum = 0.f;
#pragma unroll
      for (int v = 0; v < T::kKeySlices; ++v)
        sum += s_sum[v * kMaxRows + r] * ptx::ex2(s_max[v * kMaxRows + r] - b);
      total_max[x] = mx, total_sum[x] = sum;
      scale[x] = sum > 0.f ? ptx::ex2(row_max[x] - b) / sum * value_scale : 0.f;
    }
    float* s_red = reinterpret_cast<float*>(smem + stage * T::kStageBytes);  // the stage just used
#pragma unroll
    for (int pass = 0; pass < T::D / T::kRedCols; ++pass) {
      // The warps holding columns [pass * kRedCols, +kRedCols) put their scaled fragments there.
      if ((pass * T::kRedCols) / T::kCols == half) {
#pragma unroll
        for (int i = 0; i < T::kRedCols / 8; ++i) {
          const int ti = (pass * T::kRedCols) % T::kCols / 8 + i;
#pragma unroll
          for (int x = 0; x < 2; ++x) {
            const int r = slice * kMaxRows + row0 + 8 * x;
            const int col = T::kFp8 ? (i / 2) * 16 + 4 * (lane % 4) + 2 * (i % 2) : i * 8 + 2 * (lane % 4);
            *reinterpret_cast<float2*>(s_red + merge_index<T::kRedCols>(r, col)) =
                make_float2(o[4 * ti + 2 * x] * scale[x], o[4 * ti + 2 * x + 1] * scale[x]);
          }
        }
      }
      __syncthreads();
      // Sum over the slices, 4 columns a thread, and write.
      for (int i = tid; i < rg.n * (T::kRedCols / 4); i += T::kThreads) {
        const int m = i / (T::kRedCols / 4), c4 = (i % (T::kRedCols / 4)) * 4;
        float4 acc = *reinterpret_cast<const float4*>(s_red + merge_index<T::kRedCols>(m, c4));
#pragma unroll
        for (int v = 1; v < T::kKeySlices; ++v) {
          const float4 o4 =
              *reinterpret_cast<const float4*>(s_red + merge_index<T::kRedCols>(v * kMaxRows + m, c4));
          acc.x += o4.x, acc.y += o4.y, acc.z += o4.z, acc.w += o4.w;
        }
        const int col = pass * T::kRedCols + c4;
        const int j = rg.token(p, m), h = rg.head(p, g, m);
        if (piece.n_splits == 1) {
          Elem* out = static_cast<Elem*>(p.out) + piece.bi * p.o_stride_b + j * p.o_stride_s +
                      h * p.o_stride_h + col;
          *reinterpret_cast<uint2*>(out) = make_uint2(pack2<Elem>(acc.x, acc.y), pack2<Elem>(acc.z, acc.w));
        } else {
          const int64_t row = rg.accum_row(p, piece.split, g, m);
          *reinterpret_cast<float4*>(p.o_accum + row * T::D + col) = acc;
        }
      }
      __syncthreads();  // s_red is rewritten by the next pass, and refilled by the next step
    }
    // The log-sum-exp of rows row0 and row0 + 8, by the first lane of each quad of warp 0.
    if (warp == 0 && lane % 4 == 0) {
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        const int m = row0 + 8 * x;
        if (m >= rg.n) continue;
        const bool empty = !(total_sum[x] > 0.f);
        const float lse2 = total_max[x] + log2f(total_sum[x]);
        const int j = rg.token(p, m), h = rg.head(p, g, m);
        if (piece.n_splits == 1) {
          p.lse[piece.bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] =
              empty ? INFINITY : lse2 * kLn2;
        } else {
          const int64_t row = rg.accum_row(p, piece.split, g, m);
          p.lse_accum[row] = empty ? -INFINITY : lse2 * kLn2;
        }
      }
    }
  }
  ptx::cp_async_wait<0>();  // nothing is left in flight at exit
  // The pieces of split sequences the loader noted, counted done; the sequences they complete
  // merged (merge.cuh).
  if constexpr (T::kMergesSplits) finish_split_pieces<T>(p, splits, g, tid);
}

}  // namespace gqa

// Launches the kernel of traits T (the default ones, or others a benchmark compares).
template <typename T>
cudaError_t launch_gqa_decode_with(const DecodeParams& p, cudaStream_t stream) {
  const cudaError_t err = opt_in_shared_memory<gqa::gqa_decode_kernel<T>>(T::kSmemBytes);
  if (err != cudaSuccess) return err;
  const unsigned row_groups = (p.rows_per_kv + gqa::kMaxRows - 1) / gqa::kMaxRows;
  gqa::gqa_decode_kernel<T>
      <<<dim3(p.num_sm_parts, p.h_kv, row_groups), T::kThreads, T::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

template <typename Elem, int D>
cudaError_t launch_gqa_decode(const DecodeParams& p, cudaStream_t stream) {
  return launch_gqa_decode_with<gqa::GqaTraits<Elem, D>>(p, stream);
}

template <typename Elem, int D>
cudaError_t launch_gqa_decode_e4m3(const DecodeParams& p, cudaStream_t stream) {
  return launch_gqa_decode_with<gqa::GqaE4m3Traits<Elem, D>>(p, stream);
}

template <int D>
cudaError_t launch_gqa_decode_e4m3_queries(const DecodeParams& p, cudaStream_t stream) {
  return launch_gqa_decode_with<gqa::GqaE4m3Traits<__nv_bfloat16, D, true>>(p, stream);
}

}  // namespace fmla
