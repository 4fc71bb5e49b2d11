// MLA decode over FP8 caches for at most 32 query rows a KV head (sm_90a): keys x rows tiles.
//
// With few query rows (h_q 16 or 32 at s_q 1: the memory-bound rows) the 64-row kernel pads them
// to 64 and its tensor-core time alone exceeds what the FP8 bytes take to stream (bench/NOTES.md,
// v15).
// Here the keys are the M dimension of both products and the query rows their N (16 or 32):
//
//   S^T (64 keys x N) = K Q^T      A = K from registers, B = Q (shared memory)
//   O^T (512 x N)    += V^T P^T    A = V^T from registers, B = P^T (shared memory)
//
// so nothing is padded beyond N, and the codes become A fragments in registers: a thread loads
// the code bytes its fragments hold from the ring stage. Over fp8_e4m3 both products run on the
// FP8 tensor cores: S^T with the queries' codes (below), O^T with P^T as two e4m3 terms
// (P 2^8 = P1 + P2, one product a term, as bf16 query rows are split) and V^T's codes moved into
// place by one 4 x 4 byte transpose a register (bytes4x4_transpose: 4 keys of one value); the
// value dimension is permuted so that m-tile t's rows 16 w + g and 16 w + g + 8 (warp w, lane
// quad g) are values 16 (8 w + g) + 2 t and + 1, and a thread's values of all 8 m-tiles are 16
// consecutive bytes of each key (bench/NOTES.md, v31). Over fp8_ds_mla each group of 128 values
// has its own scale a key, which the B operand (one for the warpgroup) must carry: where V's codes
// are loaded early (EARLY_V, traits.h) the value dimension is permuted by group instead, so that
// an m-tile lies in one group, and P^T holds a version a group, P times the key's group scale in
// units of a power of two that follows the group's largest scale (bench/NOTES.md, v32).
// Otherwise V^T is converted in registers, after one PRMT gathers a key pair's bytes: on a whole
// tile whose keys' scales all fit fp16 (ds_scale_fits_f16) to fp16 by cvt, times the key's group
// scale in fp16, with P^T in fp16 (3% faster at 32 columns, 1-2% at 16: bench/NOTES.md, v49); on
// other tiles the fields of a word's four codes moved into two bf16 registers
// (e4m3x4_to_bits_interleaved) and multiplied by 2^120 times the key's group scale, which is
// exact. With fp16 queries K is converted that way (in fp16), Q's columns permuted within each
// 64-column box (q_position, load_q.cuh) so that a thread's 4 columns of a k-step are the 4 code
// bytes of one word. Nothing converted is stored.
//
// Two consumer warpgroups take the part's tiles in turn (tile n to warpgroup n % 2, so that each
// ring stage has one consumer), each with its own online softmax over the columns (a tile's column
// maxima meet across the warpgroup's 4 warps in shared memory) and its own O^T; at a sequence's end
// they merge, each finishing half of the values. A producer warpgroup (produce.cuh) streams the
// part's tiles into a 4-stage ring with bulk copies (one per page run: a tile of a 64-token page is
// one copy, of one-token pages 64), so the page size only changes the copies; a sequence's query
// rows go through the ring too, one position ahead of its tiles (load_q.cuh). The grid and schedule
// are the split-KV kernels' (docs/schedule.md); bench/NOTES.md, v16, has the measurements.
//
// float8_e4m3fn queries (fp8_e4m3 caches): S^T runs on the FP8 tensor cores (m64nNk32, e4m3 x
// e4m3), K's codes the A fragments exactly as a thread loads them and Q's columns permuted to
// match (q8_position). bench/NOTES.md, v17. bf16 queries meet the
// codes the same way: each row split into two e4m3 terms once a sequence (load_q_split;
// docs/fp8-kv-cache.md), one FP8 product a term, the row's 2^-k folded into its column's logit
// scale; over fp8_ds_mla each group of 128 values has its own partial scores, added in times the
// key's scale, and the bf16 rotary parts' product is added last. bench/NOTES.md, v30.
#pragma once

#include <math.h>

#include <type_traits>

#include "../common/decode_params.h"
#include "../common/e4m3.cuh"
#include "../common/ptx.cuh"
#include "../common/schedule_fields.h"
#include "../common/wgmma.cuh"
#include "launch.h"
#include "load_q.cuh"
#include "produce.cuh"
#include "traits.h"

