// GQA decode for few query rows per KV head (s_q * h_q / h_kv <= 16), head dim 64 or 128.
//
// The generic split-KV kernel computes 64-row Q tiles; at 4 rows per KV head that is 3/4 padding,
// and its Q and P tiles take the shared memory a deeper K/V pipeline needs. Here one block of 4
// warps per (schedule part, KV head) keeps every query row of the head in one m16 mma tile:
//
//   - the part's key tiles (64 keys, K and V) stream through a 5-6 stage cp.async ring that runs
//     on across sequence boundaries, so the pipeline never drains between the sequences of a part;
//     the first tile of a sequence carries that sequence's query rows in its stage;
//   - warp w owns keys 16w..16w+15 of every tile and keeps its own online softmax (max, sum, O in
//     registers, P passed from the S accumulator to the P.V operand without shared memory), so a
//     tile costs one block barrier (the ring's);
//   - at the end of a sequence the 4 warps' partial states are merged through shared memory and
//     written as out/lse (one split) or as float32 partials for the combine kernel.
//
// Same schedule (docs/schedule.md), same partial-output layout and scores in base 2 as
// splitkv_decode.cuh, whose tile layout (64-row x 128-byte swizzled blocks) the K and V tiles
// share.
#pragma once

#include <math.h>

#include "../config.h"
#include "../mla_decode/splitkv_decode.cuh"
#include "../ptx.cuh"
#include "launch.h"

namespace fmla {

template <typename Elem_, int D_>
struct GqaTraits {
  using Elem = Elem_;
  static constexpr int D = D_;
  static_assert(D == 64 || D == 128, "head dims 64 and 128");
  // 4 warps compute and 4 load: with one warp per SM sub-partition doing both, the address math
  // and the dependent block-table reads of the loads added to the math instead of overlapping it.
  static constexpr int kWarps = 4;  // compute warps
  static constexpr int kLoadThreads = 4 * 32;
  static constexpr int kThreads = kWarps * 32 + kLoadThreads;
  static constexpr int kKeysPerWarp = kBlockN / kWarps;  // 16: one k16 step of P.V
  static_assert(kKeysPerWarp == 16, "each warp owns one 16-key slice of a tile");
  static constexpr int kMaxRows = kGqaMaxRows;            // one m16 tile of query rows
  static constexpr int kChunks = D / 8;                   // 16-byte chunks per row

  static constexpr int kTileBytes = kBlockN * D * 2;      // one K (or V) tile
  static constexpr int kQSlotBytes = kMaxRows * D * 2;    // query rows, row-major
  static constexpr int kStageBytes = 2 * kTileBytes + kQSlotBytes;
  static constexpr int kMergeStride = D + 4;              // floats per merged row (padding: banks)
  static constexpr int kMergeBytes = kWarps * kMaxRows * kMergeStride * 4;
  static constexpr int kStatBytes = 2 * kWarps * kMaxRows * 4;  // max and sum per warp and row
  static constexpr int kFitStages = (kMaxSmemPerBlock - kMergeBytes - kStatBytes) / kStageBytes;
  static constexpr int STAGES = kFitStages > 6 ? 6 : kFitStages;
  static_assert(STAGES >= 3, "at least two tiles in flight");

