// Native test and benchmark harness for libflashmla.so.
//
//   make -C test/native            builds the library and this harness (ARCHS=90a by default)
//   build/fmla_native_test check   correctness: schedule, MLA and GQA decode, write_kv, API errors,
//                                  graph capture (random data, poisoned outputs, NaN in unused cache)
//   build/fmla_native_test small   a few small cases (for compute-sanitizer memcheck / racecheck);
//                                  small-e4m3: those of the 64-row e4m3 kernel alone;
//                                  small-keys-rows: the keys x rows kernel's fp8_ds_mla ones;
//                                  small-producer: those of the TMA boxes issued by a producer;
//                                  small-gather: those of the rows gathered by a producer
//   build/fmla_native_test bench   the mla-anchor suite (TARGETS.md), GQA and write_kv timings with
//                                  the copy ceiling measured in the same run
//   build/fmla_native_test bench-fp8 [page...]   the mla-anchor rows over each FP8 cache format
//                                                (BENCH_FP16=1: fp16 queries over fp8_e4m3)
//   build/fmla_native_test bench-rows   the suite rows in ROWS (comma-separated) at page PAGE
//   build/fmla_native_test bench-pages   rows 1 and 9 of the suite at pages of 64, 32, 16, 8 and 1 tokens
//   build/fmla_native_test bench-gqa     the GQA rows at pages of 16, 1 and 64 tokens, kernels alone
//   build/fmla_native_test gqa-where     GQA calls beside their decode and combine kernels alone
//                                  (CUDA graphs), at the schedule's parts and at GQA_PARTS, its
//                                  rows or those of GQA_ROWS ("d:h_q:h_kv:b:s_k,...");
//                                  mla-where: short MLA calls the same way, at MLA_PARTS, or
//                                  the rows of MLA_ROWS ("b:s_q:h_q:s_k,...", s_k < 0: varlen),
//                                  at page PAGE (64 unless given)
//   build/fmla_native_test bench-small   the small-batch rows timed as the suite tool does (spin
//                                  before the start event), the schedule kernel, write_kv floors
//
// Decode results are checked against the float32 GPU reference (csrc/reference/), itself checked
// against a float64 CPU reference on small shapes.
#include <math.h>
#include <stdarg.h>

#include <random>
#include <string>

#include "../../csrc/kernels/combine/combine.cuh"
#include "../../csrc/kernels/gqa_decode/kernel.cuh"
#include "../../csrc/kernels/splitkv/kernel.cuh"
#include "../../csrc/kernels/mla_decode_sm90/launch.cuh"
#include "cpu_reference.h"
#include "flash_mla_testing.h"
#include "kit.cuh"
#include "schedule_ref.h"

// ================================================================================================
// Problems: a random paged cache and its decode call
// ================================================================================================

struct Spec {
  std::string name;
  bool gqa = false;
  int dtype = FMLA_DTYPE_BFLOAT16;
  int s_q = 1, h_q = 16, h_kv = 1, d_qk = 576, d_v = 512, page_size = 64;
  bool causal = false;
  bool strided = false;  // q/out with padded head strides and a transposed lse
  std::vector<int32_t> lens;
  int sample_rows = 0;  // 0: check every row
  float softmax_scale = NAN;  // NaN: 1 / sqrt(d_qk)
  bool wide_queries = false;  // FP8 cases: query rows over a wide range of magnitudes
  bool zero_scales = false;   // fp8_ds_mla: one row in 5 with a group's scale 0 (codes kept)
  bool spread_keys = false;   // FP8 cases: each key's groups of 128 values times 2^-12 .. 1
  bool odd_scales = false;    // fp8_ds_mla: one key in 151 with a group of values times 2^-12
  // Non-empty: the schedule is computed from these lengths (as long as lens or longer), the decode
  // runs on lens (a schedule built before the sequences shrank: later pieces of a cut sequence
  // find no keys).
  std::vector<int32_t> schedule_lens;
};

static float scale_of(const Spec& s) {
  return isnan(s.softmax_scale) ? 1.f / sqrtf(static_cast<float>(s.d_qk)) : s.softmax_scale;
}

static int g_num_sms = 132;
static int g_failures = 0;
static int g_checks = 0;

struct Problem {
  Spec s;
  int b = 0, num_pages = 0, max_pages = 0, nsp = 0;
  int64_t q_head_stride = 0, out_head_stride = 0;
  std::vector<int32_t> block_table;
  DevBuf q, k, v, bt, lens, meta, splits, out, lse, ws;
  std::vector<DevBuf> k_copies, v_copies;  // rotation for timing
  size_t ws_bytes = 0;
  fmla_tensor tq{}, tk{}, tv{}, tbt{}, tlens{}, tmeta{}, tsplits{}, tout{}, tlse{};
  double mean_len = 0;
};

static Problem build(const Spec& s, uint64_t seed) {
  Problem P;
  P.s = s;
  P.b = static_cast<int>(s.lens.size());
  std::mt19937_64 rng(seed);
  const int ps = s.page_size;
  std::vector<int> pages_of(P.b);
  int used = 0, maxp = 0;
  double sum_len = 0;
  for (int i = 0; i < P.b; ++i) {
    pages_of[i] = (s.lens[i] + ps - 1) / ps;
    used += pages_of[i];
    maxp = std::max(maxp, pages_of[i]);
    sum_len += s.lens[i];
  }
  P.mean_len = sum_len / P.b;
  P.num_pages = used + std::max(3, used / 16);  // some pages nobody owns (NaN)
  P.max_pages = maxp + 2;                        // garbage past every sequence's pages
  std::vector<int32_t> perm(P.num_pages);
  for (int i = 0; i < P.num_pages; ++i) perm[i] = i;
  // PAGES_IN_ORDER=1 lays each sequence's pages out one after another (what the pages' placement
  // in DRAM costs; tiles of consecutive rows); 2: runs of 100 pages in order, the runs shuffled
  // (tiles of consecutive rows beside tiles that straddle two runs).
  static const int in_order = getenv("PAGES_IN_ORDER") ? atoi(getenv("PAGES_IN_ORDER")) : 0;
  if (in_order == 0) {
    std::shuffle(perm.begin(), perm.end(), rng);
  } else if (in_order == 2) {
    std::vector<int> runs((P.num_pages + 99) / 100);
    for (size_t r = 0; r < runs.size(); ++r) runs[r] = static_cast<int>(r);
    std::shuffle(runs.begin(), runs.end(), rng);
    int at = 0;
    for (const int r : runs)
      for (int i = r * 100; i < std::min(P.num_pages, r * 100 + 100); ++i) perm[at++] = i;
  }
  P.block_table.assign(static_cast<size_t>(P.b) * P.max_pages, 0);
  std::vector<int32_t> valid_rows(P.num_pages, 0);
  int next = 0;
  for (int i = 0; i < P.b; ++i) {
    for (int j = 0; j < P.max_pages; ++j) {
      int32_t& e = P.block_table[static_cast<size_t>(i) * P.max_pages + j];
      if (j < pages_of[i]) {
        e = perm[next++];
        valid_rows[e] = std::min(ps, s.lens[i] - j * ps);
      } else {
        const int kind = static_cast<int>(rng() % 3);  // garbage: negative, huge, or out of range
        e = kind == 0 ? -1 - static_cast<int32_t>(rng() % 1000)
                      : kind == 1 ? 0x3fffffff : P.num_pages + static_cast<int32_t>(rng() % 1000);
      }
    }
  }
  const int eb = 2;
  const int64_t k_row = static_cast<int64_t>(s.h_kv) * s.d_qk, v_row = static_cast<int64_t>(s.h_kv) * s.d_v;
  const int64_t k_elems = static_cast<int64_t>(P.num_pages) * ps * k_row;
  P.k = DevBuf(k_elems * eb);
  fill_randn(P.k.ptr, s.dtype, k_elems, seed * 7 + 1);
  DevBuf valid = upload(valid_rows);
  const int blocks = 4096;
  poison_rows_kernel<<<blocks, 256>>>(P.k.as<uint16_t>(), valid.as<int32_t>(), P.num_pages, ps, k_row);
  CUDA_CHECK(cudaGetLastError());
  if (s.gqa) {
    const int64_t v_elems = static_cast<int64_t>(P.num_pages) * ps * v_row;
    P.v = DevBuf(v_elems * eb);
    fill_randn(P.v.ptr, s.dtype, v_elems, seed * 7 + 2);
    poison_rows_kernel<<<blocks, 256>>>(P.v.as<uint16_t>(), valid.as<int32_t>(), P.num_pages, ps, v_row);
    CUDA_CHECK(cudaGetLastError());
  }
  P.q_head_stride = s.d_qk + (s.strided ? 64 : 0);
  P.out_head_stride = s.d_v + (s.strided ? 64 : 0);
  const int64_t q_elems = static_cast<int64_t>(P.b) * s.s_q * s.h_q * P.q_head_stride;
  P.q = DevBuf(q_elems * eb);
  fill_randn(P.q.ptr, s.dtype, q_elems, seed * 7 + 3);
  const int64_t out_elems = static_cast<int64_t>(P.b) * s.s_q * s.h_q * P.out_head_stride;
  P.out = DevBuf(out_elems * eb);
  P.lse = DevBuf(static_cast<size_t>(P.b) * s.s_q * s.h_q * 4);
  P.bt = upload(P.block_table);
  P.lens = upload(s.lens);

  const int rows_per_kv = s.s_q * s.h_q / s.h_kv;
  P.nsp = fmla_mla_num_sm_parts(g_num_sms, rows_per_kv, s.h_kv);
  P.meta = DevBuf(static_cast<size_t>(P.nsp) * 8 * 4);
  P.splits = DevBuf(static_cast<size_t>(P.b + 1) * 4);
  P.ws_bytes = fmla_decode_workspace_bytes(P.b, s.s_q, s.h_q, s.d_v, P.nsp);
  P.ws = DevBuf(P.ws_bytes);

  const int64_t H = s.h_q, Sq = s.s_q;
  P.tq = make_strided(P.q.ptr, s.dtype, {P.b, Sq, H, s.d_qk},
                      {Sq * H * P.q_head_stride, H * P.q_head_stride, P.q_head_stride, 1});
  P.tk = make_tensor(P.k.ptr, s.dtype, {P.num_pages, ps, s.h_kv, s.d_qk});
  if (s.gqa) P.tv = make_tensor(P.v.ptr, s.dtype, {P.num_pages, ps, s.h_kv, s.d_v});
  P.tbt = make_tensor(P.bt.ptr, FMLA_DTYPE_INT32, {P.b, P.max_pages});
  P.tlens = make_tensor(P.lens.ptr, FMLA_DTYPE_INT32, {P.b});
  P.tmeta = make_tensor(P.meta.ptr, FMLA_DTYPE_INT32, {P.nsp, 8});
  P.tsplits = make_tensor(P.splits.ptr, FMLA_DTYPE_INT32, {P.b + 1});
  P.tout = make_strided(P.out.ptr, s.dtype, {P.b, Sq, H, s.d_v},
                        {Sq * H * P.out_head_stride, H * P.out_head_stride, P.out_head_stride, 1});
  if (s.strided)  // lse stored as [b, s_q, h_q], viewed as [b, h_q, s_q]
    P.tlse = make_strided(P.lse.ptr, FMLA_DTYPE_FLOAT32, {P.b, H, Sq}, {Sq * H, 1, H});
  else
    P.tlse = make_tensor(P.lse.ptr, FMLA_DTYPE_FLOAT32, {P.b, H, Sq});
  return P;
}

static void poison_outputs(Problem& P) {
  CUDA_CHECK(cudaMemset(P.out.ptr, 0xFF, P.out.bytes));  // NaN in bf16 / fp16 / float32
  CUDA_CHECK(cudaMemset(P.lse.ptr, 0xFF, P.lse.bytes));
  CUDA_CHECK(cudaMemset(P.ws.ptr, 0xFF, P.ws.bytes));
}

// The lengths the schedule is computed from.
static const std::vector<int32_t>& schedule_lens_of(const Spec& s) {
  return s.schedule_lens.empty() ? s.lens : s.schedule_lens;
}

static void run_metadata(Problem& P, cudaStream_t stream = nullptr) {
  const int rows_per_kv = P.s.s_q * P.s.h_q / P.s.h_kv;
  DevBuf longer;  // schedule_lens on the device, while the schedule kernel reads them
  fmla_tensor lens = P.tlens;
  if (!P.s.schedule_lens.empty()) {
    longer = upload(P.s.schedule_lens);
    lens.data = longer.ptr;
  }
  FMLA_CHECK(fmla_get_mla_metadata(&lens, rows_per_kv, P.s.h_kv, &P.tmeta, &P.tsplits, stream));
  if (longer.ptr) CUDA_CHECK(cudaStreamSynchronize(stream));
}

static fmla_status run_decode(Problem& P, int copy = -1, cudaStream_t stream = nullptr) {
  fmla_tensor k = P.tk, v = P.tv;
  if (copy >= 0) {
    k.data = P.k_copies[copy].ptr;
    if (P.s.gqa) v.data = P.v_copies[copy].ptr;
  }
  const float scale = scale_of(P.s);
  if (P.s.gqa)
    return fmla_gqa_decode(&P.tq, &k, &v, &P.tbt, &P.tlens, &P.tmeta, &P.tsplits, scale,
                           P.s.causal, &P.tout, &P.tlse, P.ws.ptr, P.ws_bytes, stream);
  return fmla_mla_decode(&P.tq, &k, &P.tbt, &P.tlens, P.s.d_v, &P.tmeta, &P.tsplits, scale,
                         P.s.causal, &P.tout, &P.tlse, P.ws.ptr, P.ws_bytes, stream);
}

static void report(bool pass, const char* fmt, ...) {
  ++g_checks;
  if (!pass) ++g_failures;
  va_list args;
  va_start(args, fmt);
  printf("%s ", pass ? "PASS" : "FAIL");
  vprintf(fmt, args);
  printf("\n");
  va_end(args);
  fflush(stdout);
}

// The device schedule against the C++ port of docs/schedule.md.
static bool check_schedule(Problem& P) {
  CUDA_CHECK(cudaDeviceSynchronize());
  const auto meta = download<int32_t>(P.meta.ptr, static_cast<size_t>(P.nsp) * 8);
  const auto splits = download<int32_t>(P.splits.ptr, P.b + 1);
  const ScheduleRef ref = schedule_ref(schedule_lens_of(P.s), P.nsp);
  return meta == ref.metadata && splits == ref.num_splits;
}

struct DecodeCheck {
  bool pass = false;
  bool all_written = true;
  double rel_l2 = 0, max_abs = 0, lse_err = 0;
  int rows = 0;
};

// Runs the GPU reference on the chosen rows and compares; every output element must be written.
static DecodeCheck check_decode(Problem& P, uint64_t seed) {
  const Spec& s = P.s;
  CUDA_CHECK(cudaDeviceSynchronize());
  DecodeCheck r;
  const auto out = download<uint16_t>(P.out.ptr, P.out.bytes / 2);
  const auto lse = download<float>(P.lse.ptr, P.lse.bytes / 4);
  auto out_at = [&](int i, int j, int h, int d) {
    const size_t idx = ((static_cast<size_t>(i) * s.s_q + j) * s.h_q + h) * P.out_head_stride + d;
    return bits_to_float(out[idx], s.dtype);
  };
  auto lse_at = [&](int i, int j, int h) {
    return lse[i * P.tlse.strides[0] + h * P.tlse.strides[1] + j * P.tlse.strides[2]];
  };
  for (int i = 0; i < P.b; ++i)
    for (int j = 0; j < s.s_q; ++j)
      for (int h = 0; h < s.h_q; ++h) {
        if (isnan(lse_at(i, j, h))) r.all_written = false;
        for (int d = 0; d < s.d_v; ++d)
          if (!isfinite(out_at(i, j, h, d))) r.all_written = false;
      }

  std::vector<int32_t> rows;
  const int64_t total = static_cast<int64_t>(P.b) * s.s_q * s.h_q;
  if (s.sample_rows == 0 || total <= s.sample_rows) {
    for (int i = 0; i < P.b; ++i)
      for (int j = 0; j < s.s_q; ++j)
        for (int h = 0; h < s.h_q; ++h) rows.insert(rows.end(), {i, j, h});
  } else {
    std::mt19937_64 rng(seed);
    for (int n = 0; n < s.sample_rows; ++n) {
      const int i = n < P.b ? n : static_cast<int>(rng() % P.b);  // every sequence at least once
      rows.insert(rows.end(), {i, static_cast<int>(rng() % s.s_q), static_cast<int>(rng() % s.h_q)});
    }
  }
  const int n = static_cast<int>(rows.size() / 3);
  r.rows = n;
  DevBuf rows_d = upload(rows), ref_out(static_cast<size_t>(n) * s.d_v * 4), ref_lse(static_cast<size_t>(n) * 4);
  fmla_tensor trows = make_tensor(rows_d.ptr, FMLA_DTYPE_INT32, {n, 3});
  fmla_tensor tro = make_tensor(ref_out.ptr, FMLA_DTYPE_FLOAT32, {n, s.d_v});
  fmla_tensor trl = make_tensor(ref_lse.ptr, FMLA_DTYPE_FLOAT32, {n});
  FMLA_CHECK(fmla_reference_attention(&P.tq, &P.tk, s.gqa ? &P.tv : nullptr, s.d_v, &P.tbt, &P.tlens,
                                      scale_of(s), s.causal, &trows,
                                      &tro, &trl, nullptr));
  CUDA_CHECK(cudaDeviceSynchronize());
  const auto ro = download<float>(ref_out.ptr, static_cast<size_t>(n) * s.d_v);
  const auto rl = download<float>(ref_lse.ptr, n);
  double err2 = 0, ref2 = 0;
  bool lse_ok = true;
  for (int k = 0; k < n; ++k) {
    const int i = rows[3 * k], j = rows[3 * k + 1], h = rows[3 * k + 2];
    for (int d = 0; d < s.d_v; ++d) {
      const double a = out_at(i, j, h, d), b = ro[static_cast<size_t>(k) * s.d_v + d];
      err2 += (a - b) * (a - b);
      ref2 += b * b;
      r.max_abs = std::max(r.max_abs, fabs(a - b));
      if (!(fabs(a - b) <= 1e30)) r.max_abs = INFINITY;  // NaN
    }
    const float a = lse_at(i, j, h), b = rl[k];
    if (isinf(b) || isinf(a)) {
      lse_ok = lse_ok && a == b;
    } else {
      const double e = fabs(a - b);
      r.lse_err = std::max(r.lse_err, e);
      lse_ok = lse_ok && e <= 2e-3 + 2e-4 * fabs(b);
    }
  }
  r.rel_l2 = ref2 > 0 ? sqrt(err2 / ref2) : sqrt(err2);
  const double tol = 1e-2;
  r.pass = r.all_written && lse_ok && r.rel_l2 < tol && r.max_abs < 0.05;
  return r;
}

