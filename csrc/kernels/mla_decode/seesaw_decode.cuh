// MLA decode for 64-row pages on sm_90a: TMA tile loads and the "seesaw" schedule of two
// warpgroups sharing one 64 x 512 output.
//
// One block per (schedule part, group of 64 query rows), 2 warpgroups, the same grid and schedule
// as splitkv_decode.cuh. Keys come in pairs of 64-key tiles (one page each): tile 0 of a pair in
// buffer 0, tile 1 in buffer 1. Warpgroup 0 owns the value columns 0..255 of O, warpgroup 1 the
// columns 256..511; each computes the full 64 x 64 scores of "its" tile (S = Q K^T, N = 64, so Q and
// K are each read once per tile) and the two exchange the probabilities through shared memory:
//
//   wg 0: S0 = Q K0^T | softmax (m0) -> P0 | O_L = O_L a0 + P0 V0_L |      wait P1 | O_L = O_L a1 + P1 V1_L
//   wg 1: S1 = Q K1^T |        wait P0 | O_R = O_R a0 + P0 V0_R | softmax (m1) -> P1 | O_R = O_R a1 + P1 V1_R
//
// which is the online softmax over tile 0 then tile 1 for both halves; the softmax of one warpgroup
// runs while the other's GEMMs occupy the tensor cores. P_i is written over the rotary columns
// (512..575) of K_i, dead once S_i is done. Each tile arrives as 9 TMA boxes of 64 keys x 64
// columns (128-byte swizzle, the layout wgmma reads), each with its own mbarrier, so S starts on the
// first box. A buffer is refilled in two parts: the 4 value boxes only one warpgroup reads (buffer
// 0: boxes 0-3, wg 0; buffer 1: boxes 4-7, wg 1) as soon as that warpgroup is done with them (a
// warpgroup barrier), the other 5 once both have arrived on the buffer's "free" mbarrier; S reads
// the boxes in that load order. The early halves wait on a warpgroup barrier, not a single thread
// spinning on an mbarrier: there, that made ptxas serialise the wgmma instructions (warning C7520).
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>

#include <type_traits>

#include "splitkv_decode.cuh"

namespace fmla {

struct SeesawLayout {
  static constexpr int kBox = 64 * 128;            // 64 keys x 64 columns, 8 KB
  static constexpr int kBoxes = kMlaHeadDimQK / 64;  // 9 per tile
  static constexpr int kTileBytes = kBoxes * kBox;   // 72 KB
  static constexpr int kPBox = kMlaHeadDimV / 64;    // the rotary box, reused for P
  static constexpr int kOffQ = 0;
  static constexpr int kOffK = kTileBytes;  // two tile buffers
  static constexpr int kOffStats = kOffK + 2 * kTileBytes;
  // Row statistics, 64 floats each: m0, a0 (from wg 0), m1, a1 (from wg 1), row sums of wg 0, wg 1.
  static constexpr int kStatFloats = 6 * kBlockM;
  static constexpr int kOffBars = kOffStats + kStatFloats * 4;
  static constexpr int kBars = 2 * kBoxes + 2;  // full[2][9], free[2]
  static constexpr int kSmemBytes = kOffBars + kBars * 8;
  static constexpr int kThreads = 256;
};
static_assert(SeesawLayout::kSmemBytes <= kMaxSmemPerBlock, "seesaw layout fits");
static_assert(kBlockN == 64 && kBlockM == 64, "one page of 64 keys per tile, 64 rows per block");

// Named barriers (0 is __syncthreads): P0 ready (wg 0 -> wg 1), P1 ready (wg 1 -> wg 0), and each
// warpgroup's own (all its warps done with the boxes it refills early).
constexpr int kBarP0 = 1, kBarP1 = 2, kBarWg0 = 3, kBarWg1 = 4;

template <typename Elem>
__global__ void __launch_bounds__(SeesawLayout::kThreads, 1)
    seesaw_decode_kernel(const DecodeParams p, const __grid_constant__ CUtensorMap k_map) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using L = SeesawLayout;
  using QTraits = SplitKvTraits<Elem, kMlaHeadDimQK, kMlaHeadDimV, false>;
  extern __shared__ __align__(1024) uint8_t smem[];

  const int tid = threadIdx.x, lane = tid % 32, warp = (tid / 32) % 4;
  // Warp-uniform as far as the compiler can see (a divergent-looking branch around wgmma makes
  // ptxas serialize the wgmma instructions).
  const int wg = __shfl_sync(0xffffffffu, tid / 128, 0);
  const int part = blockIdx.x, g = blockIdx.y, m_base = blockIdx.z * kBlockM;

