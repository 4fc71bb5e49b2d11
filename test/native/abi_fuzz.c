/*
 * abi_fuzz.c - a fuzz test of the C ABI of libflashmla.so (flash_mla.h, flash_mla_testing.h and
 * the exported reference): every public fmla_* function gets null pointers, wrong ranks, dtypes,
 * shapes, strides and sizes, and must answer with a status, never crash. Plain C99, so it also
 * shows that the ABI is usable from C.
 *
 *   make -C test/native fuzz
 *   build/fmla_abi_fuzz [seed] [iterations] [-v] [-g] [-l] [-f fmla_name]
 *     seed, iterations   default 1 and 2000
 *     -v  print every call and its status
 *     -g  also run the known gaps: mutations whose `gap` says why the library still accepts them
 *         (invalid inputs it should refuse; none at present)
 *     -l  list the mutations and exit
 *     -f  call only this entry point (to reproduce a failure; fmla_write_kv_fp8 is two, one per
 *         format: fmla_write_kv_fp8/ds_mla and fmla_write_kv_fp8/e4m3)
 *
 * Each entry point has a valid baseline call. An iteration picks an entry point and either applies
 * one always-invalid mutation to a copy of its baseline (a failing status and a message of its own
 * are required), runs the untouched baseline (FMLA_OK and a clean fmla_device_synchronize are
 * required), or swaps a descriptor for random garbage (any status; the process must survive).
 * A call that fails in the CUDA runtime must not leave its error for the next launch to report
 * (probe_stale_error).
 * Garbage that is well formed addresses only a zero-filled arena and the decodes then see empty
 * sequences, so accepting it is memory-safe; accepted garbage is printed.
 * Without a device nothing is allocated: data pointers are fake addresses below 64 KiB, which fault
 * on any host access, and every call must refuse or report FMLA_ERROR_NO_DEVICE.
 * Exit status: 0 when every check held, 1 otherwise, 2 for a bad command line.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flash_mla.h"
#include "flash_mla_testing.h"
#include "reference_attention.h"

/* ---- Random numbers (splitmix64: a seed fully determines the run) ---------------------------- */

static uint64_t rng_state;

static uint64_t next_u64(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int below(int n) { return (int)(next_u64() % (uint64_t)n); }

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define PICK(a) ((a)[below(COUNT_OF(a))])

#define P31 (INT64_C(1) << 31)
#define P32 (INT64_C(1) << 32)

/* ---- Entry points, results and failures ------------------------------------------------------ */

enum {
  /* the functions that take fmla_tensor arguments come first (fmla_mla_decode_fp8 and
   * fmla_write_kv_fp8 twice: a baseline per format) */
  F_GET_MLA_METADATA, F_MLA_DECODE, F_GQA_DECODE, F_GQA_DECODE_E4M3, F_MLA_DECODE_DS_MLA,
  F_MLA_DECODE_E4M3, F_WRITE_KV,
  F_WRITE_KV_DS_MLA, F_WRITE_KV_E4M3, F_FILL_NORMAL, F_REFERENCE,
  F_SPIN, F_DEVICE_COUNT, F_DEVICE_PROPERTIES, F_SET_DEVICE, F_GET_DEVICE, F_DEVICE_SYNCHRONIZE,
  F_MALLOC, F_FREE, F_MEMCPY_HTOD, F_MEMCPY_DTOH, F_MEMCPY_DTOD, F_MEMSET_ASYNC,
  F_STREAM_CREATE, F_STREAM_DESTROY, F_STREAM_SYNCHRONIZE,
  F_EVENT_CREATE, F_EVENT_DESTROY, F_EVENT_RECORD, F_EVENT_SYNCHRONIZE, F_EVENT_ELAPSED_MS,
  F_GRAPH_BEGIN_CAPTURE, F_GRAPH_END_CAPTURE, F_GRAPH_LAUNCH, F_GRAPH_DESTROY,
  F_MLA_NUM_SM_PARTS, F_DECODE_WORKSPACE_BYTES, F_STATUS_STRING, F_COUNT
};
#define N_TENSOR_FNS (F_REFERENCE + 1)

static const char* const fn_names[F_COUNT] = {
    "fmla_get_mla_metadata", "fmla_mla_decode", "fmla_gqa_decode", "fmla_gqa_decode_e4m3",
    "fmla_mla_decode_fp8/ds_mla", "fmla_mla_decode_fp8/e4m3", "fmla_write_kv", "fmla_write_kv_fp8/ds_mla", "fmla_write_kv_fp8/e4m3",
    "fmla_testing_fill_normal", "fmla_reference_attention", "fmla_testing_spin",
    "fmla_device_count", "fmla_device_properties", "fmla_set_device", "fmla_get_device",
    "fmla_device_synchronize", "fmla_malloc", "fmla_free", "fmla_memcpy_htod", "fmla_memcpy_dtoh",
    "fmla_memcpy_dtod", "fmla_memset_async", "fmla_stream_create", "fmla_stream_destroy",
    "fmla_stream_synchronize", "fmla_event_create", "fmla_event_destroy", "fmla_event_record",
    "fmla_event_synchronize", "fmla_event_elapsed_ms", "fmla_graph_begin_capture",
    "fmla_graph_end_capture", "fmla_graph_launch", "fmla_graph_destroy", "fmla_mla_num_sm_parts",
    "fmla_decode_workspace_bytes", "fmla_status_string"};

/* What a call must answer. */
enum {
  X_REFUSE, /* FMLA_ERROR_INVALID_ARGUMENT or FMLA_ERROR_UNSUPPORTED: refused before any launch */
  X_FAIL,   /* any failure (the CUDA runtime refuses it) */
  X_OOM,    /* FMLA_ERROR_OUT_OF_MEMORY or FMLA_ERROR_INVALID_ARGUMENT */
  X_OK,     /* a valid call */
  X_ANY     /* anything, as long as the process survives */
};
static const char* const expect_names[] = {"a refusal", "a failure", "out of memory", "FMLA_OK",
                                           "any status"};

#define N_STATUS 7 /* the six codes and one slot for anything else */

static int have_device, n_devices, verbose, run_gaps;
static long iteration = -1; /* -1: setup and the final sweep */
static long failures, fn_calls[F_COUNT], status_calls[N_STATUS];
static long n_mutations, n_baselines, n_garbage, garbage_accepted, stale_errors;
static void* S; /* the stream every call runs on, unless a case says otherwise */

static void fail(int fn, const char* what, const char* format, ...) {
  va_list args;
  ++failures;
  if (iteration >= 0)
    printf("FAIL iteration %ld %s [%s]: ", iteration, fn_names[fn], what);
  else
    printf("FAIL %s [%s]: ", fn_names[fn], what);
  va_start(args, format);
  vprintf(format, args);
  va_end(args);
  printf("\n");
  fflush(stdout);
}

static const char* status_name(fmla_status st) {
  const char* name = fmla_status_string(st);
  return name ? name : "(null)";
}

/* fmla_last_error() is not cleared by successful calls: a refusal without a message of its own
 * would show the previous one. So a known message is planted before each checked call. */
static char sentinel[1024];

static void plant_sentinel(int fn) {
  const char* msg;
  if (fn == F_DEVICE_COUNT)
    fmla_get_device(NULL);
  else
    fmla_device_count(NULL);
  msg = fmla_last_error();
  snprintf(sentinel, sizeof sentinel, "%s", msg ? msg : "");
}

static int allowed(int expect, fmla_status st) {
  if (!have_device) {
    if (expect == X_ANY) return 1;
    if (expect == X_OK) return st == FMLA_ERROR_NO_DEVICE;
    return st == FMLA_ERROR_INVALID_ARGUMENT || st == FMLA_ERROR_NO_DEVICE;
  }
  switch (expect) {
    case X_REFUSE: return st == FMLA_ERROR_INVALID_ARGUMENT || st == FMLA_ERROR_UNSUPPORTED;
    case X_FAIL: return st != FMLA_OK;
    case X_OOM: return st == FMLA_ERROR_OUT_OF_MEMORY || st == FMLA_ERROR_INVALID_ARGUMENT;
    case X_OK: return st == FMLA_OK;
    default: return 1;
  }
}

/* Checks a status against what the call must answer. `arg`: for a refused single-argument
 * mutation, the argument its message must name first (NULL: any message). */
static const char* expected_name(int expect) {
  if (have_device || expect == X_ANY) return expect_names[expect];
  return expect == X_OK ? "FMLA_ERROR_NO_DEVICE" : "a refusal or FMLA_ERROR_NO_DEVICE";
}

static void check(int fn, const char* what, int expect, fmla_status st, const char* arg) {
  const char* name = fmla_status_string(st);
  const char* msg = st == FMLA_OK ? "" : fmla_last_error();
  status_calls[(unsigned)st < N_STATUS - 1 ? (int)st : N_STATUS - 1]++;
  if (verbose) {
    if (iteration >= 0) printf("iteration %ld ", iteration);
    printf("%s [%s] -> %s%s%s\n", fn_names[fn], what, status_name(st),
           msg && *msg ? ": " : "", msg ? msg : "");
  }
  if (!name || !*name) fail(fn, what, "fmla_status_string(%d) is NULL or empty", (int)st);
  if ((unsigned)st > FMLA_ERROR_UNSUPPORTED) fail(fn, what, "unknown status %d", (int)st);
  if (!allowed(expect, st)) {
    fail(fn, what, "expected %s, got %s: %s", expected_name(expect), status_name(st),
         msg ? msg : "(null)");
    return;
  }
  if (st == FMLA_OK) return;
  if (!msg || !*msg) {
    fail(fn, what, "%s without a message in fmla_last_error()", status_name(st));
  } else if (!strcmp(msg, sentinel)) {
    fail(fn, what, "%s left the previous message in fmla_last_error(): %s", status_name(st), msg);
  } else if (arg && have_device && expect == X_REFUSE) {
    const size_t n = strlen(arg);
    if (strncmp(msg, arg, n) != 0 || msg[n] != ':')
      fail(fn, what, "the message does not start with \"%s:\": %s", arg, msg);
  }
}

/* The CUDA error a failed call received must not be reported again by the next launch: the
 * library checks its launches with cudaGetLastError, and a caller through the ABI cannot clear the
 * runtime's last error itself. A launch right after such a failure shows (and clears) it. */
static void probe_stale_error(int fn, const char* what, fmla_status st) {
  fmla_status next;
  if (!have_device || (st != FMLA_ERROR_CUDA && st != FMLA_ERROR_OUT_OF_MEMORY)) return;
  next = fmla_testing_spin(0, S);
  if (next == FMLA_OK) return;
  ++stale_errors;
  fail(fn, what, "after its %s, the next launch (fmla_testing_spin) failed with %s: %s",
       status_name(st), status_name(next), fmla_last_error());
}

/* ---- Tensors --------------------------------------------------------------------------------- */

static int dtype_size(int32_t dtype) {
  switch (dtype) {
    case FMLA_DTYPE_FLOAT32:
    case FMLA_DTYPE_INT32: return 4;
    case FMLA_DTYPE_BFLOAT16:
    case FMLA_DTYPE_FLOAT16: return 2;
    case FMLA_DTYPE_FLOAT8_E4M3FN: return 1;
    default: return 0;
  }
}

/* A contiguous descriptor (data set later). */
static fmla_tensor tensor(int32_t dtype, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  const int64_t dims[4] = {d0, d1, d2, d3};
  fmla_tensor t;
  int64_t stride = 1;
  int d;
  memset(&t, 0, sizeof t);
  t.dtype = dtype;
  t.ndim = ndim;
  for (d = 0; d < ndim; ++d) t.shape[d] = dims[d];
  for (d = ndim - 1; d >= 0; --d) {
    t.strides[d] = stride;
    stride *= t.shape[d];
  }
  return t;
}

/* Rank in range, a known dtype, no negative dim: a descriptor the library may accept. */
static int well_formed(const fmla_tensor* t) {
  int d;
  if (!dtype_size(t->dtype) || t->ndim < 0 || t->ndim > FMLA_MAX_DIMS) return 0;
  for (d = 0; d < t->ndim; ++d)
    if (t->shape[d] < 0) return 0;
  return 1;
}

/* The bytes [lo, hi) a well-formed descriptor addresses from its data pointer; 0 when they are
 * too far out to compute. */
static int extent(const fmla_tensor* t, int64_t* lo, int64_t* hi) {
  const int64_t limit = INT64_C(1) << 28; /* keeps the sums below far from overflow */
  int64_t first = 0, last = 0;
  int d;
  for (d = 0; d < t->ndim; ++d)
    if (t->shape[d] == 0) {
      *lo = *hi = 0;
      return 1;
    }
  for (d = 0; d < t->ndim; ++d) {
    const int64_t n = t->shape[d], s = t->strides[d];
    if (n > limit || s > limit || s < -limit) return 0;
    if (s < 0)
      first += (n - 1) * s;
    else
      last += (n - 1) * s;
  }
  *lo = first * dtype_size(t->dtype);
  *hi = (last + 1) * dtype_size(t->dtype);
  return 1;
}

static void describe(char* buf, size_t size, const fmla_tensor* t) {
  const int n = t->ndim >= 0 && t->ndim <= FMLA_MAX_DIMS ? t->ndim : FMLA_MAX_DIMS;
  size_t used =
      (size_t)snprintf(buf, size, "dtype=%d ndim=%d shape=[", (int)t->dtype, (int)t->ndim);
  int d;
  for (d = 0; d < n && used < size; ++d)
    used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? "," : "",
                             (long long)t->shape[d]);
  if (used < size) used += (size_t)snprintf(buf + used, size - used, "] strides=[");
  for (d = 0; d < n && used < size; ++d)
    used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? "," : "",
                             (long long)t->strides[d]);
  if (used < size) snprintf(buf + used, size - used, "]");
}

/* ---- Device memory --------------------------------------------------------------------------- */

#define SLACK 256             /* extra bytes behind every buffer: small offsets stay inside */
#define ARENA_BYTES (4 << 20) /* zero-filled memory that garbage descriptors point into */

static void* buffers[64];
static int n_buffers;
static uintptr_t next_fake = 0x1000; /* below 64 KiB: never mapped, a host access faults */

static void* device_buffer(size_t bytes) {
  void* p = NULL;
  if (!have_device) {
    p = (void*)next_fake;
    next_fake += 0x400;
    return p;
  }
  if (fmla_malloc(&p, bytes + SLACK) != FMLA_OK) {
    printf("setup: fmla_malloc(%zu) failed: %s\n", bytes + SLACK, fmla_last_error());
    exit(1);
  }
  buffers[n_buffers++] = p;
  return p;
}

static void place(fmla_tensor* t) {
  int64_t lo = 0, hi = 0;
  extent(t, &lo, &hi);
  t->data = device_buffer((size_t)hi);
}

static void setup_ok(const char* what, fmla_status st) {
  if (st == FMLA_OK) return;
  printf("setup: %s failed with %s: %s\n", what, status_name(st), fmla_last_error());
  exit(1);
}

