/*
 * flash_mla.h - the C ABI of libflashmla.so.
 *
 * Attention for LLM decoding over a paged KV cache (MLA with a shared latent K/V, and GQA/MHA/MQA),
 * plus the few CUDA runtime calls a host language needs to drive it (the library links the CUDA
 * runtime statically, so a caller reached through an FFI cannot call it directly).
 *
 * Conventions
 * - Errors. Every function returns an fmla_status (except the pure helpers noted below). On failure,
 *   fmla_last_error() returns a message naming the argument (expected vs actual) or the CUDA call
 *   and its message. The message is thread-local: it describes the last failing call made on the
 *   calling thread and is not cleared by successful calls, so read it right after the failure.
 *   A failed CUDA runtime call's error is cleared from the runtime (cudaGetLastError) when it is
 *   reported, so a later launch does not report it again as its own; a sticky error (a kernel fault)
 *   stays: the context is unusable and every later call reports it.
 * - Tensors. An fmla_tensor is a borrowed view: a device pointer (the view's first element, any
 *   offset already applied), a dtype, a rank and shape/strides in elements (not bytes), row-major
 *   index order. Strides may describe non-contiguous views (a block table sliced from a wider one,
 *   q or out inside a larger buffer) unless an operation asks for a contiguous tensor; the innermost
 *   dimension must have stride 1 (except a decode's lse, below), and decode operands must be
 *   16-byte aligned. Every operation checks rank, shape, dtype and strides and answers
 *   FMLA_ERROR_INVALID_ARGUMENT before launching anything. Rules every tensor argument follows:
 *     - ndim in 0 .. FMLA_MAX_DIMS (checked before any shape or stride is read); shape >= 0;
 *     - the element count times the element size, each |stride| times the element size, and the
 *       bytes the view spans (from its lowest to its highest element) fit in int64;
 *     - a non-empty tensor has non-NULL data aligned to its element size (4 bytes for int32 and
 *       float32 tensors), more where an operation says so;
 *     - a tensor an operation writes has no two elements at one address: a zero stride on a
 *       dimension of extent > 1 is refused, and so are strides that do not nest (taken by increasing
 *       |stride|, each must exceed the span of the dimensions before it);
 *     - sizes the kernels take as 32-bit ints must be <= INT32_MAX: every dimension of the decodes'
 *       and the reference's tensors, and of fmla_write_kv's cache.
 * - Ownership. The caller allocates and frees every buffer: inputs, outputs, the schedule tensors
 *   and the workspace (fmla_malloc / fmla_free, or any allocator of device memory on the same device,
 *   for example a framework's caching allocator). The library never allocates, frees or keeps a
 *   pointer inside an operation; a buffer must stay alive until the work queued on it has completed.
 *   The decode workspace is sized by fmla_decode_workspace_bytes(b, s_q, h_q, d_v, num_sm_parts);
 *   it is scratch (no contents carried between calls) and may be reused by calls ordered on one
 *   stream, never shared by calls that may run concurrently.
 * - Streams. Every launching function takes `void* stream` (a cudaStream_t of the current device;
 *   NULL is the legacy default stream) and only enqueues work on it: it returns before the work runs,
 *   never synchronises with the host and never reads device memory from the host. Errors raised by
 *   a kernel while it runs are reported by a later synchronising call (fmla_stream_synchronize, ...).
 * - CUDA graphs. fmla_get_mla_metadata, the decodes, fmla_write_kv, fmla_memset_async and
 *   device-to-device copies may be captured (fmla_graph_begin_capture, or the caller's own capture).
 *   A graph keeps the pointers it was captured with and reads their contents at each replay: keep the
 *   buffers alive and at the same address, and update inputs (cache_seqlens, block_table, q) in
 *   place. Do not call fmla_malloc, fmla_free, the synchronise functions or copies from pageable host
 *   memory while a stream of the same thread is capturing.
 * - Threads. The library has no global mutable state besides the thread-local error message and a
 *   device probe done once; any function may be called from any thread. The current device is
 *   CUDA's per-thread current device (fmla_set_device); tensors and streams must belong to it.
 * - With no GPU or no driver, every function that needs one returns FMLA_ERROR_NO_DEVICE (and the
 *   reason in fmla_last_error()); the pure helpers still work.
 *
 * Semantics of the attention operations: see docs/schedule.md (split-KV schedule) and the design
 * note (out = softmax(scale * q k^T) v over keys t < L, causal: query j of s_q attends t <= L - s_q + j;
 * no key attended: out = 0, lse = +inf). Cache rows past L, pages not listed and block-table entries
 * past ceil(L / page_size) are never read.
 */
