// float8_e4m3fn codes to 16-bit values, as the kernels over FP8 caches convert them.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <stdint.h>

#include <type_traits>

#include "ptx.cuh"

namespace fmla {

// Two e4m3 codes as two Elem values, exactly (e4m3 values are exact in fp16 and bf16).
template <typename Elem>
__device__ __forceinline__ uint32_t e4m3x2_to(uint16_t codes) {
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(codes, __NV_E4M3);
  if constexpr (std::is_same<Elem, __half>::value) {
    return static_cast<uint32_t>(h.x) | (static_cast<uint32_t>(h.y) << 16);
  } else {
    const float2 f = __half22float2(__half2(h));
    return pack2<Elem>(f.x, f.y);
  }
}

// Eight e4m3 codes (code 0 in the low byte of .x) as eight Elem values in order: a 16-byte chunk of a
// 16-bit row, exactly.
template <typename Elem>
__device__ __forceinline__ uint4 e4m3x8_to(uint2 codes) {
  return make_uint4(e4m3x2_to<Elem>(static_cast<uint16_t>(codes.x)),
                    e4m3x2_to<Elem>(static_cast<uint16_t>(codes.x >> 16)),
                    e4m3x2_to<Elem>(static_cast<uint16_t>(codes.y)),
                    e4m3x2_to<Elem>(static_cast<uint16_t>(codes.y >> 16)));
}

// Four e4m3 codes (one word, code 0 in the low byte) as four fp16 values, exactly: codes 0 and 1 in
// .x (code 0 in the low half), 2 and 3 in .y. One cvt.rn.f16x2.e4m3x2 a pair, each reading its half
// of the word in place (through the intrinsic, the high half costs a shift first).
__device__ __forceinline__ uint2 e4m3x4_to_f16x4(uint32_t codes) {
  uint32_t lo, hi;
  asm("{\n.reg .b16 l, h;\nmov.b32 {l, h}, %2;\ncvt.rn.f16x2.e4m3x2 %0, l;\n"
      "cvt.rn.f16x2.e4m3x2 %1, h;\n}\n"
      : "=r"(lo), "=r"(hi)
      : "r"(codes));
  return make_uint2(lo, hi);
}

// fp8_ds_mla: whether a group scale (rounded to bf16) lets its values convert to fp16 exactly to
// fp16's rounding: 448 s stays under 65504, and the smallest code times s is still an fp16
// subnormal; 0 too. False for NaN.
__device__ __forceinline__ bool ds_scale_fits_f16(float s) {
  s = fabsf(s);
  return s == 0.f || (s >= 0x1p-14f && s <= 0x1p7f);
}

// Two e4m3 codes times a float32 scale, rounded to bf16 (exact when the scale is a power of two
// and the product stays in range: docs/fp8-kv-cache.md).
__device__ __forceinline__ uint32_t e4m3x2_scaled_to_bf16(uint16_t codes, float scale) {
  const float2 f = __half22float2(__half2(__nv_cvt_fp8x2_to_halfraw2(codes, __NV_E4M3)));
  return pack2<__nv_bfloat16>(f.x * scale, f.y * scale);
}

// Four e4m3 codes (one word, code 0 in the low byte) as bf16 bits of their values times 2^-120,
// codes 0-1 in .x and 2-3 in .y: each code's exponent and mantissa moved into bf16's fields with
// integer operations (the conversion instructions are slow), exact for every code, subnormals and
// zeros included, but NaN (S.1111.111, which reads as +-480 * 2^-120). A bf16 product by 2^120
// (times a power-of-two scale) then gives the values.
__device__ __forceinline__ uint2 e4m3x4_to_bf16_bits_2p_minus120(uint32_t w) {
  const uint32_t lo = __byte_perm(w, 0, 0x1404), hi = __byte_perm(w, 0, 0x3424);  // bytes 1, 3
  return make_uint2(((lo >> 4) & 0x07F007F0u) | (lo & 0x80008000u),
                    ((hi >> 4) & 0x07F007F0u) | (hi & 0x80008000u));
}

// Code byte j of a and of b (j < 4) as bf16 bits of their values times 2^-120, a's in the low
// half: one PRMT puts each code in the high byte of its half (the low bytes, whatever they hold,
// fall outside the masks), then the same field moves as above.
__device__ __forceinline__ uint32_t e4m3_pair_to_bf16_bits_2p_minus120(uint32_t a, uint32_t b,
                                                                      int j) {
  const uint32_t w = __byte_perm(a, b, static_cast<uint32_t>(j * 0x11 + (j + 4) * 0x1100));
  return ((w >> 4) & 0x07F007F0u) | (w & 0x80008000u);
}

// Four e4m3 codes (one word) as two registers of two Elem values each, times 2^-120 (bf16) or 2^-8
// (fp16): .x holds bytes 1 and 3 (byte 1 in the low half), .y bytes 0 and 2. The same field moves
// as above without the PRMT, and the left shifts are integer multiplies, which run on the FMA pipe
// beside the ALU's masks. A product by e4m3_bits_unscale<Elem>() then gives the values, exactly.
template <typename Elem>
__device__ __forceinline__ uint2 e4m3x4_to_bits_interleaved(uint32_t w) {
  // Where a code's lowest bit goes in an Elem (its exponent's and mantissa's places).
  constexpr int kPos = std::is_same<Elem, __half>::value ? 7 : 4;
  constexpr uint32_t kField = std::is_same<Elem, __half>::value ? 0x3F803F80u : 0x07F007F0u;
  uint2 r;
  r.x = ((w >> (8 - kPos)) & kField) | (w & 0x80008000u);
  r.y = ((w * (1u << kPos)) & kField) | ((w * 256u) & 0x80008000u);
  return r;
}
// The product of two registers of two Elem values each (bits in, bits out): the step after the
// conversions above.
template <typename Elem>
__device__ __forceinline__ uint32_t mul2(uint32_t a, uint32_t b) {
  if constexpr (std::is_same<Elem, __half>::value) {
    const __half2 r = __hmul2(*reinterpret_cast<const __half2*>(&a),
                              *reinterpret_cast<const __half2*>(&b));
    return *reinterpret_cast<const uint32_t*>(&r);
  } else {
    const __nv_bfloat162 r = __hmul2(*reinterpret_cast<const __nv_bfloat162*>(&a),
                                     *reinterpret_cast<const __nv_bfloat162*>(&b));
    return *reinterpret_cast<const uint32_t*>(&r);
  }
}
template <typename Elem>
__host__ __device__ constexpr float e4m3_bits_unscale() {
  return std::is_same<Elem, __half>::value ? 256.f : 0x1p120f;
}

// 2^k as a float, for k within float's normal exponents.
__device__ __forceinline__ float pow2(int k) {
  return __uint_as_float(static_cast<uint32_t>(127 + k) << 23);
}

// Query rows split into two e4m3 terms (docs/fp8-kv-cache.md): the k of 2^k that puts a row's
// largest magnitude mx in [2^7, 2^8) (its biased exponent E: k = 134 - E); at most 2^100 (a row of
// zeros, or under 2^-93).
__device__ __forceinline__ int split_row_exponent(float mx) {
  return min(100, 134 - static_cast<int>((__float_as_uint(mx) >> 23) & 0xff));
}

// Two floats as two e4m3 codes (x in the low byte); values past +-448 (inf) become NaN, not
// saturated. kInRange: x and y are known within +-448, and that check is left out.
template <bool kInRange = false>
__device__ __forceinline__ uint32_t e4m3x2_of(float x, float y) {
  if constexpr (kInRange)
    return __nv_cvt_float2_to_fp8x2(make_float2(x, y), __NV_SATFINITE, __NV_E4M3);
  const float nan = __uint_as_float(0x7fc00000u);
  return __nv_cvt_float2_to_fp8x2(make_float2(fabsf(x) <= 448.f ? x : nan,
                                              fabsf(y) <= 448.f ? y : nan),
                                  __NV_SATFINITE, __NV_E4M3);
}

// x and y (a row's values times its 2^k, or probabilities times 2^8) as two terms of two codes
// each: c1 their e4m3 rounding, c2 the rounding of the rest (the differences are exact).
template <bool kInRange = false>
__device__ __forceinline__ void e4m3x2_split(float x, float y, uint32_t& c1, uint32_t& c2) {
  c1 = e4m3x2_of<kInRange>(x, y);
  const float2 back = __half22float2(__half2(__nv_cvt_fp8x2_to_halfraw2(c1, __NV_E4M3)));
  c2 = e4m3x2_of<kInRange>(x - back.x, y - back.y);
}

// The bytes of four words transposed: byte j of out[i] is byte i of word j (eight PRMTs). Four
// keys' codes of four values become the four values' codes of the keys, as an FP8 A fragment
// holds them.
__device__ __forceinline__ void bytes4x4_transpose(uint32_t w0, uint32_t w1, uint32_t w2,
                                                   uint32_t w3, uint32_t (&out)[4]) {
  const uint32_t lo01 = __byte_perm(w0, w1, 0x5140), lo23 = __byte_perm(w2, w3, 0x5140);
  const uint32_t hi01 = __byte_perm(w0, w1, 0x7362), hi23 = __byte_perm(w2, w3, 0x7362);
  out[0] = __byte_perm(lo01, lo23, 0x5410), out[1] = __byte_perm(lo01, lo23, 0x7632);
  out[2] = __byte_perm(hi01, hi23, 0x5410), out[3] = __byte_perm(hi01, hi23, 0x7632);
}

// 16-bit query rows made fp16 to meet codes converted by cvt (docs/fp8-kv-cache.md): the k of the
// power of two 2^k a row that puts its largest magnitude mx in [2^14, 2^15) (mx < 2^(E - 126) for
// its biased exponent E: k = 15 - (E - 126)), within float's normal powers of two both ways (a row
// under 2^-85, zero and subnormal ones too, takes 2^100; inf and NaN values stay so).
__device__ __forceinline__ int fp16_row_exponent(float mx) {
  return max(-113, min(100, 141 - static_cast<int>((__float_as_uint(mx) >> 23) & 0xff)));
}
}  // namespace fmla