static void upload(void* dst, const void* src, size_t bytes) {
  if (have_device) setup_ok("fmla_memcpy_htod", fmla_memcpy_htod(dst, src, bytes, S));
}

static void fill_random(fmla_tensor t, uint64_t seed) {
  if (have_device)
    setup_ok("fmla_testing_fill_normal", fmla_testing_fill_normal(&t, seed, 1.0f, 4.0f, S));
}

static void zero(void* p, size_t bytes) {
  if (have_device) setup_ok("fmla_memset_async", fmla_memset_async(p, 0, bytes, S));
}

/* ---- Baseline calls -------------------------------------------------------------------------- */

/* Argument slots; each function uses some (write_kv and write_kv_fp8: R_K is the cache, R_ROWS the
 * new rows; fill_normal: R_OUT is t; the reference: R_ROWS are the query rows; gqa_decode_e4m3:
 * R_DESCALE is descale_k). */
enum {
  R_Q, R_K, R_V, R_BT, R_SL, R_MD, R_NS, R_OUT, R_LSE, R_ROWS, R_SLOTS, R_DESCALE, R_DESCALE_V,
  R_COUNT
};

/* What the library checks of an argument's layout, besides what every tensor gets (data aligned to
 * its element size; for an output, no two elements at one address). */
enum {
  L_INNER,  /* innermost stride 1 */
  L_VECTOR, /* innermost stride 1, data and outer strides 16-byte multiples, non-negative */
  L_CONTIG, /* row-major contiguous */
  L_ROWS,   /* innermost stride 1, outer strides non-negative */
  L_ANY     /* any strides (a decode's lse: a transposed view is valid) */
};

typedef struct {
  const char* name; /* NULL: not an argument of the function */
  int rank, layout, output, nullable;
  unsigned dtypes; /* bit per accepted dtype code */
} arg_spec;

typedef struct {
  fmla_tensor t[R_COUNT];
  int null_desc[R_COUNT];
  int32_t tokens, heads, head_dim_v, causal, format;
  float scale;
  void* workspace;
  size_t workspace_bytes;
  void* stream;
} call_t;

static arg_spec spec[N_TENSOR_FNS][R_COUNT];
static call_t base[N_TENSOR_FNS];
static call_t empty_base[N_TENSOR_FNS]; /* the decodes over empty sequences, for garbage */
static void* arena;
static void *scratch_a, *scratch_b; /* 256 device bytes each, for the memory functions */
static int current_device, num_sms = 132;

#define BIT(dtype) (1u << (dtype))
#define ALL_DTYPES 0x1fu

static void arg(int fn, int r, const char* name, int layout, int output, unsigned dtypes) {
  spec[fn][r].name = name;
  spec[fn][r].rank = base[fn].t[r].ndim;
  spec[fn][r].layout = layout;
  spec[fn][r].output = output;
  spec[fn][r].dtypes = dtypes;
}

#define ARG(c, r) ((c)->null_desc[r] ? NULL : &(c)->t[r])

static fmla_status invoke(int fn, call_t* c) {
  switch (fn) {
    case F_GET_MLA_METADATA:
      return fmla_get_mla_metadata(ARG(c, R_SL), c->tokens, c->heads, ARG(c, R_MD), ARG(c, R_NS),
                                   c->stream);
    case F_MLA_DECODE:
      return fmla_mla_decode(ARG(c, R_Q), ARG(c, R_K), ARG(c, R_BT), ARG(c, R_SL), c->head_dim_v,
                             ARG(c, R_MD), ARG(c, R_NS), c->scale, c->causal, ARG(c, R_OUT),
                             ARG(c, R_LSE), c->workspace, c->workspace_bytes, c->stream);
    case F_GQA_DECODE:
      return fmla_gqa_decode(ARG(c, R_Q), ARG(c, R_K), ARG(c, R_V), ARG(c, R_BT), ARG(c, R_SL),
                             ARG(c, R_MD), ARG(c, R_NS), c->scale, c->causal, ARG(c, R_OUT),
                             ARG(c, R_LSE), c->workspace, c->workspace_bytes, c->stream);
    case F_GQA_DECODE_E4M3:
      return fmla_gqa_decode_e4m3(ARG(c, R_Q), ARG(c, R_K), ARG(c, R_V), ARG(c, R_BT), ARG(c, R_SL),
                                  ARG(c, R_MD), ARG(c, R_NS), c->scale, c->causal, NULL,
                                  ARG(c, R_DESCALE), ARG(c, R_DESCALE_V), ARG(c, R_OUT),
                                  ARG(c, R_LSE), c->workspace, c->workspace_bytes, c->stream);
    case F_MLA_DECODE_DS_MLA:
    case F_MLA_DECODE_E4M3:
      return fmla_mla_decode_fp8(ARG(c, R_Q), ARG(c, R_K), ARG(c, R_BT), ARG(c, R_SL),
                                 c->head_dim_v, ARG(c, R_MD), ARG(c, R_NS), c->scale, c->causal,
                                 c->format, NULL, ARG(c, R_DESCALE), ARG(c, R_OUT), ARG(c, R_LSE),
                                 c->workspace, c->workspace_bytes, c->stream);
    case F_WRITE_KV: return fmla_write_kv(ARG(c, R_K), ARG(c, R_ROWS), ARG(c, R_SLOTS), c->stream);
    case F_WRITE_KV_DS_MLA:
    case F_WRITE_KV_E4M3:
      return fmla_write_kv_fp8(ARG(c, R_K), ARG(c, R_ROWS), ARG(c, R_SLOTS), c->format,
                               ARG(c, R_DESCALE), c->stream);
    case F_FILL_NORMAL: return fmla_testing_fill_normal(ARG(c, R_OUT), 7, 1.0f, 4.0f, c->stream);
    default:
      return fmla_reference_attention(ARG(c, R_Q), ARG(c, R_K), ARG(c, R_V), c->head_dim_v,
                                      ARG(c, R_BT), ARG(c, R_SL), c->scale, c->causal,
                                      ARG(c, R_ROWS), ARG(c, R_OUT), ARG(c, R_LSE), c->stream);
  }
}

/* The schedule of one decode baseline, computed on the device. */
static void schedule(call_t* c, const fmla_tensor* seqlens, int parts, int64_t b) {
  c->t[R_MD] = tensor(FMLA_DTYPE_INT32, 2, parts, FMLA_METADATA_INTS, 0, 0);
  c->t[R_NS] = tensor(FMLA_DTYPE_INT32, 1, b + 1, 0, 0, 0);
  place(&c->t[R_MD]);
  place(&c->t[R_NS]);
  if (have_device)
    setup_ok("fmla_get_mla_metadata", fmla_get_mla_metadata(seqlens, c->tokens, c->heads,
                                                            &c->t[R_MD], &c->t[R_NS], S));
}

/* A decode problem: q [b, s_q, h_q, d_qk], a paged cache, a block table of max_pages (rows
 * bt_stride apart, a view of a wider table when larger), and the schedule. */
static void decode_baseline(int fn, int32_t dtype, int64_t b, int64_t s_q, int64_t h_q,
                            int64_t h_kv, int64_t d_qk, int64_t d_v, float scale,
                            int64_t page_size, int64_t num_pages, int64_t max_pages,
                            int64_t bt_stride, const int32_t* seqlens, const int32_t* table) {
  call_t* c = &base[fn];
  call_t* e = &empty_base[fn];
  static const int32_t zeros[8] = {0};
  const int parts = fmla_mla_num_sm_parts(num_sms, (int)(s_q * h_q / h_kv), (int)h_kv);
  int r;
  memset(c, 0, sizeof *c);
  c->t[R_Q] = tensor(dtype, 4, b, s_q, h_q, d_qk);
  c->t[R_K] = tensor(dtype, 4, num_pages, page_size, h_kv, d_qk);
  if (fn == F_GQA_DECODE) c->t[R_V] = tensor(dtype, 4, num_pages, page_size, h_kv, d_v);
  c->t[R_BT] = tensor(FMLA_DTYPE_INT32, 2, b, bt_stride, 0, 0);
  c->t[R_SL] = tensor(FMLA_DTYPE_INT32, 1, b, 0, 0, 0);
  c->t[R_OUT] = tensor(dtype, 4, b, s_q, h_q, d_v);
  c->t[R_LSE] = tensor(FMLA_DTYPE_FLOAT32, 3, b, h_q, s_q, 0);
  for (r = 0; r < R_COUNT; ++r)
    if (c->t[r].ndim) place(&c->t[r]);
  c->t[R_BT].shape[1] = max_pages;
  fill_random(c->t[R_Q], 11 + (uint64_t)fn);
  fill_random(c->t[R_K], 12 + (uint64_t)fn);
  if (fn == F_GQA_DECODE) fill_random(c->t[R_V], 13);
  upload(c->t[R_BT].data, table, (size_t)(b * bt_stride) * sizeof(int32_t));
  upload(c->t[R_SL].data, seqlens, (size_t)b * sizeof(int32_t));
  c->tokens = (int32_t)(s_q * h_q / h_kv);
  c->heads = (int32_t)h_kv;
  c->head_dim_v = (int32_t)d_v;
  c->scale = scale;
  c->causal = 1;
  c->workspace_bytes = fmla_decode_workspace_bytes(b, s_q, h_q, d_v, parts);
  c->workspace = device_buffer(c->workspace_bytes);
  c->stream = S;
  schedule(c, &c->t[R_SL], parts, b);

  /* The same problem over sequences of length 0 (nothing of the cache is read). */
  *e = *c;
  e->t[R_SL].data = device_buffer(sizeof zeros);
  upload(e->t[R_SL].data, zeros, sizeof zeros);
  schedule(e, &e->t[R_SL], parts, b);

  arg(fn, R_Q, "q", L_VECTOR, 0, BIT(FMLA_DTYPE_BFLOAT16) | BIT(FMLA_DTYPE_FLOAT16));
  arg(fn, R_K, fn == F_MLA_DECODE ? "kv_cache" : "k_cache", L_VECTOR, 0, BIT(dtype));
  if (fn == F_GQA_DECODE) arg(fn, R_V, "v_cache", L_VECTOR, 0, BIT(dtype));
  arg(fn, R_BT, "block_table", L_INNER, 0, BIT(FMLA_DTYPE_INT32));
  arg(fn, R_SL, "cache_seqlens", L_INNER, 0, BIT(FMLA_DTYPE_INT32));
  arg(fn, R_MD, "tile_scheduler_metadata", L_CONTIG, 0, BIT(FMLA_DTYPE_INT32));
  arg(fn, R_NS, "num_splits", L_CONTIG, 0, BIT(FMLA_DTYPE_INT32));
  arg(fn, R_OUT, "out", L_VECTOR, 1, BIT(dtype));
  arg(fn, R_LSE, "lse", L_ANY, 1, BIT(FMLA_DTYPE_FLOAT32));
}

