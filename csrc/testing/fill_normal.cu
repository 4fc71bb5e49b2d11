// Device-side random fill for tests and benchmarks: clamp(scale * N(0,1), -limit, limit).
// Counter-based (a hash of seed and index), so the result depends on nothing but (seed, i).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <algorithm>
#include <cstdint>

#include "testing_common.h"

namespace fmla::testing {

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Box-Muller on two 24-bit uniforms in (0, 1].
__device__ __forceinline__ float standard_normal(uint64_t seed, uint64_t i) {
  const uint64_t bits = splitmix64(seed ^ splitmix64(i));
  const float u1 = (static_cast<float>(bits >> 40) + 1.0f) * (1.0f / 16777216.0f);
  const float u2 = static_cast<float>((bits >> 16) & 0xffffff) * (1.0f / 16777216.0f);
  return sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
}

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }

template <typename T>
__global__ void fill_normal_kernel(T* data, int64_t n, uint64_t seed, float scale, float limit) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = fminf(fmaxf(scale * standard_normal(seed, i), -limit), limit);
    data[i] = from_float<T>(v);
  }
}

}  // namespace fmla::testing

using namespace fmla::testing;

extern "C" fmla_status fmla_testing_fill_normal(fmla_tensor* t, uint64_t seed, float scale,
                                                float limit, void* stream) {
  FMLA_TRY(fmla::require_device());
  FMLA_TRY(fmla::check_tensor(t, "t", t ? t->ndim : 1,
                              {FMLA_DTYPE_FLOAT32, FMLA_DTYPE_BFLOAT16, FMLA_DTYPE_FLOAT16}));
  FMLA_TRY(fmla::check_contiguous(t, "t"));
  const int64_t n = fmla::numel(t);
  if (n == 0) return FMLA_OK;
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 65536));
  auto s = static_cast<cudaStream_t>(stream);
  switch (t->dtype) {
    case FMLA_DTYPE_FLOAT32:
      fill_normal_kernel<<<blocks, threads, 0, s>>>(static_cast<float*>(t->data), n, seed, scale, limit);
      break;
    case FMLA_DTYPE_BFLOAT16:
      fill_normal_kernel<<<blocks, threads, 0, s>>>(static_cast<__nv_bfloat16*>(t->data), n, seed, scale, limit);
      break;
    case FMLA_DTYPE_FLOAT16:
      fill_normal_kernel<<<blocks, threads, 0, s>>>(static_cast<__half*>(t->data), n, seed, scale, limit);
      break;
  }
  return fmla::check_launch("fill_normal_kernel");
}
