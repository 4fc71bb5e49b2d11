// Plain float32 reference decode (MLA and GQA): one thread block per (query head, query token,
// sequence), eight warps striding over the attended keys, two passes (lse, then the weighted sum).
// Slow and obviously right; tests use it where the CPU reference would take minutes.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstdint>

#include "testing_common.h"

namespace fmla::testing {

constexpr int kWarps = 8;

__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

struct ReferenceArgs {
  const void* q;
  int64_t q_stride[3];  // b, s_q, h_q
  const void* k;
  int64_t k_stride[3];  // page, row, head
  const void* v;
  int64_t v_stride[3];
  const int32_t* block_table;
  int64_t block_table_stride;
  const int32_t* seqlens;
  int page_size, h_q, h_kv, s_q, d_qk, d_v, causal;
  float scale;
  float* out;  // [b, s_q, h_q, d_v]
  float* lse;  // [b, h_q, s_q]
};

template <typename T>
__global__ void reference_decode_kernel(ReferenceArgs a) {
  extern __shared__ float smem[];
  float* qf = smem;               // [d_qk]
  float* acc = smem + a.d_qk;     // [kWarps][d_v]
  __shared__ float warp_max[kWarps], warp_sum_exp[kWarps], row_lse;

  const int h = blockIdx.x, j = blockIdx.y, b = blockIdx.z;
  const int g = h / (a.h_q / a.h_kv);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int len = a.seqlens[b];
  int limit = a.causal ? len - a.s_q + j + 1 : len;
  limit = max(0, min(limit, len));

  const T* q = static_cast<const T*>(a.q) + b * a.q_stride[0] + j * a.q_stride[1] + h * a.q_stride[2];
  for (int d = threadIdx.x; d < a.d_qk; d += blockDim.x) qf[d] = to_float(q[d]);
  __syncthreads();

  auto row = [&](const void* base, const int64_t* stride, int t) {
    const int page = a.block_table[b * a.block_table_stride + t / a.page_size];
    return static_cast<const T*>(base) + page * stride[0] + (t % a.page_size) * stride[1] + g * stride[2];
  };
  auto score = [&](int t) {
    const T* k = row(a.k, a.k_stride, t);
    float dot = 0.f;
    for (int d = lane; d < a.d_qk; d += 32) dot += qf[d] * to_float(k[d]);
    return warp_sum(dot) * a.scale;
  };

  // Pass 1: each warp's running max and sum of exponentials, then their merge into the row's lse.
  float m = -INFINITY, s = 0.f;
  for (int t = warp; t < limit; t += kWarps) {
    const float x = score(t);
    const float mn = fmaxf(m, x);
    s = s * expf(m - mn) + expf(x - mn);
    m = mn;
  }
  if (lane == 0) {
    warp_max[warp] = m;
    warp_sum_exp[warp] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float mx = -INFINITY;
    for (int w = 0; w < kWarps; w++) mx = fmaxf(mx, warp_max[w]);
    float total = 0.f;
    for (int w = 0; w < kWarps; w++)
      if (warp_max[w] != -INFINITY) total += warp_sum_exp[w] * expf(warp_max[w] - mx);
    row_lse = limit == 0 ? INFINITY : mx + logf(total);
  }
  __syncthreads();

  // Pass 2: out = sum_t exp(score_t - lse) v_t, per warp in shared memory, then summed over warps.
  float* my_acc = acc + warp * a.d_v;
  for (int d = lane; d < a.d_v; d += 32) my_acc[d] = 0.f;
  for (int t = warp; t < limit; t += kWarps) {
    const float p = expf(score(t) - row_lse);
    const T* v = row(a.v, a.v_stride, t);
    for (int d = lane; d < a.d_v; d += 32) my_acc[d] += p * to_float(v[d]);
  }
  __syncthreads();
  float* out = a.out + ((int64_t(b) * a.s_q + j) * a.h_q + h) * a.d_v;
  for (int d = threadIdx.x; d < a.d_v; d += blockDim.x) {
    float total = 0.f;
    for (int w = 0; w < kWarps; w++) total += acc[w * a.d_v + d];
    out[d] = total;
  }
  if (threadIdx.x == 0) a.lse[(int64_t(b) * a.h_q + h) * a.s_q + j] = row_lse;
}

}  // namespace fmla::testing