#ifndef FLASH_MLA_H
#define FLASH_MLA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define FMLA_API __declspec(dllexport)
#else
#define FMLA_API __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------------------------------------
 * Status codes and errors
 * ---------------------------------------------------------------------------------------------- */

typedef enum fmla_status {
  FMLA_OK = 0,
  FMLA_ERROR_INVALID_ARGUMENT = 1,
  FMLA_ERROR_NO_DEVICE = 2,
  FMLA_ERROR_CUDA = 3,
  FMLA_ERROR_OUT_OF_MEMORY = 4,
  FMLA_ERROR_UNSUPPORTED = 5
} fmla_status;

/* A static, human-readable name of a status ("FMLA_OK", ...). Never NULL. */
FMLA_API const char* fmla_status_string(fmla_status status);

/* Detail of the last failure on the calling thread (empty string if none). Valid until the next
 * failing call on the same thread. */
FMLA_API const char* fmla_last_error(void);

/* The library's version, "MAJOR.MINOR.PATCH". */
FMLA_API const char* fmla_version(void);

/* ------------------------------------------------------------------------------------------------
 * Tensors
 * ---------------------------------------------------------------------------------------------- */

typedef enum fmla_dtype {
  FMLA_DTYPE_FLOAT32 = 0,
  FMLA_DTYPE_BFLOAT16 = 1,
  FMLA_DTYPE_FLOAT16 = 2,
  FMLA_DTYPE_FLOAT8_E4M3FN = 3,
  FMLA_DTYPE_INT32 = 4
} fmla_dtype;

#define FMLA_MAX_DIMS 6

/* A strided view of device memory. shape/strides past ndim are ignored; strides are in elements. */
typedef struct fmla_tensor {
  void* data;
  int32_t dtype; /* an fmla_dtype */
  int32_t ndim;  /* 0 .. FMLA_MAX_DIMS */
  int64_t shape[FMLA_MAX_DIMS];
  int64_t strides[FMLA_MAX_DIMS];
} fmla_tensor;

/* ------------------------------------------------------------------------------------------------
 * Runtime wrappers (devices, memory, streams, events, graphs)
 * ---------------------------------------------------------------------------------------------- */

typedef struct fmla_device_props {
  char name[256];
  int32_t multiprocessor_count;
  int32_t compute_capability_major;
  int32_t compute_capability_minor;
  int32_t reserved0;
  uint64_t total_global_memory_bytes;
  uint64_t l2_cache_bytes;
  uint64_t max_shared_memory_per_block_optin_bytes;
} fmla_device_props;

/* Number of CUDA devices; 0 devices is FMLA_ERROR_NO_DEVICE with *count = 0. */
FMLA_API fmla_status fmla_device_count(int* count);
FMLA_API fmla_status fmla_device_properties(int device, fmla_device_props* props);
/* Makes `device` current for the calling thread (CUDA's per-thread current device). */
FMLA_API fmla_status fmla_set_device(int device);
FMLA_API fmla_status fmla_get_device(int* device);
FMLA_API fmla_status fmla_device_synchronize(void);

/* Free and total memory of the current device, as cudaMemGetInfo reports them. */
FMLA_API fmla_status fmla_memory_info(size_t* free_bytes, size_t* total_bytes);
/* A failed allocation is FMLA_ERROR_OUT_OF_MEMORY; fmla_memory_info then says what is free. */
FMLA_API fmla_status fmla_malloc(void** ptr, size_t bytes);
FMLA_API fmla_status fmla_free(void* ptr);
/* Asynchronous copies on `stream`. Host buffers should be pinned for true asynchrony; pageable host
 * memory works but the copy is staged (and htod returns once the source was consumed). */
FMLA_API fmla_status fmla_memcpy_htod(void* dst, const void* src, size_t bytes, void* stream);
FMLA_API fmla_status fmla_memcpy_dtoh(void* dst, const void* src, size_t bytes, void* stream);
FMLA_API fmla_status fmla_memcpy_dtod(void* dst, const void* src, size_t bytes, void* stream);
FMLA_API fmla_status fmla_memset_async(void* ptr, int byte_value, size_t bytes, void* stream);

FMLA_API fmla_status fmla_stream_create(void** stream);
FMLA_API fmla_status fmla_stream_destroy(void* stream);
FMLA_API fmla_status fmla_stream_synchronize(void* stream);

