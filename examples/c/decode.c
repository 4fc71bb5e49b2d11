/*
 * decode.c - a minimal MLA decode engine loop in plain C over libflashmla.so.
 *
 * A paged latent cache (d_qk 576, d_v 512, bf16, 64 tokens a page) with a free list of pages, a few
 * sequences of different lengths that each append one token per step, and every step's attention
 * checked against the library's float32 reference. Sequences that reach their length give their
 * pages back and a new prompt takes their place, so the free list is exercised.
 *
 * Exit status: 0 when every step matched, 1 on a mismatch or a failing call, 2 when there is no GPU.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flash_mla.h"
#include "reference_attention.h"

enum {
  D_QK = 576,
  D_V = 512,
  PAGE_SIZE = 64,
  H_Q = 16,
  H_KV = 1,
  S_Q = 1,
  BATCH = 4,
  NUM_PAGES = 64,
  MAX_PAGES = 24, /* block-table columns: sequences stay below MAX_PAGES * PAGE_SIZE tokens */
  STEPS = 8
};

/* Tolerances against the float32 reference: bf16 inputs and output, float32 accumulation. */
#define OUT_RELATIVE_TOLERANCE 1e-2f
#define LSE_TOLERANCE 1e-3f

/* ---- failing calls ----------------------------------------------------------------------------- */

static void check(fmla_status status, const char* what) {
  if (status == FMLA_OK) return;
  fprintf(stderr, "decode: %s failed: %s: %s\n", what, fmla_status_string(status),
          fmla_last_error());
  exit(1);
}
#define CHECK(call) check((call), #call)

/* ---- host-side data ---------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double uniform(void) { return (double)(next_u64() >> 11) / 9007199254740992.0; }

/* clamp(randn / 10, -1, 1): the value distribution of FlashMLA's own tests. */
static float attention_value(void) {
  const double r = sqrt(-2.0 * log(1.0 - uniform())), a = 6.283185307179586 * uniform();
  const double x = r * cos(a) / 10.0;
  return (float)(x < -1.0 ? -1.0 : x > 1.0 ? 1.0 : x);
}

static uint16_t bf16_from_float(float f) { /* round to nearest even */
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0; /* NaN stays NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static float float_from_bf16(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static void fill_random_bf16(uint16_t* values, size_t n) {
  for (size_t i = 0; i < n; ++i) values[i] = bf16_from_float(attention_value());
}

/* A contiguous tensor view of device memory (shape entries past ndim are ignored). */
static fmla_tensor view(void* data, fmla_dtype dtype, int ndim, int64_t s0, int64_t s1, int64_t s2,
                        int64_t s3) {
  fmla_tensor t;
  memset(&t, 0, sizeof t);
  const int64_t shape[4] = {s0, s1, s2, s3};
  t.data = data;
  t.dtype = dtype;
  t.ndim = ndim;
  int64_t stride = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    t.shape[d] = shape[d];
    t.strides[d] = stride;
    stride *= shape[d];
  }
  return t;
}

/* ---- the page allocator: a stack of free pages --------------------------------------------------- */

static int free_pages[NUM_PAGES];
static int free_count = 0;

static int page_alloc(void) {
  if (free_count == 0) {
    fprintf(stderr, "decode: out of cache pages (%d in the pool)\n", NUM_PAGES);
    exit(1);
  }
  return free_pages[--free_count];
}

static void page_free(int page) { free_pages[free_count++] = page; }

/* ---- sequences ------------------------------------------------------------------------------------ */

typedef struct sequence {
  int length;               /* tokens in the cache */
  int steps_left;           /* decode steps before the sequence ends */
  int pages[MAX_PAGES];     /* its pages, in token order */
} sequence;

static sequence seqs[BATCH];

/* The cache slot (page * PAGE_SIZE + row) of the sequence's next token; takes a page when needed. */
static int32_t append_slot(sequence* s) {
  const int t = s->length++;
  if (t % PAGE_SIZE == 0) s->pages[t / PAGE_SIZE] = page_alloc();
  return (int32_t)(s->pages[t / PAGE_SIZE] * PAGE_SIZE + t % PAGE_SIZE);
}

static void end_sequence(sequence* s) {
  for (int p = 0; p < (s->length + PAGE_SIZE - 1) / PAGE_SIZE; ++p) page_free(s->pages[p]);
  s->length = 0;
}