// Whether run_decode, called again on P (outputs and workspace poisoned first), writes the bits
// that P's outputs hold now.
static bool redecode_gives_same_bits(Problem& P) {
  CUDA_CHECK(cudaDeviceSynchronize());
  const auto out = download<uint8_t>(P.out.ptr, P.out.bytes);
  const auto lse = download<uint8_t>(P.lse.ptr, P.lse.bytes);
  poison_outputs(P);
  FMLA_CHECK(run_decode(P));
  CUDA_CHECK(cudaDeviceSynchronize());
  return out == download<uint8_t>(P.out.ptr, P.out.bytes) &&
         lse == download<uint8_t>(P.lse.ptr, P.lse.bytes);
}

// Builds, schedules, decodes and checks one case.
static void decode_case(const Spec& s, uint64_t seed) {
  Problem P = build(s, seed);
  poison_outputs(P);
  run_metadata(P);
  const bool sched_ok = check_schedule(P);
  const fmla_status st = run_decode(P);
  if (st != FMLA_OK) {
    report(false, "%-44s decode returned %s: %s", s.name.c_str(), fmla_status_string(st), fmla_last_error());
    return;
  }
  const DecodeCheck c = check_decode(P, seed + 99);
  // A decode reads the schedule and leaves it as computed, and a second call on it gives the same
  // bits.
  const bool sched_kept = check_schedule(P);
  const bool again = redecode_gives_same_bits(P) && check_schedule(P);
  report(sched_ok && c.pass && sched_kept && again,
         "%-44s sched=%s written=%s rel_l2=%.2e max_abs=%.2e lse_err=%.2e rows=%d parts=%d%s",
         s.name.c_str(), sched_ok ? (sched_kept ? "ok" : "CHANGED by the decode") : "MISMATCH",
         c.all_written ? "yes" : "NO", c.rel_l2, c.max_abs, c.lse_err, c.rows, P.nsp,
         again ? "" : " second call DIFFERS");
}

static std::vector<int32_t> varlen(int b, int s_k, int s_q, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(s_k, s_k / 2.0);
  std::vector<int32_t> lens(b);
  for (auto& l : lens) l = std::max(static_cast<int32_t>(std::lround(normal(rng))), static_cast<int32_t>(s_q));
  return lens;
}


// ================================================================================================
// Suites
// ================================================================================================

static void suite_schedule() {
  // The worked examples of docs/schedule.md: a cut, then whole sequences.
  {
    const ScheduleRef r = schedule_ref({100, 0, 1000}, 4);
    const std::vector<int32_t> want_meta = {0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 2, 576, 2, 0, 0, 0,
                                            2, 576, 2, 1000, 3, 0, 0, 0, 3, 0, 2, 1000, 4, 0, 0, 0};
    const std::vector<int32_t> want_splits = {0, 1, 2, 4};
    const ScheduleRef w = schedule_ref({100, 500, 100}, 3);
    const std::vector<int32_t> want_whole = {0, 0, 0, 100, 0, 0, 0, 0, 1, 0, 1, 500, 1, 0, 0, 0,
                                             2, 0, 2, 100, 2, 0, 0, 0};
    const std::vector<int32_t> want_whole_splits = {0, 1, 2, 3};
    report(r.metadata == want_meta && r.num_splits == want_splits && w.metadata == want_whole &&
               w.num_splits == want_whole_splits,
           "schedule port: docs examples");
  }
  // The device kernel's schedule of `lens` on `nsp` parts against the port's (*ref); the total
  // split count must stay within b + nsp.
  auto kernel_matches_port = [](const std::vector<int32_t>& lens, int nsp, ScheduleRef* ref) {
    const int b = static_cast<int>(lens.size());
    DevBuf d_lens = upload(lens), meta(static_cast<size_t>(nsp) * 32), splits(static_cast<size_t>(b + 1) * 4);
    fmla_tensor tl = make_tensor(d_lens.ptr, FMLA_DTYPE_INT32, {b});
    fmla_tensor tm = make_tensor(meta.ptr, FMLA_DTYPE_INT32, {nsp, 8});
    fmla_tensor ts = make_tensor(splits.ptr, FMLA_DTYPE_INT32, {b + 1});
    CUDA_CHECK(cudaMemset(meta.ptr, 0xAB, meta.bytes));
    FMLA_CHECK(fmla_get_mla_metadata(&tl, 64, 1, &tm, &ts, nullptr));
    CUDA_CHECK(cudaDeviceSynchronize());
    *ref = schedule_ref(lens, nsp);
    const auto m = download<int32_t>(meta.ptr, static_cast<size_t>(nsp) * 8);
    const auto s = download<int32_t>(splits.ptr, b + 1);
    return m == ref->metadata && s == ref->num_splits && s[b] <= b + nsp;
  };
  // Random batches and part counts.
  std::mt19937_64 rng(7);
  int mismatches = 0, cases = 0;
  ScheduleRef ref;
  // Trials from 200 on reach both kernel paths (more than 4096 sequences or 1024 parts fall back
  // to the one-thread walk) and include negative lengths (counted as empty).
  for (int trial = 0; trial < 320; ++trial) {
    const bool wide = trial >= 200;
    const int b = 1 + static_cast<int>(rng() % (trial < 100 ? 8 : !wide ? 300 : trial % 2 ? 5000 : 40));
    std::vector<int32_t> lens(b);
    for (auto& l : lens) {
      const int kind = static_cast<int>(rng() % (wide ? 5 : 4));
      l = kind == 0 ? 0 : kind == 1 ? static_cast<int32_t>(rng() % 200)
          : kind == 4 ? -static_cast<int32_t>(rng() % 100) : static_cast<int32_t>(rng() % 70000);
    }
    const int nsp = 1 + static_cast<int>(rng() % (wide ? 1100 : 140));
    mismatches += !kernel_matches_port(lens, nsp, &ref);
    ++cases;
  }
  report(mismatches == 0, "schedule kernel vs port: %d random batches, %d mismatches", cases, mismatches);
  // Batches of nearly equal lengths, at least a sequence a part, where parts of whole sequences may
  // hold one overhead more than their share; both kernel paths (more than 4096 sequences: the
  // one-thread walk).
  mismatches = cases = 0;
  int whole = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const int nsp = trial % 3 == 0 ? 33 : trial % 3 == 1 ? 66 : 132;
    const int b = trial >= 50 ? 4100 + static_cast<int>(rng() % 300)
                              : nsp * (1 + static_cast<int>(rng() % 4)) - static_cast<int>(rng() % 6);
    const int base = 64 * (1 + static_cast<int>(rng() % 128)), jitter = trial % 2 ? 0 : 64;
    std::vector<int32_t> lens(b);
    for (auto& l : lens) l = base + (jitter ? static_cast<int32_t>(rng() % jitter) : 0);
    mismatches += !kernel_matches_port(lens, nsp, &ref);
    whole += b > nsp && ref.num_splits[b] == b;
    ++cases;
  }
  report(mismatches == 0 && whole > 0 && whole < cases,
         "schedule kernel vs port: %d nearly equal batches (%d of whole sequences), %d mismatches", cases,
         whole, mismatches);
  report(fmla_mla_num_sm_parts(132, 128, 1) == 66 && fmla_mla_num_sm_parts(132, 16, 1) == 132 &&
             fmla_mla_num_sm_parts(132, 256, 1) == 33 && fmla_mla_num_sm_parts(132, 4, 8) == 16 &&
             fmla_mla_num_sm_parts(4, 512, 2) == 1,
         "fmla_mla_num_sm_parts formula");
}

// The float32 GPU reference against float64 on the CPU (it is the yardstick of every other check).
static void suite_reference() {
  for (int gqa = 0; gqa < 2; ++gqa) {
    Spec s;
    s.name = gqa ? "reference vs cpu (gqa d128)" : "reference vs cpu (mla)";
    s.gqa = gqa;
    s.d_qk = gqa ? 128 : 576;
    s.d_v = gqa ? 128 : 512;
    s.h_q = 8;
    s.h_kv = gqa ? 2 : 1;
    s.s_q = 2;
    s.causal = true;
    s.page_size = 16;
    s.lens = {0, 1, 37, 130};
    Problem P = build(s, 5 + gqa);
    const int b = P.b;
    std::vector<int32_t> rows;
    for (int i = 0; i < b; ++i)
      for (int j = 0; j < s.s_q; ++j)
        for (int h = 0; h < s.h_q; ++h) rows.insert(rows.end(), {i, j, h});
    const int n = static_cast<int>(rows.size() / 3);
    DevBuf rows_d = upload(rows), ro(static_cast<size_t>(n) * s.d_v * 4), rl(static_cast<size_t>(n) * 4);
    fmla_tensor trows = make_tensor(rows_d.ptr, FMLA_DTYPE_INT32, {n, 3});
    fmla_tensor tro = make_tensor(ro.ptr, FMLA_DTYPE_FLOAT32, {n, s.d_v});
    fmla_tensor trl = make_tensor(rl.ptr, FMLA_DTYPE_FLOAT32, {n});
    const float scale = scale_of(s);
    FMLA_CHECK(fmla_reference_attention(&P.tq, &P.tk, gqa ? &P.tv : nullptr, s.d_v, &P.tbt, &P.tlens,
                                        scale, s.causal, &trows, &tro, &trl, nullptr));
    CUDA_CHECK(cudaDeviceSynchronize());
    auto to_float = [&](const DevBuf& buf) {
      const auto bits = download<uint16_t>(buf.ptr, buf.bytes / 2);
      std::vector<float> f(bits.size());
      for (size_t i = 0; i < bits.size(); ++i) f[i] = bits_to_float(bits[i], s.dtype);
      return f;
    };
    // Unused rows are NaN in the cache; the CPU reference must not touch them either.
    const auto q = to_float(P.q), k = to_float(P.k);
    std::vector<float> v;
    if (gqa) v = to_float(P.v);
    std::vector<double> out, lse;
    cpu_reference(q, k, gqa ? &v : nullptr, P.block_table, P.max_pages, s.lens, s.s_q, s.h_q, s.h_kv,
                  s.d_qk, s.d_v, s.page_size, scale, s.causal, out, lse);
    const auto go = download<float>(ro.ptr, static_cast<size_t>(n) * s.d_v);
    const auto gl = download<float>(rl.ptr, n);
    double e2 = 0, r2 = 0, lerr = 0;
    bool inf_ok = true;
    for (int r = 0; r < n; ++r) {
      const int i = rows[3 * r], j = rows[3 * r + 1], h = rows[3 * r + 2];
      for (int d = 0; d < s.d_v; ++d) {
        const double a = go[static_cast<size_t>(r) * s.d_v + d];
        const double b2 = out[((static_cast<size_t>(i) * s.s_q + j) * s.h_q + h) * s.d_v + d];
        e2 += (a - b2) * (a - b2);
        r2 += b2 * b2;
      }
      const double lb = lse[(static_cast<size_t>(i) * s.h_q + h) * s.s_q + j];
      if (isinf(lb)) inf_ok = inf_ok && isinf(gl[r]) && gl[r] > 0;
      else lerr = std::max(lerr, fabs(gl[r] - lb));
    }
    const double rel = sqrt(e2 / r2);
    report(rel < 1e-5 && lerr < 1e-5 && inf_ok, "%-44s rel_l2=%.2e lse_err=%.2e", s.name.c_str(), rel, lerr);
  }
}

static void suite_mla(bool quick) {
  uint64_t seed = 1000;
  const int page_sizes[] = {1, 8, 16, 32, 64};  // a loader each: gathered rows, TMA page boxes, TMA
  const int heads[] = {16, 32, 64, 128};
  for (int ps : page_sizes)
    for (int s_q = 1; s_q <= 4; ++s_q)
      for (int h_q : heads)
        for (int causal = 0; causal < 2; ++causal) {
          if (quick && (s_q % 2 == 0 || h_q == 32 || ps == 8 || ps == 32)) continue;
          Spec s;
          s.page_size = ps;
          s.s_q = s_q;
          s.h_q = h_q;
          s.causal = causal;
          s.lens = {0, 1, 3, 70, 301, 1500};  // an empty sequence, s_q > L, partial pages
          if (ps == 16 && h_q == 64) s.strided = true;
          if (s_q == 3 && h_q == 16) s.lens = {2049, 64, 5};
          char name[96];
          snprintf(name, sizeof name, "mla bf16 ps=%d s_q=%d h_q=%d%s%s", ps, s_q, h_q,
                   causal ? " causal" : "", s.strided ? " strided" : "");
          s.name = name;
          decode_case(s, ++seed);
        }
  // Softmax scales the TypeScript API refuses but the C ABI takes: negative (the largest logit is
  // the smallest score) and zero (equal weights), through both loaders.
  for (float scale : {-0.04f, 0.f})
    for (int ps : {64, 1}) {
      Spec s;
      s.h_q = 128, s.s_q = 2, s.causal = true, s.page_size = ps, s.softmax_scale = scale;
      s.lens = {0, 1, 70, 1500};
      char name[96];
      snprintf(name, sizeof name, "mla bf16 ps=%d s_q=2 h_q=128 causal scale=%g", ps, scale);
      s.name = name;
      decode_case(s, ++seed);
    }
  // h_kv > 1, fp16, long sequences (many splits + combine), big varlen batches.
  {
    Spec s;
    s.name = "mla bf16 h_kv=2 h_q=32 s_q=2 ps=16 causal";
    s.h_kv = 2, s.h_q = 32, s.s_q = 2, s.page_size = 16, s.causal = true;
    s.lens = {500, 0, 77, 2000};
    decode_case(s, ++seed);
  }
  for (int h_q : {16, 128}) {
    Spec s;
    s.dtype = FMLA_DTYPE_FLOAT16;
    s.h_q = h_q, s.s_q = 2, s.causal = true, s.page_size = 64;
    s.lens = {1000, 0, 33, 4000};
    s.name = std::string("mla fp16 h_q=") + std::to_string(h_q) + " s_q=2 causal";
    decode_case(s, ++seed);
  }
  if (quick) return;
  for (int h_q : {16, 128}) {
    Spec s;
    s.h_q = h_q, s.s_q = 1, s.page_size = 64;
    s.lens = {32768};
    s.name = std::string("mla bf16 b=1 s_k=32768 h_q=") + std::to_string(h_q);
    decode_case(s, ++seed);
  }
  {
    Spec s;
    s.h_q = 128, s.s_q = 2, s.causal = true, s.page_size = 64, s.sample_rows = 512;
    s.lens = varlen(128, 4096, 2, 11);
    s.name = "mla bf16 b=128 varlen 4096 h_q=128 s_q=2 causal";
    decode_case(s, ++seed);
  }
  {
    Spec s;
    s.h_q = 16, s.s_q = 1, s.page_size = 16, s.sample_rows = 512;
    s.lens = varlen(128, 2048, 1, 12);
    s.lens[5] = 0;
    s.name = "mla bf16 b=128 varlen 2048 h_q=16 ps=16";
    decode_case(s, ++seed);
  }
  {
    Spec s;
    s.h_q = 16, s.s_q = 4, s.causal = true, s.page_size = 64;
    s.lens = {4641, 45118, 1730, 1696};
    s.name = "mla bf16 imbalanced s_q=4 h_q=16 causal";
    decode_case(s, ++seed);
  }
  // Equal lengths: whole sequences, two a part, every block storing its rows at once; and 16
  // sequences of about 5 splits each, which the combine's warp-a-row kernel merges.
  for (int b : {128, 16}) {
    Spec s;
    s.h_q = 128, s.s_q = 1, s.page_size = 64, s.sample_rows = 512;
    s.lens.assign(b, b == 128 ? 1024 : 4096);
    s.name = b == 128 ? "mla bf16 b=128 equal 1024 h_q=128 (whole sequences)"
                      : "mla bf16 b=16 equal 4096 h_q=128 (about 5 splits each)";
    decode_case(s, ++seed);
  }
  // One long sequence among short ones: the warp-a-row combine (b x 4 >= parts) merging more
  // splits than a warp has lanes (57 at 66 parts), so that weights past lane 31 are read again.
  {
    Spec s;
    s.h_q = 128, s.s_q = 1, s.page_size = 64, s.sample_rows = 512;
    s.lens.assign(40, 64);
    s.lens[7] = 100000;
    s.name = "mla bf16 b=40 one of 100000 keys h_q=128 (warp-a-row combine, 57 splits)";
    decode_case(s, ++seed);
  }
}

