// MLA decode over FP8 caches for few query rows (sm_90a): host side.
#pragma once

#include <stdint.h>

#include "../common/sm90a_ready.h"
#include "kernel.cuh"
#include "launch.h"

namespace fmla {
namespace mla_fp8_sm90 {

template <typename Query, MlaCache CACHE, int COLS, bool EARLY_V>
bool launch_cols(const DecodeParams& p, cudaStream_t stream, cudaError_t* err) {
  constexpr auto kernel = mla_decode_fp8_sm90_kernel<Query, CACHE, COLS, EARLY_V>;
  constexpr int bytes = SmemLayout<CACHE, COLS, EARLY_V>::kBytes;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || !sm90a_kernel_ready<kernel>(device, bytes))
    return false;
  kernel<<<dim3(p.num_sm_parts, p.h_kv, 1), kThreads, bytes, stream>>>(p);
  *err = cudaGetLastError();
  return true;
}

}  // namespace mla_fp8_sm90

template <typename Query, MlaCache CACHE>
bool launch_mla_decode_fp8_sm90(const DecodeParams& p, cudaStream_t stream, cudaError_t* err) {
  using namespace mla_fp8_sm90;
  static_assert(CACHE != MlaCache::k16Bit, "FP8 caches only");
  const int64_t q_align = 16 / sizeof(Query);  // query rows are read 16 bytes at a time
  if (p.h_kv != 1 || p.rows_per_kv > kMaxRows || reinterpret_cast<uintptr_t>(p.k) % 16 != 0 ||
      p.k_stride_row % 16 != 0 || p.k_stride_page % 16 != 0 ||
      reinterpret_cast<uintptr_t>(p.q) % 16 != 0 || p.q_stride_b % q_align != 0 ||
      p.q_stride_s % q_align != 0 || p.q_stride_h % q_align != 0)
    return false;
  // 16 columns over tiles copied a row at a time: V's codes loaded early (traits.h).
  if (p.rows_per_kv > 16) return launch_cols<Query, CACHE, 32, false>(p, stream, err);
  return copy_run<CACHE>(p.page_size, p.k_stride_row) == 1
             ? launch_cols<Query, CACHE, 16, true>(p, stream, err)
             : launch_cols<Query, CACHE, 16, false>(p, stream, err);
}

}  // namespace fmla