/* Device buffers shared by the steps. */
typedef struct engine {
  void* stream;
  void* kv_cache;      /* bf16 [NUM_PAGES, PAGE_SIZE, H_KV, D_QK] */
  void* rows;          /* bf16 [n, H_KV, D_QK], new cache rows (a prompt at most) */
  void* slot_mapping;  /* int32 [n] */
  void* q;             /* bf16 [BATCH, S_Q, H_Q, D_QK] */
  void* block_table;   /* int32 [BATCH, MAX_PAGES] */
  void* cache_seqlens; /* int32 [BATCH] */
  void* metadata;      /* int32 [num_sm_parts, FMLA_METADATA_INTS] */
  void* num_splits;    /* int32 [BATCH + 1] */
  void* out;           /* bf16 [BATCH, S_Q, H_Q, D_V] */
  void* lse;           /* float32 [BATCH, H_Q, S_Q] */
  void* workspace;
  size_t workspace_bytes;
  void* ref_rows;      /* int32 [BATCH * S_Q * H_Q, 3] */
  void* ref_out;       /* float32 [BATCH * S_Q * H_Q, D_V] */
  void* ref_lse;       /* float32 [BATCH * S_Q * H_Q] */
  int num_sm_parts;
} engine;

enum { MAX_NEW_ROWS = MAX_PAGES * PAGE_SIZE, QUERY_ROWS = BATCH * S_Q * H_Q };

/* Writes `n` random rows into the cache at `slots` (fmla_write_kv). */
static void write_rows(engine* e, const int32_t* slots, int n) {
  static uint16_t host_rows[MAX_NEW_ROWS * H_KV * D_QK];
  fill_random_bf16(host_rows, (size_t)n * H_KV * D_QK);
  CHECK(fmla_memcpy_htod(e->rows, host_rows, (size_t)n * H_KV * D_QK * 2, e->stream));
  CHECK(fmla_memcpy_htod(e->slot_mapping, slots, (size_t)n * sizeof(int32_t), e->stream));
  fmla_tensor cache = view(e->kv_cache, FMLA_DTYPE_BFLOAT16, 4, NUM_PAGES, PAGE_SIZE, H_KV, D_QK);
  fmla_tensor rows = view(e->rows, FMLA_DTYPE_BFLOAT16, 3, n, H_KV, D_QK, 0);
  fmla_tensor mapping = view(e->slot_mapping, FMLA_DTYPE_INT32, 1, n, 0, 0, 0);
  CHECK(fmla_write_kv(&cache, &rows, &mapping, e->stream));
}

/* A new sequence in slot `i`: a prompt of `prompt` tokens written in one call. */
static void start_sequence(engine* e, int i, int prompt, int steps) {
  static int32_t slots[MAX_NEW_ROWS];
  seqs[i].steps_left = steps;
  for (int t = 0; t < prompt; ++t) slots[t] = append_slot(&seqs[i]);
  write_rows(e, slots, prompt);
}