namespace fmla {
namespace mla_fp8_sm90 {

// ---------------------------------------------------------------- consumers

// One exchange of max_over_quads_spread (below): lane bit `bit` picks which half of w[0, 2 N) a
// lane keeps (in w[0, N)); it sends the other half to its partner across that bit.
template <int N>
__device__ __forceinline__ void keep_half_max(float* w, int lane, int bit, int* k) {
  const bool upper = (lane & bit) != 0;
#pragma unroll
  for (int i = 0; i < N; ++i) {
    const float send = upper ? w[i] : w[i + N], keep = upper ? w[i + N] : w[i];
    w[i] = fmaxf(keep, __shfl_xor_sync(0xffffffffu, send, bit));
  }
  if (upper) *k += N;
}

// The maxima of a thread's NC column values (NC 4 or 8) over the warp's 8 lane quads (lanes 4
// apart hold the other rows of the same columns), spread over the lanes: each exchange over a
// lane bit (16, 8, 4) halves the columns a lane keeps, so that 7 shuffles (8 columns) leave each
// lane one column's maximum, where a butterfly of every column takes 3 NC and leaves all of them
// in every lane. Returns that maximum; *k is its column's index in v. With 4 columns the last
// exchange is a plain one (lanes differing in bit 2 hold the same column).
template <int NC>
__device__ __forceinline__ float max_over_quads_spread(const float (&v)[NC], int lane, int* k) {
  static_assert(NC == 4 || NC == 8, "the columns of 16 or 32");
  float w[NC];
#pragma unroll
  for (int i = 0; i < NC; ++i) w[i] = v[i];
  *k = 0;
  keep_half_max<NC / 2>(w, lane, 16, k);
  keep_half_max<NC / 4>(w, lane, 8, k);
  if constexpr (NC == 8)
    keep_half_max<1>(w, lane, 4, k);
  else
    w[0] = fmaxf(w[0], __shfl_xor_sync(0xffffffffu, w[0], 4));
  return w[0];
}

template <typename Query, MlaCache CACHE, int COLS, bool EARLY_V>
__device__ __forceinline__ void consume(const DecodeParams& p,
                                        const Smem<CACHE, COLS, EARLY_V>& sm, uint8_t* smem,
                                        int wg, int ctid) {
  using L = SmemLayout<CACHE, COLS, EARLY_V>;
  using Elem = ComputeElem<Query>;
  constexpr bool kQ8 = kE4m3Queries<Query>;
  // bf16 rows as two e4m3 terms; S^T on the codes with e4m3 or split rows.
  constexpr bool kSplitQ = std::is_same<Query, __nv_bfloat16>::value;
  constexpr bool kCodesQ = kQ8 || kSplitQ;
  constexpr int kQTerms = kSplitQ ? 2 : 1;
  constexpr bool kDs = CACHE == MlaCache::kFp8DsMla;
  // O^T on the FP8 tensor cores with V's codes as they are (traits.h); over fp8_ds_mla P^T then
  // carries each key's group scale, a box a group.
  constexpr bool kCodeV = kCodeValues<CACHE, EARLY_V>;
  constexpr bool kDsCodeV = kDs && kCodeV;
  constexpr int kVSteps = kBlockN / 32 * 2;  // half k-steps of O^T's FP8 products
  constexpr int kTok = L::kTokenBytes;
  constexpr int NT = COLS / 8;    // 8-column tiles of an accumulator
  constexpr int NC = 2 * NT;      // columns a thread holds: 8 (k / 2) + 2 (lane % 4) + k % 2
  constexpr int kAcc = COLS / 2;  // a thread's floats of a 64 x COLS accumulator
  // wgmma groups (of 4) in flight while the next group's A fragments are converted. Over fp8_e4m3
  // with 32 columns one: fewer registers held for the products in flight halves the spills
  // (192 -> 92 bytes) and the calls run 3% faster; fp8_ds_mla ran 3% slower so (bench/NOTES.md,
  // v30).
  constexpr int kGroupsInFlight = COLS == 32 && !kDs ? 1 : 2;
  static_assert(!kDs || std::is_same<Query, __nv_bfloat16>::value, "fp8_ds_mla: bf16 queries");
  const int tid = wg * 128 + ctid;
  const int warp = ctid / 32, lane = ctid % 32, g = lane / 4, c = lane % 4;
  const int32_t* meta = p.sched + blockIdx.x * kMetadataInts;
  // fp8_e4m3: the cache's one scale folded out of the products, into the scores and the output
  // (e4m3 queries: theirs into the scores too).
  const float scale_log2 =
      kDs ? p.scale_log2 : p.scale_log2 * *p.descale_k * (kQ8 ? *p.descale_q : 1.f);
  // fp8_e4m3: the cache's scale and the 2^-8 of P^T's terms (P 2^8) into the output.
  const float value_scale = kDs ? 1.f : *p.descale_k * 0x1p-8f;
  constexpr float kUnscale = e4m3_bits_unscale<Elem>();
  const uint32_t unit = pack2<Elem>(kUnscale, kUnscale);
  float* tile_max_buf = reinterpret_cast<float*>(smem + L::kOffMax);  // [wg][parity][col][warp]
  float* seq_stats = reinterpret_cast<float*>(smem + L::kOffSeqStats);  // [wg][max, 4 sums][col]
  // [wg][parity][warp][group]
  uint32_t* scale_max_buf = reinterpret_cast<uint32_t*>(smem + L::kOffScaleMax);
  const float* row_mul = reinterpret_cast<const float*>(smem + L::kOffRowMul);
  const uint64_t q_desc = wgmma::desc_sw128(sm.q(), 16, 1024);
  const uint64_t p_desc = wgmma::desc_sw128(sm.p(wg), 16, 1024);
  auto col_of = [&](int k) { return 8 * (k / 2) + 2 * c + k % 2; };
  // S^T's accumulator row r of a tile holds key key_of(r). Over fp8_e4m3 (rows 576 bytes apart,
  // so that a key's bank group depends on its parity alone) keys 2 i and 2 i + 1 swap places for
  // odd i: then the 4 lanes of a quad's V^T loads hold keys of both parities, and a quarter
  // warp's 8 loads meet 2 to a bank group instead of 4.
  auto key_of = [](int r) { return CACHE == MlaCache::kFp8E4m3 ? r ^ ((r >> 1) & 1) : r; };
  const int r0 = key_of(16 * warp + g);  // this thread's keys of a tile in S^T: r0, r0 + 8

  uint32_t n_before = 0;  // ring positions of the part's earlier sequences and this one's Q
  uint32_t my_tiles = 0;  // tiles this warpgroup has done (parity of the maxima buffer)
  for (int bi = meta[kMetaBeginBatch]; bi <= meta[kMetaEndBatch]; ++bi) {
    const SequenceWork w = sequence_work(p, meta, bi);
    // Q from the ring position before the sequence's tiles (produce.cuh), once the last
    // sequence's merge is done with its place (and with row_mul); its stage is released by the
    // warpgroup whose position it is, after the barrier that ends both warpgroups' reads.
    ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);
    const uint32_t nq = n_before;
    if (w.n_tiles > 0) {
      ptx::mbarrier_wait(sm.full(nq % kStages), (nq / kStages) & 1u);
      const uint8_t* q_rows = smem + L::kOffRing + (nq % kStages) * L::kStageBytes;
      if constexpr (kQ8)
        load_q_e4m3<COLS>(q_rows, p.rows_per_kv, sm.q(), tid);
      else if constexpr (kSplitQ)
        load_q_split<CACHE, COLS>(q_rows, p.rows_per_kv, sm.q(),
                                  reinterpret_cast<float*>(smem + L::kOffRowMul), tid);
      else
        load_q<Elem, COLS>(q_rows, p.rows_per_kv, sm.q(), tid);
      wgmma::fence_proxy_async();
      ++n_before;
    }
    ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);
    if (w.n_tiles > 0 && nq % kConsumerWarpgroups == static_cast<uint32_t>(wg)) {
      __syncwarp();
      if (lane == 0) ptx::mbarrier_arrive(sm.empty(nq % kStages));
    }
    // Each column's logit scale: split rows fold in their 2^-k.
    float col_scale[NC];
#pragma unroll
    for (int k = 0; k < NC; ++k)
      col_scale[k] = kSplitQ ? scale_log2 * row_mul[col_of(k)] : scale_log2;