  const uint32_t s_base = ptx::smem_addr(smem);
  const uint32_t s_q = s_base + L::kOffQ;
  float* stats = reinterpret_cast<float*>(smem + L::kOffStats);
  float* s_m0 = stats;
  float* s_a0 = stats + kBlockM;
  float* s_m1 = stats + 2 * kBlockM;
  float* s_a1 = stats + 3 * kBlockM;
  float* s_sum = stats + 4 * kBlockM;  // [wg][row]
  const uint32_t bars = s_base + L::kOffBars;
  auto buf = [&](int b) { return s_base + L::kOffK + b * L::kTileBytes; };
  auto full_bar = [&](int b, int box) { return bars + (b * L::kBoxes + box) * 8; };
  auto free_bar = [&](int b) { return bars + (2 * L::kBoxes + b) * 8; };

  if (tid == 0) {
    for (int i = 0; i < 2 * L::kBoxes; ++i) ptx::mbarrier_init(bars + i * 8, 1);
    for (int b = 0; b < 2; ++b) ptx::mbarrier_init(free_bar(b), L::kThreads);
    ptx::fence_mbarrier_init();
  }
  __syncthreads();

  int my_row[2];  // this thread's rows in the wgmma accumulator layout (both warpgroups alike)
  my_row[0] = warp * 16 + lane / 4;
  my_row[1] = my_row[0] + 8;
  const uint64_t l2_policy = ptx::l2_policy<0>();
  // Tiles loaded into each buffer so far; every thread counts alike, so all know the phases.
  uint32_t fills[2] = {0u, 0u};

  const int32_t* meta = p.sched + part * kMetadataInts;
  const int begin_batch = meta[0], begin_token = meta[1];
  const int end_batch = meta[2], end_token = meta[3], begin_split = meta[4];

  for (int bi = begin_batch; bi <= end_batch; ++bi) {
    const int seqlen = max(0, p.cache_seqlens[bi * p.seqlens_stride]);
    const int start = bi == begin_batch ? begin_token : 0;  // a multiple of 64 (docs/schedule.md)
    const int end = min(seqlen, bi == end_batch ? end_token : seqlen);
    const int split = begin_split + (bi - begin_batch);
    const bool single_split = p.num_splits[bi + 1] - p.num_splits[bi] == 1;
    const int n_tiles = end > start ? (end - start + kBlockN - 1) / kBlockN : 0;
    const int32_t* block_table = p.block_table + bi * p.bt_stride_b;

    int limit[2];  // keys t < limit[x] are attended by row x
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      const int m = m_base + my_row[x];
      const int j = m < p.rows_per_kv ? m / p.heads_per_kv : 0;
      limit[x] = p.causal ? min(end, seqlen - p.s_q + j + 1) : end;
    }
    // One thread issues boxes [from, to) of tile `t` into buffer `b`.
    auto issue = [&](int t, int b, int from, int to) {
      const int page = block_table[static_cast<int64_t>(start / kBlockN + t) * p.bt_stride_page];
#pragma unroll 1
      for (int box = from; box < to; ++box) {
        ptx::mbarrier_arrive_expect_tx(full_bar(b, box), L::kBox);
        ptx::tma_load_3d(buf(b) + box * L::kBox, &k_map, full_bar(b, box), box * 64, 0, page,
                         l2_policy);
      }
    };

    __syncthreads();  // the previous sequence is done with Q, both buffers and the statistics
    if (tid == 0) {
      if (n_tiles > 0) issue(0, 0, 0, L::kBoxes);
      if (n_tiles > 1) issue(1, 1, 0, L::kBoxes);
    }
    __syncwarp();
    if (n_tiles > 0) ++fills[0];
    if (n_tiles > 1) ++fills[1];
    load_q<QTraits>(p, bi, g, m_base, s_q, tid);
    ptx::cp_async_commit();
    ptx::cp_async_wait<0>();
    wgmma::fence_proxy_async();
    __syncthreads();

    float o[128];  // this warpgroup's half of O (64 x 256): o[4 i + e], columns 8 i ..
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float row_sum[2] = {0.f, 0.f};  // this thread's share of the row sums of this wg's tiles

