// The test kit: checked CUDA calls, device buffers, tensors, random data (never zeros), poison,
// host conversions and event timing. Shared by every suite in main.cu.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "flash_mla.h"
#include "reference_attention.h"

#define CUDA_CHECK(expr)                                                                    \
  do {                                                                                      \
    const cudaError_t err_ = (expr);                                                        \
    if (err_ != cudaSuccess) {                                                              \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(err_)); \
      exit(2);                                                                              \
    }                                                                                       \
  } while (0)

#define FMLA_CHECK(expr)                                                                     \
  do {                                                                                       \
    const fmla_status st_ = (expr);                                                          \
    if (st_ != FMLA_OK) {                                                                    \
      fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #expr, fmla_status_string(st_), \
              fmla_last_error());                                                            \
      exit(2);                                                                               \
    }                                                                                        \
  } while (0)

// An owned device allocation.
struct DevBuf {
  void* ptr = nullptr;
  size_t bytes = 0;
  DevBuf() = default;
  explicit DevBuf(size_t n) : bytes(n) {
    if (n) CUDA_CHECK(cudaMalloc(&ptr, n));
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  DevBuf(DevBuf&& o) noexcept : ptr(o.ptr), bytes(o.bytes) { o.ptr = nullptr; o.bytes = 0; }
  DevBuf& operator=(DevBuf&& o) noexcept {
    std::swap(ptr, o.ptr);
    std::swap(bytes, o.bytes);
    return *this;
  }
  ~DevBuf() {
    if (ptr) cudaFree(ptr);
  }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr); }
};

template <typename T>
DevBuf upload(const std::vector<T>& host) {
  DevBuf d(host.size() * sizeof(T));
  if (!host.empty()) CUDA_CHECK(cudaMemcpy(d.ptr, host.data(), d.bytes, cudaMemcpyHostToDevice));
  return d;
}

template <typename T>
std::vector<T> download(const void* ptr, size_t count) {
  std::vector<T> host(count);
  if (count) CUDA_CHECK(cudaMemcpy(host.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

inline int elem_bytes(int dtype) {
  return dtype == FMLA_DTYPE_FLOAT8_E4M3FN ? 1 : (dtype == FMLA_DTYPE_BFLOAT16 || dtype == FMLA_DTYPE_FLOAT16) ? 2 : 4;
}

// A contiguous tensor over `data`.
inline fmla_tensor make_tensor(void* data, int dtype, std::vector<int64_t> shape) {
  fmla_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.ndim = static_cast<int32_t>(shape.size());
  int64_t stride = 1;
  for (int d = t.ndim - 1; d >= 0; --d) {
    t.shape[d] = shape[d];
    t.strides[d] = stride;
    stride *= shape[d];
  }
  return t;
}

// A tensor with explicit strides (elements).
inline fmla_tensor make_strided(void* data, int dtype, std::vector<int64_t> shape,
                                std::vector<int64_t> strides) {
  fmla_tensor t = make_tensor(data, dtype, shape);
  for (size_t d = 0; d < strides.size(); ++d) t.strides[d] = strides[d];
  return t;
}

// ---- random data on the device: clamp(randn / 10, -1, 1), a counter-based hash so any size is
// generated in one pass ----

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

template <typename Elem>
__global__ void fill_randn_kernel(Elem* p, int64_t n, uint64_t seed) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint64_t h = splitmix64(seed * 0x100000001B3ull + i);
    const float u1 = (static_cast<float>(h >> 40) + 1.f) / 16777217.f;  // (0, 1]
    const float u2 = static_cast<float>((h >> 16) & 0xFFFFFF) / 16777216.f;
    const float z = sqrtf(-2.f * logf(u1)) * cospif(2.f * u2);
    const float v = fminf(1.f, fmaxf(-1.f, z / 10.f));
    if constexpr (sizeof(Elem) == 4) p[i] = v;
    else p[i] = static_cast<Elem>(v);
  }
}

inline void fill_randn(void* p, int dtype, int64_t n, uint64_t seed) {
  if (n == 0) return;
  const int blocks = static_cast<int>(std::min<int64_t>((n + 255) / 256, 65536));
  if (dtype == FMLA_DTYPE_BFLOAT16)
    fill_randn_kernel<__nv_bfloat16><<<blocks, 256>>>(static_cast<__nv_bfloat16*>(p), n, seed);
  else if (dtype == FMLA_DTYPE_FLOAT16)
    fill_randn_kernel<__half><<<blocks, 256>>>(static_cast<__half*>(p), n, seed);
  else
    fill_randn_kernel<float><<<blocks, 256>>>(static_cast<float*>(p), n, seed);
  CUDA_CHECK(cudaGetLastError());
}

// Cache rows nobody may read become NaN: row r of page p when r >= valid_rows[p].
__global__ void poison_rows_kernel(uint16_t* cache, const int32_t* valid_rows,
                                          int64_t num_pages, int page_size, int64_t row_elems) {
  const int64_t total = num_pages * page_size * row_elems;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / row_elems;
    if (row % page_size >= valid_rows[row / page_size]) cache[i] = 0x7FC0;  // NaN in bf16 and fp16
  }
}

// ---- host conversions ----
inline float bits_to_float(uint16_t bits, int dtype) {
  if (dtype == FMLA_DTYPE_BFLOAT16) {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  __half_raw raw;
  raw.x = bits;
  return __half2float(__half(raw));
}

// ---- timing ----

// Median over `iters` runs of fn(i) after `warmup` runs, each bracketed by its own events (ms);
// before_start() is queued before each start event (e.g. a device spin that hides launch cost).
template <typename F, typename Before>
float median_ms_after(F fn, Before before_start, int warmup = 5, int iters = 30,
                      cudaStream_t stream = nullptr) {
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < warmup; ++i) fn(i);
  std::vector<float> times;
  for (int i = 0; i < iters; ++i) {
    before_start();
    CUDA_CHECK(cudaEventRecord(a, stream));
    fn(warmup + i);
    CUDA_CHECK(cudaEventRecord(b, stream));
    CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    times.push_back(ms);
  }
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

template <typename F>
float median_ms(F fn, int warmup = 5, int iters = 30, cudaStream_t stream = nullptr) {
  return median_ms_after(fn, [] {}, warmup, iters, stream);
}

// Device-to-device copy bandwidth (bytes read + written per second), 2 GiB, median of 20.
inline double copy_ceiling_gbs() {
  const size_t bytes = size_t(2) << 30;
  DevBuf src(bytes), dst(bytes);
  CUDA_CHECK(cudaMemset(src.ptr, 0x3c, bytes));
  const float ms = median_ms([&](int) { CUDA_CHECK(cudaMemcpyAsync(dst.ptr, src.ptr, bytes, cudaMemcpyDeviceToDevice)); }, 3, 20);
  return 2.0 * bytes / (ms * 1e-3) / 1e9;
}