static void setup(void) {
  /* MLA: DeepSeek's head dims, two sequences over 3 and 1 pages of 64, a strided block table. */
  static const int32_t mla_seqlens[2] = {130, 64};
  static const int32_t mla_table[2 * 5] = {0, 2, 4, 0, 0, 1, 3, 5, 0, 0};
  /* GQA: 8 query heads over 2 KV heads, pages of 16, one empty sequence. */
  static const int32_t gqa_seqlens[3] = {50, 17, 0};
  static const int32_t gqa_table[3 * 4] = {9, 0, 5, 2, 3, 7, 0, 0, 0, 0, 0, 0};
  /* write_kv: a skipped row (-1) and a slot past the cache (100 >= 4 * 16), both skipped. */
  static const int32_t slots[5] = {0, 17, -1, 63, 100};
  static const int32_t query_rows[4 * 3] = {0, 0, 0, 0, 1, 7, 1, 0, 3, 2, 1, 5};
  static const float descale = 0.5f;
  call_t* c;
  int i, r;

  if (have_device) {
    fmla_device_props props;
    setup_ok("fmla_get_device", fmla_get_device(&current_device));
    setup_ok("fmla_device_properties", fmla_device_properties(current_device, &props));
    num_sms = props.multiprocessor_count;
    setup_ok("fmla_stream_create", fmla_stream_create(&S));
    printf("device %d: %s, %d SMs\n", current_device, props.name, num_sms);
  } else {
    S = (void*)next_fake;
    next_fake += 0x400;
  }

  /* softmax scales 1 / sqrt(d_qk) */
  decode_baseline(F_MLA_DECODE, FMLA_DTYPE_BFLOAT16, 2, 2, 16, 1, 576, 512, 1.0f / 24.0f, 64, 6, 3,
                  5, mla_seqlens, mla_table);
  decode_baseline(F_GQA_DECODE, FMLA_DTYPE_FLOAT16, 3, 2, 8, 2, 128, 128, 0.08838835f, 16, 10, 4, 4,
                  gqa_seqlens, gqa_table);

  /* GQA over float8_e4m3fn caches: the GQA problem (8 query rows per KV head) with zeroed caches of
   * its shapes and two float32 descales [1]; q, the schedule, out, lse and the workspace are the
   * GQA baseline's (and so are the empty sequences, for garbage). */
  c = &base[F_GQA_DECODE_E4M3];
  *c = base[F_GQA_DECODE];
  c->t[R_K] = c->t[R_V] = tensor(FMLA_DTYPE_FLOAT8_E4M3FN, 4, 10, 16, 2, 128);
  c->t[R_DESCALE] = c->t[R_DESCALE_V] = tensor(FMLA_DTYPE_FLOAT32, 1, 1, 0, 0, 0);
  for (r = R_K; r <= R_V; ++r) {
    place(&c->t[r]);
    zero(c->t[r].data, 10 * 16 * 2 * 128);
  }
  for (r = R_DESCALE; r <= R_DESCALE_V; ++r) {
    place(&c->t[r]);
    upload(c->t[r].data, &descale, sizeof descale);
  }
  empty_base[F_GQA_DECODE_E4M3] = *c;
  for (r = R_SL; r <= R_NS; ++r)
    empty_base[F_GQA_DECODE_E4M3].t[r] = empty_base[F_GQA_DECODE].t[r];
  memcpy(spec[F_GQA_DECODE_E4M3], spec[F_GQA_DECODE], sizeof spec[0]);
  spec[F_GQA_DECODE_E4M3][R_K].dtypes = BIT(FMLA_DTYPE_FLOAT8_E4M3FN);
  spec[F_GQA_DECODE_E4M3][R_V].dtypes = BIT(FMLA_DTYPE_FLOAT8_E4M3FN);
  arg(F_GQA_DECODE_E4M3, R_DESCALE, "descale_k", L_ANY, 0, BIT(FMLA_DTYPE_FLOAT32));
  arg(F_GQA_DECODE_E4M3, R_DESCALE_V, "descale_v", L_ANY, 0, BIT(FMLA_DTYPE_FLOAT32));

  /* MLA over FP8 caches: the MLA problem with zeroed caches of its pages in each format (one
   * latent head of 656-byte fp8_ds_mla tokens with descale_k NULL; 576 fp8_e4m3 codes with a
   * float32 descale_k [1]); q, the schedule, out, lse and the workspace are the MLA baseline's. */
  for (i = F_MLA_DECODE_DS_MLA; i <= F_MLA_DECODE_E4M3; ++i) {
    const int ds = i == F_MLA_DECODE_DS_MLA;
    const int64_t pages = base[F_MLA_DECODE].t[R_K].shape[0];
    const int64_t rows = base[F_MLA_DECODE].t[R_K].shape[1], width = ds ? 656 : 576;
    c = &base[i];
    *c = base[F_MLA_DECODE];
    c->t[R_K] = tensor(FMLA_DTYPE_FLOAT8_E4M3FN, 4, pages, rows, 1, width);
    place(&c->t[R_K]);
    zero(c->t[R_K].data, (size_t)(pages * rows * width));
    c->format = ds ? FMLA_KV_FORMAT_FP8_DS_MLA : FMLA_KV_FORMAT_FP8_E4M3;
    if (ds) {
      c->null_desc[R_DESCALE] = 1;
    } else {
      c->t[R_DESCALE] = tensor(FMLA_DTYPE_FLOAT32, 1, 1, 0, 0, 0);
      place(&c->t[R_DESCALE]);
      upload(c->t[R_DESCALE].data, &descale, sizeof descale);
    }
    empty_base[i] = *c;
    for (r = R_SL; r <= R_NS; ++r) empty_base[i].t[r] = empty_base[F_MLA_DECODE].t[r];
    memcpy(spec[i], spec[F_MLA_DECODE], sizeof spec[0]);
    spec[i][R_K].dtypes = BIT(FMLA_DTYPE_FLOAT8_E4M3FN);
    if (!ds) arg(i, R_DESCALE, "descale_k", L_ANY, 0, BIT(FMLA_DTYPE_FLOAT32));
  }

  /* The schedule alone, on the GQA lengths, into buffers of its own. */
  c = &base[F_GET_MLA_METADATA];
  c->t[R_SL] = base[F_GQA_DECODE].t[R_SL];
  c->tokens = base[F_GQA_DECODE].tokens;
  c->heads = base[F_GQA_DECODE].heads;
  c->stream = S;
  schedule(c, &c->t[R_SL], (int)base[F_GQA_DECODE].t[R_MD].shape[0], 3);
  arg(F_GET_MLA_METADATA, R_SL, "cache_seqlens", L_CONTIG, 0, BIT(FMLA_DTYPE_INT32));
  arg(F_GET_MLA_METADATA, R_MD, "tile_scheduler_metadata", L_CONTIG, 1, BIT(FMLA_DTYPE_INT32));
  arg(F_GET_MLA_METADATA, R_NS, "num_splits", L_CONTIG, 1, BIT(FMLA_DTYPE_INT32));

  c = &base[F_WRITE_KV];
  c->t[R_K] = tensor(FMLA_DTYPE_BFLOAT16, 4, 4, 16, 2, 64);
  c->t[R_ROWS] = tensor(FMLA_DTYPE_BFLOAT16, 3, 5, 2, 64, 0);
  c->t[R_SLOTS] = tensor(FMLA_DTYPE_INT32, 1, 5, 0, 0, 0);
  place(&c->t[R_K]);
  place(&c->t[R_ROWS]);
  place(&c->t[R_SLOTS]);
  zero(c->t[R_K].data, 4 * 16 * 2 * 64 * 2);
  fill_random(c->t[R_ROWS], 21);
  upload(c->t[R_SLOTS].data, slots, sizeof slots);
  c->stream = S;
  arg(F_WRITE_KV, R_K, "cache", L_ROWS, 1, ALL_DTYPES);
  arg(F_WRITE_KV, R_ROWS, "rows", L_ROWS, 0, BIT(FMLA_DTYPE_BFLOAT16));
  arg(F_WRITE_KV, R_SLOTS, "slot_mapping", L_INNER, 0, BIT(FMLA_DTYPE_INT32));

  /* write_kv_fp8 on write_kv's slots: e4m3 with write_kv's shapes and a float32 descale [1];
   * ds_mla with one latent head of 656-byte tokens, descale NULL (a mutation passes e4m3's). */
  c = &base[F_WRITE_KV_E4M3];
  c->t[R_K] = tensor(FMLA_DTYPE_FLOAT8_E4M3FN, 4, 4, 16, 2, 64);
  c->t[R_ROWS] = tensor(FMLA_DTYPE_FLOAT16, 3, 5, 2, 64, 0);
  c->t[R_SLOTS] = base[F_WRITE_KV].t[R_SLOTS];
  c->t[R_DESCALE] = tensor(FMLA_DTYPE_FLOAT32, 1, 1, 0, 0, 0);
  place(&c->t[R_K]);
  place(&c->t[R_ROWS]);
  place(&c->t[R_DESCALE]);
  zero(c->t[R_K].data, 4 * 16 * 2 * 64);
  fill_random(c->t[R_ROWS], 22);
  upload(c->t[R_DESCALE].data, &descale, sizeof descale);
  c->format = FMLA_KV_FORMAT_FP8_E4M3;
  c->stream = S;
  c = &base[F_WRITE_KV_DS_MLA];
  *c = base[F_WRITE_KV_E4M3];
  c->t[R_K] = tensor(FMLA_DTYPE_FLOAT8_E4M3FN, 4, 4, 16, 1, 656);
  c->t[R_ROWS] = tensor(FMLA_DTYPE_BFLOAT16, 3, 5, 1, 576, 0);
  c->null_desc[R_DESCALE] = 1;
  place(&c->t[R_K]);
  place(&c->t[R_ROWS]);
  zero(c->t[R_K].data, 4 * 16 * 656);
  fill_random(c->t[R_ROWS], 23);
  c->format = FMLA_KV_FORMAT_FP8_DS_MLA;
  for (i = F_WRITE_KV_DS_MLA; i <= F_WRITE_KV_E4M3; ++i) {
    arg(i, R_K, "cache", L_ROWS, 1, BIT(FMLA_DTYPE_FLOAT8_E4M3FN));
    arg(i, R_ROWS, "rows", L_ROWS, 0, BIT(FMLA_DTYPE_BFLOAT16) | BIT(FMLA_DTYPE_FLOAT16));
    arg(i, R_SLOTS, "slot_mapping", L_INNER, 0, BIT(FMLA_DTYPE_INT32));
  }
  arg(F_WRITE_KV_E4M3, R_DESCALE, "descale", L_ANY, 0, BIT(FMLA_DTYPE_FLOAT32));

  c = &base[F_FILL_NORMAL];
  c->t[R_OUT] = tensor(FMLA_DTYPE_FLOAT32, 3, 4, 8, 16, 0);
  place(&c->t[R_OUT]);
  c->stream = S;
  arg(F_FILL_NORMAL, R_OUT, "t", L_CONTIG, 1,
      BIT(FMLA_DTYPE_FLOAT32) | BIT(FMLA_DTYPE_BFLOAT16) | BIT(FMLA_DTYPE_FLOAT16));

  /* The reference on the GQA problem (it reads its inputs only). */
  c = &base[F_REFERENCE];
  *c = base[F_GQA_DECODE];
  memset(&c->t[R_MD], 0, sizeof c->t[R_MD]);
  memset(&c->t[R_NS], 0, sizeof c->t[R_NS]);
  c->workspace = NULL;
  c->workspace_bytes = 0;
  c->t[R_ROWS] = tensor(FMLA_DTYPE_INT32, 2, 4, 3, 0, 0);
  c->t[R_OUT] = tensor(FMLA_DTYPE_FLOAT32, 2, 4, 128, 0, 0);
  c->t[R_LSE] = tensor(FMLA_DTYPE_FLOAT32, 1, 4, 0, 0, 0);
  place(&c->t[R_ROWS]);
  place(&c->t[R_OUT]);
  place(&c->t[R_LSE]);
  upload(c->t[R_ROWS].data, query_rows, sizeof query_rows);
  arg(F_REFERENCE, R_Q, "q", L_INNER, 0, BIT(FMLA_DTYPE_BFLOAT16) | BIT(FMLA_DTYPE_FLOAT16));
  arg(F_REFERENCE, R_K, "k_cache", L_INNER, 0, BIT(FMLA_DTYPE_FLOAT16));
  arg(F_REFERENCE, R_V, "v_cache", L_INNER, 0, BIT(FMLA_DTYPE_FLOAT16));
  spec[F_REFERENCE][R_V].nullable = 1;
  arg(F_REFERENCE, R_BT, "block_table", L_INNER, 0, BIT(FMLA_DTYPE_INT32));
  arg(F_REFERENCE, R_SL, "cache_seqlens", L_INNER, 0, BIT(FMLA_DTYPE_INT32));
  arg(F_REFERENCE, R_ROWS, "rows", L_INNER, 0, BIT(FMLA_DTYPE_INT32));
  arg(F_REFERENCE, R_OUT, "out", L_CONTIG, 1, BIT(FMLA_DTYPE_FLOAT32));
  arg(F_REFERENCE, R_LSE, "lse", L_CONTIG, 1, BIT(FMLA_DTYPE_FLOAT32));

  arena = device_buffer(ARENA_BYTES);
  zero(arena, ARENA_BYTES);
  scratch_a = device_buffer(256);
  scratch_b = device_buffer(256);
  if (have_device) setup_ok("fmla_stream_synchronize", fmla_stream_synchronize(S));
}

static void teardown(void) {
  int i;
  if (!have_device) return;
  check(F_STREAM_SYNCHRONIZE, "teardown", X_OK, fmla_stream_synchronize(S), NULL);
  for (i = 0; i < n_buffers; ++i) check(F_FREE, "teardown", X_OK, fmla_free(buffers[i]), NULL);
  check(F_STREAM_DESTROY, "teardown", X_OK, fmla_stream_destroy(S), NULL);
}

/* ---- Mutations ------------------------------------------------------------------------------- */

/* Known gaps: invalid inputs the library accepts (a mutation's `gap` says why), run only with -g.
 * None at present. */

/* Single-argument mutations, applied to every tensor argument they fit. */
enum {
  G_NULL_DESC, G_NULL_DATA, G_NDIM, G_DTYPE_CODE, G_DTYPE_OTHER, G_NEG_DIM, G_INNER_STRIDE,
  G_OUTER_NEG, G_OUTER_ODD, G_MISALIGNED, G_OVERLAP
};
static const char* const generic_names[] = {
    "NULL descriptor", "NULL data",     "rank",        "dtype code out of range",
    "dtype of another kind", "negative dim", "innermost stride != 1", "negative outer stride",
    "outer stride + 1", "data misaligned", "zero outer stride"};

/* Edits of the baseline that together make one invalid call. */
enum { E_END, E_SHAPE, E_STRIDE, E_HEAD_DIM_V, E_SCALE, E_CAUSAL, E_TOKENS, E_HEADS, E_WS_PTR,
       E_WS_BYTES, E_NULL_DESC, E_NDIM, E_FORMAT, E_DTYPE };
enum { O_SET, O_ADD };
typedef struct {
  int field, role, dim, op;
  int64_t v;
} edit;
#define SHAPE(r, d, op, v) {E_SHAPE, r, d, op, v}
#define STRIDE(r, d, op, v) {E_STRIDE, r, d, op, v}
#define SCALAR(f, op, v) {f, 0, 0, op, v}
#define NDIM(r, v) {E_NDIM, r, 0, O_SET, v}
#define DTYPE(r, v) {E_DTYPE, r, 0, O_SET, v}

typedef struct {
  unsigned fns; /* bit per function it applies to */
  const char* name;
  int expect;
  const char* gap;
  edit e[12];
} special;

#define MLA (1u << F_MLA_DECODE)
#define GQA_E4M3 (1u << F_GQA_DECODE_E4M3)
#define GQA ((1u << F_GQA_DECODE) | GQA_E4M3) /* the GQA cases hold for e4m3 caches too */
#define DEC (MLA | GQA)
#define MD (1u << F_GET_MLA_METADATA)
#define WKV (1u << F_WRITE_KV)
#define DSMLA (1u << F_WRITE_KV_DS_MLA)
#define E4M3 (1u << F_WRITE_KV_E4M3)
#define FP8 (DSMLA | E4M3)
#define FILL (1u << F_FILL_NORMAL)
#define REF (1u << F_REFERENCE)