    // S = Q K_b^T for the whole 64 x 64 tile in buffer b, box by box as they land; then masked,
    // scaled to base 2, and the garbage rows past `end` (unwritten cache memory) zeroed for P V.
    auto scores = [&](float (&s)[32], int b, uint32_t parity, int tile_start) {
      const uint32_t s_k = buf(b);
      wgmma::fence();
#pragma unroll
      for (int i = 0; i < L::kBoxes; ++i) {
        // Buffer 1 loads its boxes 4-7 first (see the refills).
        const int box = b == 0 || i == 8 ? i : (i + 4) % 8;
        ptx::mbarrier_wait(full_bar(b, box), parity);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const uint32_t kb = box * L::kBox + k * 32;
          wgmma::Mma<Elem, 64, 0>::run(s, wgmma::desc_sw128(s_q + kb, 16, 1024),
                                       wgmma::desc_sw128(s_k + kb, 16, 1024), i > 0 || k > 0);
        }
      }
      wgmma::commit();
      wgmma::wait<0>();
#pragma unroll
      for (int nt = 0; nt < 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = tile_start + nt * 8 + 2 * (lane % 4) + e % 2;
          s[4 * nt + e] = key < limit[e / 2] ? s[4 * nt + e] * p.scale_log2 : -INFINITY;
        }
      const int valid = end - tile_start;
      if (valid < kBlockN) {
        // Rows valid..63 of the 8 value boxes: 16-byte stores, 64 per row.
        const int words = (kBlockN - valid) * 64;
        for (int i = tid % 128; i < words; i += 128) {
          const int r = valid + i / 64, c = i % 64;
          *reinterpret_cast<uint4*>(smem + L::kOffK + b * L::kTileBytes + (c / 8) * L::kBox +
                                    r * 128 + (c % 8) * 16) = make_uint4(0u, 0u, 0u, 0u);
        }
      }
    };
    // Row maxima over the quad (the 4 lanes of one row).
    auto tile_max = [&](const float (&s)[32], float (&mx)[2]) {
      mx[0] = mx[1] = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) mx[e / 2] = fmaxf(mx[e / 2], s[4 * nt + e]);
#pragma unroll
      for (int x = 0; x < 2; ++x) {
        mx[x] = fmaxf(mx[x], __shfl_xor_sync(0xffffffffu, mx[x], 1));
        mx[x] = fmaxf(mx[x], __shfl_xor_sync(0xffffffffu, mx[x], 2));
      }
    };
    // P = 2^(S - base) into the rotary box of buffer b; psum: this thread's share of its row sums.
    auto write_p = [&](const float (&s)[32], const float (&base)[2], int b, float (&psum)[2]) {
      uint8_t* s_p = smem + L::kOffK + b * L::kTileBytes + L::kPBox * L::kBox;
      psum[0] = psum[1] = 0.f;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt)