  static constexpr int kOffStages = 0;
  static constexpr int kOffMerge = STAGES * kStageBytes;
  static constexpr int kOffMax = kOffMerge + kMergeBytes;
  static constexpr int kOffSum = kOffMax + kWarps * kMaxRows * 4;
  static constexpr int kSmemBytes = kOffSum + kWarps * kMaxRows * 4;
  // Inside a stage: K tile, V tile, query rows.
  static constexpr int kStageK = 0;
  static constexpr int kStageV = kTileBytes;
  static constexpr int kStageQ = 2 * kTileBytes;
};

// The keys [start, end) of sequence `bi` that part (begin_batch, begin_token, end_batch, end_token)
// attends, and the sequence's cached length.
struct GqaSpan {
  int seqlen, start, end, n_tiles;
};

__device__ __forceinline__ GqaSpan gqa_span(const DecodeParams& p, int bi, int begin_batch,
                                            int begin_token, int end_batch, int end_token) {
  GqaSpan s;
  s.seqlen = max(0, p.cache_seqlens[bi * p.seqlens_stride]);
  s.start = bi == begin_batch ? begin_token : 0;
  s.end = min(s.seqlen, bi == end_batch ? end_token : s.seqlen);
  s.n_tiles = s.end > s.start ? (s.end - s.start + kBlockN - 1) / kBlockN : 0;
  return s;
}

// cp.async of K and V tile [tile_start, tile_start + 64) of KV head g; keys at or past `end` are
// zero-filled without being read. kChunks threads per 16-byte-chunked row: each row is one
// coalesced read of the K row and one of the V row. page_shift: log2(page_size), or -1. tid: the
// thread's index among the loading threads.
template <typename T>
__device__ __forceinline__ void gqa_load_tile(const DecodeParams& p, const int32_t* block_table,
                                              int g, int tile_start, int end, uint32_t s_stage,
                                              int page_shift, int tid) {
  using Elem = typename T::Elem;
  constexpr int kRowsPerPass = T::kLoadThreads / T::kChunks;
  const int lane_row = tid / T::kChunks, c = tid % T::kChunks;
#pragma unroll
  for (int pass = 0; pass < kBlockN / kRowsPerPass; ++pass) {
    const int r = lane_row + pass * kRowsPerPass;
    const int t = tile_start + r;
    const bool valid = t < end;
    const Elem* k_row = static_cast<const Elem*>(p.k);
    const Elem* v_row = static_cast<const Elem*>(p.v);
    if (valid) {
      // Power-of-two pages (the usual case) skip the integer division.
      const int page_index = page_shift >= 0 ? t >> page_shift : t / p.page_size;
      const int64_t page = block_table[static_cast<int64_t>(page_index) * p.bt_stride_page];
      const int64_t in_page = t - page_index * p.page_size;
      k_row += page * p.k_stride_page + in_page * p.k_stride_row + g * p.k_stride_head;
      v_row += page * p.v_stride_page + in_page * p.v_stride_row + g * p.v_stride_head;
    }
    const int bytes = valid ? 16 : 0;
    const uint32_t off = tile_offset(r, c);
    ptx::cp_async_16(s_stage + T::kStageK + off, k_row + c * 8, bytes);
    ptx::cp_async_16(s_stage + T::kStageV + off, v_row + c * 8, bytes);
  }
}

// cp.async of the rows_per_kv query rows of sequence `bi`, KV head g (row-major in the Q slot).
template <typename T>
__device__ __forceinline__ void gqa_load_q(const DecodeParams& p, int bi, int g, uint32_t s_q,
                                           int tid) {
  using Elem = typename T::Elem;
  for (int idx = tid; idx < p.rows_per_kv * T::kChunks; idx += T::kLoadThreads) {
    const int m = idx / T::kChunks, c = idx % T::kChunks;
    const int j = m / p.heads_per_kv;
    const int h = g * p.heads_per_kv + m % p.heads_per_kv;
    const Elem* q_row =
        static_cast<const Elem*>(p.q) + bi * p.q_stride_b + j * p.q_stride_s + h * p.q_stride_h;
    ptx::cp_async_16(s_q + m * T::D * 2 + c * 16, q_row + c * 8, 16);
  }
}

template <typename T>
__global__ void __launch_bounds__(T::kThreads, 1) gqa_decode_kernel(const DecodeParams p) {
  using Elem = typename T::Elem;
  constexpr int STAGES = T::STAGES;
  constexpr int D = T::D;
  extern __shared__ __align__(1024) uint8_t smem[];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const bool loader = warp >= T::kWarps;
  const int load_tid = tid - T::kWarps * 32;
  const int part = blockIdx.x, g = blockIdx.y;
  const int page_shift = (p.page_size & (p.page_size - 1)) == 0 ? __ffs(p.page_size) - 1 : -1;
  const uint32_t s_base = ptx::smem_addr(smem);
  float* s_merge = reinterpret_cast<float*>(smem + T::kOffMerge);  // [warp][row][kMergeStride]
  float* s_max = reinterpret_cast<float*>(smem + T::kOffMax);      // [warp][row]
  float* s_sum = reinterpret_cast<float*>(smem + T::kOffSum);      // [warp][row]

  const int32_t* meta = p.sched + part * kMetadataInts;
  const int begin_batch = meta[0], begin_token = meta[1];
  const int end_batch = meta[2], end_token = meta[3], begin_split = meta[4];
  if (begin_batch > end_batch) return;  // a trailing part with no work

  // The loader's cursor: tile l_tile of sequence l_bi; it runs STAGES - 1 tiles ahead of the
  // consumer, across sequence boundaries (sequences without keys are skipped).
  int l_bi = begin_batch, l_tile = 0;
  GqaSpan l_span = gqa_span(p, l_bi, begin_batch, begin_token, end_batch, end_token);
  // Issues the next tile of the part into `stage` (nothing past the part's last tile) and commits
  // one group either way, so that wait_group counts stay uniform. Loading warps only.
  auto issue = [&](int stage) {
    while (l_bi <= end_batch && l_tile >= l_span.n_tiles) {
      ++l_bi;
      l_tile = 0;
      if (l_bi <= end_batch)
        l_span = gqa_span(p, l_bi, begin_batch, begin_token, end_batch, end_token);
    }
    if (l_bi <= end_batch) {
      const uint32_t s_stage = s_base + T::kOffStages + stage * T::kStageBytes;
      if (l_tile == 0) gqa_load_q<T>(p, l_bi, g, s_stage + T::kStageQ, load_tid);
      gqa_load_tile<T>(p, p.block_table + l_bi * p.bt_stride_b, g,
                       l_span.start + l_tile * kBlockN, l_span.end, s_stage, page_shift, load_tid);
      ++l_tile;
    }
    ptx::cp_async_commit();
  };
  if (loader) {
#pragma unroll 1
    for (int s = 0; s < STAGES - 1; ++s) issue(s);
  }

  // ldmatrix lane offsets inside one 8-chunk swizzle group (see splitkv_decode.cuh): the K operand
  // takes chunk 2i + (lane / 8) % 2, the transposed V operand chunk 2i + lane / 16.
  uint32_t xor_k[4], xor_v[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    xor_k[i] = ((2 * i + (lane / 8) % 2) ^ (lane % 8)) * 16;
    xor_v[i] = ((2 * i + lane / 16) ^ (lane % 8)) * 16;
  }
  const int key0 = warp * T::kKeysPerWarp;  // this warp's keys in every tile
  const int my_row[2] = {lane / 4, lane / 4 + 8};
  const int total_rows = p.s_q * p.h_q;

  int it = 0;  // tiles consumed so far (the ring position)
#pragma unroll 1
  for (int bi = begin_batch; bi <= end_batch; ++bi) {
    const GqaSpan span = gqa_span(p, bi, begin_batch, begin_token, end_batch, end_token);
    const int split = begin_split + (bi - begin_batch);
    const bool single_split = p.num_splits[bi + 1] - p.num_splits[bi] == 1;

    int limit[2];  // keys t < limit[x] are attended by row x (causal: query j at L - s_q + j)
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      const int m = my_row[x];
      const int j = m < p.rows_per_kv ? m / p.heads_per_kv : 0;
      limit[x] = p.causal ? min(span.end, span.seqlen - p.s_q + j + 1) : span.end;
    }

    float o[D / 8][4];  // o[i][e]: the m16n8 C fragment of value columns 8i..8i+7
#pragma unroll
    for (int i = 0; i < D / 8; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[i][e] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float row_sum[2] = {0.f, 0.f};  // this thread's share; summed over the quad at the end
    uint32_t qa[D / 16][4];         // Q as m16n8k16 A fragments (rows past rows_per_kv are 0)

#pragma unroll 1
    for (int t = 0; t < span.n_tiles; ++t, ++it) {
      if (loader) ptx::cp_async_wait<STAGES - 2>();
      __syncthreads();  // tile `it` visible to all; everyone is done with the stage refilled next
      if (loader) {
        issue((it + STAGES - 1) % STAGES);
        continue;
      }
      const uint32_t s_stage = s_base + T::kOffStages + (it % STAGES) * T::kStageBytes;
      const int tile_start = span.start + t * kBlockN;

      if (t == 0) {
        const uint8_t* q_slot = smem + T::kOffStages + (it % STAGES) * T::kStageBytes + T::kStageQ;
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int m = my_row[e % 2];
            const int col = kk * 16 + 2 * (lane % 4) + 8 * (e / 2);
            qa[kk][e] = m < p.rows_per_kv
                            ? *reinterpret_cast<const uint32_t*>(q_slot + (m * D + col) * 2)
                            : 0u;
          }
      }

      // ---- S = Q K^T: all rows x this warp's 16 keys ----
      float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
      const uint32_t k_base = s_stage + T::kStageK + (key0 + lane % 8 + 8 * (lane / 16)) * 128;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        uint32_t b[4];
        ptx::ldmatrix_x4(b, k_base + (kk / 4) * kTileBlockBytes + xor_k[kk % 4]);
        ptx::mma_m16n8k16<Elem>(s[0], qa[kk], b[0], b[1]);
        ptx::mma_m16n8k16<Elem>(s[1], qa[kk], b[2], b[3]);
      }

      // ---- this warp's online softmax, masked and scaled to base 2 ----
      float local_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int x = e / 2;
          const int key = tile_start + key0 + nt * 8 + 2 * (lane % 4) + e % 2;
          const float v = key < limit[x] ? s[nt][e] * p.scale_log2 : -INFINITY;
          s[nt][e] = v;
          local_max[x] = fmaxf(local_max[x], v);
        }
      float base[2], alpha[2];
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        local_max[x] = fmaxf(local_max[x], __shfl_xor_sync(0xffffffffu, local_max[x], 1));
        local_max[x] = fmaxf(local_max[x], __shfl_xor_sync(0xffffffffu, local_max[x], 2));
        const float new_max = fmaxf(row_max[x], local_max[x]);
        // Nothing attended yet: keep every exponent at -inf - 0 instead of -inf - -inf.
        base[x] = new_max == -INFINITY ? 0.f : new_max;
        alpha[x] = ptx::ex2(row_max[x] - base[x]);
        row_max[x] = new_max;
        row_sum[x] *= alpha[x];
      }
      if (__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) {
#pragma unroll
        for (int i = 0; i < D / 8; ++i) {
          o[i][0] *= alpha[0];
          o[i][1] *= alpha[0];
          o[i][2] *= alpha[1];
          o[i][3] *= alpha[1];
        }
      }
      float pr[2][4];
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          pr[nt][e] = ptx::ex2(s[nt][e] - base[e / 2]);
          row_sum[e / 2] += pr[nt][e];
        }
      // The two 8-key C fragments are the A fragment of the 16-key P.V step.
      const uint32_t pa[4] = {pack2<Elem>(pr[0][0], pr[0][1]), pack2<Elem>(pr[0][2], pr[0][3]),
                              pack2<Elem>(pr[1][0], pr[1][1]), pack2<Elem>(pr[1][2], pr[1][3])};

      // ---- O += P V over this warp's 16 keys ----
      const uint32_t v_base =
          s_stage + T::kStageV + (key0 + lane % 8 + 8 * ((lane / 8) % 2)) * 128;