static const special specials[] = {
    /* decodes: shapes that disagree, zero sizes, launch limits, scalars, the workspace */
    {DEC, "q b = 0", X_REFUSE, NULL, {SHAPE(R_Q, 0, O_SET, 0)}},
    {DEC, "q s_q = 0", X_REFUSE, NULL, {SHAPE(R_Q, 1, O_SET, 0)}},
    {DEC, "q h_q = 0", X_REFUSE, NULL, {SHAPE(R_Q, 2, O_SET, 0)}},
    {DEC, "q b + 1", X_REFUSE, NULL, {SHAPE(R_Q, 0, O_ADD, 1)}},
    {DEC, "q s_q + 1", X_REFUSE, NULL, {SHAPE(R_Q, 1, O_ADD, 1)}},
    {DEC, "q h_q + 1", X_REFUSE, NULL, {SHAPE(R_Q, 2, O_ADD, 1)}},
    {DEC, "q head dim + 8", X_REFUSE, NULL, {SHAPE(R_Q, 3, O_ADD, 8)}},
    {DEC, "cache num_pages = 0", X_REFUSE, NULL, {SHAPE(R_K, 0, O_SET, 0)}},
    {DEC, "cache page_size = 0", X_REFUSE, NULL, {SHAPE(R_K, 1, O_SET, 0)}},
    {DEC, "cache h_kv = 0", X_REFUSE, NULL, {SHAPE(R_K, 2, O_SET, 0)}},
    {DEC, "cache h_kv = 3 (h_q not a multiple)", X_REFUSE, NULL, {SHAPE(R_K, 2, O_SET, 3)}},
    {DEC, "cache head dim + 8", X_REFUSE, NULL, {SHAPE(R_K, 3, O_ADD, 8)}},
    {GQA, "v_cache num_pages + 1", X_REFUSE, NULL, {SHAPE(R_V, 0, O_ADD, 1)}},
    {GQA, "v_cache page_size + 1", X_REFUSE, NULL, {SHAPE(R_V, 1, O_ADD, 1)}},
    {GQA, "v_cache h_kv + 1", X_REFUSE, NULL, {SHAPE(R_V, 2, O_ADD, 1)}},
    {GQA, "v_cache head dim + 8", X_REFUSE, NULL, {SHAPE(R_V, 3, O_ADD, 8)}},
    {DEC, "block_table b + 1", X_REFUSE, NULL, {SHAPE(R_BT, 0, O_ADD, 1)}},
    {DEC, "block_table b - 1", X_REFUSE, NULL, {SHAPE(R_BT, 0, O_ADD, -1)}},
    {DEC, "cache_seqlens b + 1", X_REFUSE, NULL, {SHAPE(R_SL, 0, O_ADD, 1)}},
    {DEC, "cache_seqlens b - 1", X_REFUSE, NULL, {SHAPE(R_SL, 0, O_ADD, -1)}},
    {DEC | MD, "tile_scheduler_metadata num_sm_parts = 0", X_REFUSE, NULL,
     {SHAPE(R_MD, 0, O_SET, 0)}},
    {DEC | MD, "tile_scheduler_metadata num_sm_parts = 2^31", X_REFUSE, NULL,
     {SHAPE(R_MD, 0, O_SET, P31)}},
    {DEC | MD, "tile_scheduler_metadata rows of 7 ints", X_REFUSE, NULL,
     {SHAPE(R_MD, 1, O_SET, 7)}},
    {DEC | MD, "tile_scheduler_metadata rows of 9 ints", X_REFUSE, NULL,
     {SHAPE(R_MD, 1, O_SET, 9)}},
    {DEC | MD, "num_splits b", X_REFUSE, NULL, {SHAPE(R_NS, 0, O_ADD, -1)}},
    {DEC | MD, "num_splits b + 2", X_REFUSE, NULL, {SHAPE(R_NS, 0, O_ADD, 1)}},
    {DEC, "out b + 1", X_REFUSE, NULL, {SHAPE(R_OUT, 0, O_ADD, 1)}},
    {DEC, "out s_q + 1", X_REFUSE, NULL, {SHAPE(R_OUT, 1, O_ADD, 1)}},
    {DEC, "out h_q + 1", X_REFUSE, NULL, {SHAPE(R_OUT, 2, O_ADD, 1)}},
    {DEC, "out head dim + 8", X_REFUSE, NULL, {SHAPE(R_OUT, 3, O_ADD, 8)}},
    {DEC, "lse b + 1", X_REFUSE, NULL, {SHAPE(R_LSE, 0, O_ADD, 1)}},
    {DEC, "lse h_q + 1", X_REFUSE, NULL, {SHAPE(R_LSE, 1, O_ADD, 1)}},
    {DEC, "lse s_q + 1", X_REFUSE, NULL, {SHAPE(R_LSE, 2, O_ADD, 1)}},
    {MLA, "lse as [b, s_q, h_q]", X_REFUSE, NULL,
     {SHAPE(R_LSE, 1, O_SET, 2), SHAPE(R_LSE, 2, O_SET, 16)}},
    {GQA, "lse as [b, s_q, h_q]", X_REFUSE, NULL,
     {SHAPE(R_LSE, 1, O_SET, 2), SHAPE(R_LSE, 2, O_SET, 8)}},
    {DEC, "softmax_scale = NaN", X_REFUSE, NULL, {SCALAR(E_SCALE, O_SET, 0)}},
    {DEC, "softmax_scale = +inf", X_REFUSE, NULL, {SCALAR(E_SCALE, O_SET, 1)}},
    {DEC, "softmax_scale = -inf", X_REFUSE, NULL, {SCALAR(E_SCALE, O_SET, 2)}},
    {DEC, "workspace = NULL", X_REFUSE, NULL, {SCALAR(E_WS_PTR, O_SET, 0)}},
    {DEC, "workspace_bytes = 0", X_REFUSE, NULL, {SCALAR(E_WS_BYTES, O_SET, 0)}},
    {DEC, "workspace_bytes one short", X_REFUSE, NULL, {SCALAR(E_WS_BYTES, O_ADD, -1)}},
    {DEC, "workspace + 8 bytes (misaligned)", X_REFUSE, NULL, {SCALAR(E_WS_PTR, O_ADD, 8)}},
    {DEC, "causal = 2", X_REFUSE, NULL, {SCALAR(E_CAUSAL, O_SET, 2)}},
    {DEC, "causal = -1", X_REFUSE, NULL, {SCALAR(E_CAUSAL, O_SET, -1)}},
    {DEC, "causal = INT32_MIN", X_REFUSE, NULL, {SCALAR(E_CAUSAL, O_SET, INT32_MIN)}},
    /* lse may be any view whose elements are apart: [b, s_q, h_q] storage seen as [b, h_q, s_q] */
    {MLA, "lse a transposed view (strides [32, 1, 16])", X_OK, NULL,
     {STRIDE(R_LSE, 1, O_SET, 1), STRIDE(R_LSE, 2, O_SET, 16)}},
    {GQA, "lse a transposed view (strides [16, 1, 8])", X_OK, NULL,
     {STRIDE(R_LSE, 1, O_SET, 1), STRIDE(R_LSE, 2, O_SET, 8)}},
    {DEC, "lse innermost stride 0 (s_q = 2 at one address)", X_REFUSE, NULL,
     {STRIDE(R_LSE, 2, O_SET, 0)}},
    {DEC, "lse strides [., 1, 1] (elements overlap)", X_REFUSE, NULL,
     {STRIDE(R_LSE, 1, O_SET, 1)}},
    {DEC, "out head stride 8 (rows overlap)", X_REFUSE, NULL, {STRIDE(R_OUT, 2, O_SET, 8)}},
    {DEC, "block_table max_pages = 2^31", X_REFUSE, NULL, {SHAPE(R_BT, 1, O_SET, P31)}},
    /* the workspace size past INT64_MAX: (2 + 2^31 - 1) * 32 rows * (2^31 - 8) floats */
    {MLA, "workspace size past INT64_MAX (head dims, num_sm_parts near 2^31)", X_REFUSE, NULL,
     {SHAPE(R_Q, 3, O_SET, P31 - 8), SHAPE(R_K, 3, O_SET, P31 - 8), SHAPE(R_OUT, 3, O_SET, P31 - 8),
      SCALAR(E_HEAD_DIM_V, O_SET, P31 - 8), STRIDE(R_OUT, 2, O_SET, P31 - 8),
      STRIDE(R_OUT, 1, O_SET, 16 * (P31 - 8)), STRIDE(R_OUT, 0, O_SET, 32 * (P31 - 8)),
      SHAPE(R_MD, 0, O_SET, P31 - 1)}},
    {DEC, "b = 2^31 in every tensor", X_REFUSE, NULL,
     {SHAPE(R_Q, 0, O_SET, P31), SHAPE(R_BT, 0, O_SET, P31), SHAPE(R_SL, 0, O_SET, P31),
      SHAPE(R_NS, 0, O_SET, P31 + 1), SHAPE(R_OUT, 0, O_SET, P31), SHAPE(R_LSE, 0, O_SET, P31)}},
    {DEC, "page_size = 2^31 (caches)", X_REFUSE, NULL,
     {SHAPE(R_K, 1, O_SET, P31), SHAPE(R_V, 1, O_SET, P31)}},
    /* (the outputs' outer strides follow, or they would overlap) */
    {MLA, "s_q * h_q = 65536 (q, out, lse)", X_REFUSE, NULL,
     {SHAPE(R_Q, 1, O_SET, 4096), SHAPE(R_OUT, 1, O_SET, 4096), SHAPE(R_LSE, 2, O_SET, 4096),
      STRIDE(R_OUT, 0, O_SET, 4096 * 16 * 512), STRIDE(R_LSE, 1, O_SET, 4096),
      STRIDE(R_LSE, 0, O_SET, 16 * 4096)}},
    {GQA, "s_q * h_q = 65536 (q, out, lse)", X_REFUSE, NULL,
     {SHAPE(R_Q, 1, O_SET, 8192), SHAPE(R_OUT, 1, O_SET, 8192), SHAPE(R_LSE, 2, O_SET, 8192),
      STRIDE(R_OUT, 0, O_SET, 8192 * 8 * 128), STRIDE(R_LSE, 1, O_SET, 8192),
      STRIDE(R_LSE, 0, O_SET, 8 * 8192)}},
    {DEC, "head dim + 2^32 (q, cache)", X_REFUSE, NULL,
     {SHAPE(R_Q, 3, O_ADD, P32), SHAPE(R_K, 3, O_ADD, P32)}},
    {DEC, "num_pages + 2^32 (caches)", X_REFUSE, NULL,
     {SHAPE(R_K, 0, O_ADD, P32), SHAPE(R_V, 0, O_ADD, P32)}},
    {MLA, "head_dim_v = 0", X_REFUSE, NULL, {SCALAR(E_HEAD_DIM_V, O_SET, 0)}},
    {MLA, "head_dim_v = -1", X_REFUSE, NULL, {SCALAR(E_HEAD_DIM_V, O_SET, -1)}},
    {MLA, "head_dim_v = 577 (> d_qk)", X_REFUSE, NULL, {SCALAR(E_HEAD_DIM_V, O_SET, 577)}},
    {MLA, "head_dim_v = INT32_MIN", X_REFUSE, NULL, {SCALAR(E_HEAD_DIM_V, O_SET, INT32_MIN)}},
    {MLA, "head_dim_v = INT32_MAX", X_REFUSE, NULL, {SCALAR(E_HEAD_DIM_V, O_SET, INT32_MAX)}},
    {MLA, "head_dim_v = 256 (out too)", X_REFUSE, NULL,
     {SCALAR(E_HEAD_DIM_V, O_SET, 256), SHAPE(R_OUT, 3, O_SET, 256)}},
    {MLA, "d_qk = 512 (q, kv_cache)", X_REFUSE, NULL,
     {SHAPE(R_Q, 3, O_SET, 512), SHAPE(R_K, 3, O_SET, 512)}},
    {GQA, "head dim 96 (q, caches, out)", X_REFUSE, NULL,
     {SHAPE(R_Q, 3, O_SET, 96), SHAPE(R_K, 3, O_SET, 96), SHAPE(R_V, 3, O_SET, 96),
      SHAPE(R_OUT, 3, O_SET, 96)}},
    {GQA, "head dim 0 (q, caches, out)", X_REFUSE, NULL,
     {SHAPE(R_Q, 3, O_SET, 0), SHAPE(R_K, 3, O_SET, 0), SHAPE(R_V, 3, O_SET, 0),
      SHAPE(R_OUT, 3, O_SET, 0)}},
    {GQA, "head dim + 2^32 (q, caches, out)", X_REFUSE, NULL,
     {SHAPE(R_Q, 3, O_ADD, P32), SHAPE(R_K, 3, O_ADD, P32), SHAPE(R_V, 3, O_ADD, P32),
      SHAPE(R_OUT, 3, O_ADD, P32)}},

    /* the schedule */
    {MD, "num_q_tokens_per_head_k = 0", X_REFUSE, NULL, {SCALAR(E_TOKENS, O_SET, 0)}},
    {MD, "num_q_tokens_per_head_k = -1", X_REFUSE, NULL, {SCALAR(E_TOKENS, O_SET, -1)}},
    {MD, "num_q_tokens_per_head_k = INT32_MIN", X_REFUSE, NULL,
     {SCALAR(E_TOKENS, O_SET, INT32_MIN)}},
    {MD, "num_heads_k = 0", X_REFUSE, NULL, {SCALAR(E_HEADS, O_SET, 0)}},
    {MD, "num_heads_k = -1", X_REFUSE, NULL, {SCALAR(E_HEADS, O_SET, -1)}},
    {MD, "num_heads_k = INT32_MIN", X_REFUSE, NULL, {SCALAR(E_HEADS, O_SET, INT32_MIN)}},
    {MD, "cache_seqlens b + 1", X_REFUSE, NULL, {SHAPE(R_SL, 0, O_ADD, 1)}},
    {MD, "b = 2^31 (cache_seqlens, num_splits)", X_REFUSE, NULL,
     {SHAPE(R_SL, 0, O_SET, P31), SHAPE(R_NS, 0, O_SET, P31 + 1)}},
    {MD, "b = 0 (cache_seqlens, num_splits)", X_ANY, NULL,
     {SHAPE(R_SL, 0, O_SET, 0), SHAPE(R_NS, 0, O_SET, 1)}},

    /* write_kv and write_kv_fp8 */
    {WKV | FP8, "rows n + 1", X_REFUSE, NULL, {SHAPE(R_ROWS, 0, O_ADD, 1)}},
    {WKV | FP8, "slot_mapping n + 1", X_REFUSE, NULL, {SHAPE(R_SLOTS, 0, O_ADD, 1)}},
    {WKV | FP8, "rows h_kv + 1", X_REFUSE, NULL, {SHAPE(R_ROWS, 1, O_ADD, 1)}},
    {WKV | FP8, "rows head dim + 8", X_REFUSE, NULL, {SHAPE(R_ROWS, 2, O_ADD, 8)}},
    {WKV | FP8, "cache h_kv + 1", X_REFUSE, NULL, {SHAPE(R_K, 2, O_ADD, 1)}},
    {WKV | FP8, "cache page_size = 0", X_REFUSE, NULL, {SHAPE(R_K, 1, O_SET, 0)}},
    {WKV | FP8, "h_kv = 0 (cache, rows)", X_REFUSE, NULL,
     {SHAPE(R_K, 2, O_SET, 0), SHAPE(R_ROWS, 1, O_SET, 0)}},
    {WKV | FP8, "head dim = 0 (cache, rows)", X_REFUSE, NULL,
     {SHAPE(R_K, 3, O_SET, 0), SHAPE(R_ROWS, 2, O_SET, 0)}},
    {WKV | FP8, "cache page_size = 2^31", X_REFUSE, NULL, {SHAPE(R_K, 1, O_SET, P31)}},
    {WKV | FP8, "h_kv = 2^31 (cache, rows)", X_REFUSE, NULL,
     {SHAPE(R_K, 2, O_SET, P31), SHAPE(R_ROWS, 1, O_SET, P31)}},
    {WKV | FP8, "head dim = 2^31 (cache, rows)", X_REFUSE, NULL,
     {SHAPE(R_K, 3, O_SET, P31), SHAPE(R_ROWS, 2, O_SET, P31)}},
    {WKV | FP8, "cache num_pages = 2^31", X_REFUSE, NULL, {SHAPE(R_K, 0, O_SET, P31)}},
    {WKV | E4M3, "cache row stride = head stride (rows overlap)", X_REFUSE, NULL,
     {STRIDE(R_K, 1, O_SET, 64)}},
    {WKV | FP8, "n = 0 (rows, slot_mapping)", X_OK, NULL,
     {SHAPE(R_ROWS, 0, O_SET, 0), SHAPE(R_SLOTS, 0, O_SET, 0)}},
    {WKV | FP8, "cache num_pages = 0 (every slot skipped)", X_OK, NULL, {SHAPE(R_K, 0, O_SET, 0)}},
    {FP8, "format = 0", X_REFUSE, NULL, {SCALAR(E_FORMAT, O_SET, 0)}},
    {FP8, "format = 3", X_REFUSE, NULL, {SCALAR(E_FORMAT, O_SET, 3)}},
    {FP8, "format = -1", X_REFUSE, NULL, {SCALAR(E_FORMAT, O_SET, -1)}},
    {FP8, "format = INT32_MIN", X_REFUSE, NULL, {SCALAR(E_FORMAT, O_SET, INT32_MIN)}},
    {DSMLA, "format = FMLA_KV_FORMAT_FP8_E4M3 (descale NULL)", X_REFUSE, NULL,
     {SCALAR(E_FORMAT, O_SET, FMLA_KV_FORMAT_FP8_E4M3)}},
    {DSMLA, "descale a float32 [1] (not NULL)", X_REFUSE, NULL,
     {{E_NULL_DESC, R_DESCALE, 0, O_SET, 0}}},
    {DSMLA, "cache tokens of 576 bytes", X_REFUSE, NULL, {SHAPE(R_K, 3, O_SET, 576)}},
    {DSMLA, "rows d_qk = 512", X_REFUSE, NULL, {SHAPE(R_ROWS, 2, O_SET, 512)}},
    {DSMLA, "rows d = 656 (the token bytes)", X_REFUSE, NULL, {SHAPE(R_ROWS, 2, O_SET, 656)}},
    {DSMLA, "cache row stride 672 (tokens not packed)", X_REFUSE, NULL,
     {STRIDE(R_K, 1, O_SET, 672), STRIDE(R_K, 0, O_SET, 16 * 672)}},
    {DSMLA, "cache page stride 15 * 656 (pages overlap)", X_REFUSE, NULL,
     {STRIDE(R_K, 0, O_SET, 15 * 656)}},
    {DSMLA, "cache page stride 16 * 656 + 1 (unaligned pages)", X_OK, NULL,
     {STRIDE(R_K, 0, O_SET, 16 * 656 + 1)}},
    {E4M3, "format = FMLA_KV_FORMAT_FP8_DS_MLA", X_REFUSE, NULL,
     {SCALAR(E_FORMAT, O_SET, FMLA_KV_FORMAT_FP8_DS_MLA)}},
    {E4M3, "descale of 2 elements", X_REFUSE, NULL, {SHAPE(R_DESCALE, 0, O_SET, 2)}},
    {E4M3, "descale of 0 elements", X_REFUSE, NULL, {SHAPE(R_DESCALE, 0, O_SET, 0)}},
    {E4M3, "descale [1, 2]", X_REFUSE, NULL, {NDIM(R_DESCALE, 2), SHAPE(R_DESCALE, 1, O_SET, 2)}},
    {E4M3, "descale of rank 0 (one element)", X_OK, NULL, {NDIM(R_DESCALE, 0)}},
    {E4M3, "descale [1, 1, 1]", X_OK, NULL,
     {NDIM(R_DESCALE, 3), SHAPE(R_DESCALE, 1, O_SET, 1), SHAPE(R_DESCALE, 2, O_SET, 1)}},
    {E4M3, "head dim 63 (cache, rows; strides kept)", X_OK, NULL,
     {SHAPE(R_K, 3, O_SET, 63), SHAPE(R_ROWS, 2, O_SET, 63)}},

    /* gqa_decode_e4m3 (the GQA cases above apply too) */
    {GQA_E4M3, "caches bf16", X_REFUSE, NULL,
     {DTYPE(R_K, FMLA_DTYPE_BFLOAT16), DTYPE(R_V, FMLA_DTYPE_BFLOAT16)}},
    {GQA_E4M3, "caches fp16 (q's dtype)", X_REFUSE, NULL,
     {DTYPE(R_K, FMLA_DTYPE_FLOAT16), DTYPE(R_V, FMLA_DTYPE_FLOAT16)}},
    {GQA_E4M3, "q and out bf16", X_OK, NULL,
     {DTYPE(R_Q, FMLA_DTYPE_BFLOAT16), DTYPE(R_OUT, FMLA_DTYPE_BFLOAT16)}},
    {GQA_E4M3, "descale_k of 2 elements", X_REFUSE, NULL, {SHAPE(R_DESCALE, 0, O_SET, 2)}},
    {GQA_E4M3, "descale_v of 2 elements", X_REFUSE, NULL, {SHAPE(R_DESCALE_V, 0, O_SET, 2)}},
    {GQA_E4M3, "descale_k of 0 elements", X_REFUSE, NULL, {SHAPE(R_DESCALE, 0, O_SET, 0)}},
    {GQA_E4M3, "descale_v of 0 elements", X_REFUSE, NULL, {SHAPE(R_DESCALE_V, 0, O_SET, 0)}},
    {GQA_E4M3, "descale_k [1, 2]", X_REFUSE, NULL,
     {NDIM(R_DESCALE, 2), SHAPE(R_DESCALE, 1, O_SET, 2)}},
    {GQA_E4M3, "descale_v [1, 2]", X_REFUSE, NULL,
     {NDIM(R_DESCALE_V, 2), SHAPE(R_DESCALE_V, 1, O_SET, 2)}},
    {GQA_E4M3, "descales of rank 0 (one element)", X_OK, NULL,
     {NDIM(R_DESCALE, 0), NDIM(R_DESCALE_V, 0)}},
    {GQA_E4M3, "descales [1, 1, 1]", X_OK, NULL,
     {NDIM(R_DESCALE, 3), SHAPE(R_DESCALE, 1, O_SET, 1), SHAPE(R_DESCALE, 2, O_SET, 1),
      NDIM(R_DESCALE_V, 3), SHAPE(R_DESCALE_V, 1, O_SET, 1), SHAPE(R_DESCALE_V, 2, O_SET, 1)}},
    /* s_q = 5: 20 query rows per KV head (the outputs' strides and the workspace size follow) */
    {GQA_E4M3, "20 query rows per KV head (s_q = 5: q, out, lse)", X_REFUSE, NULL,
     {SHAPE(R_Q, 1, O_SET, 5), SHAPE(R_OUT, 1, O_SET, 5), STRIDE(R_OUT, 0, O_SET, 5 * 8 * 128),
      SHAPE(R_LSE, 2, O_SET, 5), STRIDE(R_LSE, 1, O_SET, 5), STRIDE(R_LSE, 0, O_SET, 8 * 5),
      SCALAR(E_WS_BYTES, O_SET, P32)}},

    /* fill_normal */
    {FILL, "t shape[0] = 0 (empty)", X_OK, NULL, {SHAPE(R_OUT, 0, O_SET, 0)}},
    {FILL, "t shape[0] = 2^62 (element count overflows)", X_REFUSE, NULL,
     {SHAPE(R_OUT, 0, O_SET, INT64_C(1) << 62)}},

    /* the reference */
    {REF, "rows [n, 2]", X_REFUSE, NULL, {SHAPE(R_ROWS, 1, O_SET, 2)}},
    {REF, "k_cache head dim + 8", X_REFUSE, NULL, {SHAPE(R_K, 3, O_ADD, 8)}},
    {REF, "out n + 1", X_REFUSE, NULL, {SHAPE(R_OUT, 0, O_ADD, 1)}},
    {REF, "out head dim + 8", X_REFUSE, NULL, {SHAPE(R_OUT, 1, O_ADD, 8)}},
    {REF, "lse n + 1", X_REFUSE, NULL, {SHAPE(R_LSE, 0, O_ADD, 1)}},
    {REF, "head_dim_v = 0 (out too)", X_REFUSE, NULL,
     {SCALAR(E_HEAD_DIM_V, O_SET, 0), SHAPE(R_OUT, 1, O_SET, 0)}},
    {REF, "head_dim_v = 520 (out, v_cache too)", X_REFUSE, NULL,
     {SCALAR(E_HEAD_DIM_V, O_SET, 520), SHAPE(R_OUT, 1, O_SET, 520), STRIDE(R_OUT, 0, O_SET, 520),
      SHAPE(R_V, 3, O_SET, 520)}},
    {REF, "head_dim_v = 64 (out too, not v_cache)", X_REFUSE, NULL,
     {SCALAR(E_HEAD_DIM_V, O_SET, 64), SHAPE(R_OUT, 1, O_SET, 64), STRIDE(R_OUT, 0, O_SET, 64)}},
    {REF, "d_qk = 1032 (q, k_cache)", X_REFUSE, NULL,
     {SHAPE(R_Q, 3, O_SET, 1032), SHAPE(R_K, 3, O_SET, 1032)}},
    {REF, "k_cache h_kv = 0", X_REFUSE, NULL, {SHAPE(R_K, 2, O_SET, 0)}},
    {REF, "k_cache h_kv = 3 (h_q not a multiple)", X_REFUSE, NULL, {SHAPE(R_K, 2, O_SET, 3)}},
    {REF, "v_cache = NULL (values from k_cache)", X_OK, NULL, {{E_NULL_DESC, R_V, 0, O_SET, 1}}},
    {REF, "k_cache page_size = 0", X_REFUSE, NULL, {SHAPE(R_K, 1, O_SET, 0)}},
    {REF, "block_table b - 1", X_REFUSE, NULL, {SHAPE(R_BT, 0, O_ADD, -1)}},
    {REF, "cache_seqlens b - 1", X_REFUSE, NULL, {SHAPE(R_SL, 0, O_ADD, -1)}},
    {REF, "v_cache num_pages + 1", X_REFUSE, NULL, {SHAPE(R_V, 0, O_ADD, 1)}},
    {REF, "v_cache page_size + 1", X_REFUSE, NULL, {SHAPE(R_V, 1, O_ADD, 1)}},
    {REF, "v_cache h_kv + 1", X_REFUSE, NULL, {SHAPE(R_V, 2, O_ADD, 1)}},
    {REF, "softmax_scale = NaN", X_REFUSE, NULL, {SCALAR(E_SCALE, O_SET, 0)}},
    {REF, "softmax_scale = +inf", X_REFUSE, NULL, {SCALAR(E_SCALE, O_SET, 1)}},
    {REF, "causal = 2", X_REFUSE, NULL, {SCALAR(E_CAUSAL, O_SET, 2)}},
    {REF, "causal = -1", X_REFUSE, NULL, {SCALAR(E_CAUSAL, O_SET, -1)}},
    {REF, "k_cache num_pages = 0", X_REFUSE, NULL, {SHAPE(R_K, 0, O_SET, 0)}},
    {REF, "q h_q = 0", X_REFUSE, NULL, {SHAPE(R_Q, 2, O_SET, 0)}},
    {REF, "block_table b + 1", X_REFUSE, NULL, {SHAPE(R_BT, 0, O_ADD, 1)}},
    {REF, "cache_seqlens b + 1", X_REFUSE, NULL, {SHAPE(R_SL, 0, O_ADD, 1)}},
    {REF, "q s_q + 2^32", X_REFUSE, NULL, {SHAPE(R_Q, 1, O_ADD, P32)}},
    {REF, "page_size + 2^32 (caches)", X_REFUSE, NULL,
     {SHAPE(R_K, 1, O_ADD, P32), SHAPE(R_V, 1, O_ADD, P32)}},
};

