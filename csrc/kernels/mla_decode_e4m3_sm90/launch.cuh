// MLA decode on sm_90a over fp8_e4m3 caches with e4m3 queries: host side (device checks, the
// cache's tensor map, the launch).
#pragma once

#include <cuda.h>
#include <stdint.h>

#include "../common/sm90a_ready.h"
#include "../mla_decode_sm90/launch.cuh"  // encode_paged_cache_map, tma_layout_ok
#include "kernel.cuh"
#include "launch.h"

namespace fmla {
namespace mla_e4m3_sm90 {

// The codes as [num_pages][page_size rows][576 bytes]; a box is 128 codes of 64 rows (the fifth
// box's second half lies past column 576: zero-filled).
inline bool encode_code_map(const DecodeParams& p, CUtensorMap* map) {
  return mla_sm90::encode_paged_cache_map(p, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, kBoxCodes, map);
}

}  // namespace mla_e4m3_sm90

inline bool launch_mla_decode_e4m3_sm90_impl(const DecodeParams& p, cudaStream_t stream,
                                             cudaError_t* err) {
  using namespace mla_e4m3_sm90;
  // Query rows are read 16 codes at a time.
  if (p.h_kv != 1 || p.descale_q == nullptr || !mla_sm90::tma_layout_ok(p) ||
      reinterpret_cast<uintptr_t>(p.k) % 16 != 0 || p.k_stride_row % 16 != 0 ||
      p.k_stride_page % 16 != 0 || reinterpret_cast<uintptr_t>(p.q) % 16 != 0 ||
      p.q_stride_b % 16 != 0 || p.q_stride_s % 16 != 0 || p.q_stride_h % 16 != 0)
    return false;
  int device = 0;
  CUtensorMap map{};
  if (cudaGetDevice(&device) != cudaSuccess ||
      !sm90a_kernel_ready<mla_decode_e4m3_sm90_kernel>(device, SmemLayout::kBytes) ||
      !encode_code_map(p, &map))
    return false;
  mla_decode_e4m3_sm90_kernel<<<Place::grid(p), kThreads, SmemLayout::kBytes, stream>>>(p, map);
  *err = cudaGetLastError();
  return true;
}

}  // namespace fmla