FMLA_API fmla_status fmla_event_create(void** event);
FMLA_API fmla_status fmla_event_destroy(void* event);
FMLA_API fmla_status fmla_event_record(void* event, void* stream);
FMLA_API fmla_status fmla_event_synchronize(void* event);
/* Milliseconds between two recorded, completed events. */
FMLA_API fmla_status fmla_event_elapsed_ms(float* ms, void* start, void* end);

/* CUDA graph capture of everything launched on `stream` (which must not be the legacy default
 * stream) between begin and end; end instantiates the graph into *graph_exec. */
FMLA_API fmla_status fmla_graph_begin_capture(void* stream);
FMLA_API fmla_status fmla_graph_end_capture(void* stream, void** graph_exec);
FMLA_API fmla_status fmla_graph_launch(void* graph_exec, void* stream);
FMLA_API fmla_status fmla_graph_destroy(void* graph_exec);

/* ------------------------------------------------------------------------------------------------
 * Split-KV schedule (docs/schedule.md)
 * ---------------------------------------------------------------------------------------------- */

/* Schedule constants (docs/schedule.md). */
#define FMLA_BLOCK_M 64
#define FMLA_BLOCK_N 64
#define FMLA_FIXED_OVERHEAD_BLOCKS 5
#define FMLA_METADATA_INTS 8

/* numSmParts = max(1, floor(num_sms / num_heads_k / ceil(num_q_tokens_per_head_k / 64))), computed
 * in 64-bit (exact for every int argument). Pure helper: needs no device; returns 1 for
 * non-positive arguments. */
FMLA_API int fmla_mla_num_sm_parts(int num_sms, int num_q_tokens_per_head_k, int num_heads_k);

/* Computes the schedule on the device from cache_seqlens.
 *   cache_seqlens            int32 [b], contiguous
 *   num_q_tokens_per_head_k  s_q * h_q / h_kv (>= 1)
 *   num_heads_k              h_kv (>= 1)
 *   tile_scheduler_metadata  int32 [num_sm_parts, 8], contiguous (num_sm_parts read off shape[0])
 *   num_splits               int32 [b + 1], contiguous */
FMLA_API fmla_status fmla_get_mla_metadata(const fmla_tensor* cache_seqlens,
                                           int32_t num_q_tokens_per_head_k, int32_t num_heads_k,
                                           fmla_tensor* tile_scheduler_metadata,
                                           fmla_tensor* num_splits, void* stream);

/* ------------------------------------------------------------------------------------------------
 * Decode
 * ---------------------------------------------------------------------------------------------- */

/* Bytes of workspace for one decode call: float32 partial outputs [b + num_sm_parts, s_q * h_q, d_v]
 * and their lse [b + num_sm_parts, s_q * h_q], each region 256-byte aligned. Pure helper. Returns 0
 * when an argument is negative, and SIZE_MAX when the size is past INT64_MAX bytes (computed
 * exactly, never wrapped); a decode refuses a shape whose workspace would be that large. */
FMLA_API size_t fmla_decode_workspace_bytes(int64_t b, int64_t s_q, int64_t h_q, int64_t d_v,
                                            int64_t num_sm_parts);

/* MLA decode (K and V share one cache; V is the first head_dim_v entries of each row).
 *   q                        [b, s_q, h_q, d_qk]              bf16 or fp16
 *   kv_cache                 [num_pages, page_size, h_kv, d_qk] q's dtype
 *   block_table              int32 [b, max_pages]
 *   cache_seqlens            int32 [b]
 *   head_dim_v               d_v (512 with d_qk = 576)
 *   tile_scheduler_metadata  int32 [num_sm_parts, 8] from fmla_get_mla_metadata
 *   num_splits               int32 [b + 1]                    from fmla_get_mla_metadata
 *   softmax_scale            multiplies q.k (callers default it to 1/sqrt(d_qk))
 *   causal                   0 or 1 (anything else is refused)
 *   out                      [b, s_q, h_q, d_v]               q's dtype
 *   lse                      float32 [b, h_q, s_q]; any strides, the innermost too (e.g. a
 *                            [b, s_q, h_q] buffer viewed as [b, h_q, s_q]) as long as no two
 *                            elements overlap
 *   workspace                >= fmla_decode_workspace_bytes(b, s_q, h_q, d_v, num_sm_parts) bytes
 * h_q % h_kv == 0; s_q * h_q / h_kv must equal the num_q_tokens_per_head_k of the schedule.
 * block_table, cache_seqlens: innermost stride 1 (cache_seqlens [b] is then contiguous); every
 * dimension of every tensor <= INT32_MAX; softmax_scale finite; out and lse must not overlap.
 * Supported: d_qk = 576 with d_v = 512, s_q * h_q <= 65535 (else FMLA_ERROR_UNSUPPORTED).
 * q, kv_cache and out: 16-byte aligned data, contiguous last dimension, outer strides multiples of
 * 8 elements. Launches the decode kernel and, when num_sm_parts > 1, the split-KV combine kernel
 * (which only touches sequences the schedule cut into several splits). sm_90a runs the wgmma
 * kernel; other GPUs with enough shared memory per block (227 KB) the mma.sync one. */