/* Calls of the runtime wrappers and the pure helpers. */
enum {
  OP_COUNT_NULL, OP_PROPS_NULL, OP_PROPS_RANGE, OP_SET_RANGE, OP_GET_NULL,
  OP_MALLOC_NULL, OP_MALLOC_HUGE, OP_MALLOC_ZERO, OP_FREE_NULL,
  OP_COPY_NULL_DST, OP_COPY_NULL_SRC, OP_COPY_ZERO, OP_COPY_HUGE, OP_MEMSET_NULL, OP_MEMSET_ZERO,
  OP_STREAM_CREATE_NULL, OP_STREAM_DESTROY_NULL, OP_STREAM_SYNC_DEFAULT,
  OP_EVENT_CREATE_NULL, OP_EVENT_DESTROY_NULL, OP_EVENT_RECORD_NULL, OP_EVENT_SYNC_NULL,
  OP_ELAPSED_NULL_MS, OP_ELAPSED_NULL_START, OP_ELAPSED_NULL_END, OP_ELAPSED_UNRECORDED,
  OP_BEGIN_DEFAULT, OP_END_NULL_EXEC, OP_END_NULL_STREAM, OP_END_NOT_CAPTURING, OP_LAUNCH_NULL,
  OP_CAPTURE_REFUSED_CALL, OP_GRAPH_DESTROY_NULL, OP_SPIN_ZERO, OP_SPIN_DEFAULT_STREAM,
  OP_PARTS_NONPOSITIVE, OP_PARTS_FORMULA, OP_PARTS_OVERFLOW, OP_WS_FORMULA, OP_WS_EXTREME,
  OP_STATUS_RANGE
};

typedef struct {
  int fn, op;
  const char* name;
  int expect;
  const char* gap;
} runtime_case;

