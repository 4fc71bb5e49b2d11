// The naive float32 reference (reference_attention.h): one block per query row, two passes over its
// keys (the maximum score, then the weights and the weighted values). Slow and obviously right.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#include "../api/checks.h"
#include "../kernels/common/ptx.cuh"
#include "reference_attention.h"

namespace fmla {
namespace {

constexpr int kRefThreads = 128;
constexpr int kRefMaxDv = 512;
constexpr int kRefMaxDqk = 1024;

struct RefParams {
  const void* q;
  const void* k;
  const void* v;
  const int32_t* block_table;
  const int32_t* seqlens;
  const int32_t* rows;
  float* out;
  float* lse;
  int64_t q_stride[3];
  int64_t k_stride[3];
  int64_t v_stride[3];
  int64_t bt_stride[2];
  int64_t seqlens_stride;
  int64_t rows_stride;
  int s_q, h_q, h_kv, d_qk, d_v, page_size;
  float scale;
  int causal;
};

template <typename Elem>
__device__ const Elem* cache_row(const RefParams& p, const void* base, const int64_t* stride,
                                 const int32_t* block_table, int t, int g) {
  const int64_t page = block_table[static_cast<int64_t>(t / p.page_size) * p.bt_stride[1]];
  return static_cast<const Elem*>(base) + page * stride[0] + (t % p.page_size) * stride[1] +
         g * stride[2];
}

__device__ float block_reduce(float v, float* scratch, bool is_max) {
  for (int d = 16; d > 0; d /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, d);
    v = is_max ? fmaxf(v, o) : v + o;
  }
  __syncthreads();
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < kRefThreads / 32; ++w) v = is_max ? fmaxf(v, scratch[w]) : v + scratch[w];
  return v;
}

template <typename Elem>
__global__ void __launch_bounds__(kRefThreads) reference_kernel(const RefParams p) {
  __shared__ float q_row[kRefMaxDqk];
  __shared__ float weights[kRefThreads];
  __shared__ float scratch[kRefThreads / 32];
  const int* row = p.rows + blockIdx.x * p.rows_stride;
  const int bi = row[0], j = row[1], h = row[2];
  const int g = h / (p.h_q / p.h_kv);
  const int seqlen = max(0, p.seqlens[bi * p.seqlens_stride]);
  const int limit = p.causal ? min(seqlen, seqlen - p.s_q + j + 1) : seqlen;
  const int32_t* block_table = p.block_table + bi * p.bt_stride[0];
  const Elem* q = static_cast<const Elem*>(p.q) + bi * p.q_stride[0] + j * p.q_stride[1] +
                  h * p.q_stride[2];
  for (int d = threadIdx.x; d < p.d_qk; d += kRefThreads) q_row[d] = to_float(q[d]);
  __syncthreads();

  float* out = p.out + static_cast<int64_t>(blockIdx.x) * p.d_v;
  if (limit <= 0) {
    for (int d = threadIdx.x; d < p.d_v; d += kRefThreads) out[d] = 0.f;
    if (threadIdx.x == 0) p.lse[blockIdx.x] = INFINITY;
    return;
  }

  auto score = [&](int t) {
    const Elem* k = cache_row<Elem>(p, p.k, p.k_stride, block_table, t, g);
    float acc = 0.f;
    for (int d = 0; d < p.d_qk; ++d) acc += q_row[d] * to_float(k[d]);
    return acc * p.scale;
  };

  float max_score = -INFINITY;
  for (int t = threadIdx.x; t < limit; t += kRefThreads) max_score = fmaxf(max_score, score(t));
  max_score = block_reduce(max_score, scratch, true);

  float acc[kRefMaxDv / kRefThreads] = {};
  float sum = 0.f;
  for (int base = 0; base < limit; base += kRefThreads) {
    const int t = base + threadIdx.x;
    const float w = t < limit ? expf(score(t) - max_score) : 0.f;
    sum += w;
    __syncthreads();  // the previous chunk's weights are consumed
    weights[threadIdx.x] = w;
    __syncthreads();
    const int n = min(kRefThreads, limit - base);
    for (int u = 0; u < n; ++u) {
      const Elem* v = cache_row<Elem>(p, p.v, p.v_stride, block_table, base + u, g);
#pragma unroll
      for (int c = 0; c < kRefMaxDv / kRefThreads; ++c) {
        const int d = threadIdx.x + c * kRefThreads;
        if (d < p.d_v) acc[c] += weights[u] * to_float(v[d]);
      }
    }
  }
  sum = block_reduce(sum, scratch, false);
#pragma unroll
  for (int c = 0; c < kRefMaxDv / kRefThreads; ++c) {
    const int d = threadIdx.x + c * kRefThreads;
    if (d < p.d_v) out[d] = acc[c] / sum;
  }
  if (threadIdx.x == 0) p.lse[blockIdx.x] = max_score + logf(sum);
}

}  // namespace
}  // namespace fmla

