// The quantizing cache writes. One warp per token, as write_kv: the token's rows are loaded before
// its slot (they do not depend on it), quantized in registers and stored. Every rounding is the
// one docs/fp8-kv-cache.md fixes (IEEE division, e4m3 round to nearest even), so the bytes equal
// the CPU reference's; NaN codes are written explicitly, since the conversion may keep a NaN's sign.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <type_traits>

#include "../config.h"
#include "../common/pdl.cuh"
#include "write_kv_fp8.cuh"

namespace fmla {
namespace {

constexpr int kWarps = kWriteKvThreads / 32;
constexpr uint8_t kE4m3Nan = 0x7f;
constexpr uint16_t kBf16Nan = 0x7fc0;
constexpr uint32_t kFloatNan = 0x7fc00000u;
// fp8_ds_mla: 512 latent values in groups of 128 (one per 8 lanes, 16 values a lane), 4 float32
// scales, 64 bf16 rope values (2 a lane), at config.h's offsets.
constexpr int kLatent = 512, kGroup = 128;
constexpr int kLatentPerLane = kLatent / 32;

__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

// e4m3_rne(x), saturating to +-448 (the conversion's satfinite), NaN as 0x7f.
__device__ __forceinline__ uint8_t e4m3(float x) {
  if (isnan(x)) return kE4m3Nan;
  return static_cast<uint8_t>(__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3));
}

// The slot of token i as (page, row in page), or false when it is skipped.
__device__ __forceinline__ bool slot_of(const WriteKvFp8Params& p, int64_t i, uint8_t** row) {
  const int32_t slot = p.slot_mapping[i * p.slot_stride];
  if (slot < 0 || slot >= p.num_slots) return false;
  const uint32_t page = static_cast<uint32_t>(slot) / static_cast<uint32_t>(p.page_size);
  const uint32_t in_page = static_cast<uint32_t>(slot) - page * static_cast<uint32_t>(p.page_size);
  *row = p.cache + page * p.cache_stride_page + in_page * p.cache_stride_row;
  return true;
}

// fp8_e4m3: code = e4m3_rne(x / descale) for every value; kVec values a lane at a time (4: one
// 32-bit store of codes; 1: any layout).
template <typename In, int kVec>
__global__ void __launch_bounds__(kWriteKvThreads) write_kv_e4m3_kernel(const WriteKvFp8Params p) {
  wait_for_previous_kernel();
  const int lane = threadIdx.x % 32;
  const float descale = *p.descale;
  const int values = p.h_kv * p.d;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kWarps) + threadIdx.x / 32; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * kWarps) {
    const In* src = static_cast<const In*>(p.rows) + i * p.rows_stride_n;
    uint8_t* row = nullptr;
    if (!slot_of(p, i, &row)) continue;
    for (int v = lane * kVec; v < values; v += 32 * kVec) {
      const int head = v / p.d, col = v - head * p.d;
      const In* x = src + head * p.rows_stride_head + col;
      uint8_t* dst = row + head * p.cache_stride_head + col;
      if constexpr (kVec == 4) {
        uint32_t codes = 0;
#pragma unroll
        for (int u = 0; u < 4; ++u)
          codes |= static_cast<uint32_t>(e4m3(__fdiv_rn(to_float(x[u]), descale))) << (8 * u);
        *reinterpret_cast<uint32_t*>(dst) = codes;
      } else {
        *dst = e4m3(__fdiv_rn(to_float(*x), descale));
      }
    }
  }
}