static const runtime_case runtime_cases[] = {
    {F_DEVICE_COUNT, OP_COUNT_NULL, "count = NULL", X_REFUSE, NULL},
    {F_DEVICE_PROPERTIES, OP_PROPS_NULL, "props = NULL", X_REFUSE, NULL},
    {F_DEVICE_PROPERTIES, OP_PROPS_RANGE, "device out of range", X_REFUSE, NULL},
    {F_SET_DEVICE, OP_SET_RANGE, "device out of range", X_REFUSE, NULL},
    {F_GET_DEVICE, OP_GET_NULL, "device = NULL", X_REFUSE, NULL},
    {F_MALLOC, OP_MALLOC_NULL, "ptr = NULL", X_REFUSE, NULL},
    {F_MALLOC, OP_MALLOC_HUGE, "bytes huge", X_OOM, NULL},
    {F_MALLOC, OP_MALLOC_ZERO, "bytes = 0", X_OK, NULL},
    {F_FREE, OP_FREE_NULL, "ptr = NULL", X_OK, NULL},
    {F_MEMCPY_HTOD, OP_COPY_NULL_DST, "dst = NULL", X_REFUSE, NULL},
    {F_MEMCPY_HTOD, OP_COPY_NULL_SRC, "src = NULL", X_REFUSE, NULL},
    {F_MEMCPY_HTOD, OP_COPY_ZERO, "bytes = 0", X_OK, NULL},
    {F_MEMCPY_DTOH, OP_COPY_NULL_DST, "dst = NULL", X_REFUSE, NULL},
    {F_MEMCPY_DTOH, OP_COPY_NULL_SRC, "src = NULL", X_REFUSE, NULL},
    {F_MEMCPY_DTOH, OP_COPY_ZERO, "bytes = 0", X_OK, NULL},
    {F_MEMCPY_DTOD, OP_COPY_NULL_DST, "dst = NULL", X_REFUSE, NULL},
    {F_MEMCPY_DTOD, OP_COPY_NULL_SRC, "src = NULL", X_REFUSE, NULL},
    {F_MEMCPY_DTOD, OP_COPY_ZERO, "bytes = 0", X_OK, NULL},
    /* Device to device only: the runtime checks both ranges against their allocations, while
     * the host side of a copy is the caller's to size. */
    {F_MEMCPY_DTOD, OP_COPY_HUGE, "bytes = SIZE_MAX", X_FAIL, NULL},
    {F_MEMSET_ASYNC, OP_MEMSET_NULL, "ptr = NULL", X_REFUSE, NULL},
    {F_MEMSET_ASYNC, OP_MEMSET_ZERO, "bytes = 0", X_OK, NULL},
    {F_STREAM_CREATE, OP_STREAM_CREATE_NULL, "stream = NULL", X_REFUSE, NULL},
    {F_STREAM_DESTROY, OP_STREAM_DESTROY_NULL, "stream = NULL", X_OK, NULL},
    {F_STREAM_SYNCHRONIZE, OP_STREAM_SYNC_DEFAULT, "stream = NULL (legacy default)", X_OK, NULL},
    {F_EVENT_CREATE, OP_EVENT_CREATE_NULL, "event = NULL", X_REFUSE, NULL},
    {F_EVENT_DESTROY, OP_EVENT_DESTROY_NULL, "event = NULL", X_OK, NULL},
    {F_EVENT_RECORD, OP_EVENT_RECORD_NULL, "event = NULL", X_REFUSE, NULL},
    {F_EVENT_SYNCHRONIZE, OP_EVENT_SYNC_NULL, "event = NULL", X_REFUSE, NULL},
    {F_EVENT_ELAPSED_MS, OP_ELAPSED_NULL_MS, "ms = NULL", X_REFUSE, NULL},
    {F_EVENT_ELAPSED_MS, OP_ELAPSED_NULL_START, "start = NULL", X_REFUSE, NULL},
    {F_EVENT_ELAPSED_MS, OP_ELAPSED_NULL_END, "end = NULL", X_REFUSE, NULL},
    {F_EVENT_ELAPSED_MS, OP_ELAPSED_UNRECORDED, "events never recorded", X_FAIL, NULL},
    {F_GRAPH_BEGIN_CAPTURE, OP_BEGIN_DEFAULT, "stream = NULL (legacy default)", X_REFUSE, NULL},
    {F_GRAPH_END_CAPTURE, OP_END_NULL_EXEC, "graph_exec = NULL", X_REFUSE, NULL},
    {F_GRAPH_END_CAPTURE, OP_END_NULL_STREAM, "stream = NULL", X_REFUSE, NULL},
    {F_GRAPH_END_CAPTURE, OP_END_NOT_CAPTURING, "stream not capturing", X_FAIL, NULL},
    {F_GRAPH_LAUNCH, OP_LAUNCH_NULL, "graph_exec = NULL", X_REFUSE, NULL},
    {F_GRAPH_LAUNCH, OP_CAPTURE_REFUSED_CALL, "a refused decode inside a capture", X_OK, NULL},
    {F_GRAPH_DESTROY, OP_GRAPH_DESTROY_NULL, "graph_exec = NULL", X_OK, NULL},
    {F_SPIN, OP_SPIN_ZERO, "0 ns", X_OK, NULL},
    {F_SPIN, OP_SPIN_DEFAULT_STREAM, "stream = NULL (legacy default)", X_OK, NULL},
    {F_MLA_NUM_SM_PARTS, OP_PARTS_NONPOSITIVE, "a non-positive argument", X_ANY, NULL},
    {F_MLA_NUM_SM_PARTS, OP_PARTS_FORMULA, "positive arguments", X_ANY, NULL},
    {F_MLA_NUM_SM_PARTS, OP_PARTS_OVERFLOW, "num_q_tokens_per_head_k near INT_MAX", X_ANY, NULL},
    {F_DECODE_WORKSPACE_BYTES, OP_WS_FORMULA, "sizes within range", X_ANY, NULL},
    {F_DECODE_WORKSPACE_BYTES, OP_WS_EXTREME, "extreme sizes", X_ANY, NULL},
    {F_STATUS_STRING, OP_STATUS_RANGE, "status out of range", X_ANY, NULL},
};

enum { M_GENERIC, M_SPECIAL, M_RUNTIME };

typedef struct {
  int fn, kind, expect;
  const char* gap;
  int role, generic;            /* M_GENERIC */
  const special* special_case;  /* M_SPECIAL */
  const runtime_case* runtime;  /* M_RUNTIME */
} mutation;

static mutation table[1024];
static int n_table, n_gaps;
static int runnable[F_COUNT][256], n_runnable[F_COUNT];

static void add(mutation m) {
  if (n_table == COUNT_OF(table) || n_runnable[m.fn] == COUNT_OF(runnable[0])) {
    printf("the mutation table is full\n");
    exit(1);
  }
  table[n_table] = m;
  if (m.gap) ++n_gaps;
  if (!m.gap || run_gaps) runnable[m.fn][n_runnable[m.fn]++] = n_table;
  ++n_table;
}

static void add_generic(int fn, int r, int g, int expect, const char* gap) {
  mutation m;
  memset(&m, 0, sizeof m);
  m.fn = fn;
  m.kind = M_GENERIC;
  m.role = r;
  m.generic = g;
  m.expect = expect;
  m.gap = gap;
  add(m);
}

/* An outer dim whose stride to mutate (-1: none): `first`, or one at random. */
static int checked_outer_dim(int fn, int r, int first) {
  const fmla_tensor* t = &base[fn].t[r];
  int d, found = -1, seen = 0;
  for (d = 0; d + 1 < t->ndim; ++d) {
    /* a contiguity or overlap check ignores the stride of a dim of extent 1 */
    if ((spec[fn][r].layout == L_CONTIG || spec[fn][r].output) && t->shape[d] < 2) continue;
    if (first) return d;
    if (below(++seen) == 0) found = d;
  }
  return found;
}

static void build_table(void) {
  int fn, r, i;
  unsigned b;
  for (fn = 0; fn < N_TENSOR_FNS; ++fn)
    for (r = 0; r < R_COUNT; ++r) {
      const arg_spec* a = &spec[fn][r];
      const fmla_tensor* t = &base[fn].t[r];
      const int esize = dtype_size(t->dtype);
      const int outer = checked_outer_dim(fn, r, 1) >= 0;
      if (!a->name) continue;
      if (!a->nullable) add_generic(fn, r, G_NULL_DESC, X_REFUSE, NULL);
      add_generic(fn, r, G_NULL_DATA, X_REFUSE, NULL);
      add_generic(fn, r, G_NDIM, X_REFUSE, NULL);
      add_generic(fn, r, G_DTYPE_CODE, X_REFUSE, NULL);
      if ((a->dtypes & ALL_DTYPES) != ALL_DTYPES) add_generic(fn, r, G_DTYPE_OTHER, X_REFUSE, NULL);
      add_generic(fn, r, G_NEG_DIM, X_REFUSE, NULL);
      switch (a->layout) {
        case L_VECTOR:
          add_generic(fn, r, G_INNER_STRIDE, X_REFUSE, NULL);
          add_generic(fn, r, G_OUTER_NEG, X_REFUSE, NULL);
          add_generic(fn, r, G_OUTER_ODD, X_REFUSE, NULL);
          add_generic(fn, r, G_MISALIGNED, X_REFUSE, NULL);
          if (a->output) add_generic(fn, r, G_OVERLAP, X_REFUSE, NULL);
          break;
        case L_CONTIG:
          add_generic(fn, r, G_INNER_STRIDE, X_REFUSE, NULL);
          if (outer) {
            add_generic(fn, r, G_OUTER_NEG, X_REFUSE, NULL);
            add_generic(fn, r, G_OUTER_ODD, X_REFUSE, NULL);
            add_generic(fn, r, G_OVERLAP, X_REFUSE, NULL);
          }
          add_generic(fn, r, G_MISALIGNED, X_REFUSE, NULL);
          break;
        case L_ROWS:
          add_generic(fn, r, G_INNER_STRIDE, X_REFUSE, NULL);
          add_generic(fn, r, G_OUTER_NEG, X_REFUSE, NULL);
          if (esize > 1) add_generic(fn, r, G_MISALIGNED, X_REFUSE, NULL);
          if (a->output) add_generic(fn, r, G_OVERLAP, X_REFUSE, NULL);
          break;
        default: /* L_INNER, L_ANY */
          if (a->layout == L_INNER && t->shape[t->ndim - 1] > 1)
            add_generic(fn, r, G_INNER_STRIDE, X_REFUSE, NULL);
          if (esize > 1) add_generic(fn, r, G_MISALIGNED, X_REFUSE, NULL);
          if (a->output && outer) add_generic(fn, r, G_OVERLAP, X_REFUSE, NULL);
          break;
      }
    }
  for (i = 0; i < COUNT_OF(specials); ++i)
    for (fn = 0, b = specials[i].fns; b; ++fn, b >>= 1)
      if (b & 1u) {
        mutation m;
        memset(&m, 0, sizeof m);
        m.fn = fn;
        m.kind = M_SPECIAL;
        m.expect = specials[i].expect;
        m.gap = specials[i].gap;
        m.special_case = &specials[i];
        add(m);
      }
  for (i = 0; i < COUNT_OF(runtime_cases); ++i) {
    mutation m;
    memset(&m, 0, sizeof m);
    m.fn = runtime_cases[i].fn;
    m.kind = M_RUNTIME;
    m.expect = runtime_cases[i].expect;
    m.gap = runtime_cases[i].gap;
    m.runtime = &runtime_cases[i];
    add(m);
  }
}

static void mutation_name(char* buf, size_t size, const mutation* m) {
  if (m->kind == M_GENERIC)
    snprintf(buf, size, "%s: %s", spec[m->fn][m->role].name, generic_names[m->generic]);
  else if (m->kind == M_SPECIAL)
    snprintf(buf, size, "%s", m->special_case->name);
  else
    snprintf(buf, size, "%s", m->runtime->name);
}

/* Applies a single-argument mutation; `what` gets the concrete change. */
static void apply_generic(call_t* c, int fn, int r, int g, char* what, size_t size) {
  static const int32_t bad_codes[] = {-1, 5, 6, 99, 1 << 16, INT32_MAX, INT32_MIN};
  static const int32_t bad_ranks[] = {-1, 7, 8, 64, 1 << 20, INT32_MAX, INT32_MIN};
  static const int64_t negatives[] = {-1, -2, -P32, INT64_MIN};
  static const int64_t inner_strides[] = {0, 2, -1};
  const arg_spec* a = &spec[fn][r];
  fmla_tensor* t = &c->t[r];
  const int rank = t->ndim;
  int d;
  switch (g) {
    case G_NULL_DESC:
      c->null_desc[r] = 1;
      snprintf(what, size, "%s = NULL", a->name);
      break;
    case G_NULL_DATA:
      t->data = NULL;
      snprintf(what, size, "%s->data = NULL", a->name);
      break;
    case G_NDIM:
      if (fn == F_FILL_NORMAL || r >= R_DESCALE) { /* any rank in 0..6 is valid (descale: of 1) */
        t->ndim = PICK(bad_ranks);
      } else {
        do t->ndim = below(3) ? below(FMLA_MAX_DIMS + 1) : PICK(bad_ranks);
        while (t->ndim == rank);
      }
      snprintf(what, size, "%s->ndim = %d", a->name, (int)t->ndim);
      break;
    case G_DTYPE_CODE:
      t->dtype = PICK(bad_codes);
      snprintf(what, size, "%s->dtype = %d", a->name, (int)t->dtype);
      break;
    case G_DTYPE_OTHER:
      do t->dtype = below(5);
      while (a->dtypes & BIT(t->dtype));
      snprintf(what, size, "%s->dtype = %d", a->name, (int)t->dtype);
      break;
    case G_NEG_DIM:
      d = below(rank);
      t->shape[d] = PICK(negatives);
      snprintf(what, size, "%s->shape[%d] = %lld", a->name, d, (long long)t->shape[d]);
      break;
    case G_INNER_STRIDE:
      t->strides[rank - 1] = PICK(inner_strides);
      snprintf(what, size, "%s->strides[%d] = %lld", a->name, rank - 1,
               (long long)t->strides[rank - 1]);
      break;
    case G_OUTER_NEG:
    case G_OUTER_ODD:
    case G_OVERLAP:
      d = checked_outer_dim(fn, r, 0);
      t->strides[d] = g == G_OUTER_NEG ? -t->strides[d] : g == G_OUTER_ODD ? t->strides[d] + 1 : 0;
      snprintf(what, size, "%s->strides[%d] = %lld", a->name, d, (long long)t->strides[d]);
      break;
    default: /* G_MISALIGNED: off the 16-byte grid (L_VECTOR), or off the element */
      d = a->layout == L_VECTOR ? dtype_size(t->dtype) : dtype_size(t->dtype) / 2;
      t->data = (char*)t->data + d;
      snprintf(what, size, "%s->data + %d bytes", a->name, d);
      break;
  }
}

static void apply_special(call_t* c, const special* s) {
  const edit* e;
  for (e = s->e; e->field != E_END; ++e) {
    int64_t* slot64 = NULL;
    int32_t* slot32 = NULL;
    switch (e->field) {
      case E_SHAPE: slot64 = &c->t[e->role].shape[e->dim]; break;
      case E_STRIDE: slot64 = &c->t[e->role].strides[e->dim]; break;
      case E_HEAD_DIM_V: slot32 = &c->head_dim_v; break;
      case E_CAUSAL: slot32 = &c->causal; break;
      case E_TOKENS: slot32 = &c->tokens; break;
      case E_HEADS: slot32 = &c->heads; break;
      case E_NULL_DESC: c->null_desc[e->role] = (int)e->v; break; /* 1: NULL, 0: the descriptor */
      case E_NDIM: slot32 = &c->t[e->role].ndim; break;
      case E_DTYPE: slot32 = &c->t[e->role].dtype; break;
      case E_FORMAT: slot32 = &c->format; break;
      case E_SCALE: /* 0: NaN, 1: +inf, 2: -inf */
        c->scale = e->v == 0 ? (float)NAN : e->v == 1 ? (float)INFINITY : -(float)INFINITY;
        break;
      case E_WS_PTR: c->workspace = e->op == O_SET ? NULL : (char*)c->workspace + e->v; break;
      case E_WS_BYTES:
        c->workspace_bytes = e->op == O_SET ? (size_t)e->v : c->workspace_bytes + (size_t)e->v;
        break;
    }
    if (slot64) *slot64 = e->op == O_SET ? e->v : *slot64 + e->v;
    if (slot32) *slot32 = (int32_t)(e->op == O_SET ? e->v : *slot32 + e->v);
  }
}

/* ---- Runtime wrappers and pure helpers ------------------------------------------------------- */

static unsigned char host_a[256], host_b[256];

static fmla_status copy_call(int fn, void* dst, const void* src, size_t bytes) {
  switch (fn) {
    case F_MEMCPY_HTOD: return fmla_memcpy_htod(dst, src, bytes, S);
    case F_MEMCPY_DTOH: return fmla_memcpy_dtoh(dst, src, bytes, S);
    default: return fmla_memcpy_dtod(dst, src, bytes, S);
  }
}

static int parts_formula(int sms, int tokens, int heads) {
  const int64_t blocks = ((int64_t)tokens + FMLA_BLOCK_M - 1) / FMLA_BLOCK_M;
  const int64_t parts = (int64_t)sms / heads / blocks;
  return parts > 1 ? (int)parts : 1;
}

static uint64_t align256(uint64_t x) { return (x + 255) / 256 * 256; }

/* *x *= y, unless the product is past INT64_MAX (then 0 is returned). */
static int mul_within(uint64_t* x, uint64_t y) {
  if (y && *x > (uint64_t)INT64_MAX / y) return 0;
  *x *= y;
  return 1;
}

/* fmla_decode_workspace_bytes as flash_mla.h documents it: 0 for a negative argument, SIZE_MAX
 * when the exact size is past INT64_MAX bytes. */