// ================================================================================================
// MLA decode over FP8 caches (fmla_mla_decode_fp8)
// ================================================================================================

// The value of a float8_e4m3fn code (NaN for S.1111.111).
static float e4m3_value(uint8_t c) {
  const int e = (c >> 3) & 15, m = c & 7;
  if (e == 15 && m == 7) return NAN;
  const float mag = e == 0 ? ldexpf(static_cast<float>(m), -9) : ldexpf(1.f + m / 8.f, e - 7);
  return (c & 0x80) ? -mag : mag;
}

// A float as bf16 / fp16 bits, rounded to nearest even.
static uint16_t float_to_bits(float f, int dtype) {
  if (dtype == FMLA_DTYPE_FLOAT16) return __half_as_ushort(__float2half_rn(f));
  if (isnan(f)) return 0x7FC0;
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

struct Fp8Cache {
  int format = 0;
  float descale = 1.f;
  DevBuf bytes, descale_d;
  fmla_tensor t{}, tdescale{};
  std::vector<DevBuf> copies;  // rotation for timing
};

// P's cache quantized into `format` by fmla_write_kv_fp8 (every slot, in order); P's own cache is
// then replaced by the dequantized values (computed on the host), so that check_decode's reference
// and the 16-bit decode read what the FP8 decode reads.
static Fp8Cache quantize_cache(Problem& P, int format, float descale, bool replace = true) {
  const Spec& s = P.s;
  const bool ds = format == FMLA_KV_FORMAT_FP8_DS_MLA;
  const int row = ds ? 656 : 576;
  const int64_t slots = static_cast<int64_t>(P.num_pages) * s.page_size;
  if (s.spread_keys) {  // group scales up to 2^12 apart from key to key
    std::vector<uint16_t> bits = download<uint16_t>(P.k.ptr, P.k.bytes / 2);
    std::mt19937_64 rng(slots);
    for (int64_t i = 0; i < slots; ++i)
      for (int gr = 0; gr < 4; ++gr) {
        const int r = static_cast<int>(rng() % 32);  // a group in 4 as it was
        const float f = r < 8 ? 1.f : ldexpf(1.f, -(r % 13));
        for (int v = 128 * gr; v < 128 * (gr + 1); ++v) {
          uint16_t& b = bits[static_cast<size_t>(i) * 576 + v];
          b = float_to_bits(bits_to_float(b, s.dtype) * f, s.dtype);
        }
      }
    CUDA_CHECK(cudaMemcpy(P.k.ptr, bits.data(), P.k.bytes, cudaMemcpyHostToDevice));
  }
  if (s.odd_scales) {  // that group's scale falls under fp16's range: its tile's values in bf16
    std::vector<uint16_t> bits = download<uint16_t>(P.k.ptr, P.k.bytes / 2);
    for (int64_t i = 5; i < slots; i += 151) {
      const int gr = static_cast<int>((i / 151) % 4);
      for (int v = 128 * gr; v < 128 * (gr + 1); ++v) {
        uint16_t& b = bits[static_cast<size_t>(i) * 576 + v];
        b = float_to_bits(bits_to_float(b, s.dtype) * 0x1p-12f, s.dtype);
      }
    }
    CUDA_CHECK(cudaMemcpy(P.k.ptr, bits.data(), P.k.bytes, cudaMemcpyHostToDevice));
  }
  Fp8Cache c;
  c.format = format;
  c.descale = descale;
  c.bytes = DevBuf(static_cast<size_t>(slots) * row);
  std::vector<int32_t> slot(slots);
  for (int64_t i = 0; i < slots; ++i) slot[i] = static_cast<int32_t>(i);
  DevBuf slots_d = upload(slot);
  fmla_tensor rows = make_tensor(P.k.ptr, s.dtype, {slots, 1, 576});
  fmla_tensor ts = make_tensor(slots_d.ptr, FMLA_DTYPE_INT32, {slots});
  c.t = make_tensor(c.bytes.ptr, FMLA_DTYPE_FLOAT8_E4M3FN, {P.num_pages, s.page_size, 1, row});
  if (!ds) {
    c.descale_d = upload(std::vector<float>{descale});
    c.tdescale = make_tensor(c.descale_d.ptr, FMLA_DTYPE_FLOAT32, {1});
  }
  FMLA_CHECK(fmla_write_kv_fp8(&c.t, &rows, &ts, format, ds ? nullptr : &c.tdescale, nullptr));
  if (!replace) return c;
  auto codes = download<uint8_t>(c.bytes.ptr, c.bytes.bytes);
  if (ds && s.zero_scales) {  // a cache written elsewhere: those values read as 0
    for (int64_t i = 0; i < slots; i += 5)
      memset(&codes[static_cast<size_t>(i) * row + 512 + 4 * ((i / 5) % 4)], 0, 4);
    CUDA_CHECK(cudaMemcpy(c.bytes.ptr, codes.data(), codes.size(), cudaMemcpyHostToDevice));
  }
  std::vector<uint16_t> deq(static_cast<size_t>(slots) * 576);
  for (int64_t i = 0; i < slots; ++i) {
    const uint8_t* r = &codes[static_cast<size_t>(i) * row];
    for (int v = 0; v < 576; ++v) {
      float x;
      if (!ds) {
        x = e4m3_value(r[v]) * descale;
      } else if (v < 512) {
        float scale;
        memcpy(&scale, r + 512 + 4 * (v / 128), 4);
        x = e4m3_value(r[v]) * scale;
      } else {
        uint16_t b;
        memcpy(&b, r + 528 + 2 * (v - 512), 2);
        x = bits_to_float(b, FMLA_DTYPE_BFLOAT16);
      }
      deq[static_cast<size_t>(i) * 576 + v] = float_to_bits(x, s.dtype);
    }
  }
  CUDA_CHECK(cudaMemcpy(P.k.ptr, deq.data(), deq.size() * 2, cudaMemcpyHostToDevice));
  return c;
}

// float8_e4m3fn queries: P's queries as codes with one scale (round to nearest even, saturating),
// in a tensor of q's shape and strides; P's own queries are replaced by the dequantized values, so
// that check_decode's reference reads what the FP8 decode reads.
struct Fp8Queries {
  DevBuf codes, descale_d;
  fmla_tensor t{}, tdescale{};
};

// Query rows whose magnitudes span 2^-20 .. 2^6 of the random ones: a value in 32 times 64, one in
// 8 times 2^-12, one in 16 times 2^-20, so that each row holds values far under 2^-10 of its
// largest (what a bf16 row split into two e4m3 terms holds only to 2^-17 of its largest).
static void widen_queries(Problem& P, uint64_t seed) {
  std::vector<uint16_t> bits = download<uint16_t>(P.q.ptr, P.q.bytes / 2);
  std::mt19937_64 rng(seed);
  for (uint16_t& b : bits) {
    const int r = static_cast<int>(rng() % 32);
    const float f = r == 0 ? 64.f : r < 5 ? 0x1p-12f : r < 7 ? 0x1p-20f : 1.f;
    b = float_to_bits(bits_to_float(b, P.s.dtype) * f, P.s.dtype);
  }
  CUDA_CHECK(cudaMemcpy(P.q.ptr, bits.data(), P.q.bytes, cudaMemcpyHostToDevice));
}

static Fp8Queries quantize_queries(Problem& P, float descale_q) {
  std::vector<uint16_t> bits = download<uint16_t>(P.q.ptr, P.q.bytes / 2);
  std::vector<uint8_t> codes(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) {
    const float x = bits_to_float(bits[i], P.s.dtype);
    codes[i] = static_cast<uint8_t>(__nv_cvt_float_to_fp8(x / descale_q, __NV_SATFINITE, __NV_E4M3));
    bits[i] = float_to_bits(e4m3_value(codes[i]) * descale_q, P.s.dtype);
  }
  CUDA_CHECK(cudaMemcpy(P.q.ptr, bits.data(), P.q.bytes, cudaMemcpyHostToDevice));
  Fp8Queries q;
  q.codes = upload(codes);
  q.t = P.tq;
  q.t.data = q.codes.ptr;
  q.t.dtype = FMLA_DTYPE_FLOAT8_E4M3FN;
  q.descale_d = upload(std::vector<float>{descale_q});
  q.tdescale = make_tensor(q.descale_d.ptr, FMLA_DTYPE_FLOAT32, {1});
  return q;
}

static fmla_status run_decode_fp8(Problem& P, Fp8Cache& c, int copy = -1,
                                  const Fp8Queries* q8 = nullptr) {
  fmla_tensor k = c.t;
  if (copy >= 0) k.data = c.copies[copy].ptr;
  return fmla_mla_decode_fp8(q8 ? &q8->t : &P.tq, &k, &P.tbt, &P.tlens, P.s.d_v, &P.tmeta,
                             &P.tsplits, scale_of(P.s), P.s.causal, c.format,
                             q8 ? &q8->tdescale : nullptr,
                             c.format == FMLA_KV_FORMAT_FP8_E4M3 ? &c.tdescale : nullptr, &P.tout,
                             &P.tlse, P.ws.ptr, P.ws_bytes, nullptr);
}

static const char* format_name(int format) {
  return format == FMLA_KV_FORMAT_FP8_DS_MLA ? "fp8_ds_mla" : "fp8_e4m3";
}

// Whether an FP8 decode must give the 16-bit decode's bits over the dequantized cache: fp8_ds_mla
// (exact values, nothing folded) through the 64-row kernel with the dequantizing producer (more
// than 32 query rows a KV head, pages that are not a power of two), whose products are the 16-bit
// kernel's; the keys x rows kernel and the 64-row e4m3 kernel sum in another order.
static bool same_bits_as_16bit(const Spec& s, int format) {
  return format == FMLA_KV_FORMAT_FP8_DS_MLA && s.s_q * s.h_q > 32 &&
         (s.page_size & (s.page_size - 1)) != 0;
}

// One FP8 decode against the reference over the dequantized cache (every output written, the
// usual tolerance); with `same_bits`, also against the 16-bit decode over that cache bit for bit.
// descale_q > 0: float8_e4m3fn queries with that scale (the reference over their values).
static void fp8_case(const Spec& s, int format, float descale, uint64_t seed, bool same_bits,
                     float descale_q = 0.f) {
  Problem P = build(s, seed);
  if (s.wide_queries) widen_queries(P, seed + 7);
  Fp8Cache c = quantize_cache(P, format, descale);
  Fp8Queries q8;
  if (descale_q > 0.f) q8 = quantize_queries(P, descale_q);
  poison_outputs(P);
  run_metadata(P);
  const fmla_status st = run_decode_fp8(P, c, -1, descale_q > 0.f ? &q8 : nullptr);
  if (st != FMLA_OK) {
    report(false, "%-52s decode returned %s: %s", s.name.c_str(), fmla_status_string(st),
           fmla_last_error());
    return;
  }
  const DecodeCheck r = check_decode(P, seed + 99);
  const bool bits_ok = !same_bits || redecode_gives_same_bits(P);  // the 16-bit decode's bits
  report(r.pass && bits_ok,
         "%-52s written=%s rel_l2=%.2e max_abs=%.2e lse_err=%.2e rows=%d parts=%d%s",
         s.name.c_str(), r.all_written ? "yes" : "NO", r.rel_l2, r.max_abs, r.lse_err, r.rows,
         P.nsp, same_bits ? (bits_ok ? " bits=16-bit decode's" : " bits DIFFER from the 16-bit decode") : "");
}

// Four row groups a KV head (h_q 128, s_q 2) on 64-token pages: the sm_90a kernel whose producer
// warpgroup issues the TMA boxes (kTmaProducer), few sequences and many short ones (several pieces
// a part, the producer running ahead into the next piece).
static void small_producer_cases() {
  Spec s;
  s.h_q = 128, s.s_q = 2, s.causal = true, s.page_size = 64, s.lens = {0, 5, 300, 130};
  s.name = "small mla ps=64 h_q=128 s_q=2 (TMA producer)";
  decode_case(s, 13);
  s.lens.clear();
  for (int i = 0; i < 100; ++i) s.lens.push_back((i * 37) % 200);
  s.name = "small mla ps=64 h_q=128 s_q=2 b=100 (TMA producer)";
  decode_case(s, 14);
}

// The sm_90a kernel's cp.async producer warpgroup (pages under 8 tokens, or odd), whose
// buffers are released and refilled 16 keys at a time: one-token pages at 64 rows a KV head, and
// pages of 3 tokens (divisions) at two row groups over many short sequences, several pieces a part.
static void small_gather_cases() {
  Spec u;
  u.h_q = 32, u.s_q = 2, u.causal = true, u.page_size = 1, u.lens = {0, 5, 300, 130};
  u.name = "small mla ps=1 h_q=32";
  decode_case(u, 4);
  Spec v;
  v.h_q = 128, v.s_q = 1, v.page_size = 3;
  for (int i = 0; i < 40; ++i) v.lens.push_back((i * 53) % 300);
  v.name = "small mla ps=3 h_q=128 b=40 (gather)";
  decode_case(v, 15);
}

// 64 query rows over fp8_e4m3 (mla_decode_e4m3_sm90), e4m3 queries (both products on the codes),
// bf16 queries (split into two e4m3 terms) and fp16 queries (S^T), on pages of 64 (a box a tile),
// of 16 tokens (a box a page) and of 8 and 1 (gathered rows); and over fp8_ds_mla, bf16 queries,
// the same.
static void small_e4m3_case() {
  for (int ps : {64, 16, 8, 1}) {
    Spec f;
    f.h_q = 32, f.s_q = 2, f.causal = true, f.page_size = ps, f.lens = {0, 5, 300, 130};
    f.name = "small mla fp8_e4m3 e4m3 q ps=" + std::to_string(ps) + " 64 rows (e4m3 kernel)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 32, 11 + ps, false, 1.f / 16);
    f.name = "small mla fp8_e4m3 ps=" + std::to_string(ps) + " 64 rows (e4m3 kernel, split q)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 32, 21 + ps, false);
    f.dtype = FMLA_DTYPE_FLOAT16;
    f.name = "small mla fp8_e4m3 fp16 ps=" + std::to_string(ps) + " 64 rows (e4m3 kernel, S^T)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 32, 31 + ps, false);
    f.dtype = FMLA_DTYPE_BFLOAT16;
    f.name = "small mla fp8_ds_mla ps=" + std::to_string(ps) + " 64 rows (e4m3 kernel, split q)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f, 41 + ps, false);
  }
}

// The keys x rows kernel over fp8_ds_mla where it converts V's codes (32 columns, and 16 on
// whole pages), tiles in fp16 and in bf16 in one sequence (for racecheck).
static void small_keys_rows_cases() {
  Spec f;
  f.s_q = 1, f.page_size = 64, f.odd_scales = true, f.lens = {0, 5, 300, 1300};
  for (int h_q : {32, 16}) {
    f.h_q = h_q;
    f.name = "small mla fp8_ds_mla odd scales ps=64 " + std::to_string(h_q) + " rows (keys x rows)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f, 50 + h_q, false);
  }
}

static void suite_mla_fp8(bool quick) {
  uint64_t seed = 5000;
  struct Shape { int s_q, h_q; bool causal; };
  // 16 and 32 query rows take the keys x rows kernel, more the 64-row one (h_q 16 at s_q 4: each
  // half of a block's rows spans two queries, one copy where q is dense).
  const Shape shapes[] = {{1, 16, false}, {2, 16, true}, {1, 32, false}, {2, 128, true},
                          {4, 32, true},  {1, 64, false}, {4, 16, true}};
  // Each format, then fp8_e4m3 with float8_e4m3fn queries (up to 32 rows the scores on the FP8
  // tensor cores, more rows converted to bf16 as they load).
  struct Variant { int format; bool e4m3_q; };
  const Variant variants[] = {{FMLA_KV_FORMAT_FP8_DS_MLA, false}, {FMLA_KV_FORMAT_FP8_E4M3, false},
                              {FMLA_KV_FORMAT_FP8_E4M3, true}};
  for (const Variant& v : variants)
    for (int ps : {1, 16, 64, 7, 8, 32, 2})
      for (const Shape& sh : shapes) {
        if (quick && ((sh.h_q == 32 && sh.s_q == 4) || ps == 7)) continue;
        // Pages of 32 (one TMA box a page) and of 8 and 2 (gathered rows; fp8_e4m3): the 64-row
        // e4m3 kernel's loads.
        if ((ps == 8 || ps == 32 || ps == 2) && quick) continue;
        if ((ps == 8 || ps == 2) && v.format != FMLA_KV_FORMAT_FP8_E4M3) continue;
        Spec s;
        s.page_size = ps, s.s_q = sh.s_q, s.h_q = sh.h_q, s.causal = sh.causal;
        s.lens = {0, 1, 3, 70, 301, 1500};
        // Padded query rows at h_q 128 on TMA tiles and page boxes: the 64-row kernel copies them
        // a row at a time (one copy a half of the block's rows where they lie end to end).
        s.strided = sh.h_q == 128 && (ps == 64 || ps == 16);
        char name[96];
        snprintf(name, sizeof name, "mla %s%s ps=%d s_q=%d h_q=%d%s%s", format_name(v.format),
                 v.e4m3_q ? " e4m3 q" : "", ps, sh.s_q, sh.h_q, sh.causal ? " causal" : "",
                 s.strided ? " strided" : "");
        s.name = name;
        // fp8_e4m3 with a power-of-two scale: exact dequantized values, but the scale is folded
        // out of the products, so the bits may differ from the 16-bit decode's.
        fp8_case(s, v.format, 1.f / 64, ++seed, !v.e4m3_q && same_bits_as_16bit(s, v.format),
                 v.e4m3_q ? 1.f / 32 : 0.f);
      }
  {  // fp16 queries (fp8_e4m3 only), a scale that is not a power of two, many splits; both kernels
    Spec s;
    s.dtype = FMLA_DTYPE_FLOAT16, s.h_q = 128, s.s_q = 2, s.causal = true, s.page_size = 16;
    s.lens = {1000, 0, 33, 4000};
    s.name = "mla fp8_e4m3 fp16 ps=16 s_q=2 h_q=128 causal";
    fp8_case(s, FMLA_KV_FORMAT_FP8_E4M3, 0.0123f, ++seed, false);
    s.h_q = 16, s.page_size = 1, s.name = "mla fp8_e4m3 fp16 ps=1 s_q=2 h_q=16 causal (keys x rows)";
    fp8_case(s, FMLA_KV_FORMAT_FP8_E4M3, 0.0123f, ++seed, false);
    s.s_q = 1, s.causal = false, s.page_size = 64, s.name = "mla fp8_e4m3 fp16 ps=64 s_q=1 h_q=16 (keys x rows)";
    fp8_case(s, FMLA_KV_FORMAT_FP8_E4M3, 0.0123f, ++seed, false);
  }
  for (int format : {FMLA_KV_FORMAT_FP8_DS_MLA, FMLA_KV_FORMAT_FP8_E4M3}) {
    Spec s;
    s.h_q = 16, s.s_q = 1, s.page_size = 64, s.sample_rows = 512;
    s.lens = varlen(128, 2048, 1, 13);
    s.name = std::string("mla ") + format_name(format) + " b=128 varlen 2048 h_q=16";
    fp8_case(s, format, 0.0123f, ++seed, same_bits_as_16bit(s, format));
  }
  for (int ps : {64, 1}) {  // fp8_ds_mla, 64+ rows: the 64-row e4m3 kernel, many splits
    Spec s;
    s.h_q = 128, s.s_q = 1, s.page_size = ps, s.sample_rows = 512;
    s.lens = varlen(128, 2048, 1, 16);
    s.name = "mla fp8_ds_mla b=128 varlen 2048 h_q=128 ps=" + std::to_string(ps);
    fp8_case(s, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f, ++seed, false);
  }
  // Many sequences and splits, scales that are not powers of two. e4m3 queries: 64+ rows on pages
  // of several tiles and of a part of one (the 64-row e4m3 kernel), s_q 2 causal among them; bf16
  // queries with 64+ rows (the same kernel, each row split into two e4m3 terms) on pages of a tile,
  // of a part of one and of one token.
  struct Varlen { int h_q, s_q, page_size; bool e4m3_q; };
  for (const Varlen& c : {Varlen{16, 1, 64, true}, Varlen{32, 1, 64, true}, Varlen{128, 1, 64, true},
                          Varlen{64, 2, 256, true}, Varlen{128, 1, 16, true}, Varlen{128, 1, 64, false},
                          Varlen{128, 2, 16, false}, Varlen{64, 1, 8, false},
                          Varlen{128, 1, 1, false}}) {
    Spec s;
    s.h_q = c.h_q, s.s_q = c.s_q, s.causal = c.s_q > 1, s.page_size = c.page_size;
    s.sample_rows = 512;
    s.lens = varlen(128, 2048, s.s_q, c.e4m3_q ? 14 : 15);
    s.name = std::string("mla fp8_e4m3") + (c.e4m3_q ? " e4m3 q" : "") + " b=128 varlen 2048 h_q=" +
             std::to_string(c.h_q) + (s.causal ? " s_q=2 causal" : "") + " ps=" +
             std::to_string(c.page_size);
    fp8_case(s, FMLA_KV_FORMAT_FP8_E4M3, 0.0123f, ++seed, false, c.e4m3_q ? 0.0177f : 0.f);
  }
  // Softmax scales the TypeScript API refuses but the C ABI takes (negative: the largest logit is
  // the smallest score; zero: equal weights) through the 64-row e4m3 kernel, TMA tiles and
  // gathered rows, bf16 (split), fp16 (S^T) and e4m3 queries.
  for (float scale : {-0.04f, 0.f})
    for (int ps : {64, 1})
      for (int q_kind : {0, 1, 2}) {  // bf16, fp16, e4m3
        Spec s;
        s.h_q = 128, s.s_q = 2, s.causal = true, s.page_size = ps, s.softmax_scale = scale;
        if (q_kind == 1) s.dtype = FMLA_DTYPE_FLOAT16;
        s.lens = {0, 1, 70, 1500};
        char name[96];
        snprintf(name, sizeof name, "mla fp8_e4m3%s ps=%d s_q=2 h_q=128 causal scale=%g",
                 q_kind == 1 ? " fp16" : q_kind == 2 ? " e4m3 q" : "", ps, scale);
        s.name = name;
        fp8_case(s, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 64, ++seed, false, q_kind == 2 ? 1.f / 32 : 0.f);
      }
  // The same scales through the keys x rows kernel, bf16 queries (split into two e4m3 terms).
  for (float scale : {-0.04f, 0.f})
    for (int ps : {64, 1}) {
      Spec s;
      s.h_q = 16, s.s_q = 2, s.causal = true, s.page_size = ps, s.softmax_scale = scale;
      s.wide_queries = ps == 1;
      s.lens = {0, 1, 70, 1500};
      char name[96];
      snprintf(name, sizeof name, "mla fp8_e4m3%s ps=%d s_q=2 h_q=16 causal scale=%g",
               s.wide_queries ? " wide q" : "", ps, scale);
      s.name = name;
      fp8_case(s, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 64, ++seed, false);
    }
  // fp8_ds_mla through the 64-row e4m3 kernel: groups whose scale is 0 (their codes kept), query
  // rows over a wide range of magnitudes, a softmax scale that is negative; TMA tiles, page boxes
  // and gathered rows; tiles whose values go through fp16 and tiles that hold a scale under its
  // range (bf16) in the same sequences, where the scales are odd.
  for (int ps : {64, 16, 1})
    for (bool odd : {false, true}) {
      Spec s;
      s.h_q = 128, s.s_q = 2, s.causal = true, s.page_size = ps, s.zero_scales = true;
      s.wide_queries = ps != 16, s.odd_scales = odd;
      s.softmax_scale = ps == 1 ? -0.04f : NAN;
      s.lens = {0, 1, 70, 1500};
      s.name = "mla fp8_ds_mla zero" + std::string(odd ? "/odd" : "") + " scales" +
               std::string(s.wide_queries ? " wide q" : "") + " ps=" + std::to_string(ps) +
               " s_q=2 h_q=128 causal" + (ps == 1 ? " scale<0" : "");
      fp8_case(s, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f, ++seed, false);
    }
  // fp8_ds_mla through the keys x rows kernel (16 columns: the values' product on the FP8 tensor
  // cores, P^T a version a group): groups whose scale is 0, group scales from key to key 2^12
  // apart, wide query rows, a negative softmax scale; whole-page runs and one-token pages.
  for (int ps : {64, 1})
    for (int s_q : {1, 2}) {
      Spec s;
      s.h_q = 16, s.s_q = s_q, s.causal = s_q > 1, s.page_size = ps;
      s.zero_scales = s_q == 1, s.spread_keys = true, s.wide_queries = ps == 1;
      s.softmax_scale = ps == 1 && s_q == 2 ? -0.04f : NAN;
      s.lens = {0, 1, 70, 1500, 5000};
      char name[112];
      snprintf(name, sizeof name, "mla fp8_ds_mla%s spread keys%s ps=%d s_q=%d h_q=16%s",
               s.zero_scales ? " zero scales" : "", s.wide_queries ? " wide q" : "", ps, s_q,
               s.softmax_scale < 0 ? " causal scale<0" : s.causal ? " causal" : "");
      s.name = name;
      fp8_case(s, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f, ++seed, false);
    }
  // fp8_ds_mla through the keys x rows kernel where it converts V's codes (32 columns; 16 on runs
  // of several tokens): tiles whose values go through fp16 and tiles that hold a scale under its
  // range (bf16) in the same sequences, groups whose scale is 0 among them.
  struct KeysRows { int h_q, s_q, page_size; };
  for (const KeysRows& k : {KeysRows{32, 1, 64}, KeysRows{32, 1, 16}, KeysRows{16, 2, 1},
                            KeysRows{16, 1, 64}}) {
    Spec s;
    s.h_q = k.h_q, s.s_q = k.s_q, s.causal = k.s_q > 1, s.page_size = k.page_size;
    s.odd_scales = true, s.zero_scales = k.page_size != 16;
    s.lens = {0, 1, 70, 1500, 5000};
    char name[112];
    snprintf(name, sizeof name, "mla fp8_ds_mla odd%s scales ps=%d s_q=%d h_q=%d%s (keys x rows)",
             s.zero_scales ? "/zero" : "", k.page_size, k.s_q, k.h_q, s.causal ? " causal" : "");
    s.name = name;
    fp8_case(s, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f, ++seed, false);
  }
  // bf16 query rows over a wide range of magnitudes: the 64-row e4m3 kernel (the rows split into
  // two e4m3 terms) on TMA tiles and gathered rows, and the keys x rows kernel.
  for (int h_q : {128, 16})
    for (int ps : {64, 1}) {
      if (h_q == 16 && ps == 1) continue;
      Spec s;
      s.h_q = h_q, s.s_q = 2, s.causal = true, s.page_size = ps, s.wide_queries = true;
      s.lens = {0, 1, 70, 1500};
      s.name = "mla fp8_e4m3 wide q ps=" + std::to_string(ps) + " s_q=2 h_q=" +
               std::to_string(h_q) + " causal";
      fp8_case(s, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 64, ++seed, false);
    }
  // Wrong combinations: typed errors before any launch.
  Spec s;
  s.h_q = 16, s.lens = {70, 3};
  Problem P = build(s, 77);
  Fp8Cache ds = quantize_cache(P, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f);
  Fp8Cache e4 = quantize_cache(P, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 16);
  run_metadata(P);
  Fp8Queries q8 = quantize_queries(P, 1.f / 32);
  auto call = [&](const fmla_tensor* q, const fmla_tensor* k, int format, const fmla_tensor* descale,
                  const fmla_tensor* descale_q = nullptr, fmla_tensor* out = nullptr) {
    return fmla_mla_decode_fp8(q, k, &P.tbt, &P.tlens, 512, &P.tmeta, &P.tsplits, 0.05f, 0, format,
                               descale_q, descale, out ? out : &P.tout, &P.tlse, P.ws.ptr,
                               P.ws_bytes, nullptr);
  };
  fmla_tensor q16 = P.tq, out16 = P.tout;
  q16.dtype = out16.dtype = FMLA_DTYPE_FLOAT16;
  fmla_tensor narrow = ds.t;
  narrow.shape[3] = 576;
  fmla_tensor two = q8.tdescale;
  two.shape[0] = 2;
  const struct { const char* what; fmla_status got, want; } errors[] = {
      {"ds_mla with a descale", call(&P.tq, &ds.t, FMLA_KV_FORMAT_FP8_DS_MLA, &e4.tdescale), FMLA_ERROR_INVALID_ARGUMENT},
      {"e4m3 without descale", call(&P.tq, &e4.t, FMLA_KV_FORMAT_FP8_E4M3, nullptr), FMLA_ERROR_INVALID_ARGUMENT},
      {"ds_mla with 576-byte rows", call(&P.tq, &narrow, FMLA_KV_FORMAT_FP8_DS_MLA, nullptr), FMLA_ERROR_INVALID_ARGUMENT},
      {"e4m3 with 656-byte rows", call(&P.tq, &ds.t, FMLA_KV_FORMAT_FP8_E4M3, &e4.tdescale), FMLA_ERROR_INVALID_ARGUMENT},
      {"format 7", call(&P.tq, &e4.t, 7, &e4.tdescale), FMLA_ERROR_INVALID_ARGUMENT},
      {"a bf16 cache", call(&P.tq, &P.tk, FMLA_KV_FORMAT_FP8_E4M3, &e4.tdescale), FMLA_ERROR_INVALID_ARGUMENT},
      {"e4m3 q without descale_q", call(&q8.t, &e4.t, FMLA_KV_FORMAT_FP8_E4M3, &e4.tdescale), FMLA_ERROR_INVALID_ARGUMENT},
      {"bf16 q with descale_q", call(&P.tq, &e4.t, FMLA_KV_FORMAT_FP8_E4M3, &e4.tdescale, &q8.tdescale), FMLA_ERROR_INVALID_ARGUMENT},
      {"e4m3 q over fp8_ds_mla", call(&q8.t, &ds.t, FMLA_KV_FORMAT_FP8_DS_MLA, nullptr, &q8.tdescale), FMLA_ERROR_UNSUPPORTED},
      {"e4m3 q with an fp16 out", call(&q8.t, &e4.t, FMLA_KV_FORMAT_FP8_E4M3, &e4.tdescale, &q8.tdescale, &out16), FMLA_ERROR_INVALID_ARGUMENT},
      {"e4m3 q with a 2-element descale_q", call(&q8.t, &e4.t, FMLA_KV_FORMAT_FP8_E4M3, &e4.tdescale, &two), FMLA_ERROR_INVALID_ARGUMENT},
  };
  for (const auto& e : errors)
    report(e.got == e.want, "mla fp8 refuses %s: %s", e.what, fmla_status_string(e.got));
  // fp16 queries over fp8_ds_mla (bf16 rotary values): unsupported on the GPU
  const fmla_status st = fmla_mla_decode_fp8(&q16, &ds.t, &P.tbt, &P.tlens, 512, &P.tmeta, &P.tsplits,
                                             0.05f, 0, FMLA_KV_FORMAT_FP8_DS_MLA, nullptr, nullptr, &out16,
                                             &P.tlse, P.ws.ptr, P.ws_bytes, nullptr);
  report(st == FMLA_ERROR_UNSUPPORTED, "mla fp8 refuses fp16 queries over fp8_ds_mla: %s",
         fmla_status_string(st));
}

static void suite_gqa(bool quick) {
  uint64_t seed = 5000;
  struct Heads { int h_q, h_kv; };
  const Heads heads[] = {{32, 8}, {8, 1}, {8, 8}};
  for (int d : {64, 128, 256})
    for (int ps : {1, 16, 64})
      for (const Heads& hh : heads)
        for (int s_q : {1, 3})
          for (int causal = 0; causal < 2; ++causal) {
            if (quick && (s_q == 3 || ps == 64)) continue;
            Spec s;
            s.gqa = true;
            s.d_qk = s.d_v = d;
            s.page_size = ps;
            s.h_q = hh.h_q, s.h_kv = hh.h_kv, s.s_q = s_q, s.causal = causal;
            s.lens = {0, 2, 65, 300, 1200};
            if (d == 128 && ps == 16 && hh.h_kv == 8 && s_q == 1) s.strided = true;
            char name[96];
            snprintf(name, sizeof name, "gqa bf16 d=%d ps=%d h_q=%d h_kv=%d s_q=%d%s%s", d, ps, hh.h_q,
                     hh.h_kv, s_q, causal ? " causal" : "", s.strided ? " strided" : "");
            s.name = name;
            decode_case(s, ++seed);
          }
  {
    Spec s;
    s.gqa = true, s.dtype = FMLA_DTYPE_FLOAT16, s.d_qk = s.d_v = 128, s.page_size = 16;
    s.h_q = 32, s.h_kv = 8, s.s_q = 2, s.causal = true;
    s.lens = {3000, 0, 17, 9000};
    s.name = "gqa fp16 d=128 ps=16 h_q=32 h_kv=8 s_q=2 causal";
    decode_case(s, ++seed);
  }
  // Cut sequences merged by the kernel (merge.cuh): a long sequence in 90+ splits among short ones
  // (a batch large enough for that merge); equal sequences of about two parts each, so that parts
  // cut both their first and their last sequence; and schedules built for longer sequences than
  // the decode reads, so that later pieces of a cut sequence are empty (the loader notes them, and
  // their block may complete the count).
  {
    Spec s;
    s.gqa = true, s.d_qk = s.d_v = 128, s.page_size = 16, s.h_q = 16, s.h_kv = 1;
    s.lens.assign(40, 100);
    s.lens.insert(s.lens.begin() + 7, 20000);
    s.name = "gqa bf16 d=128 ps=16 h_q=16 h_kv=1 b=41, one of 20000";
    decode_case(s, ++seed);
    Spec e;
    e.gqa = true, e.d_qk = e.d_v = 128, e.page_size = 16, e.h_q = 16, e.h_kv = 1;
    e.lens.assign(64, 2048);
    e.name = "gqa bf16 d=128 ps=16 h_q=16 h_kv=1 b=64, 2048 each";
    decode_case(e, ++seed);
    for (const int h_kv : {8, 1}) {
      Spec t;
      t.gqa = true, t.d_qk = t.d_v = h_kv == 8 ? 64 : 256, t.page_size = 16;
      t.h_q = 16, t.h_kv = h_kv, t.causal = true, t.s_q = 2;
      t.lens = {0, 2, 65, 300, 700, 3000};
      t.schedule_lens = {0, 2, 65, 300, 1200, 9000};
      t.lens.resize(36, 50);  // 36 sequences: 4 b >= 132 parts, so the kernel merges
      t.schedule_lens.resize(36, 50);
      char name[96];
      snprintf(name, sizeof name, "gqa bf16 d=%d ps=16 h_q=16 h_kv=%d s_q=2 causal, schedule longer",
               t.d_qk, h_kv);
      t.name = name;
      decode_case(t, ++seed);
    }
  }
  if (quick) return;
  {
    Spec s;
    s.gqa = true, s.d_qk = s.d_v = 128, s.page_size = 16, s.h_q = 32, s.h_kv = 8, s.sample_rows = 512;
    s.lens = varlen(64, 4096, 1, 13);
    s.name = "gqa bf16 d=128 b=64 varlen 4096";
    decode_case(s, ++seed);
  }
}

static void suite_write_kv() {
  struct WCase { int dtype, pages, ps, h_kv, d, n; };
  const WCase cases[] = {{FMLA_DTYPE_BFLOAT16, 37, 16, 1, 576, 300},
                         {FMLA_DTYPE_FLOAT16, 20, 1, 8, 128, 20},
                         {FMLA_DTYPE_FLOAT32, 9, 7, 2, 3, 40},
                         {FMLA_DTYPE_FLOAT8_E4M3FN, 5, 64, 3, 5, 100},
                         {FMLA_DTYPE_INT32, 4, 16, 2, 64, 50}};
  std::mt19937_64 rng(31);
  for (const WCase& c : cases) {
    const int eb = elem_bytes(c.dtype);
    const int64_t slots = static_cast<int64_t>(c.pages) * c.ps;
    const size_t row_bytes = static_cast<size_t>(c.h_kv) * c.d * eb;
    std::vector<uint8_t> cache(slots * row_bytes), rows(static_cast<size_t>(c.n) * row_bytes);
    for (auto& x : cache) x = static_cast<uint8_t>(rng());
    for (auto& x : rows) x = static_cast<uint8_t>(rng());
    std::vector<int32_t> perm(slots);
    for (int i = 0; i < slots; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<int32_t> slot(c.n);
    for (int i = 0; i < c.n; ++i) {
      const int kind = static_cast<int>(rng() % 8);
      slot[i] = kind == 0 ? -1 : kind == 1 ? static_cast<int32_t>(slots + rng() % 5) : perm[i % slots];
    }
    // Duplicate slots would race; keep the first writer only.
    std::vector<char> seen(slots, 0);
    for (auto& s : slot)
      if (s >= 0 && s < slots) {
        if (seen[s]) s = -1;
        seen[s < 0 ? 0 : s] = s < 0 ? seen[0] : 1;
      }
    std::vector<uint8_t> want = cache;
    for (int i = 0; i < c.n; ++i)
      if (slot[i] >= 0 && slot[i] < slots)
        memcpy(&want[slot[i] * row_bytes], &rows[i * row_bytes], row_bytes);
    DevBuf dc = upload(cache), dr = upload(rows), ds = upload(slot);
    fmla_tensor tc = make_tensor(dc.ptr, c.dtype, {c.pages, c.ps, c.h_kv, c.d});
    fmla_tensor tr = make_tensor(dr.ptr, c.dtype, {c.n, c.h_kv, c.d});
    fmla_tensor ts = make_tensor(ds.ptr, FMLA_DTYPE_INT32, {c.n});
    FMLA_CHECK(fmla_write_kv(&tc, &tr, &ts, nullptr));
    const auto got = download<uint8_t>(dc.ptr, cache.size());
    report(got == want, "write_kv dtype=%d pages=%d ps=%d h_kv=%d d=%d n=%d", c.dtype, c.pages, c.ps, c.h_kv,
           c.d, c.n);
  }
}

static void suite_api() {
  Spec s;
  s.h_q = 16, s.s_q = 1, s.lens = {100, 200};
  Problem P = build(s, 77);
  run_metadata(P);
  const float scale = 0.05f;
  auto expect = [&](fmla_status st, fmla_status want, const char* needle, const char* what) {
    const bool ok = st == want && strstr(fmla_last_error(), needle) != nullptr;
    report(ok, "api: %-40s -> %s \"%s\"", what, fmla_status_string(st), fmla_last_error());
  };
  expect(fmla_mla_decode(nullptr, &P.tk, &P.tbt, &P.tlens, 512, &P.tmeta, &P.tsplits, scale, 0, &P.tout,
                         &P.tlse, P.ws.ptr, P.ws_bytes, nullptr),
         FMLA_ERROR_INVALID_ARGUMENT, "q:", "q NULL");
  fmla_tensor k16 = P.tk;
  k16.dtype = FMLA_DTYPE_FLOAT16;
  expect(fmla_mla_decode(&P.tq, &k16, &P.tbt, &P.tlens, 512, &P.tmeta, &P.tsplits, scale, 0, &P.tout,
                         &P.tlse, P.ws.ptr, P.ws_bytes, nullptr),
         FMLA_ERROR_INVALID_ARGUMENT, "kv_cache", "kv_cache dtype");
  fmla_tensor bt = P.tbt;
  bt.shape[0] = 3;
  expect(fmla_mla_decode(&P.tq, &P.tk, &bt, &P.tlens, 512, &P.tmeta, &P.tsplits, scale, 0, &P.tout,
                         &P.tlse, P.ws.ptr, P.ws_bytes, nullptr),
         FMLA_ERROR_INVALID_ARGUMENT, "block_table", "block_table batch");
  expect(fmla_mla_decode(&P.tq, &P.tk, &P.tbt, &P.tlens, 512, &P.tmeta, &P.tsplits, scale, 0, &P.tout,
                         &P.tlse, P.ws.ptr, P.ws_bytes - 1, nullptr),
         FMLA_ERROR_INVALID_ARGUMENT, "workspace_bytes", "workspace too small");
  fmla_tensor lse = P.tlse;
  lse.shape[2] = 2;
  expect(fmla_mla_decode(&P.tq, &P.tk, &P.tbt, &P.tlens, 512, &P.tmeta, &P.tsplits, scale, 0, &P.tout,
                         &lse, P.ws.ptr, P.ws_bytes, nullptr),
         FMLA_ERROR_INVALID_ARGUMENT, "lse", "lse shape");
  fmla_tensor q = P.tq;
  q.strides[3] = 2;
  expect(fmla_mla_decode(&q, &P.tk, &P.tbt, &P.tlens, 512, &P.tmeta, &P.tsplits, scale, 0, &P.tout,
                         &P.tlse, P.ws.ptr, P.ws_bytes, nullptr),
         FMLA_ERROR_INVALID_ARGUMENT, "q:", "q inner stride");
  expect(fmla_mla_decode(&P.tq, &P.tk, &P.tbt, &P.tlens, 256, &P.tmeta, &P.tsplits, scale, 0, &P.tout,
                         &P.tlse, P.ws.ptr, P.ws_bytes, nullptr),
         FMLA_ERROR_INVALID_ARGUMENT, "out", "out d_v vs head_dim_v");
  fmla_tensor k15 = P.tk;
  k15.shape[2] = 3;
  expect(fmla_mla_decode(&P.tq, &k15, &P.tbt, &P.tlens, 512, &P.tmeta, &P.tsplits, scale, 0, &P.tout,
                         &P.tlse, P.ws.ptr, P.ws_bytes, nullptr),
         FMLA_ERROR_INVALID_ARGUMENT, "h_kv", "h_q % h_kv");
  fmla_tensor splits = P.tsplits;
  splits.shape[0] = 5;
  expect(fmla_get_mla_metadata(&P.tlens, 16, 1, &P.tmeta, &splits, nullptr), FMLA_ERROR_INVALID_ARGUMENT,
         "num_splits", "metadata num_splits shape");
  expect(fmla_get_mla_metadata(&P.tlens, 0, 1, &P.tmeta, &P.tsplits, nullptr), FMLA_ERROR_INVALID_ARGUMENT,
         "num_q_tokens_per_head_k", "metadata rows 0");
  expect(fmla_gqa_decode(&P.tq, &P.tk, &P.tk, &P.tbt, &P.tlens, &P.tmeta, &P.tsplits, scale, 0, &P.tout,
                         &P.tlse, P.ws.ptr, P.ws_bytes, nullptr),
         FMLA_ERROR_INVALID_ARGUMENT, "out", "gqa out head dim");
  fmla_tensor out256 = make_tensor(P.out.ptr, FMLA_DTYPE_BFLOAT16, {2, 1, 16, 256});
  expect(fmla_mla_decode(&P.tq, &P.tk, &P.tbt, &P.tlens, 256, &P.tmeta, &P.tsplits, scale, 0, &out256,
                         &P.tlse, P.ws.ptr, P.ws_bytes, nullptr),
         FMLA_ERROR_UNSUPPORTED, "d_qk = 576", "mla head_dim_v 256 unsupported");
  expect(fmla_set_device(999), FMLA_ERROR_INVALID_ARGUMENT, "device", "set_device out of range");
  fmla_tensor rows = make_tensor(P.q.ptr, FMLA_DTYPE_BFLOAT16, {4, 2, 576});
  fmla_tensor slots = make_tensor(P.lens.ptr, FMLA_DTYPE_INT32, {2});
  expect(fmla_write_kv(&P.tk, &rows, &slots, nullptr), FMLA_ERROR_INVALID_ARGUMENT, "rows",
         "write_kv rows h_kv");
  report(strcmp(fmla_status_string(FMLA_ERROR_NO_DEVICE), "FMLA_ERROR_NO_DEVICE") == 0 &&
             fmla_decode_workspace_bytes(2, 1, 16, 512, 132) == 134 * 16 * 512 * 4 + 134 * 16 * 4 + 128,
         "api: status strings and workspace size");
  fmla_device_props props;
  FMLA_CHECK(fmla_device_properties(0, &props));
  report(props.multiprocessor_count > 0 && props.l2_cache_bytes > 0, "api: device %s, %d SMs, cc %d.%d, L2 %llu MB, smem optin %llu KB",
         props.name, props.multiprocessor_count, props.compute_capability_major, props.compute_capability_minor,
         static_cast<unsigned long long>(props.l2_cache_bytes >> 20),
         static_cast<unsigned long long>(props.max_shared_memory_per_block_optin_bytes >> 10));

  // Graph capture on a library stream: metadata + decode replayed must equal a direct run.
  void* stream = nullptr;
  FMLA_CHECK(fmla_stream_create(&stream));
  poison_outputs(P);
  FMLA_CHECK(run_decode(P, -1, static_cast<cudaStream_t>(stream)));
  FMLA_CHECK(fmla_stream_synchronize(stream));
  const auto direct = download<uint16_t>(P.out.ptr, P.out.bytes / 2);
  poison_outputs(P);
  FMLA_CHECK(fmla_graph_begin_capture(stream));
  run_metadata(P, static_cast<cudaStream_t>(stream));
  const fmla_status st = run_decode(P, -1, static_cast<cudaStream_t>(stream));
  void* exec = nullptr;
  FMLA_CHECK(fmla_graph_end_capture(stream, &exec));
  FMLA_CHECK(st);
  FMLA_CHECK(fmla_graph_launch(exec, stream));
  FMLA_CHECK(fmla_graph_launch(exec, stream));
  FMLA_CHECK(fmla_stream_synchronize(stream));
  const auto replay = download<uint16_t>(P.out.ptr, P.out.bytes / 2);
  report(replay == direct, "api: graph capture replay equals direct decode");
  FMLA_CHECK(fmla_graph_destroy(exec));
  FMLA_CHECK(fmla_stream_destroy(stream));
}

// ================================================================================================
// Benchmarks
// ================================================================================================

struct AnchorRow { int b, s_q, s_k, h_q; bool varlen, causal; };

static double g_copy_gbs = 0;

static void ensure_rotation(Problem& P, size_t cache_bytes) {
  const size_t target = size_t(200) << 20;
  const int copies = cache_bytes >= target ? 1 : static_cast<int>((target + cache_bytes - 1) / cache_bytes);
  for (int c = 0; c < copies; ++c) {
    P.k_copies.emplace_back(P.k.bytes);
    CUDA_CHECK(cudaMemcpy(P.k_copies.back().ptr, P.k.ptr, P.k.bytes, cudaMemcpyDeviceToDevice));
    if (P.s.gqa) {
      P.v_copies.emplace_back(P.v.bytes);
      CUDA_CHECK(cudaMemcpy(P.v_copies.back().ptr, P.v.ptr, P.v.bytes, cudaMemcpyDeviceToDevice));
    }
  }
}

// Re-plans P's schedule over `parts` parts (metadata and workspace sized for them).
static void set_parts(Problem& P, int parts) {
  P.nsp = parts;
  P.meta = DevBuf(static_cast<size_t>(parts) * 8 * 4);
  P.tmeta = make_tensor(P.meta.ptr, FMLA_DTYPE_INT32, {parts, 8});
  P.ws_bytes = fmla_decode_workspace_bytes(P.b, P.s.s_q, P.s.h_q, P.s.d_v, parts);
  P.ws = DevBuf(P.ws_bytes);
  run_metadata(P);
}

// Benchmarks check a row before timing it: build, schedule (over `parts` parts, the schedule's own
// when 0), decode into poisoned outputs, compare, and count the check.
static Problem build_and_check(const Spec& s, uint64_t seed, DecodeCheck* check, int parts = 0) {
  Problem P = build(s, seed);
  if (parts > 0)
    set_parts(P, parts);
  else
    run_metadata(P);
  poison_outputs(P);
  FMLA_CHECK(run_decode(P));
  *check = check_decode(P, seed);
  ++g_checks;
  if (!check->pass) ++g_failures;
  return P;
}

// Times fn like median_ms, with 200 us of device spin queued before each start event so that the
// host's launch work overlaps the spin instead of showing up as idle GPU time (as the suite tool does).
template <typename F>
static float median_spun_ms(F fn, int warmup = 5, int iters = 30) {
  return median_ms_after(fn, [] { FMLA_CHECK(fmla_testing_spin(200000, nullptr)); }, warmup, iters);
}

static fmla::DecodeParams kernel_params(Problem& P, int copy);

// The MLA decode kernel the API would launch with this loader (no combine); the generic kernel
// where the sm_90a one cannot run.
static cudaError_t decode_kernel_alone(const fmla::DecodeParams& d, fmla::MlaKvLoad load,
                                       cudaStream_t stream = nullptr) {
  cudaError_t err = cudaSuccess;
  if (fmla::launch_mla_decode_sm90<__nv_bfloat16>(d, load, stream, &err)) return err;
  return fmla::launch_splitkv_decode<__nv_bfloat16, 576, 512, false>(d, stream);
}

// spun: time as the suite tool does, and also the decode kernel alone (launched directly), so that
// the difference shows what the combine step and its launch still cost.
static void bench_mla(const std::vector<int>& only = {}, bool spun = false, int page_size = 64,
                      bool loaders = false) {
  const AnchorRow rows[] = {
      {128, 1, 4096, 128, true, false},  {128, 1, 8192, 128, true, false},
      {128, 1, 16384, 128, true, false}, {128, 1, 32768, 128, true, false},
      {128, 2, 4096, 128, true, true},   {128, 2, 8192, 128, true, true},
      {128, 2, 16384, 128, true, true}, {128, 2, 32768, 128, true, true},
      {128, 1, 4096, 16, true, false},   {128, 1, 8192, 16, true, false},
      {128, 1, 16384, 16, true, false},  {128, 1, 4096, 32, true, false},
      {128, 1, 8192, 32, true, false},   {128, 1, 16384, 32, true, false},
      {1, 1, 32768, 128, false, false},   {4, 1, 32768, 128, false, false},
      {16, 1, 32768, 128, false, false}, {1, 1, 32768, 16, false, false},
      {4, 1, 32768, 16, false, false},   {16, 1, 32768, 16, false, false},
      {4, 4, 0, 16, false, true}};
  printf("\nmla-anchor (bf16, d_qk 576, d_v 512, h_kv 1, page %d); copy ceiling %.0f GB/s\n", page_size,
         g_copy_gbs);
  printf("| b | s_q | s_k | h_q | varlen | causal | us | TFLOP/s | GB/s | %% copy | rel_l2 |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  uint64_t seed = 9000;
  int index = -1;
  for (const AnchorRow& r : rows) {
    ++index;
    if (!only.empty() && std::find(only.begin(), only.end(), index) == only.end()) {
      seed += r.s_k != 0 && r.varlen ? 2 : 1;  // the same data as in the full run
      continue;
    }
    Spec s;
    s.h_q = r.h_q, s.s_q = r.s_q, s.causal = r.causal, s.page_size = page_size, s.sample_rows = 256;
    if (r.s_k == 0) s.lens = {4641, 45118, 1730, 1696};
    else if (r.varlen) s.lens = varlen(r.b, r.s_k, r.s_q, ++seed);
    else s.lens.assign(r.b, r.s_k);
    DecodeCheck c;
    Problem P = build_and_check(s, ++seed, &c);
    const size_t cache_bytes = static_cast<size_t>(P.mean_len * P.b) * 576 * 2;
    ensure_rotation(P, cache_bytes);
    const int copies = static_cast<int>(P.k_copies.size());
    const float ms = spun ? median_spun_ms([&](int i) { FMLA_CHECK(run_decode(P, i % copies)); })
                          : median_ms([&](int i) { FMLA_CHECK(run_decode(P, i % copies)); });
    const double t = ms * 1e-3;
    const double flops = static_cast<double>(P.b) * r.h_q * r.s_q * (2.0 * 576 + 2.0 * 512) * P.mean_len;
    const double bytes = static_cast<double>(P.b) * (r.s_q * r.h_q * 576 * 2 + P.mean_len * 576 * 2 + r.s_q * r.h_q * 512 * 2);
    if (loaders) {  // the decode kernel alone with each loader that can run this page size
      for (const auto load : {fmla::MlaKvLoad::kTmaTiles, fmla::MlaKvLoad::kTmaProducer,
                              fmla::MlaKvLoad::kTmaPages, fmla::MlaKvLoad::kGatherRows}) {
        cudaError_t err = cudaSuccess;
        if (!fmla::launch_mla_decode_sm90<__nv_bfloat16>(kernel_params(P, 0), load, nullptr, &err))
          continue;  // this loader cannot take this page size
        CUDA_CHECK(err);
        const float kernel_ms = median_ms([&](int i) {
          CUDA_CHECK(fmla::launch_mla_decode_sm90<__nv_bfloat16>(kernel_params(P, i % copies), load,
                                                                 nullptr, &err)
                         ? err
                         : cudaErrorNotSupported);
        });
        printf("decode kernel alone, %s: %.1f us\n",
               load == fmla::MlaKvLoad::kTmaTiles      ? "TMA boxes"
               : load == fmla::MlaKvLoad::kTmaProducer ? "TMA boxes by a producer warpgroup"
               : load == fmla::MlaKvLoad::kTmaPages    ? "TMA page boxes"
                                                       : "cp.async producer",
               kernel_ms * 1e3);
      }
    }
    if (spun) {
      const float kernel_ms = median_spun_ms([&](int i) {
        const fmla::DecodeParams d = kernel_params(P, i % copies);
        CUDA_CHECK(decode_kernel_alone(d, fmla::mla_decode_sm90_load_for(d.page_size, d.rows_per_kv)));
      });
      printf("decode kernel alone: %.1f us, the rest of the call %.1f us\n", kernel_ms * 1e3, (ms - kernel_ms) * 1e3);
    }
    printf("| %d | %d | %d | %d | %s | %s | %.1f | %.0f | %.0f | %.0f%% | %.1e%s |\n", P.b, r.s_q,
           r.s_k ? r.s_k : -1, r.h_q, r.varlen ? "yes" : "no", r.causal ? "yes" : "no", ms * 1e3,
           flops / t / 1e12, bytes / t / 1e9, 100.0 * bytes / t / 1e9 / g_copy_gbs, c.rel_l2,
           c.pass ? "" : " FAIL");
    fflush(stdout);
  }
}

// The integers of environment variable `name` (`fallback` when it is unset), separated by ',' or
// ':'.
static std::vector<int> int_list_env(const char* name, const char* fallback) {
  std::vector<int> values;
  const char* list = getenv(name);
  for (const char* c = list ? list : fallback; *c;) {
    values.push_back(atoi(c));
    while (*c && *c != ',' && *c != ':') ++c;
    if (*c) ++c;
  }
  return values;
}

// The mla-anchor rows that FP8 targets (memory-bound h_q 16 / 32, compute-bound h_q 128) over a
// 16-bit cache and each FP8 format, the same data (the FP8 caches quantize the 16-bit one, so the
// check is against the 16-bit cache's reference: the error quantization adds, about 2.6%).
// BENCH_FP16 set: fp16 queries (fp8_e4m3 only; the other columns print nan).
static void bench_mla_fp8(int page_size) {
  const bool fp16 = getenv("BENCH_FP16") != nullptr;
  std::vector<AnchorRow> rows = {{128, 1, 8192, 16, true, false},  {128, 1, 8192, 32, true, false},
                                 {128, 1, 8192, 128, true, false}, {128, 2, 8192, 128, true, true},
                                 {128, 1, 16384, 16, true, false}};
  // FP8_ROWS="b:s_q:h_q:s_k,...": these rows instead (causal where s_q > 1), every sequence s_k
  // keys long; a negative s_k, as in MLA_ROWS: lengths drawn as the suite draws them around |s_k|.
  if (getenv("FP8_ROWS")) {
    const std::vector<int> v = int_list_env("FP8_ROWS", "");
    rows.clear();
    for (size_t i = 0; i + 4 <= v.size(); i += 4)
      rows.push_back({v[i], v[i + 1], std::abs(v[i + 3]), v[i + 2], v[i + 3] < 0, v[i + 1] > 1});
  }
  printf("\nmla-anchor over FP8 caches (%s q, page %d); copy ceiling %.0f GB/s\n",
         fp16 ? "fp16" : "bf16", page_size, g_copy_gbs);
  printf("| b | s_q | s_k | h_q | causal | bf16 us | fp8_ds_mla us | x | fp8_e4m3 us | x | "
         "fp8_e4m3, e4m3 q us | x | ds GB/s | rel_l2 ds / e4m3 / e4m3 q |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  uint64_t seed = 7000;
  for (const AnchorRow& r : rows) {
    Spec s;
    s.h_q = r.h_q, s.s_q = r.s_q, s.causal = r.causal, s.page_size = page_size, s.sample_rows = 256;
    if (fp16) s.dtype = FMLA_DTYPE_FLOAT16;
    s.lens = r.varlen ? varlen(r.b, r.s_k, r.s_q, ++seed) : std::vector<int32_t>(r.b, r.s_k);
    DecodeCheck c;
    Problem P = build_and_check(s, ++seed, &c);
    ensure_rotation(P, static_cast<size_t>(P.mean_len * P.b) * 576 * 2);
    const int copies16 = static_cast<int>(P.k_copies.size());
    const float ms16 = median_ms([&](int i) { FMLA_CHECK(run_decode(P, i % copies16)); });
    float ms8[3];
    double rel[3];
    int k = 0;
    // fp8_ds_mla, fp8_e4m3, then fp8_e4m3 with e4m3 queries (P's queries replaced by theirs).
    for (int format : {FMLA_KV_FORMAT_FP8_DS_MLA, FMLA_KV_FORMAT_FP8_E4M3, FMLA_KV_FORMAT_FP8_E4M3}) {
      const bool e4m3_q = k == 2;
      if (fp16 && k != 1) {  // fp16 queries: fp8_e4m3 only
        ms8[k] = NAN, rel[k] = NAN, ++k;
        continue;
      }
      Fp8Queries q8;
      if (e4m3_q) q8 = quantize_queries(P, 1.f / 32);
      Fp8Cache f = quantize_cache(P, format, 1.f / 64, false);
      const size_t bytes = f.bytes.bytes;
      const int copies = bytes >= (size_t(200) << 20) ? 1 : static_cast<int>(((size_t(200) << 20) + bytes - 1) / bytes);
      for (int i = 0; i < copies; ++i) {
        f.copies.emplace_back(bytes);
        CUDA_CHECK(cudaMemcpy(f.copies.back().ptr, f.bytes.ptr, bytes, cudaMemcpyDeviceToDevice));
      }
      const Fp8Queries* q = e4m3_q ? &q8 : nullptr;
      poison_outputs(P);
      FMLA_CHECK(run_decode_fp8(P, f, -1, q));
      const DecodeCheck d = check_decode(P, seed);
      rel[k] = d.rel_l2;
      report(d.all_written && d.rel_l2 < 0.06 && d.max_abs < 0.1,
             "%s%s b=%d s_q=%d h_q=%d page=%d: written=%s rel_l2 %.2e against the 16-bit cache",
             format_name(format), e4m3_q ? " e4m3 q" : "", r.b, r.s_q, r.h_q, page_size,
             d.all_written ? "yes" : "NO", d.rel_l2);
      ms8[k++] = median_ms([&](int i) { FMLA_CHECK(run_decode_fp8(P, f, i % copies, q)); });
    }
    const double ds_bytes = static_cast<double>(P.b) * P.mean_len * 656;
    printf("| %d | %d | %d | %d | %s | %.1f | %.1f | %.2f | %.1f | %.2f | %.1f | %.2f | %.0f | "
           "%.1e / %.1e / %.1e |\n",
           P.b, r.s_q, r.s_k, r.h_q, r.causal ? "yes" : "no", ms16 * 1e3, ms8[0] * 1e3,
           ms16 / ms8[0], ms8[1] * 1e3, ms16 / ms8[1], ms8[2] * 1e3, ms16 / ms8[2],
           ds_bytes / (ms8[0] * 1e-3) / 1e9, rel[0], rel[1], rel[2]);
    fflush(stdout);
  }
}

// The GQA suite's rows at one page size; with `kernels`, also each decode kernel alone (the
// few-rows kernel the API launches and the generic 64-row one).
static void bench_gqa(int page_size = 16, bool kernels = false) {
  printf("\ngqa (bf16, h_q 32, h_kv 8, d 128, page %d); copy ceiling %.0f GB/s\n", page_size, g_copy_gbs);
  printf("| b | s_k | us | GB/s | %% copy | rel_l2 |\n|---|---|---|---|---|---|\n");
  uint64_t seed = 12000;
  for (int b : {64, 128, 256})
    for (int s_k : {1024, 4096, 8192}) {
      Spec s;
      s.gqa = true, s.d_qk = s.d_v = 128, s.page_size = page_size, s.h_q = 32, s.h_kv = 8, s.sample_rows = 256;
      s.lens.assign(b, s_k);
      DecodeCheck c;
      Problem P = build_and_check(s, ++seed, &c);
      const double bytes = static_cast<double>(b) * (2.0 * s_k * 8 * 128 * 2 + 2.0 * 32 * 128 * 2);
      ensure_rotation(P, static_cast<size_t>(bytes));
      const int copies = static_cast<int>(P.k_copies.size());
      const float ms = median_ms([&](int i) { FMLA_CHECK(run_decode(P, i % copies)); });
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      if (kernels) {
        auto pct = [&](float t_ms) { return 100 * bytes / (t_ms * 1e-3) / 1e9 / g_copy_gbs; };
        const float few = median_ms([&](int i) {
          CUDA_CHECK((fmla::launch_gqa_decode<__nv_bfloat16, 128>(kernel_params(P, i % copies), nullptr)));
        });
        const float four = median_ms([&](int i) {
          CUDA_CHECK((fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<__nv_bfloat16, 128, 4>>(
              kernel_params(P, i % copies), nullptr)));
        });
        const float generic = median_ms([&](int i) {
          CUDA_CHECK((fmla::launch_splitkv_decode<__nv_bfloat16, 128, 128, true>(kernel_params(P, i % copies), nullptr)));
        });
        printf("decode kernels alone: few-rows %.1f us (%.0f%% copy), with 4 warps %.1f us (%.0f%%), generic %.1f us\n",
               few * 1e3, pct(few), four * 1e3, pct(four), generic * 1e3);
      }
      printf("| %d | %d | %.1f | %.0f | %.0f%% | %.1e%s |\n", b, s_k, ms * 1e3, gbs, 100 * gbs / g_copy_gbs,
             c.rel_l2, c.pass ? "" : " FAIL");
      fflush(stdout);
    }
}

template <int D>
static cudaError_t launch_head_major(fmla::DecodeParams q) {
  q.k_stride_row = q.v_stride_row = D;
  q.k_stride_head = q.v_stride_head = q.page_size * D;
  return fmla::launch_gqa_decode<__nv_bfloat16, D>(q, nullptr);
}

// Median time of `launch(copy, stream)` captured as one CUDA graph per cache copy and replayed, the
// copies in turn (as the suite tools time calls; their L2 flush with GRAPH_FLUSH=1). Each replay is
// queued behind 200 us of device spin, so that the host's graph launch is not timed.
template <typename F>
static float graph_ms(int copies, F launch) {
  cudaStream_t st;
  CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  std::vector<cudaGraphExec_t> execs(copies);
  for (int i = 0; i < copies; ++i) {
    cudaGraph_t g;
    CUDA_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    launch(i, st);
    CUDA_CHECK(cudaStreamEndCapture(st, &g));
    CUDA_CHECK(cudaGraphInstantiate(&execs[i], g, 0));
    CUDA_CHECK(cudaGraphDestroy(g));
  }
  // GRAPH_FLUSH=1: a 256 MiB memset before each replay as well, the suite tools' L2 flush (one
  // buffer for the process's timings).
  static const bool flush = getenv("GRAPH_FLUSH") && atoi(getenv("GRAPH_FLUSH")) != 0;
  static DevBuf flush_buf(flush ? size_t(256) << 20 : 0);
  const float ms = median_ms_after(
      [&](int i) { CUDA_CHECK(cudaGraphLaunch(execs[i % copies], st)); },
      [&] {
        if (flush) CUDA_CHECK(cudaMemsetAsync(flush_buf.ptr, 0, flush_buf.bytes, st));
        FMLA_CHECK(fmla_testing_spin(200000, st));
      },
      5, 30, st);
  for (auto e : execs) CUDA_CHECK(cudaGraphExecDestroy(e));
  CUDA_CHECK(cudaStreamDestroy(st));
  return ms;
}

// Where a GQA call's time goes: the whole call, the decode kernel alone (leaving cut sequences'
// partials for the combine, as when the call launches one) and the combine alone (each timed by
// graph_ms), at the schedule's parts and at others (GQA_PARTS, comma-separated; 0: the
// schedule's).
static void gqa_where() {
  struct Row { int d, h_q, h_kv, b, s_k; };
  std::vector<Row> rows = {{128, 32, 8, 64, 1024}, {128, 32, 8, 128, 4096}, {128, 16, 1, 128, 4096},
                           {128, 64, 4, 128, 4096}, {128, 32, 8, 1, 32768}, {128, 32, 8, 16, 8192},
                           {64, 32, 8, 128, 4096}};
  // GQA_ROWS="d:h_q:h_kv:b:s_k,...": these rows instead.
  if (getenv("GQA_ROWS")) {
    const std::vector<int> v = int_list_env("GQA_ROWS", "");
    rows.clear();
    for (size_t i = 0; i + 5 <= v.size(); i += 5)
      rows.push_back({v[i], v[i + 1], v[i + 2], v[i + 3], v[i + 4]});
  }
  const std::vector<int> parts_list = int_list_env("GQA_PARTS", "0");
  printf("\ngqa: where the call's time goes (bf16, page 16), us\n");
  printf("| d | h_q/h_kv | b | s_k | parts | split seqs | call | %% copy | decode alone | combine alone | rel_l2 |\n");
  for (const Row& r : rows) {
    Spec s;
    s.gqa = true, s.d_qk = s.d_v = r.d, s.h_q = r.h_q, s.h_kv = r.h_kv, s.page_size = 16, s.sample_rows = 64;
    s.lens.assign(r.b, r.s_k);
    const double bytes = static_cast<double>(r.b) * 2.0 * r.s_k * r.h_kv * r.d * 2;
    for (int parts : parts_list) {
      DecodeCheck c;
      Problem P = build_and_check(s, 900 + r.b, &c, parts);
      ensure_rotation(P, static_cast<size_t>(bytes));
      const int copies = static_cast<int>(P.k_copies.size());
      const auto splits = download<int32_t>(P.splits.ptr, static_cast<size_t>(P.b + 1));
      int split_seqs = 0;
      for (int i = 0; i < P.b; ++i) split_seqs += splits[i + 1] - splits[i] > 1;
      const float call = graph_ms(copies, [&](int i, cudaStream_t t) { FMLA_CHECK(run_decode(P, i, t)); });
      float alone = 0, comb = 0;
      if (r.d == 128) {
        alone = graph_ms(copies, [&](int i, cudaStream_t t) {
          CUDA_CHECK((fmla::launch_gqa_decode<__nv_bfloat16, 128>(kernel_params(P, i), t)));
        });
        comb = graph_ms(copies, [&](int i, cudaStream_t t) {
          CUDA_CHECK((fmla::launch_combine<__nv_bfloat16, 128>(kernel_params(P, i), t)));
        });
      }
      char alone_us[32] = "-", comb_us[32] = "-";  // timed alone at head dim 128 only
      if (r.d == 128) {
        snprintf(alone_us, sizeof alone_us, "%.1f", alone * 1e3);
        snprintf(comb_us, sizeof comb_us, "%.1f", comb * 1e3);
      }
      printf("| %d | %d/%d | %d | %d | %d | %d | %.1f | %.0f%% | %s | %s | %.1e%s |\n", r.d, r.h_q,
             r.h_kv, r.b, r.s_k, P.nsp, split_seqs, call * 1e3,
             100 * bytes / (call * 1e-3) / 1e9 / g_copy_gbs, alone_us, comb_us, c.rel_l2,
             c.pass ? "" : " FAIL");
      fflush(stdout);
    }
  }
}

// Whole MLA calls timed as gqa_where times GQA ones, for the rows whose calls are short (b 1 / 4 /
// 16 at s_k 32768, the imbalanced s_q 4 row, b 128 h_q 16), at the schedule's parts and at MLA_PARTS.
static void mla_where() {
  struct Row { int b, s_q, h_q; std::vector<int32_t> lens; };
  std::vector<Row> rows = {{1, 1, 128, {32768}}, {1, 1, 16, {32768}},
                           {4, 1, 128, std::vector<int32_t>(4, 32768)},
                           {4, 1, 16, std::vector<int32_t>(4, 32768)},
                           {4, 4, 16, {4641, 45118, 1730, 1696}},
                           {16, 1, 16, std::vector<int32_t>(16, 32768)},
                           {128, 1, 16, std::vector<int32_t>(128, 4096)}};
  // MLA_ROWS="b:s_q:h_q:s_k,...": these rows instead, every sequence s_k keys long; a negative
  // s_k: lengths drawn as the suite draws them, normal around |s_k| with deviation |s_k| / 2, at
  // least s_q.
  if (getenv("MLA_ROWS")) {
    const std::vector<int> v = int_list_env("MLA_ROWS", "");
    rows.clear();
    std::mt19937 rng(12345);
    for (size_t i = 0; i + 4 <= v.size(); i += 4) {
      std::vector<int32_t> lens(v[i], v[i + 3]);
      if (v[i + 3] < 0) {
        std::normal_distribution<double> around(-v[i + 3], -v[i + 3] / 2.0);
        for (int32_t& n : lens) n = std::max(static_cast<int32_t>(around(rng)), v[i + 1]);
      }
      rows.push_back({v[i], v[i + 1], v[i + 2], lens});
    }
  }
  const std::vector<int> parts_list = int_list_env("MLA_PARTS", "0");
  const int page_size = getenv("PAGE") ? atoi(getenv("PAGE")) : 64;
  printf("\nmla: whole calls as CUDA graphs (bf16, page %d), us\n", page_size);
  printf("| b | s_q | h_q | parts | blocks | call | decode alone | alone, the other TMA loader | combine alone | rel_l2 |\n");
  for (const Row& r : rows) {
    Spec s;
    s.h_q = r.h_q, s.s_q = r.s_q, s.causal = r.s_q > 1, s.lens = r.lens, s.sample_rows = 64;
    s.page_size = page_size;
    double cache_bytes = 0;
    for (int32_t n : r.lens) cache_bytes += 576.0 * 2 * n;
    for (int parts : parts_list) {
      DecodeCheck c;
      Problem P = build_and_check(s, 950 + r.b, &c, parts);
      ensure_rotation(P, static_cast<size_t>(cache_bytes));
      const int copies = static_cast<int>(P.k_copies.size());
      const float call = graph_ms(copies, [&](int i, cudaStream_t t) { FMLA_CHECK(run_decode(P, i, t)); });
      // The 16-bit kernel alone (cut sequences' partials left for the combine) and the combine alone.
      const fmla::MlaKvLoad load = fmla::mla_decode_sm90_load_for(s.page_size, kernel_params(P, 0).rows_per_kv);
      const float alone = graph_ms(copies, [&](int i, cudaStream_t t) {
        CUDA_CHECK(decode_kernel_alone(kernel_params(P, i), load, t));
      });
      // Where TMA loads: the kernel alone with the other issuer of the boxes (the consumers where
      // a producer warpgroup issues them, and the other way round).
      float other_tma = 0;
      if (load == fmla::MlaKvLoad::kTmaProducer || load == fmla::MlaKvLoad::kTmaTiles) {
        const fmla::MlaKvLoad other = load == fmla::MlaKvLoad::kTmaProducer
                                          ? fmla::MlaKvLoad::kTmaTiles
                                          : fmla::MlaKvLoad::kTmaProducer;
        other_tma = graph_ms(copies, [&](int i, cudaStream_t t) {
          CUDA_CHECK(decode_kernel_alone(kernel_params(P, i), other, t));
        });
      }
      const float comb = graph_ms(copies, [&](int i, cudaStream_t t) {
        CUDA_CHECK((fmla::launch_combine<__nv_bfloat16, 512>(kernel_params(P, i), t)));
      });
      const int row_groups = (r.s_q * r.h_q + 63) / 64;
      char other_us[32] = "-";
      if (other_tma > 0) snprintf(other_us, sizeof other_us, "%.1f", other_tma * 1e3);
      printf("| %d | %d | %d | %d | %d | %.1f | %.1f | %s | %.1f | %.1e%s |\n", r.b, r.s_q, r.h_q,
             P.nsp, P.nsp * row_groups, call * 1e3, alone * 1e3, other_us, comb * 1e3, c.rel_l2,
             c.pass ? "" : " FAIL");
      fflush(stdout);
    }
  }
}

// Shapes of the few-rows GQA kernel side by side (b 128, s_k 4096), each alone.
static void gqa_variants(int page_size) {
  printf("\ngqa kernel shapes (bf16, h_q 32, h_kv 8, b 128, s_k 4096, page %d), kernel alone, %% copy\n",
         page_size);
  for (int d : {64, 128, 256}) {
    Spec s;
    s.gqa = true, s.d_qk = s.d_v = d, s.page_size = page_size, s.h_q = 32, s.h_kv = 8, s.sample_rows = 64;
    s.lens.assign(128, 4096);
    DecodeCheck c;
    Problem P = build_and_check(s, 77 + d, &c);
    const double bytes = 128.0 * 2 * 4096 * 8 * d * 2;
    ensure_rotation(P, static_cast<size_t>(bytes));
    const int copies = static_cast<int>(P.k_copies.size());
    auto time = [&](auto launch) {
      const float ms = median_ms([&](int i) { CUDA_CHECK(launch(kernel_params(P, i % copies))); });
      return 100 * bytes / (ms * 1e-3) / 1e9 / g_copy_gbs;
    };
    using E = __nv_bfloat16;
    if (d == 64)
      printf("d 64: 8 warps x 32 keys %.0f%%, 8 x 16 %.0f%%, 4 x 32 %.0f%%, 16 x 16 %.0f%%\n",
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 64, 8, 32, 1>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 64, 8, 16, 1>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 64, 4, 32, 1>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 64, 16, 16, 1>>(q, nullptr); }));
    if (d == 128)
      printf("d 128: 8 warps x 16 keys %.0f%%, 4 x 16 %.0f%%, 16 x 16 split 2 %.0f%%\n",
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 128, 8, 16, 1>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 128, 4, 16, 1>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 128, 16, 16, 2>>(q, nullptr); }));
    // The same bytes read as if each page held its heads one after another ([page][head][row][d]):
    // a block then reads page_size * d * 2 contiguous bytes a page instead of d * 2 at h_kv * d * 2
    // apart. Timing only (the values read are permuted).
    const float rows_layout = d == 64 ? time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode<E, 64>(q, nullptr); })
                            : d == 128 ? time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode<E, 128>(q, nullptr); })
                                       : time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode<E, 256>(q, nullptr); });
    const float heads_layout = d == 64 ? time(launch_head_major<64>) : d == 128 ? time(launch_head_major<128>) : time(launch_head_major<256>);
    printf("d %d, default kernel: cache [page][row][head][d] %.0f%%, read as [page][head][row][d] %.0f%%\n", d,
           rows_layout, heads_layout);
    // Copy passes issued before the products (the rest after): none, half, all (the default).
    if (d == 64)
      printf("d 64 copies before the products: none %.0f%%, half %.0f%%, all %.0f%%\n",
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 64, 8, 32, 1, 0>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 64, 8, 32, 1, 4>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 64, 8, 32, 1, 8>>(q, nullptr); }));
    if (d == 128)
      printf("d 128 copies before the products: none %.0f%%, half %.0f%%, all %.0f%%\n",
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 128, 8, 16, 1, 0>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 128, 8, 16, 1, 2>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 128, 8, 16, 1, 4>>(q, nullptr); }));
    if (d == 256)
      printf("d 256 copies before the products: none %.0f%%, half %.0f%%, all %.0f%%\n",
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 256, 8, 16, 2, 0>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 256, 8, 16, 2, 1>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 256, 8, 16, 2, 2>>(q, nullptr); }));
    if (d == 256)
      printf("d 256: 8 warps x 16 split 2 %.0f%%, 4 x 16 split 2 %.0f%%\n",
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 256, 8, 16, 2>>(q, nullptr); }),
             time([](const fmla::DecodeParams& q) { return fmla::launch_gqa_decode_with<fmla::gqa::GqaTraits<E, 256, 4, 16, 2>>(q, nullptr); }));
    fflush(stdout);
  }
}