using namespace fmla;

extern "C" fmla_status fmla_reference_attention(const fmla_tensor* q, const fmla_tensor* k_cache,
                                                const fmla_tensor* v_cache, int32_t head_dim_v,
                                                const fmla_tensor* block_table,
                                                const fmla_tensor* cache_seqlens,
                                                float softmax_scale, int32_t causal,
                                                const fmla_tensor* rows, fmla_tensor* out,
                                                fmla_tensor* lse, void* stream) {
  FMLA_TRY(require_device());
  FMLA_TRY(check_tensor(q, "q", 4, {FMLA_DTYPE_BFLOAT16, FMLA_DTYPE_FLOAT16}));
  FMLA_TRY(check_tensor(k_cache, "k_cache", 4, {q->dtype}));
  if (v_cache) FMLA_TRY(check_tensor(v_cache, "v_cache", 4, {q->dtype}));
  FMLA_TRY(check_tensor(block_table, "block_table", 2, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(cache_seqlens, "cache_seqlens", 1, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(rows, "rows", 2, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(out, "out", 2, {FMLA_DTYPE_FLOAT32}));
  FMLA_TRY(check_tensor(lse, "lse", 1, {FMLA_DTYPE_FLOAT32}));
  // The decodes' checks of q, the caches, block_table, cache_seqlens, softmax_scale and causal.
  FMLA_TRY(check_paged_inputs(q, k_cache, "k_cache", v_cache, block_table, cache_seqlens,
                              softmax_scale, causal));
  FMLA_TRY(check_shape_int32(rows, "rows"));  // one block a row: n is the grid size
  FMLA_TRY(check_inner_stride(rows, "rows"));
  const int64_t n = rows->shape[0];
  const int64_t d_qk = q->shape[3];
  FMLA_TRY(check_dim(rows, "rows", 1, 3));
  FMLA_TRY(check_dim(out, "out", 0, n));
  FMLA_TRY(check_dim(out, "out", 1, head_dim_v));
  FMLA_TRY(check_dim(lse, "lse", 0, n));
  FMLA_TRY(check_contiguous(out, "out"));
  FMLA_TRY(check_contiguous(lse, "lse"));
  if (d_qk > kRefMaxDqk || head_dim_v > kRefMaxDv || head_dim_v < 1 ||
      (!v_cache && head_dim_v > d_qk))
    return fail(FMLA_ERROR_UNSUPPORTED, "reference: head dims d_qk=%lld, d_v=%d out of range",
                static_cast<long long>(d_qk), head_dim_v);
  if (v_cache) FMLA_TRY(check_dim(v_cache, "v_cache", 3, head_dim_v));
  if (n == 0) return FMLA_OK;

  RefParams p{};
  p.q = q->data;
  p.k = k_cache->data;
  p.v = v_cache ? v_cache->data : k_cache->data;
  p.block_table = static_cast<const int32_t*>(block_table->data);
  p.seqlens = static_cast<const int32_t*>(cache_seqlens->data);
  p.rows = static_cast<const int32_t*>(rows->data);
  p.out = static_cast<float*>(out->data);
  p.lse = static_cast<float*>(lse->data);
  const fmla_tensor* v = v_cache ? v_cache : k_cache;
  for (int d = 0; d < 3; ++d) {
    p.q_stride[d] = q->strides[d];
    p.k_stride[d] = k_cache->strides[d];
    p.v_stride[d] = v->strides[d];
  }
  p.bt_stride[0] = block_table->strides[0];
  p.bt_stride[1] = block_table->strides[1];
  p.seqlens_stride = cache_seqlens->strides[0];
  p.rows_stride = rows->strides[0];
  p.s_q = static_cast<int>(q->shape[1]);
  p.h_q = static_cast<int>(q->shape[2]);
  p.h_kv = static_cast<int>(k_cache->shape[2]);
  p.d_qk = static_cast<int>(d_qk);
  p.d_v = head_dim_v;
  p.page_size = static_cast<int>(k_cache->shape[1]);
  p.scale = softmax_scale;
  p.causal = causal;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (q->dtype == FMLA_DTYPE_BFLOAT16)
    reference_kernel<__nv_bfloat16><<<static_cast<unsigned>(n), kRefThreads, 0, s>>>(p);
  else
    reference_kernel<__half><<<static_cast<unsigned>(n), kRefThreads, 0, s>>>(p);
  return check_launch("reference_kernel");
}