#pragma unroll
        for (int x = 0; x < 2; ++x) {
          const float p0 = ptx::ex2(s[4 * nt + 2 * x] - base[x]);
          const float p1 = ptx::ex2(s[4 * nt + 2 * x + 1] - base[x]);
          psum[x] += p0 + p1;
          const int key = nt * 8 + 2 * (lane % 4);
          *reinterpret_cast<uint32_t*>(s_p + tile_offset(my_row[x], key / 8) + (key % 8) * 2) =
              pack2<Elem>(p0, p1);
        }
    };
    auto rescale = [&](const float (&a)[2]) {
      row_sum[0] *= a[0];
      row_sum[1] *= a[1];
      if (__any_sync(0xffffffffu, a[0] != 1.f || a[1] != 1.f)) {
#pragma unroll
        for (int i = 0; i < 32; ++i) {
          o[4 * i] *= a[0];
          o[4 * i + 1] *= a[0];
          o[4 * i + 2] *= a[1];
          o[4 * i + 3] *= a[1];
        }
      }
    };
    // O_half += P_b V_b,half (issued, not waited for).
    auto pv = [&](int b) {
      const uint32_t s_v = buf(b), s_p = buf(b) + L::kPBox * L::kBox;
      wgmma::fence();
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk)
        wgmma::Mma<Elem, 256, 1>::run(
            o, wgmma::desc_sw128(s_p + kk * 32, 16, 1024),
            wgmma::desc_sw128(s_v + wg * 4 * L::kBox + kk * 16 * 128, L::kBox, 1024), 1);
      wgmma::commit();
    };

    const int n_pairs = (n_tiles + 1) / 2;
    for (int jp = 0; jp < n_pairs; ++jp) {
      const bool has1 = 2 * jp + 1 < n_tiles;
      const bool refill0 = 2 * jp + 2 < n_tiles, refill1 = 2 * jp + 3 < n_tiles;
      const uint32_t par0 = (fills[0] - 1u) & 1u, par1 = (fills[1] - 1u) & 1u;
      const int start0 = start + 2 * jp * kBlockN, start1 = start0 + kBlockN;
      if (wg == 0) {
        float s[32], mx[2], base[2], a0[2];
        scores(s, 0, par0, start0);
        tile_max(s, mx);
#pragma unroll
        for (int x = 0; x < 2; ++x) {
          const float m0 = fmaxf(row_max[x], mx[x]);
          // Nothing attended yet: keep every exponent at -inf - 0 instead of -inf - -inf.
          base[x] = m0 == -INFINITY ? 0.f : m0;
          a0[x] = ptx::ex2(row_max[x] - base[x]);
          row_max[x] = m0;
          if (lane % 4 == 0) s_m0[my_row[x]] = m0, s_a0[my_row[x]] = a0[x];
        }
        float psum[2];
        write_p(s, base, 0, psum);
        wgmma::fence_proxy_async();  // P0 (and zeroed rows) are read by wgmma, here and in wg 1
        ptx::named_barrier_arrive(kBarP0, L::kThreads);
        rescale(a0);
        row_sum[0] += psum[0];
        row_sum[1] += psum[1];
        pv(0);
        wgmma::wait<0>();
        ptx::mbarrier_arrive(free_bar(0));
        if (refill0) {  // the next tile's first half while wg 1 still reads this one
          ptx::named_barrier_sync(kBarWg0, L::kThreads / 2);  // all of wg 0 is done with it
          if (tid == 0) issue(2 * jp + 2, 0, 0, 4);
          __syncwarp();
        }
        if (has1) {
          ptx::named_barrier_sync(kBarP1, L::kThreads);
          float a1[2];
#pragma unroll
          for (int x = 0; x < 2; ++x) {
            a1[x] = s_a1[my_row[x]];
            row_max[x] = s_m1[my_row[x]];
          }
          rescale(a1);
          pv(1);
          wgmma::wait<0>();
          ptx::mbarrier_arrive(free_bar(1));
          if (tid == 0 && refill1) {
            ptx::mbarrier_wait(free_bar(1), par1);
            issue(2 * jp + 3, 1, 0, 4);
            issue(2 * jp + 3, 1, 8, L::kBoxes);
          }
          __syncwarp();
        }
      } else {
        float s[32], mx[2];
        if (has1) scores(s, 1, par1, start1);
        ptx::named_barrier_sync(kBarP0, L::kThreads);
        float a0[2];
#pragma unroll
        for (int x = 0; x < 2; ++x) {
          a0[x] = s_a0[my_row[x]];
          row_max[x] = s_m0[my_row[x]];
        }
        rescale(a0);
        pv(0);
        if (has1) {
          float base[2], a1[2];
          tile_max(s, mx);
#pragma unroll
          for (int x = 0; x < 2; ++x) {
            const float m1 = fmaxf(row_max[x], mx[x]);
            base[x] = m1 == -INFINITY ? 0.f : m1;
            a1[x] = ptx::ex2(row_max[x] - base[x]);
            row_max[x] = m1;
            if (lane % 4 == 0) s_m1[my_row[x]] = m1, s_a1[my_row[x]] = a1[x];
          }
          float psum[2];
          write_p(s, base, 1, psum);
          wgmma::fence_proxy_async();
          ptx::named_barrier_arrive(kBarP1, L::kThreads);
          wgmma::wait<0>();
          ptx::mbarrier_arrive(free_bar(0));
          if (tid == 128 && refill0) {
            ptx::mbarrier_wait(free_bar(0), par0);
            issue(2 * jp + 2, 0, 4, L::kBoxes);
          }
          __syncwarp();
          rescale(a1);
          row_sum[0] += psum[0];
          row_sum[1] += psum[1];
          pv(1);
          wgmma::wait<0>();
          ptx::mbarrier_arrive(free_bar(1));
          if (refill1) {  // boxes 4-7 (the values only wg 1 reads) while wg 0 still reads the rest
            ptx::named_barrier_sync(kBarWg1, L::kThreads / 2);
            if (tid == 128) issue(2 * jp + 3, 1, 4, 8);
            __syncwarp();
          }
        } else {
          wgmma::wait<0>();
          ptx::mbarrier_arrive(free_bar(0));
        }
      }
      if (refill0) ++fills[0];
      if (refill1) ++fills[1];
    }

    // ---- epilogue: row sums over the quad and both warpgroups; each wg writes its half of O ----
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 1);
      row_sum[x] += __shfl_xor_sync(0xffffffffu, row_sum[x], 2);
      if (lane % 4 == 0) s_sum[wg * kBlockM + my_row[x]] = row_sum[x];
    }
    __syncthreads();
    const int total_rows = p.s_q * p.h_q;