static void bench_write_kv() {
  printf("\nwrite_kv (4096 tokens a call; back-to-back calls, rotating sources)\n");
  printf("| shape | us per call | GB/s | %% copy | graph us per call | graph %% copy |\n|---|---|---|---|---|---|\n");
  struct W { int h_kv, d; };
  for (const W w : {W{1, 576}, W{8, 128}}) {
    const int n = 4096, ps = 64, pages = 4096;
    const size_t row_bytes = static_cast<size_t>(w.h_kv) * w.d * 2;
    const int copies = 24;
    DevBuf cache(static_cast<size_t>(pages) * ps * row_bytes), rows(copies * n * row_bytes);
    fill_randn(rows.ptr, FMLA_DTYPE_BFLOAT16, static_cast<int64_t>(copies) * n * w.h_kv * w.d, 3);
    std::vector<int32_t> perm(pages * ps);
    for (int i = 0; i < pages * ps; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), std::mt19937_64(5));
    perm.resize(static_cast<size_t>(n) * copies);
    DevBuf slots = upload(perm);
    fmla_tensor tc = make_tensor(cache.ptr, FMLA_DTYPE_BFLOAT16, {pages, ps, w.h_kv, w.d});
    const int reps = 20;
    const float ms = median_ms([&](int it) {
      for (int r = 0; r < reps; ++r) {
        const int c = (it * reps + r) % copies;
        fmla_tensor tr = make_tensor(static_cast<char*>(rows.ptr) + c * n * row_bytes, FMLA_DTYPE_BFLOAT16, {n, w.h_kv, w.d});
        fmla_tensor ts = make_tensor(slots.as<int32_t>() + c * n, FMLA_DTYPE_INT32, {n});
        FMLA_CHECK(fmla_write_kv(&tc, &tr, &ts, nullptr));
      }
    }, 3, 30) / reps;
    // The same calls captured in one CUDA graph: the device's time a call, without the host's.
    cudaStream_t stream;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    std::vector<cudaGraphExec_t> graphs;
    for (int g = 0; g < copies / 4; ++g) {
      cudaGraph_t graph;
      CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      for (int r = 0; r < reps; ++r) {
        const int c = (g * 4 + r) % copies;
        fmla_tensor tr = make_tensor(static_cast<char*>(rows.ptr) + c * n * row_bytes, FMLA_DTYPE_BFLOAT16, {n, w.h_kv, w.d});
        fmla_tensor ts = make_tensor(slots.as<int32_t>() + c * n, FMLA_DTYPE_INT32, {n});
        FMLA_CHECK(fmla_write_kv(&tc, &tr, &ts, stream));
      }
      CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
      cudaGraphExec_t exec;
      CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
      CUDA_CHECK(cudaGraphDestroy(graph));
      graphs.push_back(exec);
    }
    const float graph_ms = median_ms([&](int it) {
      CUDA_CHECK(cudaGraphLaunch(graphs[it % graphs.size()], stream));
    }, 3, 30, stream) / reps;
    for (cudaGraphExec_t exec : graphs) CUDA_CHECK(cudaGraphExecDestroy(exec));
    CUDA_CHECK(cudaStreamDestroy(stream));
    const double bytes = 2.0 * n * row_bytes;
    const double gbs = bytes / (ms * 1e-3) / 1e9, graph_gbs = bytes / (graph_ms * 1e-3) / 1e9;
    printf("| h_kv=%d d=%d | %.2f | %.0f | %.0f%% | %.2f | %.0f%% |\n", w.h_kv, w.d, ms * 1e3, gbs,
           100 * gbs / g_copy_gbs, graph_ms * 1e3, 100 * graph_gbs / g_copy_gbs);
  }
}