FMLA_API fmla_status fmla_mla_decode(const fmla_tensor* q, const fmla_tensor* kv_cache,
                                     const fmla_tensor* block_table,
                                     const fmla_tensor* cache_seqlens, int32_t head_dim_v,
                                     const fmla_tensor* tile_scheduler_metadata,
                                     const fmla_tensor* num_splits, float softmax_scale,
                                     int32_t causal, fmla_tensor* out, fmla_tensor* lse,
                                     void* workspace, size_t workspace_bytes, void* stream);

/* GQA / MHA / MQA decode with separate K and V caches of the same head dim d in {64, 128, 256}.
 *   q        [b, s_q, h_q, d]                  bf16 or fp16
 *   k_cache  [num_pages, page_size, h_kv, d]   q's dtype (any page_size >= 1)
 *   v_cache  [num_pages, page_size, h_kv, d]   q's dtype
 *   out      [b, s_q, h_q, d]; lse float32 [b, h_q, s_q]
 * The schedule is the MLA one with num_q_tokens_per_head_k = s_q * h_q / h_kv; workspace as for
 * fmla_mla_decode with d_v = d. Same alignment rules as fmla_mla_decode (k_cache and v_cache too).
 * With up to 16 query rows per KV head (and over e4m3 caches, but not with e4m3 queries),
 * h_kv * ceil(s_q * h_q / h_kv / 16) <= 12, num_sm_parts <= 255 and 4 * b >= num_sm_parts, one
 * kernel does it all: the pieces of each sequence the schedule cut count themselves done in ints
 * 5-7 of tile_scheduler_metadata's rows (which the schedule leaves zero and the call returns to
 * zero) and the last one merges them. So two GQA decodes on one tile_scheduler_metadata must not
 * run at the same time (calls in one stream are fine); elsewhere a combine kernel follows the
 * decode kernel. */
FMLA_API fmla_status fmla_gqa_decode(const fmla_tensor* q, const fmla_tensor* k_cache,
                                     const fmla_tensor* v_cache, const fmla_tensor* block_table,
                                     const fmla_tensor* cache_seqlens,
                                     const fmla_tensor* tile_scheduler_metadata,
                                     const fmla_tensor* num_splits, float softmax_scale,
                                     int32_t causal, fmla_tensor* out, fmla_tensor* lse,
                                     void* workspace, size_t workspace_bytes, void* stream);

/* GQA decode over float8_e4m3fn K and V caches with one scale per tensor (docs/fp8-kv-cache.md,
 * the fp8_e4m3 format): as fmla_gqa_decode (the same use of tile_scheduler_metadata), with k_cache
 * and v_cache float8_e4m3fn and
 *   descale_k, descale_v  float32, one element each (any rank), in device memory: the keys are
 *                         e4m3(k) * descale_k, the values e4m3(v) * descale_v (read by the kernel,
 *                         so that a graph replays with their current values)
 *   descale_q             NULL with bf16 / fp16 q (out q's dtype); with float8_e4m3fn q, its scale
 *                         as above (the queries are e4m3(q) * descale_q) and out bf16
 * Cache strides of 2^31 elements or more: FMLA_ERROR_UNSUPPORTED. */
FMLA_API fmla_status fmla_gqa_decode_e4m3(
    const fmla_tensor* q, const fmla_tensor* k_cache, const fmla_tensor* v_cache,
    const fmla_tensor* block_table, const fmla_tensor* cache_seqlens,
    const fmla_tensor* tile_scheduler_metadata, const fmla_tensor* num_splits, float softmax_scale,
    int32_t causal, const fmla_tensor* descale_q, const fmla_tensor* descale_k,
    const fmla_tensor* descale_v, fmla_tensor* out, fmla_tensor* lse, void* workspace,
    size_t workspace_bytes, void* stream);