using namespace fmla::testing;

extern "C" fmla_status fmla_testing_reference_decode(
    const fmla_tensor* q, const fmla_tensor* k_cache, const fmla_tensor* v_cache,
    const fmla_tensor* block_table, const fmla_tensor* cache_seqlens, int32_t head_dim_v,
    float softmax_scale, int32_t causal, fmla_tensor* out, fmla_tensor* lse, void* stream) {
  const fmla_tensor* all[] = {q, k_cache, v_cache, block_table, cache_seqlens, out, lse};
  for (const fmla_tensor* t : all)
    if (t == nullptr) return invalid_argument("tensor: expected a tensor, got NULL");
  if (q->ndim != 4 || k_cache->ndim != 4 || v_cache->ndim != 4 || block_table->ndim != 2 ||
      cache_seqlens->ndim != 1 || out->ndim != 4 || lse->ndim != 3)
    return invalid_argument("tensors: expected ranks q 4, caches 4, block_table 2, seqlens 1, out 4, lse 3, got others");
  if (q->dtype != k_cache->dtype || q->dtype != v_cache->dtype ||
      (q->dtype != FMLA_DTYPE_BFLOAT16 && q->dtype != FMLA_DTYPE_FLOAT16) ||
      out->dtype != FMLA_DTYPE_FLOAT32 || lse->dtype != FMLA_DTYPE_FLOAT32 ||
      block_table->dtype != FMLA_DTYPE_INT32 || cache_seqlens->dtype != FMLA_DTYPE_INT32)
    return invalid_argument("dtypes: expected q and caches bf16/fp16 alike, out/lse float32, tables int32, got others");
  if (!is_contiguous(*out) || !is_contiguous(*lse) || !is_contiguous(*cache_seqlens) ||
      q->strides[3] != 1 || k_cache->strides[3] != 1 || v_cache->strides[3] != 1 || block_table->strides[1] != 1)
    return invalid_argument("strides: expected contiguous out, lse, seqlens and unit inner strides, got others");

  ReferenceArgs a{};
  a.q = q->data;
  a.k = k_cache->data;
  a.v = v_cache->data;
  for (int i = 0; i < 3; i++) {
    a.q_stride[i] = q->strides[i];
    a.k_stride[i] = k_cache->strides[i];
    a.v_stride[i] = v_cache->strides[i];
  }
  a.block_table = static_cast<const int32_t*>(block_table->data);
  a.block_table_stride = block_table->strides[0];
  a.seqlens = static_cast<const int32_t*>(cache_seqlens->data);
  a.page_size = static_cast<int>(k_cache->shape[1]);
  a.h_q = static_cast<int>(q->shape[2]);
  a.h_kv = static_cast<int>(k_cache->shape[2]);
  a.s_q = static_cast<int>(q->shape[1]);
  a.d_qk = static_cast<int>(q->shape[3]);
  a.d_v = head_dim_v;
  a.causal = causal;
  a.scale = softmax_scale;
  a.out = static_cast<float*>(out->data);
  a.lse = static_cast<float*>(lse->data);
  if (a.h_kv <= 0 || a.h_q % a.h_kv != 0 || a.d_v > v_cache->shape[3])
    return invalid_argument("heads: expected h_q divisible by h_kv and d_v <= v_cache.shape[3], got otherwise");

  const dim3 grid(a.h_q, a.s_q, static_cast<unsigned>(q->shape[0]));
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return FMLA_OK;
  const size_t smem = sizeof(float) * (a.d_qk + kWarps * a.d_v);
  auto s = static_cast<cudaStream_t>(stream);
  if (q->dtype == FMLA_DTYPE_BFLOAT16) {
    cudaFuncSetAttribute(reference_decode_kernel<__nv_bfloat16>,
                         cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    reference_decode_kernel<__nv_bfloat16><<<grid, kWarps * 32, smem, s>>>(a);
  } else {
    cudaFuncSetAttribute(reference_decode_kernel<__half>,
                         cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    reference_decode_kernel<__half><<<grid, kWarps * 32, smem, s>>>(a);
  }
  return launch_status("reference_decode_kernel");
}