#pragma unroll
    for (int x = 0; x < 2; ++x) {
      const int m = m_base + my_row[x];
      if (m >= p.rows_per_kv) continue;
      const float sum = s_sum[my_row[x]] + s_sum[kBlockM + my_row[x]];
      const bool empty = !(sum > 0.f);
      const float inv = empty ? 0.f : 1.f / sum;
      const float lse2 = empty ? 0.f : row_max[x] + log2f(sum);
      const int j = m / p.heads_per_kv;
      const int h = g * p.heads_per_kv + m % p.heads_per_kv;
      const int col0 = wg * (kMlaHeadDimV / 2) + 2 * (lane % 4);
      if (single_split) {
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
        const int64_t row = static_cast<int64_t>(split) * total_rows + g * p.rows_per_kv + m;
        float* acc = p.o_accum + row * kMlaHeadDimV;
#pragma unroll
        for (int i = 0; i < 32; ++i)
          *reinterpret_cast<float2*>(acc + col0 + i * 8) =
              make_float2(o[4 * i + 2 * x] * inv, o[4 * i + 2 * x + 1] * inv);
        if (wg == 0 && lane % 4 == 0) p.lse_accum[row] = empty ? -INFINITY : lse2 * kLn2;
      }
    }
  }
#endif
}

// The driver's tensor-map encoder, looked up once through the runtime (no -lcuda needed).
inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static PFN_cuTensorMapEncodeTiled_v12000 encoder = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      fn = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  return encoder;
}

// Launches the seesaw kernel when the problem fits it (one KV head, 64-key pages, more than 32
// query rows, a cache the TMA can address, an sm_90a device and binary); returns false, having done
// nothing, otherwise.
template <typename Elem>
bool launch_seesaw_decode(const DecodeParams& p, cudaStream_t stream, cudaError_t* err) {
  using L = SeesawLayout;
  if (p.page_size != kBlockN || p.h_kv != 1 || p.rows_per_kv <= 32 || p.num_pages < 1) return false;
  if (reinterpret_cast<uintptr_t>(p.k) % 16 != 0 || (p.k_stride_row * 2) % 16 != 0 ||
      (p.k_stride_page * 2) % 16 != 0 || p.k_stride_row < kMlaHeadDimQK ||
      p.k_stride_page < p.k_stride_row * kBlockN)
    return false;
  const auto kernel = seesaw_decode_kernel<Elem>;
  // Per device: 0 = not yet looked at, 1 = usable (shared memory configured), 2 = not usable.
  static int device_state[64] = {};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device >= 64) return false;
  int state = __atomic_load_n(&device_state[device], __ATOMIC_ACQUIRE);
  if (state == 0) {
    int major = 0, minor = 0;
    cudaFuncAttributes attr{};
    state = 2;
    if (tensor_map_encoder() != nullptr &&
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess &&
        major == 9 && minor == 0 && cudaFuncGetAttributes(&attr, kernel) == cudaSuccess &&
        attr.binaryVersion == 90 &&
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, L::kSmemBytes) ==
            cudaSuccess)
      state = 1;
    cudaGetLastError();  // a refusal above is not the caller's error
    __atomic_store_n(&device_state[device], state, __ATOMIC_RELEASE);
  }
  if (state != 1) return false;

  // The cache as [num_pages][64 rows][576 columns]; one box = 64 rows x 64 columns of one page.
  CUtensorMap map;
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(kMlaHeadDimQK), static_cast<cuuint64_t>(kBlockN),
                              static_cast<cuuint64_t>(p.num_pages)};
  const cuuint64_t strides[2] = {static_cast<cuuint64_t>(p.k_stride_row) * 2,
                                 static_cast<cuuint64_t>(p.k_stride_page) * 2};
  const cuuint32_t box[3] = {64, static_cast<cuuint32_t>(kBlockN), 1};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  const CUtensorMapDataType type = sizeof(Elem) == 2 && std::is_same<Elem, __half>::value
                                       ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16
                                       : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  if (tensor_map_encoder()(&map, type, 3, const_cast<void*>(p.k), dims, strides, box,
                           element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                           CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                           CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS)
    return false;
  const dim3 grid(p.num_sm_parts, p.h_kv, (p.rows_per_kv + kBlockM - 1) / kBlockM);
  kernel<<<grid, L::kThreads, L::kSmemBytes, stream>>>(p, map);
  *err = cudaGetLastError();
  return true;
}

}  // namespace fmla