    // Keys below limit_of(k) are attended by column k (computed where a tile needs masks).
    auto limit_of = [&](int k) {
      const int col = col_of(k);
      const int j = col < p.rows_per_kv ? col / p.heads_per_kv : 0;
      return p.causal ? min(w.end, w.seqlen - p.s_q + j + 1) : w.end;
    };
    const int mask_from = p.causal ? min(w.end, w.seqlen - p.s_q + 1) : w.end;

    float o[8][kAcc];
#pragma unroll
    for (int t = 0; t < 8; ++t)
#pragma unroll
      for (int i = 0; i < kAcc; ++i) o[t][i] = 0.f;
    float m_run[NC], l_part[NC];
#pragma unroll
    for (int k = 0; k < NC; ++k) m_run[k] = -INFINITY, l_part[k] = 0.f;
    // fp8_ds_mla's codes as values: each group's P^T holds P s 2^(134 - eb) (s the key's group
    // scale, eb the largest biased exponent of the group's scales so far, at least 8), so that
    // its terms stay under 256; O^T's rows of the group are then in units of 2^(eb - 134), and
    // rescaled when eb grows.
    int eb_run[4] = {8, 8, 8, 8};

    // Tile n of the part (the sequence's t = n - n_before) goes to warpgroup n % 2, so that each
    // ring stage always has the same consumer: one that waits for a stage's next fill has itself
    // released the last, and no wait can see a phase two fills old as done.
    static_assert(kStages % kConsumerWarpgroups == 0, "a stage has one consumer");
    for (int t = static_cast<int>((wg + kConsumerWarpgroups - n_before % kConsumerWarpgroups) %
                                  kConsumerWarpgroups);
         t < w.n_tiles;
         t += kConsumerWarpgroups, ++my_tiles) {
      const uint32_t n = n_before + t;
      const int s = n % kStages;
      const int tile_start = w.start + t * kBlockN;
      const int valid = min(kBlockN, w.end - tile_start);
      ptx::mbarrier_wait(sm.full(s), (n / kStages) & 1u);

      // ---- S^T = K Q^T, a box (4 k-steps) a group, kGroupsInFlight in flight; each group's code
      // bytes are loaded while the one before is converted.
      float acc[kAcc];
      const uint8_t* tile_rows = smem + L::kOffRing + s * L::kStageBytes;  // the stage, generic
      const uint8_t* row0 = tile_rows + r0 * kTok;
      const uint8_t* row1 = row0 + 8 * kTok;
      auto ld16 = [](const uint8_t* at) { return *reinterpret_cast<const uint4*>(at); };
      // fp8_ds_mla: the keys' scales rounded to bf16, as the values' are (docs/fp8-kv-cache.md).
      auto scale_of = [&](const uint8_t* row, int gr) {
        return __bfloat162float(__float2bfloat16(
            *reinterpret_cast<const float*>(row + kDsMlaScaleOffset + 4 * gr)));
      };
      // V's codes as the FP8 products take them (below, O^T): S^T row 16 m + 8 x + 2 c + y holds
      // key 16 m + 8 x + key_of(2 c + y) (key_of touches only bit 0, from bit 1), so a thread
      // reads two rows and constant offsets from them; k-step `step` = 2 ks + hf.
      const int value_at = kDs ? 32 * warp + 4 * g : 16 * (8 * warp + g);
      const uint8_t* vrow[2] = {tile_rows + key_of(2 * c) * kTok + value_at,
                                tile_rows + key_of(2 * c + 1) * kTok + value_at};
      auto vkey = [&](int step, int e) {  // the tile's key of load e of a step
        return 16 * (step / 2 * 2 + e / 4) + 8 * (e % 2) + key_of(2 * c + (e % 4) / 2);
      };
      auto load_codes = [&](int step, uint2 (&x)[8]) {
#pragma unroll
        for (int e = 0; e < 8; ++e) {
          const int m = step / 2 * 2 + e / 4, xx = e % 2, y = (e % 4) / 2;
          const uint8_t* at = vrow[y] + (16 * m + 8 * xx) * kTok;
          if constexpr (kDs)
            x[e] = make_uint2(*reinterpret_cast<const uint32_t*>(at + 256 * (step % 2)),
                              *reinterpret_cast<const uint32_t*>(at + 256 * (step % 2) + 128));
          else
            x[e] = *reinterpret_cast<const uint2*>(at + 8 * (step % 2));
        }
      };
      if constexpr (kCodesQ && !kDs) {
        // Query codes: S^T on the FP8 tensor cores, a thread's code words of a box its A
        // fragments as loaded (q8_position), one product a term; the next box's words load
        // while this one's run.
        const int p0 = q8_piece<CACHE>(c, 0), p1 = q8_piece<CACHE>(c, 1);
        uint4 n0a = ld16(row0 + p0), n0b = ld16(row0 + p1);
        uint4 n1a = ld16(row1 + p0), n1b = ld16(row1 + p1);
#pragma unroll
        for (int q = 0; q < kQ8Boxes; ++q) {
          const uint32_t x0[8] = {n0a.x, n0a.y, n0a.z, n0a.w, n0b.x, n0b.y, n0b.z, n0b.w};
          const uint32_t x1[8] = {n1a.x, n1a.y, n1a.z, n1a.w, n1b.x, n1b.y, n1b.z, n1b.w};
          if (q + 2 < kQ8Boxes) {
            const int at = 128 * (q + 1);
            n0a = ld16(row0 + at + p0), n0b = ld16(row0 + at + p1);
            n1a = ld16(row1 + at + p0), n1b = ld16(row1 + at + p1);
          } else if (q + 2 == kQ8Boxes) {  // the half box: 16 bytes a row
            n0a = ld16(row0 + 512 + 16 * c), n1a = ld16(row1 + 512 + 16 * c);
          }
          constexpr int kSteps = 4;
          const int steps = q + 1 < kQ8Boxes ? kSteps : kSteps / 2;
          wgmma::fence();
#pragma unroll
          for (int u = 0; u < kSteps; ++u) {
            if (u >= steps) break;
            const uint32_t a[4] = {x0[2 * u], x1[2 * u], x0[2 * u + 1], x1[2 * u + 1]};
#pragma unroll
            for (int term = 0; term < kQTerms; ++term)
              wgmma::MmaRegA<__nv_fp8_e4m3, COLS, 0>::run(
                  acc, a, q_desc + (((term * kQ8Boxes + q) * L::kQBoxBytes + u * 32) >> 4),
                  q > 0 || u > 0 || term > 0);
          }
          wgmma::commit();
          wgmma::wait<kGroupsInFlight - 1>();
        }
      } else if constexpr (kDs) {
        // fp8_ds_mla (split bf16 rows): group gr (box gr, 128 codes a key, the key's scale s_gr)
        // as the FP8 products of both terms into part[gr % kParts], summed into acc times each
        // key's s_gr once done (the scale is the accumulator row's); the next box's words load
        // while this one's run; then the bf16 rotary product into part[0], summed as it is.
        // With 32 columns one part (each group waited for) keeps O^T in registers.
        constexpr int kParts = COLS == 16 ? 2 : 1;
        float part[kParts][kAcc];
        auto fold = [&](int gr) {  // acc (+)= s_gr part[gr % kParts]
          const float s_gr[2] = {scale_of(row0, gr), scale_of(row1, gr)};
#pragma unroll
          for (int i = 0; i < kAcc; ++i)
            acc[i] = gr == 0 ? s_gr[(i / 2) % 2] * part[0][i]
                            : fmaf(s_gr[(i / 2) % 2], part[gr % kParts][i], acc[i]);
        };
        const int p0 = q8_piece<CACHE>(c, 0), p1 = q8_piece<CACHE>(c, 1);
        uint4 n0a = ld16(row0 + p0), n0b = ld16(row0 + p1);
        uint4 n1a = ld16(row1 + p0), n1b = ld16(row1 + p1);
        constexpr int kGroups = kMlaHeadDimV / 128;
#pragma unroll
        for (int gr = 0; gr < kGroups; ++gr) {
          const uint32_t x0[8] = {n0a.x, n0a.y, n0a.z, n0a.w, n0b.x, n0b.y, n0b.z, n0b.w};
          const uint32_t x1[8] = {n1a.x, n1a.y, n1a.z, n1a.w, n1b.x, n1b.y, n1b.z, n1b.w};
          // Then the bf16 rotary values, 32 bytes a lane as load_q pairs Q's (the same pieces).
          const int at = gr + 1 < kGroups ? 128 * (gr + 1) : kDsMlaRopeOffset;
          n0a = ld16(row0 + at + p0), n0b = ld16(row0 + at + p1);
          n1a = ld16(row1 + at + p0), n1b = ld16(row1 + at + p1);
          wgmma::fence();
#pragma unroll
          for (int u = 0; u < 4; ++u) {
            const uint32_t a[4] = {x0[2 * u], x1[2 * u], x0[2 * u + 1], x1[2 * u + 1]};
#pragma unroll
            for (int term = 0; term < 2; ++term)
              wgmma::MmaRegA<__nv_fp8_e4m3, COLS, 0>::run(
                  part[gr % kParts], a,
                  q_desc + (((term * kQTermBoxes<CACHE> + gr) * L::kQBoxBytes + u * 32) >> 4),
                  u > 0 || term > 0);
          }
          wgmma::commit();
          if (kParts == 1) {
            wgmma::wait<0>();
            fold(gr);
          } else if (gr > 0) {
            wgmma::wait<1>();
            fold(gr - 1);
          }
        }
        {  // bf16 rotary values: a thread's 16 of a row, paired as Q's
          const uint32_t x0[8] = {n0a.x, n0a.y, n0a.z, n0a.w, n0b.x, n0b.y, n0b.z, n0b.w};
          const uint32_t x1[8] = {n1a.x, n1a.y, n1a.z, n1a.w, n1b.x, n1b.y, n1b.z, n1b.w};
          uint32_t a[4][4];
#pragma unroll
          for (int u = 0; u < 4; ++u) {
            a[u][0] = __byte_perm(x0[2 * u], x0[2 * u + 1], 0x7632);
            a[u][1] = __byte_perm(x1[2 * u], x1[2 * u + 1], 0x7632);
            a[u][2] = __byte_perm(x0[2 * u], x0[2 * u + 1], 0x5410);
            a[u][3] = __byte_perm(x1[2 * u], x1[2 * u + 1], 0x5410);
          }
          wgmma::fence();
#pragma unroll
          for (int u = 0; u < 4; ++u)
            wgmma::MmaRegA<Elem, COLS, 0>::run(
                part[0], a[u], q_desc + (((kBoxes - 1) * L::kQBoxBytes + u * 32) >> 4), u > 0);
          wgmma::commit();
          if (kParts > 1) {
            wgmma::wait<1>();
            fold(kGroups - 1);
          }
          wgmma::wait<0>();
#pragma unroll
          for (int i = 0; i < kAcc; ++i) acc[i] += part[0][i];
        }
      } else {
        // fp16 queries over fp8_e4m3: K's codes made fp16 A fragments (the fields moved, then a
        // product by 2^8; exact), a box (4 k-steps) a group, kGroupsInFlight in flight; each
        // group's code bytes are loaded while the one before is converted.
        uint4 next0 = ld16(row0 + 16 * c), next1 = ld16(row1 + 16 * c);
#pragma unroll
        for (int q = 0; q < kBoxes; ++q) {
          const uint4 c0 = next0, c1 = next1;
          if (q + 1 < kBoxes) {
            next0 = ld16(row0 + 64 * (q + 1) + 16 * c);
            next1 = ld16(row1 + 64 * (q + 1) + 16 * c);
          }
          const uint32_t x0[4] = {c0.x, c0.y, c0.z, c0.w}, x1[4] = {c1.x, c1.y, c1.z, c1.w};
          uint32_t a[4][4];
#pragma unroll
          for (int u = 0; u < 4; ++u) {
            const uint2 v0 = e4m3x4_to_bits_interleaved<Elem>(x0[u]);
            const uint2 v1 = e4m3x4_to_bits_interleaved<Elem>(x1[u]);
            a[u][0] = mul2<Elem>(v0.x, unit), a[u][2] = mul2<Elem>(v0.y, unit);
            a[u][1] = mul2<Elem>(v1.x, unit), a[u][3] = mul2<Elem>(v1.y, unit);
          }
          wgmma::fence();
#pragma unroll
          for (int u = 0; u < 4; ++u)
            wgmma::MmaRegA<Elem, COLS, 0>::run(acc, a[u],
                                               q_desc + ((q * L::kQBoxBytes + u * 32) >> 4),
                                               q > 0 || u > 0);
          wgmma::commit();
          wgmma::wait<kGroupsInFlight - 1>();
        }
      }
      wgmma::wait<0>();

      // fp8_ds_mla's codes as values: this thread's two keys' group scales (0 past the end), and
      // each group's largest magnitude over the warp's keys, met across the warpgroup beside the
      // tile maxima.
      float key_scale[2][4];
      uint32_t* smax = scale_max_buf + (wg * 2 + (my_tiles & 1u)) * 16;
      if constexpr (kDsCodeV) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          key_scale[0][j] = r0 < valid ? scale_of(row0, j) : 0.f;
          key_scale[1][j] = r0 + 8 < valid ? scale_of(row1, j) : 0.f;
          const uint32_t mx = __reduce_max_sync(
              0xffffffffu, max(__float_as_uint(fabsf(key_scale[0][j])),
                               __float_as_uint(fabsf(key_scale[1][j]))));
          if (lane == 0) smax[4 * warp + j] = mx;
        }
      }
      // With 16 columns V's codes are all loaded here, and the stage released before the softmax,
      // so that the next fill is not held back by it (rows past the end zeroed in registers).
      uint2 early[EARLY_V ? kVSteps : 1][8];
      if constexpr (EARLY_V) {
#pragma unroll
        for (int step = 0; step < kVSteps; ++step) load_codes(step, early[step]);
        __syncwarp();
        if (lane == 0) ptx::mbarrier_arrive(sm.empty(s));
        if (valid < kBlockN) {
#pragma unroll
          for (int step = 0; step < kVSteps; ++step)
#pragma unroll
            for (int e = 0; e < 8; ++e)
              if (vkey(step, e) >= valid) early[step][e] = make_uint2(0u, 0u);
        }
      }

