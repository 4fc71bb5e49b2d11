// MLA decode on sm_90a over fp8_e4m3 caches with e4m3 queries: host side (device checks, the
// cache's tensor map, the launch).
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>
#include <stdint.h>

#include "../common/sm90a_ready.h"
#include "../mla_decode_sm90/launch.cuh"  // tensor_map_encoder, tma_layout_ok
#include "kernel.cuh"
#include "launch.h"

namespace fmla {
namespace mla_e4m3_sm90 {

// The codes as [num_pages][page_size rows][576 bytes]; a box is 128 codes of 64 rows.
inline bool encode_code_map(const DecodeParams& p, CUtensorMap* map) {
  if (mla_sm90::tensor_map_encoder() == nullptr) return false;
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(kMlaHeadDimQK),
                              static_cast<cuuint64_t>(p.page_size),
                              static_cast<cuuint64_t>(p.num_pages)};
  const cuuint64_t strides[2] = {static_cast<cuuint64_t>(p.k_stride_row),
                                 static_cast<cuuint64_t>(p.k_stride_page)};
  const cuuint32_t box[3] = {static_cast<cuuint32_t>(kBoxCodes), static_cast<cuuint32_t>(kBlockN),
                             1};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  return mla_sm90::tensor_map_encoder()(
             map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 3, const_cast<void*>(p.k), dims, strides, box,
             element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
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