// fp8_ds_mla: lane l quantizes latent values [16 l, 16 l + 16) (group l / 8: the 8 lanes of a group
// reduce its amax) and rounds rope values 512 + 2 l, 513 + 2 l to bf16. kWordStores: the row is
// 4-byte aligned (codes and scales stored as words), else byte by byte.
template <typename In, bool kWordStores>
__global__ void __launch_bounds__(kWriteKvThreads) write_kv_ds_mla_kernel(const WriteKvFp8Params p) {
  wait_for_previous_kernel();
  const int lane = threadIdx.x % 32;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kWarps) + threadIdx.x / 32; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * kWarps) {
    const In* src = static_cast<const In*>(p.rows) + i * p.rows_stride_n;
    float x[kLatentPerLane];
    float amax = 0.f;
    bool finite = true;
#pragma unroll
    for (int u = 0; u < kLatentPerLane; ++u) {
      x[u] = to_float(src[lane * kLatentPerLane + u]);
      finite = finite && isfinite(x[u]);
      amax = fmaxf(amax, fabsf(x[u]));
    }
    const In rope[2] = {src[kLatent + 2 * lane], src[kLatent + 2 * lane + 1]};
#pragma unroll
    for (int offset = 1; offset < kGroup / kLatentPerLane; offset *= 2) {
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
      finite = __shfl_xor_sync(0xffffffffu, finite ? 1 : 0, offset) && finite;
    }
    // scale = 2^ceil(log2(max(amax / 448, 1e-4))), exactly: y is a normal float32, and its log2 is
    // an integer only when its mantissa is zero.
    const float y = fmaxf(__fdiv_rn(amax, 448.f), 1e-4f);
    const uint32_t y_bits = __float_as_uint(y);
    const int exponent = static_cast<int>(y_bits >> 23) - 127 + ((y_bits & 0x7fffffu) != 0 ? 1 : 0);
    const float scale = finite ? __uint_as_float(static_cast<uint32_t>(exponent + 127) << 23)
                               : __uint_as_float(kFloatNan);
    const float inverse = __uint_as_float(static_cast<uint32_t>(127 - exponent) << 23);  // exact

    uint8_t* row = nullptr;
    if (!slot_of(p, i, &row)) continue;
    uint32_t words[kLatentPerLane / 4];
#pragma unroll
    for (int w = 0; w < kLatentPerLane / 4; ++w) {
      words[w] = 0;
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        const uint8_t code = finite ? e4m3(x[4 * w + u] * inverse) : kE4m3Nan;
        words[w] |= static_cast<uint32_t>(code) << (8 * u);
      }
    }
    uint16_t rope_bits[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      if constexpr (std::is_same<In, __nv_bfloat16>::value) {
        rope_bits[r] = __bfloat16_as_ushort(rope[r]);
      } else {
        const float value = to_float(rope[r]);
        rope_bits[r] = isnan(value) ? kBf16Nan : __bfloat16_as_ushort(__float2bfloat16_rn(value));
      }
    }
    const uint32_t rope_word = rope_bits[0] | (static_cast<uint32_t>(rope_bits[1]) << 16);
    uint8_t* codes = row + lane * kLatentPerLane;
    if constexpr (kWordStores) {
#pragma unroll
      for (int w = 0; w < kLatentPerLane / 4; ++w) reinterpret_cast<uint32_t*>(codes)[w] = words[w];
      if (lane % (kGroup / kLatentPerLane) == 0)
        reinterpret_cast<float*>(row + kDsMlaScaleOffset)[lane / (kGroup / kLatentPerLane)] = scale;
      reinterpret_cast<uint32_t*>(row + kDsMlaRopeOffset)[lane] = rope_word;
    } else {
#pragma unroll
      for (int b = 0; b < kLatentPerLane; ++b) codes[b] = static_cast<uint8_t>(words[b / 4] >> (8 * (b % 4)));
      if (lane % (kGroup / kLatentPerLane) == 0) {
        const uint32_t bits = __float_as_uint(scale);
        uint8_t* dst = row + kDsMlaScaleOffset + 4 * (lane / (kGroup / kLatentPerLane));
        for (int b = 0; b < 4; ++b) dst[b] = static_cast<uint8_t>(bits >> (8 * b));
      }
      for (int b = 0; b < 4; ++b) row[kDsMlaRopeOffset + 4 * lane + b] = static_cast<uint8_t>(rope_word >> (8 * b));
    }
  }
}

template <typename In>
cudaError_t launch_for(const WriteKvFp8Params& p, Fp8WriteFormat format, cudaStream_t stream) {
  const int64_t blocks_needed = (p.n + kWarps - 1) / kWarps;
  const dim3 grid(static_cast<unsigned>(blocks_needed < 65536 ? blocks_needed : 65536));
  const dim3 block(kWriteKvThreads);
  if (format == Fp8WriteFormat::kE4m3)
    return p.wide ? launch_dependent(write_kv_e4m3_kernel<In, 4>, grid, block, 0, stream, p)
                  : launch_dependent(write_kv_e4m3_kernel<In, 1>, grid, block, 0, stream, p);
  const bool words = (reinterpret_cast<uintptr_t>(p.cache) | p.cache_stride_page |
                      p.cache_stride_row) % 4 == 0;
  return words ? launch_dependent(write_kv_ds_mla_kernel<In, true>, grid, block, 0, stream, p)
               : launch_dependent(write_kv_ds_mla_kernel<In, false>, grid, block, 0, stream, p);
}

}  // namespace

cudaError_t launch_write_kv_fp8(const WriteKvFp8Params& p, Fp8WriteFormat format, bool rows_fp16,
                                cudaStream_t stream) {
  if (p.n == 0) return cudaSuccess;
  return rows_fp16 ? launch_for<__half>(p, format, stream)
                   : launch_for<__nv_bfloat16>(p, format, stream);
}

}  // namespace fmla