// The schedule kernel alone (it runs once per decode step, outside the suite's timed call).
static void bench_schedule() {
  printf("\nschedule kernel (fmla_get_mla_metadata), one call, spun\n| b | s_k | parts | us |\n|---|---|---|---|\n");
  struct R { int b, s_k, parts; };
  for (const R r : {R{1, 32768, 66}, R{1, 32768, 132}, R{4, 32768, 66}, R{16, 32768, 132},
                    R{128, 8192, 66}, R{1024, 4096, 132}}) {
    const std::vector<int32_t> lens = r.b >= 128 ? varlen(r.b, r.s_k, 1, 77) : std::vector<int32_t>(r.b, r.s_k);
    DevBuf d_lens = upload(lens), meta(static_cast<size_t>(r.parts) * 32), splits(static_cast<size_t>(r.b + 1) * 4);
    fmla_tensor tl = make_tensor(d_lens.ptr, FMLA_DTYPE_INT32, {r.b});
    fmla_tensor tm = make_tensor(meta.ptr, FMLA_DTYPE_INT32, {r.parts, 8});
    fmla_tensor ts = make_tensor(splits.ptr, FMLA_DTYPE_INT32, {r.b + 1});
    const float ms = median_spun_ms([&](int) { FMLA_CHECK(fmla_get_mla_metadata(&tl, 64, 1, &tm, &ts, nullptr)); });
    const ScheduleRef ref = schedule_ref(lens, r.parts);
    const bool ok = download<int32_t>(meta.ptr, static_cast<size_t>(r.parts) * 8) == ref.metadata &&
                    download<int32_t>(splits.ptr, r.b + 1) == ref.num_splits;
    ++g_checks;
    if (!ok) ++g_failures;
    printf("| %d | %d | %d | %.2f%s |\n", r.b, r.s_k, r.parts, ms * 1e3, ok ? "" : " FAIL");
  }
}