static size_t workspace_expected(int64_t b, int64_t s, int64_t h, int64_t dv, int64_t p) {
  const uint64_t limit = (uint64_t)INT64_MAX;
  uint64_t splits, total = 0;
  int i;
  if (b < 0 || s < 0 || h < 0 || dv < 0 || p < 0) return 0;
  splits = (uint64_t)b + (uint64_t)p; /* exact: both are at most INT64_MAX */
  for (i = 0; i < 2; ++i) {           /* the partial outputs, then their lse */
    uint64_t bytes = 4;
    if (!splits || !s || !h || (i == 0 && !dv)) continue;
    if (splits > limit || !mul_within(&bytes, splits) || !mul_within(&bytes, (uint64_t)s) ||
        !mul_within(&bytes, (uint64_t)h) || (i == 0 && !mul_within(&bytes, (uint64_t)dv)) ||
        bytes > limit - 255)
      return SIZE_MAX;
    total += align256(bytes);
  }
  return total > limit ? SIZE_MAX : (size_t)total;
}

static void check_parts(int fn, const char* what, int sms, int tokens, int heads, int expected) {
  const int got = fmla_mla_num_sm_parts(sms, tokens, heads);
  if (verbose) printf("%s(%d, %d, %d) = %d\n", fn_names[fn], sms, tokens, heads, got);
  if (got != expected)
    fail(fn, what, "fmla_mla_num_sm_parts(%d, %d, %d) = %d, expected %d", sms, tokens, heads, got,
         expected);
}

static void check_workspace_formula(int fn, const char* what) {
  const int64_t b = below(4097), s = below(65), h = below(129), dv = below(1025), p = below(265);
  const uint64_t rows = (uint64_t)(b + p) * (uint64_t)(s * h);
  const uint64_t expected = align256(rows * (uint64_t)dv * 4) + align256(rows * 4);
  const size_t got = fmla_decode_workspace_bytes(b, s, h, dv, p);
  if (got != expected)
    fail(fn, what, "fmla_decode_workspace_bytes(%lld, %lld, %lld, %lld, %lld) = %zu, expected %llu",
         (long long)b, (long long)s, (long long)h, (long long)dv, (long long)p, got,
         (unsigned long long)expected);
}

static void check_names(int fn, const char* what, int status) {
  const char* name = fmla_status_string((fmla_status)status);
  if (!name || !*name) fail(fn, what, "fmla_status_string(%d) is NULL or empty", status);
  else if (status >= 0 && status <= FMLA_ERROR_UNSUPPORTED && strncmp(name, "FMLA_", 5) != 0)
    fail(fn, what, "fmla_status_string(%d) = \"%s\"", status, name);
}

/* A step of a composite call: it must succeed (or report that there is no device). */
static int step(int fn, const char* what, fmla_status st) {
  check(fn, what, X_OK, st, NULL);
  return st == FMLA_OK;
}

/* The untouched call(s) of a runtime wrapper or pure helper. */
static void runtime_baseline(int fn) {
  void *a = NULL, *b = NULL, *e0 = NULL, *e1 = NULL, *stream = NULL, *graph = NULL;
  int i, n = 0, device = -1;
  float ms = -1.0f;
  fmla_device_props props;
  switch (fn) {
    case F_SPIN: step(fn, "baseline", fmla_testing_spin(1000, S)); break;
    case F_DEVICE_COUNT:
    case F_DEVICE_PROPERTIES:
    case F_SET_DEVICE:
    case F_GET_DEVICE:
    case F_DEVICE_SYNCHRONIZE:
      if (step(F_DEVICE_COUNT, "baseline", fmla_device_count(&n)) && n < 1)
        fail(F_DEVICE_COUNT, "baseline", "FMLA_OK with %d devices", n);
      if (!have_device && n != 0)
        fail(F_DEVICE_COUNT, "baseline", "*count = %d without a device", n);
      if (step(F_GET_DEVICE, "baseline", fmla_get_device(&device)) && device != current_device)
        fail(F_GET_DEVICE, "baseline", "device %d, expected %d", device, current_device);
      memset(&props, 0, sizeof props);
      if (step(F_DEVICE_PROPERTIES, "baseline", fmla_device_properties(current_device, &props)) &&
          (!props.name[0] || props.multiprocessor_count < 1))
        fail(F_DEVICE_PROPERTIES, "baseline", "empty name or %d SMs", props.multiprocessor_count);
      step(F_SET_DEVICE, "baseline", fmla_set_device(current_device));
      step(F_DEVICE_SYNCHRONIZE, "baseline", fmla_device_synchronize());
      break;
    case F_MALLOC:
    case F_FREE:
    case F_MEMCPY_HTOD:
    case F_MEMCPY_DTOH:
    case F_MEMCPY_DTOD:
    case F_MEMSET_ASYNC:
      /* A round trip through two allocations, then a memset read back. */
      for (i = 0; i < 256; ++i) host_a[i] = (unsigned char)next_u64();
      step(F_MALLOC, "baseline", fmla_malloc(&a, 256));
      step(F_MALLOC, "baseline", fmla_malloc(&b, 256));
      step(F_MEMCPY_HTOD, "baseline", fmla_memcpy_htod(a, host_a, 256, S));
      step(F_MEMCPY_DTOD, "baseline", fmla_memcpy_dtod(b, a, 256, S));
      step(F_MEMCPY_DTOH, "baseline", fmla_memcpy_dtoh(host_b, b, 256, S));
      if (step(F_STREAM_SYNCHRONIZE, "baseline", fmla_stream_synchronize(S)) &&
          memcmp(host_a, host_b, 256) != 0)
        fail(F_MEMCPY_DTOH, "baseline", "the round trip changed the bytes");
      step(F_MEMSET_ASYNC, "baseline", fmla_memset_async(a, 0x5a, 256, S));
      step(F_MEMCPY_DTOH, "baseline", fmla_memcpy_dtoh(host_b, a, 256, S));
      if (step(F_STREAM_SYNCHRONIZE, "baseline", fmla_stream_synchronize(S)))
        for (i = 0; i < 256; ++i)
          if (host_b[i] != 0x5a) {
            fail(F_MEMSET_ASYNC, "baseline", "byte %d is 0x%02x, expected 0x5a", i, host_b[i]);
            break;
          }
      step(F_FREE, "baseline", fmla_free(a));
      step(F_FREE, "baseline", fmla_free(b));
      break;
    case F_STREAM_CREATE:
    case F_STREAM_DESTROY:
    case F_STREAM_SYNCHRONIZE:
      step(F_STREAM_CREATE, "baseline", fmla_stream_create(&stream));
      step(F_SPIN, "baseline", fmla_testing_spin(1000, stream));
      step(F_STREAM_SYNCHRONIZE, "baseline", fmla_stream_synchronize(stream));
      step(F_STREAM_DESTROY, "baseline", fmla_stream_destroy(stream));
      break;
    case F_EVENT_CREATE:
    case F_EVENT_DESTROY:
    case F_EVENT_RECORD:
    case F_EVENT_SYNCHRONIZE:
    case F_EVENT_ELAPSED_MS:
      step(F_EVENT_CREATE, "baseline", fmla_event_create(&e0));
      step(F_EVENT_CREATE, "baseline", fmla_event_create(&e1));
      step(F_EVENT_RECORD, "baseline", fmla_event_record(e0, S));
      step(F_SPIN, "baseline", fmla_testing_spin(1000, S));
      step(F_EVENT_RECORD, "baseline", fmla_event_record(e1, S));
      step(F_EVENT_SYNCHRONIZE, "baseline", fmla_event_synchronize(e1));
      if (step(F_EVENT_ELAPSED_MS, "baseline", fmla_event_elapsed_ms(&ms, e0, e1)) && !(ms >= 0.0f))
        fail(F_EVENT_ELAPSED_MS, "baseline", "%g ms", (double)ms);
      step(F_EVENT_DESTROY, "baseline", fmla_event_destroy(e0));
      step(F_EVENT_DESTROY, "baseline", fmla_event_destroy(e1));
      break;
    case F_GRAPH_BEGIN_CAPTURE:
    case F_GRAPH_END_CAPTURE:
    case F_GRAPH_LAUNCH:
    case F_GRAPH_DESTROY: {
      call_t c = base[F_WRITE_KV];
      if (step(F_GRAPH_BEGIN_CAPTURE, "baseline", fmla_graph_begin_capture(S))) {
        step(F_WRITE_KV, "baseline inside a capture", invoke(F_WRITE_KV, &c));
        step(F_MEMSET_ASYNC, "baseline inside a capture", fmla_memset_async(scratch_a, 1, 256, S));
      }
      step(F_GRAPH_END_CAPTURE, "baseline", fmla_graph_end_capture(S, &graph));
      step(F_GRAPH_LAUNCH, "baseline", fmla_graph_launch(graph, S));
      step(F_GRAPH_LAUNCH, "baseline", fmla_graph_launch(graph, S));
      step(F_STREAM_SYNCHRONIZE, "baseline", fmla_stream_synchronize(S));
      step(F_GRAPH_DESTROY, "baseline", fmla_graph_destroy(graph));
      break;
    }
    case F_MLA_NUM_SM_PARTS:
      check_parts(fn, "baseline", 132, 128, 1, 66);
      check_parts(fn, "baseline", 132, 64, 8, 16);
      check_parts(fn, "baseline", 8, 640, 4, 1);
      break;
    case F_DECODE_WORKSPACE_BYTES: check_workspace_formula(fn, "baseline"); break;
    default:
      for (i = FMLA_OK; i <= FMLA_ERROR_UNSUPPORTED; ++i) check_names(fn, "baseline", i);
      if (!fmla_last_error()) fail(fn, "baseline", "fmla_last_error() is NULL");
      {
        const char* v = fmla_version();
        int major, minor, patch;
        char end;
        if (!v || sscanf(v, "%d.%d.%d%c", &major, &minor, &patch, &end) != 3)
          fail(fn, "baseline", "fmla_version() = \"%s\", expected MAJOR.MINOR.PATCH",
               v ? v : "(null)");
      }
      break;
  }
}