      // ---- online softmax over the columns (base-2 logits)
      const bool masked = tile_start + kBlockN > mask_from;
      float tmax[NC];
#pragma unroll
      for (int k = 0; k < NC; ++k) tmax[k] = -INFINITY;
#pragma unroll
      for (int i = 0; i < kAcc; ++i) acc[i] *= col_scale[2 * (i / 4) + i % 2];
      if (masked) {
#pragma unroll
        for (int i = 0; i < kAcc; ++i)
          if (tile_start + r0 + 8 * ((i / 2) % 2) >= limit_of(2 * (i / 4) + i % 2))
            acc[i] = -INFINITY;
      }
#pragma unroll
      for (int i = 0; i < kAcc; ++i) {
        const int k = 2 * (i / 4) + i % 2;
        tmax[k] = fmaxf(tmax[k], acc[i]);
      }
      float* mbuf = tile_max_buf + (wg * 2 + (my_tiles & 1u)) * 4 * COLS;
      // fp8_ds_mla's values converted: a byte a warp, whether all its keys' scales fit, met
      // across the warpgroup beside the tile maxima.
      uint8_t* f16_bytes = smem + L::kOffF16Tiles + (wg * 2 + (my_tiles & 1u)) * 4;
      if constexpr (!kCodeV) {
        // This thread's two keys' scales, read again: a check held across S^T's products (where
        // fold reads them) spilled O^T's accumulators (bench/NOTES.md, v49).
        bool fits_f16 = true;
#pragma unroll
        for (int j = 0; j < 4; ++j)
          fits_f16 = fits_f16 && ds_scale_fits_f16(scale_of(row0, j)) &&
                     ds_scale_fits_f16(scale_of(row1, j));
        const bool warp_fits = __all_sync(0xffffffffu, fits_f16);
        if (lane == 0) f16_bytes[warp] = warp_fits;
      }
      {  // each lane stores one column's maximum over the warp's keys, beside the other warps'
        int k;
        const float m = max_over_quads_spread(tmax, lane, &k);
        if (NC == 8 || (lane & 4) == 0) mbuf[4 * col_of(k) + warp] = m;
      }
      ptx::named_barrier_sync(kBarWg0 + wg, 128);
      // fp8_ds_mla's values converted: V^T and P^T in fp16 on a whole tile whose keys' scales all
      // fit (rows past the end hold whatever the stage held: their codes could be NaN), else in
      // bf16 (the codes' fields moved, then a product by s 2^120). Uniform in the warpgroup.
      bool f16 = false;
      if constexpr (!kCodeV)
        f16 = valid == kBlockN && *reinterpret_cast<const uint32_t*>(f16_bytes) == 0x01010101u;
      float base[NC], alpha[NC];
      bool rescale = false;
#pragma unroll
      for (int k = 0; k < NC; ++k) {
        const int col = col_of(k);
        const float4 m4 = *reinterpret_cast<const float4*>(mbuf + 4 * col);  // the 4 warps'
        const float tm = fmaxf(fmaxf(m4.x, m4.y), fmaxf(m4.z, m4.w));
        const float new_max = fmaxf(m_run[k], tm);
        base[k] = new_max == -INFINITY ? 0.f : new_max;
        alpha[k] = ptx::ex2(m_run[k] - base[k]);
        rescale |= alpha[k] != 1.f;
        m_run[k] = new_max;
        l_part[k] *= alpha[k];
      }
#pragma unroll
      for (int i = 0; i < kAcc; ++i) {
        const int k = 2 * (i / 4) + i % 2;
        acc[i] = ptx::ex2(acc[i] - base[k]);
        l_part[k] += acc[i];
      }
      // fp8_ds_mla's codes as values: each group's exponent (the same in the whole warpgroup, so
      // the branch is uniform), and each key's factor for P^T.
      float key_factor[2][4];
      if constexpr (kDsCodeV) {
        const uint4 w0 = *reinterpret_cast<const uint4*>(smax),
                    w1 = *reinterpret_cast<const uint4*>(smax + 4),
                    w2 = *reinterpret_cast<const uint4*>(smax + 8),
                    w3 = *reinterpret_cast<const uint4*>(smax + 12);
        const uint32_t mx[4] = {max(max(w0.x, w1.x), max(w2.x, w3.x)),
                                max(max(w0.y, w1.y), max(w2.y, w3.y)),
                                max(max(w0.z, w1.z), max(w2.z, w3.z)),
                                max(max(w0.w, w1.w), max(w2.w, w3.w))};
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int eb = max(8, static_cast<int>(mx[j] >> 23));
          if (eb > eb_run[j]) {
            const float f = pow2(eb_run[j] - eb);
#pragma unroll
            for (int i = 0; i < kAcc; ++i) o[2 * j][i] *= f, o[2 * j + 1][i] *= f;
            eb_run[j] = eb;
          }
          const float unit_j = pow2(134 - eb_run[j]);
          key_factor[0][j] = key_scale[0][j] * unit_j;
          key_factor[1][j] = key_scale[1][j] * unit_j;
        }
      }
      if (__any_sync(0xffffffffu, rescale)) {
#pragma unroll
        for (int t = 0; t < 8; ++t)
#pragma unroll
          for (int i = 0; i < kAcc; ++i) o[t][i] *= alpha[2 * (i / 4) + i % 2];
      }
      // Rows past the end, on a sequence's last tile, made to add nothing to O^T before V's loads
      // (the warpgroup's S^T reads are done): where the tensor cores take V's codes, the codes
      // zeroed (a NaN code times P = 0 would be NaN), 32 16-byte stores a row, and fp8_ds_mla's
      // scales after them; where V's codes are converted, the scales only (the codes convert to
      // finite values, a garbage scale need not be).
      if (!EARLY_V && valid < kBlockN) {
        uint8_t* rows = smem + L::kOffRing + s * L::kStageBytes;
        constexpr int kChunks = !kCodeV ? 1 : (kDs ? kDsMlaScaleOffset + 16 : kMlaHeadDimV) / 16;
        constexpr int kFrom = !kCodeV ? kDsMlaScaleOffset : 0;
        for (int i = ctid; i < (kBlockN - valid) * kChunks; i += 128)
          *reinterpret_cast<uint4*>(rows + (valid + i / kChunks) * kTok + kFrom +
                                    16 * (i % kChunks)) = make_uint4(0u, 0u, 0u, 0u);
      }
      if constexpr (!kCodeV) {
        // P^T into this warpgroup's box: each warp's 16 keys x COLS columns, stored transposed,
        // in the values' type.
        auto pack_p = [&](float x, float y) {
          return f16 ? pack2<__half>(x, y) : pack2<Elem>(x, y);
        };
#pragma unroll
        for (int h = 0; h < NT / 2; ++h) {
          const uint32_t r[4] = {pack_p(acc[8 * h], acc[8 * h + 1]),
                                 pack_p(acc[8 * h + 2], acc[8 * h + 3]),
                                 pack_p(acc[8 * h + 4], acc[8 * h + 5]),
                                 pack_p(acc[8 * h + 6], acc[8 * h + 7])};
          const int i = lane / 8, j = lane % 8;
          ptx::stmatrix_x4_trans(
              sm.p(wg) + box_offset(16 * h + 8 * (i / 2) + j, 2 * warp + i % 2), r);
        }
      } else {
        // P^T as two e4m3 terms, P 2^8 = P1 + P2 (e4m3x2_split), in bytes 0-63 and 64-127 of
        // each column's row of the box (over fp8_ds_mla a box a group, P s 2^(134 - eb) for its
        // scales instead of P 2^8). S^T row 16 w + g + 8 x goes to k index 16 w + 2 g + x, so
        // that a thread's two rows of a column are adjacent bytes: a 16-bit store a term.
        // Column 8 n + 2 c + z's term 1 at box_offset(2 c + z, warp) + 1024 n + 2 g, term 2 at
        // that ^ 64 (chunk warp + 4 swizzled the same way).
        const uint32_t p_at[2] = {sm.p(wg) + box_offset(2 * c, warp) + 2 * g,
                                  sm.p(wg) + box_offset(2 * c + 1, warp) + 2 * g};
#pragma unroll
        for (int gb = 0; gb < kPBoxes<CACHE, EARLY_V>; ++gb) {
#pragma unroll
          for (int k = 0; k < NC; ++k) {
            const int i = 4 * (k / 2) + k % 2;  // acc[i], acc[i + 2]: rows r0, r0 + 8 of col_of(k)
            const float f0 = kDs ? key_factor[0][gb] : 256.f, f1 = kDs ? key_factor[1][gb] : 256.f;
            uint32_t p1, p2;
            e4m3x2_split</*kInRange=*/true>(acc[i] * f0, acc[i + 2] * f1, p1, p2);
            const uint32_t at = p_at[k % 2] + gb * L::kQBoxBytes + 1024 * (k / 2);
            ptx::st_shared_u16(at, p1);
            ptx::st_shared_u16(at ^ 64u, p2);
          }
        }
      }
      wgmma::fence_proxy_async();  // P^T is read by wgmma
      ptx::named_barrier_sync(kBarWg0 + wg, 128);

      if constexpr (!kCodeV) {
        // ---- O^T += V^T P^T, 16 keys a k-step, 4 m-tiles a group, kGroupsInFlight in flight; a
        // k-step's code bytes and scales are loaded while the one before is converted. fp16
        // values: the codes by cvt (exact) times the key's scale in fp16 (its bf16 rounding,
        // exact in that range); bf16: the codes' fields moved, times the scale 2^120.
        const int value_chunk = 16 * (8 * warp + g);
        auto products_as = [&](auto f16_values) {
          constexpr bool kF16 = decltype(f16_values)::value;
          using VElem = std::conditional_t<kF16, __half, Elem>;
          auto load_step = [&](int kk, uint4 (&x)[4], uint32_t& mul01, uint32_t& mul23) {
            const int k0 = 16 * kk + 2 * c;  // keys k0, k0 + 1, k0 + 8, k0 + 9
            const int keys[4] = {k0, k0 + 1, k0 + 8, k0 + 9};
            float sc[4];  // group `warp` of each key (0 past the end: zeroed above)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const uint8_t* row = tile_rows + keys[e] * kTok;
              x[e] = ld16(row + value_chunk);
              sc[e] = kF16 ? scale_of(row, warp)
                           : *reinterpret_cast<const float*>(row + kDsMlaScaleOffset + 4 * warp) *
                                 kUnscale;
            }
            mul01 = pack2<VElem>(sc[0], sc[1]);
            mul23 = pack2<VElem>(sc[2], sc[3]);
          };
          auto convert = [](uint32_t w) {
            if constexpr (kF16)
              return e4m3x4_to_f16x4(w);
            else
              return e4m3x4_to_bits_interleaved<Elem>(w);
          };
          uint4 nx[4];
          uint32_t nmul01, nmul23;
          load_step(0, nx, nmul01, nmul23);
#pragma unroll
          for (int kk = 0; kk < kBlockN / 16; ++kk) {
            const uint32_t x[4][4] = {{nx[0].x, nx[0].y, nx[0].z, nx[0].w},
                                      {nx[1].x, nx[1].y, nx[1].z, nx[1].w},
                                      {nx[2].x, nx[2].y, nx[2].z, nx[2].w},
                                      {nx[3].x, nx[3].y, nx[3].z, nx[3].w}};
            const uint32_t mul01 = nmul01, mul23 = nmul23;
            if (kk + 1 < kBlockN / 16) {
              load_step(kk + 1, nx, nmul01, nmul23);
            } else {  // every read of the stage is issued: release it
              __syncwarp();
              if (lane == 0) ptx::mbarrier_arrive(sm.empty(s));
            }
#pragma unroll
            for (int half = 0; half < 2; ++half) {
              uint32_t a[4][4];
#pragma unroll
              for (int tt = 0; tt < 4; ++tt) {
                // Bytes b, b + 1 of word wi: values 2 t8, 2 t8 + 1 (rows g, g + 8 of m-tile t8),
                // of each key pair gathered into one word: fp16, bytes 0, 1 and 2, 3 (cvt reads
                // a half in place); bf16, bytes 1, 3 and 0, 2 (the fields' moves read them so).
                const int t8 = 4 * half + tt, wi = t8 / 2, b = 2 * (t8 % 2);
                const uint32_t sel = kF16 ? b | ((4 + b) << 4) | ((b + 1) << 8) | ((5 + b) << 12)
                                          : (b + 1) | (b << 4) | ((5 + b) << 8) | ((4 + b) << 12);
                const uint2 v01 = convert(__byte_perm(x[0][wi], x[1][wi], sel));
                const uint2 v23 = convert(__byte_perm(x[2][wi], x[3][wi], sel));
                a[tt][0] = mul2<VElem>(v01.x, mul01), a[tt][1] = mul2<VElem>(v01.y, mul01);
                a[tt][2] = mul2<VElem>(v23.x, mul23), a[tt][3] = mul2<VElem>(v23.y, mul23);
              }
              wgmma::fence();
#pragma unroll
              for (int tt = 0; tt < 4; ++tt)
                wgmma::MmaRegA<VElem, COLS, 0>::run(o[4 * half + tt], a[tt],
                                                    p_desc + ((kk * 32) >> 4), 1);
              wgmma::commit();
              wgmma::wait<kGroupsInFlight - 1>();
            }
          }
          // Done before the two types' paths meet (ptxas serializes every wgmma where either
          // path's could still be running there).
          wgmma::wait<0>();
        };
        if (f16)
          products_as(std::true_type{});
        else
          products_as(std::false_type{});
      } else {
        // ---- O^T += V^T P^T on the FP8 tensor cores: 32 keys a k-step, a half of the m-tiles
        // (4, both terms of P^T: 8 products) a group, kGroupsInFlight in flight; a group's code
        // bytes are loaded while the one before is transposed (with 16 columns all of them were
        // loaded after S^T). k index 32 ks + 16 h + 4 c + e
        // (e < 4) is S^T row 16 (2 ks + h) + 2 c + e / 2 + 8 (e % 2): for each of those 8 keys a
        // thread loads 8 of its 16 values (half hf), and one byte transpose a word makes them its
        // A fragments (4 keys of a value a register). Over fp8_ds_mla the value dimension is
        // permuted by group instead, so that an m-tile lies in one group (whose P^T box it reads):
        // m-tile t's rows 16 w + g, + 8 are values 128 (t / 2) + 32 w + 4 g + 2 (t % 2), + 1, a
        // thread's 4 values of a group one 4-byte word of a key, and half hf's two words those of
        // groups 2 hf, 2 hf + 1.
        uint2 nx[8];
        if constexpr (!EARLY_V) load_codes(0, nx);
#pragma unroll
        for (int step = 0; step < kVSteps; ++step) {
          const int ks = step / 2, hf = step % 2;
          uint32_t x[8][2];
#pragma unroll
          for (int e = 0; e < 8; ++e) {
            const uint2 w = EARLY_V ? early[step][e] : nx[e];
            x[e][0] = w.x, x[e][1] = w.y;
          }
          if constexpr (!EARLY_V) {
            if (step + 1 < kVSteps) {
              load_codes(step + 1, nx);
            } else {  // every read of the stage is issued: release it
              __syncwarp();
              if (lane == 0) ptx::mbarrier_arrive(sm.empty(s));
            }
          }
          // m-tile t = 4 hf + 2 j + b: values 2 t, 2 t + 1 (rows g, g + 8) are bytes 2 b, 2 b + 1
          // of word j of the half.
          uint32_t a[4][4];
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            uint32_t lo[4], hi[4];  // keys e < 4 (k 4 c + e), e >= 4 (k 16 + 4 c + e - 4)
            bytes4x4_transpose(x[0][j], x[1][j], x[2][j], x[3][j], lo);
            bytes4x4_transpose(x[4][j], x[5][j], x[6][j], x[7][j], hi);
#pragma unroll
            for (int b = 0; b < 2; ++b) {
              a[2 * j + b][0] = lo[2 * b], a[2 * j + b][1] = lo[2 * b + 1];
              a[2 * j + b][2] = hi[2 * b], a[2 * j + b][3] = hi[2 * b + 1];
            }
          }
          wgmma::fence();
#pragma unroll
          for (int tt = 0; tt < 4; ++tt)
#pragma unroll
            for (int term = 0; term < 2; ++term)
              wgmma::MmaRegA<__nv_fp8_e4m3, COLS, 0>::run(
                  o[4 * hf + tt], a[tt],
                  p_desc + (((kDs ? (2 * hf + tt / 2) * L::kQBoxBytes : 0) + term * 64 + ks * 32) >> 4),
                  1);
          wgmma::commit();
          wgmma::wait<kGroupsInFlight - 1>();
        }
      }
      wgmma::wait<0>();
    }
    n_before += w.n_tiles;

    // ---- merge: column sums and maxima of both warpgroups, then halves of O^T exchanged
    float* mine = seq_stats + wg * 5 * COLS;
    const float* other = seq_stats + (1 - wg) * 5 * COLS;