/* One decode step: append a token to every sequence, attend, compare. Returns 1 if it matched. */
static int decode_step(engine* e, int step) {
  int32_t slots[BATCH], lengths[BATCH];
  static int32_t table[BATCH * MAX_PAGES];
  for (int i = 0; i < BATCH; ++i) slots[i] = append_slot(&seqs[i]);
  write_rows(e, slots, BATCH);

  for (int i = 0; i < BATCH; ++i) {
    lengths[i] = seqs[i].length;
    const int used = (seqs[i].length + PAGE_SIZE - 1) / PAGE_SIZE;
    /* Entries past the used pages are never read; -1 makes a stray read fault loudly. */
    for (int p = 0; p < MAX_PAGES; ++p) table[i * MAX_PAGES + p] = p < used ? seqs[i].pages[p] : -1;
  }
  CHECK(fmla_memcpy_htod(e->block_table, table, sizeof table, e->stream));
  CHECK(fmla_memcpy_htod(e->cache_seqlens, lengths, sizeof lengths, e->stream));

  static uint16_t host_q[BATCH * S_Q * H_Q * D_QK];
  fill_random_bf16(host_q, sizeof host_q / sizeof host_q[0]);
  CHECK(fmla_memcpy_htod(e->q, host_q, sizeof host_q, e->stream));

  fmla_tensor seqlens = view(e->cache_seqlens, FMLA_DTYPE_INT32, 1, BATCH, 0, 0, 0);
  fmla_tensor metadata =
      view(e->metadata, FMLA_DTYPE_INT32, 2, e->num_sm_parts, FMLA_METADATA_INTS, 0, 0);
  fmla_tensor splits = view(e->num_splits, FMLA_DTYPE_INT32, 1, BATCH + 1, 0, 0, 0);
  CHECK(fmla_get_mla_metadata(&seqlens, S_Q * H_Q / H_KV, H_KV, &metadata, &splits, e->stream));

  fmla_tensor q = view(e->q, FMLA_DTYPE_BFLOAT16, 4, BATCH, S_Q, H_Q, D_QK);
  fmla_tensor cache = view(e->kv_cache, FMLA_DTYPE_BFLOAT16, 4, NUM_PAGES, PAGE_SIZE, H_KV, D_QK);
  fmla_tensor block_table = view(e->block_table, FMLA_DTYPE_INT32, 2, BATCH, MAX_PAGES, 0, 0);
  fmla_tensor out = view(e->out, FMLA_DTYPE_BFLOAT16, 4, BATCH, S_Q, H_Q, D_V);
  fmla_tensor lse = view(e->lse, FMLA_DTYPE_FLOAT32, 3, BATCH, H_Q, S_Q, 0);
  const size_t out_bytes = (size_t)QUERY_ROWS * D_V * 2, lse_bytes = QUERY_ROWS * sizeof(float);
  /* All-ones bytes are NaN in bf16 and float32: an output the kernel forgot shows up. */
  CHECK(fmla_memset_async(e->out, 0xff, out_bytes, e->stream));
  CHECK(fmla_memset_async(e->lse, 0xff, lse_bytes, e->stream));
  const float scale = 1.0f / sqrtf((float)D_QK);
  CHECK(fmla_mla_decode(&q, &cache, &block_table, &seqlens, D_V, &metadata, &splits, scale, 1, &out,
                        &lse, e->workspace, e->workspace_bytes, e->stream));

  fmla_tensor rows = view(e->ref_rows, FMLA_DTYPE_INT32, 2, QUERY_ROWS, 3, 0, 0);
  fmla_tensor ref_out = view(e->ref_out, FMLA_DTYPE_FLOAT32, 2, QUERY_ROWS, D_V, 0, 0);
  fmla_tensor ref_lse = view(e->ref_lse, FMLA_DTYPE_FLOAT32, 1, QUERY_ROWS, 0, 0, 0);
  CHECK(fmla_reference_attention(&q, &cache, NULL, D_V, &block_table, &seqlens, scale, 1, &rows,
                                 &ref_out, &ref_lse, e->stream));

  static uint16_t got_out[QUERY_ROWS * D_V];
  static float want_out[QUERY_ROWS * D_V];
  float got_lse[QUERY_ROWS], want_lse[QUERY_ROWS];
  int32_t host_splits[BATCH + 1];
  CHECK(fmla_memcpy_dtoh(got_out, e->out, out_bytes, e->stream));
  CHECK(fmla_memcpy_dtoh(got_lse, e->lse, lse_bytes, e->stream));
  CHECK(fmla_memcpy_dtoh(want_out, e->ref_out, sizeof want_out, e->stream));
  CHECK(fmla_memcpy_dtoh(want_lse, e->ref_lse, sizeof want_lse, e->stream));
  CHECK(fmla_memcpy_dtoh(host_splits, e->num_splits, sizeof host_splits, e->stream));
  CHECK(fmla_stream_synchronize(e->stream));

  /* Reference row r = (i, j, h) is out row r; lse is laid out [b, h_q, s_q]. */
  float out_err = 0.f, ref_max = 0.f, lse_err = 0.f;
  int nan_count = 0;
  for (int r = 0; r < QUERY_ROWS; ++r) {
    const int i = r / (S_Q * H_Q), j = r / H_Q % S_Q, h = r % H_Q;
    for (int d = 0; d < D_V; ++d) {
      const float got = float_from_bf16(got_out[r * D_V + d]), want = want_out[r * D_V + d];
      if (isnan(got)) ++nan_count;
      out_err = fmaxf(out_err, fabsf(got - want));
      ref_max = fmaxf(ref_max, fabsf(want));
    }
    const float got = got_lse[(i * H_Q + h) * S_Q + j];
    if (isnan(got)) ++nan_count;
    lse_err = fmaxf(lse_err, fabsf(got - want_lse[r]));
  }
  const float out_tolerance = OUT_RELATIVE_TOLERANCE * ref_max;
  const int ok = nan_count == 0 && out_err <= out_tolerance && lse_err <= LSE_TOLERANCE;
  printf("step %d: lengths [", step);
  for (int i = 0; i < BATCH; ++i) printf(i ? " %d" : "%d", lengths[i]);
  printf("], %d splits, max |out - ref| = %.3g (tolerance %.3g), max |lse - ref| = %.3g, "
         "%d NaN: %s\n",
         host_splits[BATCH], out_err, out_tolerance, lse_err, nan_count, ok ? "OK" : "FAIL");
  return ok;
}