#pragma unroll
      for (int np = 0; np < D / 16; ++np) {
        uint32_t b[4];
        ptx::ldmatrix_x4_trans(b, v_base + (np / 4) * kTileBlockBytes + xor_v[np % 4]);
        ptx::mma_m16n8k16<Elem>(o[2 * np], pa, b[0], b[1]);
        ptx::mma_m16n8k16<Elem>(o[2 * np + 1], pa, b[2], b[3]);
      }
    }

    // ---- merge the 4 warps' states and write the sequence's output ----
#pragma unroll
    for (int x = 0; x < 2 && !loader; ++x) {
      row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 1);
      row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 2);
      const int m = my_row[x];
      if (m < p.rows_per_kv) {
        if (lane % 4 == 0) {
          s_max[warp * T::kMaxRows + m] = row_max[x];
          s_sum[warp * T::kMaxRows + m] = row_sum[x];
        }
        float* dst = s_merge + (warp * T::kMaxRows + m) * T::kMergeStride + 2 * (lane % 4);
#pragma unroll
        for (int i = 0; i < D / 8; ++i)
          *reinterpret_cast<float2*>(dst + 8 * i) = make_float2(o[i][2 * x], o[i][2 * x + 1]);
      }
    }
    __syncthreads();
    for (int idx = tid; idx < p.rows_per_kv * (D / 4); idx += T::kThreads) {
      const int m = idx / (D / 4), col = 4 * (idx % (D / 4));
      float gmax = -INFINITY;
#pragma unroll
      for (int w = 0; w < T::kWarps; ++w) gmax = fmaxf(gmax, s_max[w * T::kMaxRows + m]);
      float sum = 0.f;
      float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
      if (gmax != -INFINITY) {
#pragma unroll
        for (int w = 0; w < T::kWarps; ++w) {
          const float wmax = s_max[w * T::kMaxRows + m];
          const float weight = wmax == -INFINITY ? 0.f : ptx::ex2(wmax - gmax);
          sum += weight * s_sum[w * T::kMaxRows + m];
          const float* src = s_merge + (w * T::kMaxRows + m) * T::kMergeStride + col;
          const float4 v = *reinterpret_cast<const float4*>(src);
          acc.x += weight * v.x;
          acc.y += weight * v.y;
          acc.z += weight * v.z;
          acc.w += weight * v.w;
        }
      }
      const bool empty = !(sum > 0.f);  // no key attended in this split
      const float inv = empty ? 0.f : 1.f / sum;
      const float lse2 = empty ? 0.f : gmax + log2f(sum);
      const int j = m / p.heads_per_kv;
      const int h = g * p.heads_per_kv + m % p.heads_per_kv;
      if (single_split) {
        Elem* out = static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s +
                    h * p.o_stride_h + col;
        *reinterpret_cast<uint2*>(out) = make_uint2(pack2<Elem>(acc.x * inv, acc.y * inv),
                                                    pack2<Elem>(acc.z * inv, acc.w * inv));
        if (col == 0)
          p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] =
              empty ? INFINITY : lse2 * kLn2;
      } else {
        const int64_t row = static_cast<int64_t>(split) * total_rows + g * p.rows_per_kv + m;
        *reinterpret_cast<float4*>(p.o_accum + row * D + col) =
            make_float4(acc.x * inv, acc.y * inv, acc.z * inv, acc.w * inv);
        if (col == 0) p.lse_accum[row] = empty ? -INFINITY : lse2 * kLn2;
      }
    }
    __syncthreads();  // the merge buffers are rewritten by the next sequence
  }
  if (loader) ptx::cp_async_wait<0>();  // drain the empty trailing groups
}

template <typename Elem, int D>
cudaError_t launch_gqa_decode(const DecodeParams& p, cudaStream_t stream) {
  using T = GqaTraits<Elem, D>;
  const auto kernel = gqa_decode_kernel<T>;
  static unsigned long long configured_devices = 0;  // as in launch_splitkv_decode
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  const unsigned long long bit = device < 64 ? 1ull << device : 0ull;
  if (!(__atomic_load_n(&configured_devices, __ATOMIC_ACQUIRE) & bit)) {
    err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSmemBytes);
    if (err != cudaSuccess) return err;
    __atomic_fetch_or(&configured_devices, bit, __ATOMIC_ACQ_REL);
  }
  const dim3 grid(p.num_sm_parts, p.h_kv, 1);
  kernel<<<grid, T::kThreads, T::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fmla