#pragma unroll
    for (int k = 0; k < NC; ++k) {
      float l = l_part[k];
      l += __shfl_xor_sync(0xffffffffu, l, 4);
      l += __shfl_xor_sync(0xffffffffu, l, 8);
      l += __shfl_xor_sync(0xffffffffu, l, 16);
      if (g == 0) {
        mine[(1 + warp) * COLS + col_of(k)] = l;
        if (warp == 0) mine[col_of(k)] = m_run[k];
      }
    }
    ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);  // every tile (and Q) done too
    float f_own[NC], sum[NC], lse_max[NC];
#pragma unroll
    for (int k = 0; k < NC; ++k) {
      const int col = col_of(k);
      const float m_other = other[col];
      float l_own = 0.f, l_other = 0.f;
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        l_own += mine[(1 + v) * COLS + col];
        l_other += other[(1 + v) * COLS + col];
      }
      const float mx = fmaxf(m_run[k], m_other);
      f_own[k] = mx == -INFINITY ? 0.f : ptx::ex2(m_run[k] - mx);
      const float f_other = mx == -INFINITY ? 0.f : ptx::ex2(m_other - mx);
      sum[k] = l_own * f_own[k] + l_other * f_other;
      lse_max[k] = mx;
    }
    // Warpgroup wg finishes m-tiles 4 wg..4 wg + 3; the other's share of them comes through Q's
    // place, scaled by its factor, one warpgroup's half at a time. Constant m-tile indices on each
    // side (a runtime index would put o in local memory).
    // fp8_ds_mla's codes as values: each warpgroup's group units (2^(eb - 134)) go in here.
    float* xo = reinterpret_cast<float*>(smem + L::kOffQ);
    auto own = [&](int t, int i) {
      float v = o[t][i] * f_own[2 * (i / 4) + i % 2];
      if constexpr (kDsCodeV) v *= pow2(eb_run[t / 2] - 134);
      return v;
    };
    auto give = [&](int first) {
#pragma unroll
      for (int tt = 0; tt < 4; ++tt)
#pragma unroll
        for (int i = 0; i < kAcc; ++i) xo[(tt * kAcc + i) * 128 + ctid] = own(first + tt, i);
    };
    auto take = [&](int first) {
#pragma unroll
      for (int tt = 0; tt < 4; ++tt)
#pragma unroll
        for (int i = 0; i < kAcc; ++i)
          o[first + tt][i] = own(first + tt, i) + xo[(tt * kAcc + i) * 128 + ctid];
    };
    if (wg == 1) give(0);
    ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);
    if (wg == 0) take(0);
    ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);
    if (wg == 0) give(4);
    ptx::named_barrier_sync(kBarConsumers, kConsumerThreads);
    if (wg == 1) {  // m-tiles 4..7 move to 0..3, so that the outputs read constant indices
      take(4);
#pragma unroll
      for (int tt = 0; tt < 4; ++tt)
#pragma unroll
        for (int i = 0; i < kAcc; ++i) o[tt][i] = o[4 + tt][i];
    }

    // ---- outputs: a thread's 8 consecutive values of each of its columns (fp8_ds_mla's codes
    // as values: 4 of group 2 wg and 4 of group 2 wg + 1)
    const int total_rows = p.s_q * p.h_q;
    const int v0 = kDsCodeV ? 256 * wg + 32 * warp + 4 * g : 16 * (8 * warp + g) + 8 * wg;