// write_kv as the suite tool times it (one call between events, spin before), beside two floors:
// an empty kernel and a device-to-device copy of the same bytes, timed the same way.
static void bench_write_kv_single() {
  printf("\nwrite_kv, one call of 4096 tokens, spun; copy ceiling %.0f GB/s\n", g_copy_gbs);
  printf("| shape | write_kv us | %% copy | memcpy same bytes us | empty kernel us |\n|---|---|---|---|---|\n");
  struct W { int h_kv, d; };
  for (const W w : {W{1, 576}, W{8, 128}}) {
    const int n = 4096, ps = 64, pages = 4096, copies = 24;
    const size_t row_bytes = static_cast<size_t>(w.h_kv) * w.d * 2;
    DevBuf cache(static_cast<size_t>(pages) * ps * row_bytes), rows(copies * n * row_bytes), dst(n * row_bytes);
    fill_randn(rows.ptr, FMLA_DTYPE_BFLOAT16, static_cast<int64_t>(copies) * n * w.h_kv * w.d, 3);
    std::vector<int32_t> perm(pages * ps);
    for (int i = 0; i < pages * ps; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), std::mt19937_64(5));
    perm.resize(static_cast<size_t>(n) * copies);
    DevBuf slots = upload(perm);
    fmla_tensor tc = make_tensor(cache.ptr, FMLA_DTYPE_BFLOAT16, {pages, ps, w.h_kv, w.d});
    const float ms = median_spun_ms([&](int it) {
      const int c = it % copies;
      fmla_tensor tr = make_tensor(static_cast<char*>(rows.ptr) + c * n * row_bytes, FMLA_DTYPE_BFLOAT16, {n, w.h_kv, w.d});
      fmla_tensor ts = make_tensor(slots.as<int32_t>() + c * n, FMLA_DTYPE_INT32, {n});
      FMLA_CHECK(fmla_write_kv(&tc, &tr, &ts, nullptr));
    });
    const float copy_ms = median_spun_ms([&](int it) {
      CUDA_CHECK(cudaMemcpyAsync(dst.ptr, static_cast<char*>(rows.ptr) + (it % copies) * n * row_bytes,
                                 n * row_bytes, cudaMemcpyDeviceToDevice));
    });
    const float empty_ms = median_spun_ms([&](int) { FMLA_CHECK(fmla_testing_spin(0, nullptr)); });
    const double gbs = 2.0 * n * row_bytes / (ms * 1e-3) / 1e9;
    printf("| h_kv=%d d=%d | %.2f | %.0f%% | %.2f | %.2f |\n", w.h_kv, w.d, ms * 1e3, 100 * gbs / g_copy_gbs,
           copy_ms * 1e3, empty_ms * 1e3);
  }
}