int main(void) {
  int device_count = 0;
  const fmla_status probe = fmla_device_count(&device_count);
  if (probe == FMLA_ERROR_NO_DEVICE) {
    fprintf(stderr, "decode: this example needs an NVIDIA GPU: %s\n", fmla_last_error());
    return 2;
  }
  check(probe, "fmla_device_count(&device_count)");
  fmla_device_props props;
  CHECK(fmla_device_properties(0, &props));
  CHECK(fmla_set_device(0));
  printf("libflashmla %s on %s (%d SMs)\n", fmla_version(), props.name,
         props.multiprocessor_count);

  engine e;
  memset(&e, 0, sizeof e);
  e.num_sm_parts = fmla_mla_num_sm_parts(props.multiprocessor_count, S_Q * H_Q / H_KV, H_KV);
  e.workspace_bytes = fmla_decode_workspace_bytes(BATCH, S_Q, H_Q, D_V, e.num_sm_parts);
  const size_t cache_bytes = (size_t)NUM_PAGES * PAGE_SIZE * H_KV * D_QK * 2;
  CHECK(fmla_stream_create(&e.stream));
  CHECK(fmla_malloc(&e.kv_cache, cache_bytes));
  CHECK(fmla_malloc(&e.rows, (size_t)MAX_NEW_ROWS * H_KV * D_QK * 2));
  CHECK(fmla_malloc(&e.slot_mapping, MAX_NEW_ROWS * sizeof(int32_t)));
  CHECK(fmla_malloc(&e.q, (size_t)QUERY_ROWS * D_QK * 2));
  CHECK(fmla_malloc(&e.block_table, BATCH * MAX_PAGES * sizeof(int32_t)));
  CHECK(fmla_malloc(&e.cache_seqlens, BATCH * sizeof(int32_t)));
  CHECK(fmla_malloc(&e.metadata, (size_t)e.num_sm_parts * FMLA_METADATA_INTS * sizeof(int32_t)));
  CHECK(fmla_malloc(&e.num_splits, (BATCH + 1) * sizeof(int32_t)));
  CHECK(fmla_malloc(&e.out, (size_t)QUERY_ROWS * D_V * 2));
  CHECK(fmla_malloc(&e.lse, QUERY_ROWS * sizeof(float)));
  CHECK(fmla_malloc(&e.workspace, e.workspace_bytes));
  CHECK(fmla_malloc(&e.ref_rows, QUERY_ROWS * 3 * sizeof(int32_t)));
  CHECK(fmla_malloc(&e.ref_out, (size_t)QUERY_ROWS * D_V * sizeof(float)));
  CHECK(fmla_malloc(&e.ref_lse, QUERY_ROWS * sizeof(float)));

  /* Unused cache rows hold NaN: attention that read one would turn NaN. */
  CHECK(fmla_memset_async(e.kv_cache, 0xff, cache_bytes, e.stream));
  static int32_t ref_rows[QUERY_ROWS * 3];
  for (int r = 0; r < QUERY_ROWS; ++r) {
    ref_rows[r * 3 + 0] = r / (S_Q * H_Q);
    ref_rows[r * 3 + 1] = r / H_Q % S_Q;
    ref_rows[r * 3 + 2] = r % H_Q;
  }
  CHECK(fmla_memcpy_htod(e.ref_rows, ref_rows, sizeof ref_rows, e.stream));

  /* Pages handed out in a scrambled order, as in a long-running engine. */
  for (int p = 0; p < NUM_PAGES; ++p) free_pages[free_count++] = (p * 37) % NUM_PAGES;
  const int prompts[BATCH] = {1, 63, 64, 700};
  const int lifetimes[BATCH] = {3, STEPS, 5, STEPS};
  for (int i = 0; i < BATCH; ++i) start_sequence(&e, i, prompts[i], lifetimes[i]);

  int failures = 0;
  for (int step = 0; step < STEPS; ++step) {
    failures += !decode_step(&e, step);
    for (int i = 0; i < BATCH && step + 1 < STEPS; ++i) {
      if (--seqs[i].steps_left > 0) continue;
      end_sequence(&seqs[i]); /* its pages go back on the free list for the next prompt */
      start_sequence(&e, i, 100 + 90 * i, STEPS);
    }
  }
  for (int i = 0; i < BATCH; ++i) end_sequence(&seqs[i]);
  printf("%d of %d steps OK; %d of %d pages back on the free list\n", STEPS - failures, STEPS,
         free_count, NUM_PAGES);
  if (free_count != NUM_PAGES) ++failures;

  void* buffers[] = {e.kv_cache, e.rows,       e.slot_mapping, e.q,        e.block_table,
                     e.cache_seqlens, e.metadata, e.num_splits, e.out,     e.lse,
                     e.workspace, e.ref_rows,   e.ref_out,      e.ref_lse};
  for (size_t k = 0; k < sizeof buffers / sizeof buffers[0]; ++k) CHECK(fmla_free(buffers[k]));
  CHECK(fmla_stream_destroy(e.stream));
  if (failures) {
    printf("FAIL\n");
    return 1;
  }
  printf("OK\n");
  return 0;
}