#pragma unroll
    for (int k = 0; k < NC; ++k) {
      const int col = col_of(k);
      if (col >= p.rows_per_kv) continue;
      const bool empty = !(sum[k] > 0.f);
      const float inv = empty ? 0.f : value_scale / sum[k];
      const float lse2 = empty ? 0.f : lse_max[k] + log2f(sum[k]);
      const int j = col / p.heads_per_kv;
      const int h = blockIdx.y * p.heads_per_kv + col % p.heads_per_kv;
      float v[8];  // values v0 + 2 tt + x: m-tile 4 wg + tt (now o[tt]), row x
#pragma unroll
      for (int tt = 0; tt < 4; ++tt)
#pragma unroll
        for (int x = 0; x < 2; ++x) v[2 * tt + x] = o[tt][4 * (k / 2) + 2 * x + k % 2] * inv;
      const bool lse_writer = wg == 0 && warp == 0 && g == 0;
      if (w.single_split) {
        Elem* out = static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s +
                    h * p.o_stride_h;
        if constexpr (kDsCodeV) {
          *reinterpret_cast<uint2*>(out + v0) =
              make_uint2(pack2<Elem>(v[0], v[1]), pack2<Elem>(v[2], v[3]));
          *reinterpret_cast<uint2*>(out + v0 + 128) =
              make_uint2(pack2<Elem>(v[4], v[5]), pack2<Elem>(v[6], v[7]));
        } else {
          *reinterpret_cast<uint4*>(out + v0) =
              make_uint4(pack2<Elem>(v[0], v[1]), pack2<Elem>(v[2], v[3]),
                         pack2<Elem>(v[4], v[5]), pack2<Elem>(v[6], v[7]));
        }
        if (lse_writer)
          p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] =
              empty ? INFINITY : lse2 * kLn2;
      } else {
        const int64_t row =
            static_cast<int64_t>(w.split) * total_rows + blockIdx.y * p.rows_per_kv + col;
        float* acc_out = p.o_accum + row * kMlaHeadDimV + v0;
        *reinterpret_cast<float4*>(acc_out) = make_float4(v[0], v[1], v[2], v[3]);
        *reinterpret_cast<float4*>(acc_out + (kDsCodeV ? 128 : 4)) =
            make_float4(v[4], v[5], v[6], v[7]);
        if (lse_writer) p.lse_accum[row] = empty ? -INFINITY : lse2 * kLn2;
      }
    }
  }
}