/* MLA decode over an FP8 latent cache (docs/fp8-kv-cache.md): as fmla_mla_decode, with
 *   format     FMLA_KV_FORMAT_FP8_DS_MLA: kv_cache float8_e4m3fn [num_pages, page_size, 1, 656],
 *                tokens packed (row stride 656) in pages at least page_size * 656 bytes apart;
 *                q bf16; descale_q and descale_k NULL;
 *              FMLA_KV_FORMAT_FP8_E4M3: kv_cache float8_e4m3fn [num_pages, page_size, 1, 576];
 *                descale_k float32, one element in device memory (read by the kernel): the keys
 *                and values are e4m3(kv) * descale_k; q bf16 or fp16 with descale_q NULL (out
 *                q's dtype), or q float8_e4m3fn with descale_q as descale_k (the queries are
 *                e4m3(q) * descale_q; the scores run on the FP8 tensor cores) and out bf16
 * Runs on sm_90 devices with this library's sm_90a code (else FMLA_ERROR_UNSUPPORTED). */
FMLA_API fmla_status fmla_mla_decode_fp8(
    const fmla_tensor* q, const fmla_tensor* kv_cache, const fmla_tensor* block_table,
    const fmla_tensor* cache_seqlens, int32_t head_dim_v,
    const fmla_tensor* tile_scheduler_metadata, const fmla_tensor* num_splits,
    float softmax_scale, int32_t causal, int32_t format, const fmla_tensor* descale_q,
    const fmla_tensor* descale_k, fmla_tensor* out, fmla_tensor* lse, void* workspace,
    size_t workspace_bytes, void* stream);

/* ------------------------------------------------------------------------------------------------
 * Cache writes
 * ---------------------------------------------------------------------------------------------- */

/* cache[slot / page_size, slot % page_size] = rows[i] for each i with slot_mapping[i] >= 0.
 *   cache         [num_pages, page_size, h_kv, d]   any fmla_dtype (rows are copied as bytes);
 *                                                   dims <= INT32_MAX, d * element size too; no
 *                                                   two elements at one address
 *   rows          [n, h_kv, d]                      cache's dtype
 *   slot_mapping  int32 [n], contiguous; -1 skips a row; slots past num_pages * page_size are
 *                 skipped too
 * cache and rows: innermost stride 1, outer strides >= 0. */
FMLA_API fmla_status fmla_write_kv(fmla_tensor* cache, const fmla_tensor* rows,
                                   const fmla_tensor* slot_mapping, void* stream);

/* The FP8 cache formats (docs/fp8-kv-cache.md); both store float8_e4m3fn bytes. */
typedef enum fmla_kv_format {
  /* DeepSeek-V3.2's 656-byte MLA token: 512 e4m3 latent values, 4 float32 power-of-two scales
   * (one per 128 values), 64 bf16 rope values. */
  FMLA_KV_FORMAT_FP8_DS_MLA = 1,
  /* float8_e4m3fn values with one float32 scale per tensor (descale). */
  FMLA_KV_FORMAT_FP8_E4M3 = 2
} fmla_kv_format;

/* The quantizing write: bf16 / fp16 rows into an FP8 cache, as fmla_write_kv places them.
 *   FMLA_KV_FORMAT_FP8_DS_MLA: cache float8_e4m3fn [num_pages, page_size, 1, 656], rows packed
 *     (stride 656) and pages at least page_size * 656 bytes apart; rows [n, 1, 576]; descale NULL.
 *     Each group of 128 latent values gets scale 2^ceil(log2(max(amax / 448, 1e-4))) and codes
 *     e4m3_rne(x / scale); a group holding NaN or an infinity gets scale NaN and NaN codes; the rope
 *     values are rounded to bf16.
 *   FMLA_KV_FORMAT_FP8_E4M3: cache float8_e4m3fn [num_pages, page_size, h_kv, d]; rows [n, h_kv, d];
 *     descale float32, one element in device memory (read by the kernel, so a graph replays with
 *     its current value): code = e4m3_rne(x / descale), a float32 division, saturating to +-448
 *     (infinities too), NaN to NaN.
 *   slot_mapping as for fmla_write_kv. The bytes written equal the CPU reference's. */
FMLA_API fmla_status fmla_write_kv_fp8(fmla_tensor* cache, const fmla_tensor* rows,
                                       const fmla_tensor* slot_mapping, int32_t format,
                                       const fmla_tensor* descale, void* stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FLASH_MLA_H */