// Where does the decode call's time go? The sm_90a kernel and the generic split-KV kernel alone (no
// combine), launched directly with the parameters the API would pass, beside the full call.
static fmla::DecodeParams kernel_params(Problem& P, int copy) {
  const Spec& s = P.s;
  fmla::DecodeParams d{};
  d.q = P.q.ptr;
  d.k = P.k_copies[copy].ptr;
  d.v = d.k;
  d.block_table = P.bt.as<int32_t>();
  d.cache_seqlens = P.lens.as<int32_t>();
  d.sched = P.meta.as<int32_t>();
  d.num_splits = P.splits.as<int32_t>();
  d.out = P.out.ptr;
  d.lse = P.lse.as<float>();
  d.o_accum = P.ws.as<float>();
  const size_t o_bytes = static_cast<size_t>(P.b + P.nsp) * s.s_q * s.h_q * s.d_v * 4;
  d.lse_accum = reinterpret_cast<float*>(P.ws.as<char>() + (o_bytes + 255) / 256 * 256);
  d.q_stride_b = P.tq.strides[0], d.q_stride_s = P.tq.strides[1], d.q_stride_h = P.tq.strides[2];
  d.k_stride_page = P.tk.strides[0], d.k_stride_row = P.tk.strides[1], d.k_stride_head = P.tk.strides[2];
  d.v_stride_page = d.k_stride_page, d.v_stride_row = d.k_stride_row, d.v_stride_head = d.k_stride_head;
  if (s.gqa) {
    d.v = P.v_copies[copy].ptr;
    d.v_stride_page = P.tv.strides[0], d.v_stride_row = P.tv.strides[1], d.v_stride_head = P.tv.strides[2];
  }
  d.bt_stride_b = P.tbt.strides[0], d.bt_stride_page = 1, d.seqlens_stride = 1;
  d.o_stride_b = P.tout.strides[0], d.o_stride_s = P.tout.strides[1], d.o_stride_h = P.tout.strides[2];
  d.lse_stride_b = P.tlse.strides[0], d.lse_stride_h = P.tlse.strides[1], d.lse_stride_s = P.tlse.strides[2];
  d.b = P.b, d.s_q = s.s_q, d.h_q = s.h_q, d.h_kv = s.h_kv, d.heads_per_kv = s.h_q / s.h_kv;
  d.rows_per_kv = s.s_q * d.heads_per_kv, d.page_size = s.page_size, d.num_sm_parts = P.nsp;
  d.num_pages = P.num_pages;
  d.causal = s.causal, d.scale_log2 = 1.4426950408889634f * scale_of(s);
  return d;
}