static void run_runtime(const mutation* m) {
  static const int bad_devices[] = {-1, 1 << 20, INT32_MAX, INT32_MIN};
  static const size_t huge[] = {(size_t)-1, ((size_t)-1) / 2, (size_t)1 << 50};
  const runtime_case* rc = m->runtime;
  const int fn = rc->fn;
  void *p = (void*)0, *e0 = NULL, *e1 = NULL, *graph = NULL;
  int pure = 0, i, device;
  float ms;
  char what[160];
  fmla_status st = FMLA_OK;
  fmla_device_props props;
  snprintf(what, sizeof what, "%s", rc->name);
  switch (rc->op) {
    case OP_EVENT_RECORD_NULL:
    case OP_EVENT_SYNC_NULL:
    case OP_ELAPSED_NULL_MS:
    case OP_ELAPSED_NULL_START:
    case OP_ELAPSED_NULL_END:
    case OP_ELAPSED_UNRECORDED:
      /* real events for the arguments that are not under test */
      step(F_EVENT_CREATE, "setup", fmla_event_create(&e0));
      step(F_EVENT_CREATE, "setup", fmla_event_create(&e1));
      if (rc->op != OP_ELAPSED_UNRECORDED) {
        step(F_EVENT_RECORD, "setup", fmla_event_record(e0, S));
        step(F_EVENT_RECORD, "setup", fmla_event_record(e1, S));
        step(F_EVENT_SYNCHRONIZE, "setup", fmla_event_synchronize(e1));
      }
      break;
    default: break;
  }
  plant_sentinel(fn);
  switch (rc->op) {
    case OP_COUNT_NULL: st = fmla_device_count(NULL); break;
    case OP_PROPS_NULL: st = fmla_device_properties(current_device, NULL); break;
    case OP_PROPS_RANGE:
      device = below(2) ? n_devices : PICK(bad_devices);
      snprintf(what, sizeof what, "device = %d", device);
      st = fmla_device_properties(device, &props);
      break;
    case OP_SET_RANGE:
      device = below(2) ? n_devices : PICK(bad_devices);
      snprintf(what, sizeof what, "device = %d", device);
      st = fmla_set_device(device);
      break;
    case OP_GET_NULL: st = fmla_get_device(NULL); break;
    case OP_MALLOC_NULL: st = fmla_malloc(NULL, 256); break;
    case OP_MALLOC_HUGE: {
      const size_t bytes = PICK(huge);
      snprintf(what, sizeof what, "bytes = %zu", bytes);
      p = (void*)&p; /* must come back NULL */
      st = fmla_malloc(&p, bytes);
      if (st != FMLA_OK && p != NULL) fail(fn, what, "a failed fmla_malloc left *ptr = %p", p);
      if (st == FMLA_OK) fmla_free(p);
      break;
    }
    case OP_MALLOC_ZERO:
      st = fmla_malloc(&p, 0);
      if (st == FMLA_OK) step(F_FREE, "after fmla_malloc of 0 bytes", fmla_free(p));
      break;
    case OP_FREE_NULL: st = fmla_free(NULL); break;
    case OP_COPY_NULL_DST:
      st = copy_call(fn, NULL, fn == F_MEMCPY_HTOD ? (void*)host_a : scratch_a, 64);
      break;
    case OP_COPY_NULL_SRC:
      st = copy_call(fn, fn == F_MEMCPY_DTOH ? (void*)host_b : scratch_b, NULL, 64);
      break;
    case OP_COPY_ZERO:
      st = copy_call(fn, fn == F_MEMCPY_DTOH ? (void*)host_b : scratch_b,
                     fn == F_MEMCPY_HTOD ? (void*)host_a : scratch_a, 0);
      break;
    case OP_COPY_HUGE: st = fmla_memcpy_dtod(scratch_b, scratch_a, (size_t)-1, S); break;
    case OP_MEMSET_NULL: st = fmla_memset_async(NULL, 0, 64, S); break;
    case OP_MEMSET_ZERO: st = fmla_memset_async(scratch_a, 0, 0, S); break;
    case OP_STREAM_CREATE_NULL: st = fmla_stream_create(NULL); break;
    case OP_STREAM_DESTROY_NULL: st = fmla_stream_destroy(NULL); break;
    case OP_STREAM_SYNC_DEFAULT: st = fmla_stream_synchronize(NULL); break;
    case OP_EVENT_CREATE_NULL: st = fmla_event_create(NULL); break;
    case OP_EVENT_DESTROY_NULL: st = fmla_event_destroy(NULL); break;
    case OP_EVENT_RECORD_NULL: st = fmla_event_record(NULL, S); break;
    case OP_EVENT_SYNC_NULL: st = fmla_event_synchronize(NULL); break;
    case OP_ELAPSED_NULL_MS: st = fmla_event_elapsed_ms(NULL, e0, e1); break;
    case OP_ELAPSED_NULL_START: st = fmla_event_elapsed_ms(&ms, NULL, e1); break;
    case OP_ELAPSED_NULL_END: st = fmla_event_elapsed_ms(&ms, e0, NULL); break;
    case OP_ELAPSED_UNRECORDED: st = fmla_event_elapsed_ms(&ms, e0, e1); break;
    case OP_BEGIN_DEFAULT: st = fmla_graph_begin_capture(NULL); break;
    case OP_END_NULL_EXEC: st = fmla_graph_end_capture(S, NULL); break;
    case OP_END_NULL_STREAM:
      st = fmla_graph_end_capture(NULL, &graph);
      if (graph) fail(fn, what, "a failed fmla_graph_end_capture left *graph_exec = %p", graph);
      break;
    case OP_END_NOT_CAPTURING:
      st = fmla_graph_end_capture(S, &graph);
      if (st != FMLA_OK && graph)
        fail(fn, what, "a failed fmla_graph_end_capture left *graph_exec = %p", graph);
      if (st == FMLA_OK) fmla_graph_destroy(graph);
      break;
    case OP_LAUNCH_NULL: st = fmla_graph_launch(NULL, S); break;
    case OP_CAPTURE_REFUSED_CALL: {
      /* A refusal launches nothing, so it neither breaks nor joins the capture around it. */
      call_t c = base[F_MLA_DECODE], w = base[F_WRITE_KV];
      c.null_desc[R_Q] = 1;
      pure = 1; /* every step is checked here */
      if (step(F_GRAPH_BEGIN_CAPTURE, what, fmla_graph_begin_capture(S))) {
        step(F_WRITE_KV, what, invoke(F_WRITE_KV, &w));
        plant_sentinel(F_MLA_DECODE);
        check(F_MLA_DECODE, "q = NULL inside a capture", X_REFUSE, invoke(F_MLA_DECODE, &c), "q");
      }
      step(F_GRAPH_END_CAPTURE, what, fmla_graph_end_capture(S, &graph));
      if (step(F_GRAPH_LAUNCH, what, fmla_graph_launch(graph, S)))
        step(F_STREAM_SYNCHRONIZE, what, fmla_stream_synchronize(S));
      step(F_GRAPH_DESTROY, what, fmla_graph_destroy(graph));
      break;
    }
    case OP_GRAPH_DESTROY_NULL: st = fmla_graph_destroy(NULL); break;
    case OP_SPIN_ZERO: st = fmla_testing_spin(0, S); break;
    case OP_SPIN_DEFAULT_STREAM:
      if (have_device) fmla_stream_synchronize(S);
      st = fmla_testing_spin(1000, NULL);
      break;
    case OP_PARTS_NONPOSITIVE: {
      static const int nonpositive[] = {0, -1, -64, INT32_MIN};
      int args[3];
      pure = 1;
      for (i = 0; i < 3; ++i) args[i] = below(2) ? 1 + below(1000) : PICK(nonpositive);
      args[below(3)] = PICK(nonpositive);
      check_parts(fn, what, args[0], args[1], args[2], 1);
      break;
    }
    case OP_PARTS_FORMULA: {
      const int sms = below(2) ? 1 + below(264) : 1 + (int)(next_u64() % INT32_MAX);
      const int heads = below(2) ? 1 + below(64) : 1 + (int)(next_u64() % INT32_MAX);
      const int tokens = below(2) ? 1 + below(4096) : 1 + (int)(next_u64() % (INT32_MAX - 63));
      pure = 1;
      check_parts(fn, what, sms, tokens, heads, parts_formula(sms, tokens, heads));
      break;
    }
    case OP_PARTS_OVERFLOW: {
      /* the wrapped row-block count only shows with more SMs than 2^25 per head */
      const int sms = INT32_MAX - below(1000), heads = 1 + below(4);
      const int tokens = INT32_MAX - below(FMLA_BLOCK_M - 1);
      pure = 1;
      check_parts(fn, what, sms, tokens, heads, parts_formula(sms, tokens, heads));
      break;
    }
    case OP_WS_FORMULA:
      pure = 1;
      check_workspace_formula(fn, what);
      break;
    case OP_WS_EXTREME: {
      static const int64_t extremes[] = {-1,  0,   1,   INT64_MAX, INT64_MIN, P31 - 1,
                                         P31, P32, INT64_C(1) << 62, INT64_C(1) << 40};
      int64_t v[5];
      size_t got, expected;
      pure = 1;
      for (i = 0; i < 5; ++i) v[i] = below(2) ? PICK(extremes) : below(1025);
      got = fmla_decode_workspace_bytes(v[0], v[1], v[2], v[3], v[4]);
      expected = workspace_expected(v[0], v[1], v[2], v[3], v[4]);
      if (verbose)
        printf("%s(%lld, %lld, %lld, %lld, %lld) = %zu\n", fn_names[fn], (long long)v[0],
               (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4], got);
      if (got != expected)
        fail(fn, what,
             "fmla_decode_workspace_bytes(%lld, %lld, %lld, %lld, %lld) = %zu, expected %zu",
             (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4],
             got, expected);
      break;
    }
    default: { /* OP_STATUS_RANGE */
      static const int codes[] = {-1, 6, 7, 1000, INT32_MAX, INT32_MIN};
      pure = 1;
      check_names(fn, what, PICK(codes));
      break;
    }
  }
  if (!pure) {
    check(fn, what, m->expect, st, NULL);
    probe_stale_error(fn, what, st);
  }
  if (e0) fmla_event_destroy(e0);
  if (e1) fmla_event_destroy(e1);
}

/* ---- Iterations ------------------------------------------------------------------------------ */

static void synchronize_after(int fn, const char* what) {
  if (have_device) check(fn, what, X_OK, fmla_device_synchronize(), NULL);
}

static void run_baseline(int fn) {
  ++n_baselines;
  if (fn < N_TENSOR_FNS) {
    call_t c = base[fn];
    const char* what = "baseline";
    if (below(4) == 0) { /* NULL is the legacy default stream: valid */
      if (have_device) fmla_stream_synchronize(S);
      c.stream = NULL;
      what = "baseline on the legacy default stream";
    }
    plant_sentinel(fn);
    check(fn, what, X_OK, invoke(fn, &c), NULL);
  } else {
    runtime_baseline(fn);
  }
  synchronize_after(fn, "fmla_device_synchronize after the baseline");
}

static void run_mutation(const mutation* m) {
  call_t c;
  char what[200];
  fmla_status st;
  const char* arg = NULL;
  ++n_mutations;
  if (m->kind == M_RUNTIME) {
    run_runtime(m);
    return;
  }
  c = base[m->fn];
  if (m->kind == M_GENERIC) {
    apply_generic(&c, m->fn, m->role, m->generic, what, sizeof what);
    arg = spec[m->fn][m->role].name;
  } else {
    apply_special(&c, m->special_case);
    snprintf(what, sizeof what, "%s", m->special_case->name);
  }
  if (m->gap) {
    const size_t used = strlen(what);
    snprintf(what + used, sizeof what - used, " (known gap)");
  }
  plant_sentinel(m->fn);
  st = invoke(m->fn, &c);
  check(m->fn, what, m->expect, st, arg);
  probe_stale_error(m->fn, what, st);
  /* whatever it ran must have left the stream usable */
  if (st == FMLA_OK && have_device)
    check(m->fn, "stream after the accepted call", X_OK, fmla_stream_synchronize(c.stream), NULL);
}

static int64_t garbage_value(int64_t keep) {
  static const int64_t extremes[] = {INT64_MIN, INT64_MAX, P31, P32, -P31, INT64_C(1) << 62};
  switch (below(8)) {
    case 0: case 1: case 2: case 3: return keep;
    case 4: case 5: return below(12) - 2;
    case 6: return (int64_t)next_u64();
    default: return PICK(extremes);
  }
}

static void randomize(fmla_tensor* t) {
  static const int32_t ranks[] = {-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 64, INT32_MAX, INT32_MIN};
  static const int32_t codes[] = {-1, 0, 1, 2, 3, 4, 5, 99, INT32_MIN};
  int d;
  if (below(2)) t->dtype = below(4) ? PICK(codes) : (int32_t)next_u64();
  if (below(2)) t->ndim = below(4) ? PICK(ranks) : (int32_t)next_u64();
  for (d = 0; d < FMLA_MAX_DIMS; ++d) {
    t->shape[d] = garbage_value(t->shape[d]);
    t->strides[d] = garbage_value(t->strides[d]);
  }
}

/* A descriptor of random bytes in place of one or two arguments. Well-formed garbage (which the
 * library may accept: the buffer size is the caller's business) addresses the zero-filled arena
 * only, so whatever runs reads zeros (empty sequences, page 0, slot 0) and writes into the
 * arena. */
static void run_garbage(int fn) {
  const int decode = fn == F_MLA_DECODE || fn == F_GQA_DECODE || fn == F_GQA_DECODE_E4M3 ||
                     fn == F_MLA_DECODE_DS_MLA || fn == F_MLA_DECODE_E4M3;
  call_t c = have_device && decode ? empty_base[fn] : base[fn];
  char what[512] = "garbage";
  int k, n = 1 + (below(4) == 0);
  fmla_status st;
  ++n_garbage;
  for (k = 0; k < n; ++k) {
    int r, tries;
    do r = below(R_COUNT);
    while (!spec[fn][r].name);
    for (tries = 0; tries < 100; ++tries) {
      fmla_tensor t = base[fn].t[r];
      int64_t lo, hi, offset = have_device ? 256 * (int64_t)below(8) : 0;
      randomize(&t);
      t.data = (char*)arena + offset;
      if (well_formed(&t) &&
          (!extent(&t, &lo, &hi) || offset + lo < 0 || offset + hi > (int64_t)ARENA_BYTES))
        continue;
      c.t[r] = t;
      {
        const size_t used = strlen(what);
        snprintf(what + used, sizeof what - used, " %s{", spec[fn][r].name);
        describe(what + strlen(what), sizeof what - strlen(what), &t);
        if (strlen(what) + 2 < sizeof what) strcat(what, "}");
      }
      break;
    }
  }
  plant_sentinel(fn);
  st = invoke(fn, &c);
  check(fn, what, X_ANY, st, NULL);
  probe_stale_error(fn, what, st);
  if (st != FMLA_OK) return;
  if (++garbage_accepted <= 20)
    printf("note: iteration %ld %s accepted %s\n", iteration, fn_names[fn], what);
  if (have_device) {
    check(fn, "stream after accepted garbage", X_OK, fmla_stream_synchronize(S), NULL);
    /* the next garbage must find zeros again */
    check(F_MEMSET_ASYNC, "zeroing the arena", X_OK, fmla_memset_async(arena, 0, ARENA_BYTES, S),
          NULL);
  }
}

/* Tensor entry points carry most of the checks: they are picked more often. */
static int pick_function(void) {
  const int tensor_weight = 6;
  const int total = N_TENSOR_FNS * tensor_weight + (F_COUNT - N_TENSOR_FNS);
  const int x = below(total);
  if (x < N_TENSOR_FNS * tensor_weight) return x / tensor_weight;
  return N_TENSOR_FNS + x - N_TENSOR_FNS * tensor_weight;
}

static int garbage_capable(int fn) { return fn < N_TENSOR_FNS && fn != F_REFERENCE; }

static void usage(const char* argv0) {
  fprintf(stderr, "usage: %s [seed] [iterations] [-v] [-g] [-l] [-f fmla_name]\n", argv0);
}

int main(int argc, char** argv) {
  unsigned long long seed = 1;
  long iterations = 2000;
  int positional = 0, list = 0, only = -1, count = 0, i;
  fmla_status st;
  for (i = 1; i < argc; ++i) {
    char* end = NULL;
    if (!strcmp(argv[i], "-v")) verbose = 1;
    else if (!strcmp(argv[i], "-g")) run_gaps = 1;
    else if (!strcmp(argv[i], "-l")) list = 1;
    else if (!strcmp(argv[i], "-f") && i + 1 < argc) {
      for (only = 0; only < F_COUNT && strcmp(fn_names[only], argv[i + 1]); ++only) continue;
      if (only == F_COUNT) return usage(argv[0]), 2;
      ++i;
    }
    else if (argv[i][0] != '-' && positional == 0) {
      seed = strtoull(argv[i], &end, 10);
      if (*end) return usage(argv[0]), 2;
      ++positional;
    } else if (argv[i][0] != '-' && positional == 1) {
      iterations = strtol(argv[i], &end, 10);
      if (*end || iterations < 0) return usage(argv[0]), 2;
      ++positional;
    } else {
      return usage(argv[0]), 2;
    }
  }
  rng_state = seed;

  st = fmla_device_count(&count);
  have_device = st == FMLA_OK && count > 0;
  n_devices = count;
  printf("abi_fuzz: seed=%llu iterations=%ld library=%s %s\n", seed, iterations, fmla_version(),
         have_device ? "with a device" : "without a device (fake data pointers)");
  if (!have_device) {
    if (st != FMLA_ERROR_NO_DEVICE) {
      printf("FAIL fmla_device_count: %s without a device, expected FMLA_ERROR_NO_DEVICE: %s\n",
             status_name(st), fmla_last_error());
      return 1;
    }
    printf("no device: %s\n", fmla_last_error());
  }
  setup();
  build_table();
  if (list) {
    for (i = 0; i < n_table; ++i) {
      char name[200];
      mutation_name(name, sizeof name, &table[i]);
      printf("%-26s %-48s %-14s%s%s\n", fn_names[table[i].fn], name, expect_names[table[i].expect],
             table[i].gap ? " known gap: " : "", table[i].gap ? table[i].gap : "");
    }
    return 0;
  }

  /* Every baseline once first: a failure here is the baseline's own (it also loads every kernel
   * before the first graph capture). */
  for (i = 0; i < F_COUNT; ++i)
    if (only < 0 || i == only) run_baseline(i);

  for (iteration = 0; iteration < iterations; ++iteration) {
    const int fn = only >= 0 ? only : pick_function();
    const int roll = below(16);
    ++fn_calls[fn];
    if (roll == 0 || n_runnable[fn] == 0)
      run_baseline(fn);
    else if (roll == 1 && garbage_capable(fn))
      run_garbage(fn);
    else
      run_mutation(&table[runnable[fn][below(n_runnable[fn])]]);
  }

  /* Every baseline once more: nothing above may have left the library or the device broken. */
  iteration = -1;
  for (i = 0; i < F_COUNT; ++i)
    if (only < 0 || i == only) run_baseline(i);
  teardown();

  printf("summary: seed=%llu iterations=%ld device=%s failures=%ld mutations=%ld baselines=%ld "
         "garbage=%ld garbage_accepted=%ld stale_errors=%ld known_gaps=%d%s |",
         seed, iterations, have_device ? "yes" : "no", failures, n_mutations, n_baselines,
         n_garbage, garbage_accepted, stale_errors, n_gaps, run_gaps ? " (run)" : " (skipped)");
  for (i = 0; i < F_COUNT; ++i) printf(" %s=%ld", fn_names[i], fn_calls[i]);
  printf(" |");
  for (i = 0; i < N_STATUS; ++i)
    if (status_calls[i])
      printf(" %s=%ld", i < N_STATUS - 1 ? status_name((fmla_status)i) : "other", status_calls[i]);
  printf("\n");
  return failures ? 1 : 0;
}