// ---------------------------------------------------------------- the kernel

template <typename Query, MlaCache CACHE, int COLS, bool EARLY_V>
__global__ void __launch_bounds__(kThreads, 1) mla_decode_fp8_sm90_kernel(const DecodeParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(1024) uint8_t smem[];
  const int tid = threadIdx.x;
  const int wg = __shfl_sync(0xffffffffu, tid / 128, 0);  // warp-uniform for ptxas
  const Smem<CACHE, COLS, EARLY_V> sm{ptx::smem_addr(smem)};
  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      ptx::mbarrier_init(sm.full(s), 1);
      ptx::mbarrier_init(sm.empty(s), 4);  // one arrival a warp of the consumer
    }
    ptx::fence_mbarrier_init();
  }
  __syncthreads();
  if (wg == kProducerWarpgroup) {
    ptx::setmaxnreg_dec<producer_regs(COLS)>();
    produce<CACHE, kMlaQueryRowBytes<Query>>(p, sm, (tid / 32) % 4, tid % 32);
  } else {
    ptx::setmaxnreg_inc<consumer_regs(COLS)>();
    consume<Query, CACHE, COLS, EARLY_V>(p, sm, smem, wg, tid % 128);
  }
#endif
}

}  // namespace mla_fp8_sm90
}  // namespace fmla