static void experiment() {
  struct Row { const char* name; int b, s_q, s_k, h_q; bool causal; };
  const Row rows[] = {{"b=16 s_k=32768 h_q=128", 16, 1, 32768, 128, false},
                      {"b=128 s_k=8192 h_q=128 s_q=2 causal", 128, 2, 8192, 128, true},
                      {"b=128 s_k=4096 h_q=16", 128, 1, 4096, 16, false},
                      {"b=1 s_k=32768 h_q=128", 1, 1, 32768, 128, false}};
  printf("\nexperiment: decode kernels alone (us, median of 30)\n");
  printf("| case | sm90 kernel | generic kernel | full call |\n|---|---|---|---|\n");
  for (const Row& r : rows) {
    Spec s;
    s.h_q = r.h_q, s.s_q = r.s_q, s.causal = r.causal;
    s.lens = r.b == 128 ? varlen(r.b, r.s_k, r.s_q, 21) : std::vector<int32_t>(r.b, r.s_k);
    Problem P = build(s, 22);
    run_metadata(P);
    ensure_rotation(P, static_cast<size_t>(P.mean_len * P.b) * 576 * 2);
    const int copies = static_cast<int>(P.k_copies.size());
    auto timed = [&](auto launch) {
      return 1e3f * median_ms([&](int i) { CUDA_CHECK(launch(kernel_params(P, i % copies))); });
    };
    const float t0 = timed([](const fmla::DecodeParams& d) {
      return decode_kernel_alone(d, fmla::mla_decode_sm90_load_for(d.page_size, d.rows_per_kv)); });
    const float t1 = timed([](const fmla::DecodeParams& d) {
      return fmla::launch_splitkv_decode<__nv_bfloat16, 576, 512, false>(d, nullptr); });
    const float full = 1e3f * median_ms([&](int i) { FMLA_CHECK(run_decode(P, i % copies)); });
    printf("| %s | %.1f | %.1f | %.1f |\n", r.name, t0, t1, full);
    fflush(stdout);
  }
}

// ================================================================================================

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "check";
  int count = 0;
  const fmla_status st = fmla_device_count(&count);
  if (st != FMLA_OK) {
    printf("no device: %s: %s\n", fmla_status_string(st), fmla_last_error());
    // Without a GPU every entry point must say so rather than crash.
    void* p = nullptr;
    const bool ok = st == FMLA_ERROR_NO_DEVICE && fmla_malloc(&p, 16) == FMLA_ERROR_NO_DEVICE &&
                    fmla_get_mla_metadata(nullptr, 1, 1, nullptr, nullptr, nullptr) == FMLA_ERROR_NO_DEVICE &&
                    fmla_mla_num_sm_parts(132, 128, 1) == 66;
    printf("%s no-device behaviour\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
  }
  fmla_device_props props;
  FMLA_CHECK(fmla_device_properties(0, &props));
  g_num_sms = props.multiprocessor_count;
  printf("device: %s, %d SMs\n", props.name, g_num_sms);
  if (mode == "small") {
    suite_write_kv();
    Spec s;
    s.h_q = 16, s.s_q = 2, s.causal = true, s.page_size = 16, s.lens = {0, 5, 300, 130};
    s.name = "small mla";
    decode_case(s, 1);
    Spec t;  // 64 query rows on 64-key pages: the sm_90a kernel, one TMA box a page and 64 columns
    t.h_q = 64, t.s_q = 1, t.page_size = 64, t.lens = {0, 5, 300, 130};
    t.name = "small mla ps=64 h_q=64";
    decode_case(t, 3);
    Spec v;  // 8-token pages: the sm_90a kernel, TMA boxes of whole pages (8 a tile)
    v.h_q = 64, v.s_q = 2, v.causal = true, v.page_size = 8, v.lens = {0, 5, 300, 130};
    v.name = "small mla ps=8 h_q=64";
    decode_case(v, 8);
    // Many short sequences, several pieces a part: the next piece's first tiles and query rows
    // go out before this piece's output is stored (both TMA loaders).
    for (const int page : {64, 8}) {
      Spec w = t;
      w.page_size = page;
      w.lens.clear();
      for (int i = 0; i < 300; ++i) w.lens.push_back((i * 37) % 200);
      w.name = "small mla ps=" + std::to_string(page) + " h_q=64 b=300";
      decode_case(w, 9 + page);
    }
    small_producer_cases();
    small_gather_cases();
    Spec g;
    g.gqa = true, g.d_qk = g.d_v = 128, g.page_size = 1, g.h_q = 8, g.h_kv = 2, g.s_q = 1;
    g.lens = {100, 0, 70};
    g.name = "small gqa";
    decode_case(g, 2);
    Spec m = g;  // enough sequences that the kernel merges the ones it cuts (merge.cuh)
    m.page_size = 16, m.h_kv = 1, m.lens.clear();
    for (int i = 0; i < 40; ++i) m.lens.push_back((i * 53) % 600);
    m.name = "small gqa b=40, cut sequences merged by the kernel";
    decode_case(m, 12);
    // The FP8 producer (64 rows, pages that are not a power of two): codes converted in place,
    // both formats.
    Spec f;
    f.h_q = 32, f.s_q = 2, f.causal = true, f.page_size = 7, f.lens = {0, 5, 300, 130};
    f.name = "small mla fp8_ds_mla ps=7";
    fp8_case(f, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f, 5, true);
    f.name = "small mla fp8_e4m3 ps=7";
    fp8_case(f, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 32, 6, false);
    f.h_q = 16, f.page_size = 1;  // the few-rows kernel
    f.name = "small mla fp8_ds_mla ps=1 32 rows (keys x rows)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f, 7, false);
    f.s_q = 1, f.page_size = 64, f.name = "small mla fp8_e4m3 ps=64 16 rows (keys x rows)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 32, 8, false);
    // one-token pages, 16 rows: V's codes loaded right after the scores (fp8_ds_mla's P^T a
    // version a group)
    f.page_size = 1, f.name = "small mla fp8_e4m3 ps=1 16 rows (keys x rows, V early)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 32, 11, false);
    f.spread_keys = true, f.name = "small mla fp8_ds_mla ps=1 16 rows (keys x rows, V early)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_DS_MLA, 1.f, 12, false);
    f.spread_keys = false;
    // e4m3 queries: the scores on the FP8 tensor cores (32 rows), converted as they load (64 rows)
    f.s_q = 2, f.page_size = 7, f.name = "small mla fp8_e4m3 e4m3 q ps=7 32 rows (keys x rows)";
    fp8_case(f, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 32, 9, false, 1.f / 16);
    f.h_q = 32, f.name = "small mla fp8_e4m3 e4m3 q ps=7 64 rows";
    fp8_case(f, FMLA_KV_FORMAT_FP8_E4M3, 1.f / 32, 10, false, 1.f / 16);
    small_e4m3_case();
  }
  if (mode == "small-e4m3") small_e4m3_case();  // that kernel's case alone (for racecheck)
  if (mode == "small-keys-rows") small_keys_rows_cases();  // the same for the keys x rows kernel
  if (mode == "small-producer") small_producer_cases();  // the same for the TMA producer
  if (mode == "small-gather") small_gather_cases();  // and for the gather producer
  if (mode == "profile-gqa") {  // one GQA row (b 128, s_k 4096, page 16 unless GQA_* say), two calls, for a profiler
    Spec s;
    const char* head_dim = getenv("GQA_D");  // 128 unless given
    s.gqa = true, s.d_qk = s.d_v = head_dim ? atoi(head_dim) : 128;
    auto env_or = [](const char* name, int fallback) {
      const char* v = getenv(name);
      return v ? atoi(v) : fallback;
    };
    s.h_q = env_or("GQA_HQ", 32), s.h_kv = env_or("GQA_HKV", 8), s.page_size = env_or("GQA_PAGE", 16);
    s.lens.assign(env_or("GQA_B", 128), env_or("GQA_SK", 4096));
    Problem P = build(s, 3);
    run_metadata(P);
    for (int i = 0; i < 2; ++i) FMLA_CHECK(run_decode(P));
    CUDA_CHECK(cudaDeviceSynchronize());
    printf("profiled gqa d=%d b=%d s_k=%d h_q=%d h_kv=%d parts=%d\n", s.d_qk, P.b, s.lens[0], s.h_q,
           s.h_kv, P.nsp);
  }
  if (mode == "profile" || mode == "profile1") {  // two calls each, for a kernel-level profiler
    struct Row { int b, h_q, s_q; bool causal; std::vector<int32_t> lens; };
    std::vector<Row> rows = {{1, 128, 1, false, {32768}}, {1, 16, 1, false, {32768}},
                             {4, 128, 1, false, {32768, 32768, 32768, 32768}},
                             {4, 16, 4, true, {4641, 45118, 1730, 1696}}};
    if (mode == "profile1")
      rows = {{128, 128, 1, false, std::vector<int32_t>(128, 8192)},
              {128, 16, 1, false, std::vector<int32_t>(128, 8192)}};
    for (const Row& r : rows) {
      Spec s;
      s.h_q = r.h_q, s.s_q = r.s_q, s.causal = r.causal, s.lens = r.lens;
      if (const char* page = getenv("PROFILE_PAGE")) s.page_size = atoi(page);  // 64 unless given
      Problem P = build(s, 3);
      run_metadata(P);
      for (int i = 0; i < 2; ++i) FMLA_CHECK(run_decode(P));
      CUDA_CHECK(cudaDeviceSynchronize());
      printf("profiled b=%d h_q=%d s_q=%d parts=%d\n", P.b, r.h_q, r.s_q, P.nsp);
    }
  }
  if (mode == "check" || mode == "quick" || mode == "all") {
    const bool quick = mode == "quick";
    suite_schedule();
    suite_reference();
    suite_api();
    suite_write_kv();
    suite_mla(quick);
    suite_mla_fp8(quick);
    suite_gqa(quick);
  }
  if (mode == "experiment") experiment();
  if (mode == "fp8") suite_mla_fp8(false);
  if (mode == "profile-fp8") {  // b 128, s_k 8192, page 64 (or PROFILE_PAGE), h_q 16 and 32 (or PROFILE_HQ), each format (and e4m3 q)
    std::vector<int> heads = {16, 32};
    if (const char* h = getenv("PROFILE_HQ")) heads = {atoi(h)};
    for (int h_q : heads) {
      Spec s;
      s.h_q = h_q, s.page_size = 64, s.lens.assign(128, 8192);
      if (const char* page = getenv("PROFILE_PAGE")) s.page_size = atoi(page);
      Problem P = build(s, 3);
      run_metadata(P);
      FMLA_CHECK(run_decode(P));
      for (int format : {FMLA_KV_FORMAT_FP8_DS_MLA, FMLA_KV_FORMAT_FP8_E4M3}) {
        Fp8Cache c = quantize_cache(P, format, 1.f / 64, false);
        FMLA_CHECK(run_decode_fp8(P, c));
        if (format == FMLA_KV_FORMAT_FP8_E4M3) {  // and with e4m3 queries
          const Fp8Queries q8 = quantize_queries(P, 1.f / 32);
          FMLA_CHECK(run_decode_fp8(P, c, -1, &q8));
        }
      }
      CUDA_CHECK(cudaDeviceSynchronize());
      printf("profiled bf16, fp8_ds_mla, fp8_e4m3, fp8_e4m3 e4m3 q b=128 s_k=8192 h_q=%d parts=%d\n",
             h_q, P.nsp);
    }
  }
  if (mode == "bench-fp8") {  // the mla-anchor rows over each cache format, the same data
    g_copy_gbs = copy_ceiling_gbs();
    std::vector<int> pages;  // the page sizes given after the mode, 64, 16 and 1 unless given
    for (int i = 2; i < argc; ++i) pages.push_back(atoi(argv[i]));
    if (pages.empty()) pages = {64, 16, 1};
    for (int page : pages) bench_mla_fp8(page);
  }
  if (mode == "bench-small") {  // the small-batch rows as the suite tool times them, and the side kernels
    g_copy_gbs = copy_ceiling_gbs();
    bench_mla({0, 8, 14, 15, 17, 18, 20}, true);
    bench_schedule();
    bench_write_kv_single();
    bench_write_kv();
  }
  if (mode == "bench-gqa") {  // the GQA rows at pages of 16, 1 and 64 tokens, each kernel alone too
    g_copy_gbs = copy_ceiling_gbs();
    for (int page : {16, 1, 64}) bench_gqa(page, true);
  }
  if (mode == "gqa-where") {
    g_copy_gbs = copy_ceiling_gbs();
    gqa_where();
  }
  if (mode == "mla-where") mla_where();
  if (mode == "gqa-variants") {
    g_copy_gbs = copy_ceiling_gbs();
    for (int page : {16, 1}) gqa_variants(page);
  }
  if (mode == "bench-rows") {  // the suite rows listed in ROWS (e.g. "1,3,16"), page PAGE (64 unless given)
    g_copy_gbs = copy_ceiling_gbs();
    const std::vector<int> rows = int_list_env("ROWS", "1");
    const char* page = getenv("PAGE");
    bench_mla(rows, false, page ? atoi(page) : 64, true);
  }
  if (mode == "bench-pages") {  // the memory- and compute-bound rows at every loader's page sizes
    g_copy_gbs = copy_ceiling_gbs();
    for (int page : {64, 32, 16, 8, 1}) bench_mla({1, 9}, false, page, true);
  }
  if (mode == "bench" || mode == "all") {
    g_copy_gbs = copy_ceiling_gbs();
    bench_mla();
    bench_gqa();
    bench_write_kv();
  }
  printf("\n%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
