// MLA decode on sm_90a over fp8_e4m3 caches, 64 query rows a block: host side (device checks, the
// cache's tensor map, the launch).
#pragma once

#include <cuda.h>
#include <stdint.h>

#include "../common/sm90a_ready.h"
#include "../mla_decode_sm90/launch.cuh"  // encode_paged_cache_map, box_rows, paged_strides_fit
#include "kernel.cuh"
#include "launch.h"

namespace fmla {
namespace mla_e4m3_sm90 {

// The codes as [num_pages][page_size rows][576 bytes] (fp8_ds_mla: 656); a box is 128 codes of 64
// rows, or of a page's rows where pages are smaller (the fifth box's second half lies past column
// 576: zero-filled; fp8_ds_mla's fifth box is the bf16 rotary values, bytes 528..655).
inline bool encode_code_map(const DecodeParams& p, bool ds_mla, CUtensorMap* map) {
  return mla_sm90::encode_paged_cache_map(p, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, kBoxCodes,
                                          mla_sm90::box_rows(p), map,
                                          ds_mla ? kDsMlaTokenBytes : kMlaHeadDimQK);
}
// fp8_ds_mla's scales: 16 bytes of 64 rows (or of a page's rows) a box, unswizzled.
inline bool encode_scale_map(const DecodeParams& p, CUtensorMap* map) {
  return mla_sm90::encode_paged_cache_map(p, CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, kDsScaleRowBytes,
                                          mla_sm90::box_rows(p), map, kDsMlaTokenBytes,
                                          CU_TENSOR_MAP_SWIZZLE_NONE);
}

// Pages of a power of two of tokens, laid out as the cache's strides say.
inline bool pages_fit(const DecodeParams& p) {
  return p.page_size >= 1 && (p.page_size & (p.page_size - 1)) == 0 &&
         mla_sm90::paged_strides_fit(p);
}

// How tiles land for this page size (config.h).
inline CodeLoad code_load(int page_size) {
  if (page_size >= kBlockN) return CodeLoad::kTmaTiles;
  return page_size >= kMinPageRows ? CodeLoad::kTmaPages : CodeLoad::kGatherRows;
}

// The kernel for Query, DS_MLA and LOAD, if this device runs this library's sm_90a code.
template <typename Query, bool DS_MLA, CodeLoad LOAD>
bool launch_with(const DecodeParams& p, const CUtensorMap& map, const CUtensorMap& scale_map,
                 int device, cudaStream_t stream) {
  constexpr int kBytes = SmemLayout<kQueryForm<Query>, DS_MLA>::kBytes;
  if (!sm90a_kernel_ready<mla_decode_e4m3_sm90_kernel<Query, DS_MLA, LOAD>>(device, kBytes))
    return false;
  mla_decode_e4m3_sm90_kernel<Query, DS_MLA, LOAD>
      <<<Place::grid(p), kBlockThreads, kBytes, stream>>>(p, map, scale_map);
  return true;
}

}  // namespace mla_e4m3_sm90

// DS_MLA: an fp8_ds_mla cache (bf16 queries only).
template <typename Query, bool DS_MLA = false>
bool launch_mla_decode_e4m3_sm90_impl(const DecodeParams& p, cudaStream_t stream,
                                      cudaError_t* err) {
  using namespace mla_e4m3_sm90;
  static_assert(!DS_MLA || std::is_same<Query, __nv_bfloat16>::value, "fp8_ds_mla: bf16 queries");
  constexpr bool kCodesQ = kQueryForm<Query> == QueryForm::kCodes;  // descale_q with them only
  constexpr int64_t kQAlign = 16 / sizeof(Query);  // elements
  // Query rows are read 16 bytes at a time.
  if (p.h_kv != 1 || (p.descale_q != nullptr) != kCodesQ || !pages_fit(p) ||
      reinterpret_cast<uintptr_t>(p.k) % 16 != 0 || p.k_stride_row % 16 != 0 ||
      p.k_stride_page % 16 != 0 || reinterpret_cast<uintptr_t>(p.q) % 16 != 0 ||
      p.q_stride_b % kQAlign != 0 || p.q_stride_s % kQAlign != 0 || p.q_stride_h % kQAlign != 0)
    return false;
  if (DS_MLA && p.k_stride_row < kDsMlaTokenBytes) return false;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return false;
  CUtensorMap map{}, scale_map{};  // the gather kernel reads neither
  const CodeLoad load = code_load(p.page_size);
  if (load != CodeLoad::kGatherRows &&
      (!encode_code_map(p, DS_MLA, &map) || (DS_MLA && !encode_scale_map(p, &scale_map))))
    return false;
  bool launched = false;
  switch (load) {
    case CodeLoad::kTmaTiles:
      launched = launch_with<Query, DS_MLA, CodeLoad::kTmaTiles>(p, map, scale_map, device, stream);
      break;
    case CodeLoad::kTmaPages:
      launched = launch_with<Query, DS_MLA, CodeLoad::kTmaPages>(p, map, scale_map, device, stream);
      break;
    case CodeLoad::kGatherRows:
      launched =
          launch_with<Query, DS_MLA, CodeLoad::kGatherRows>(p, map, scale_map, device, stream);
      break;
  }
  if (!launched) return false;
  *err = cudaGetLastError();
  return true;
}

template <typename Query>
bool launch_mla_decode_e4m3_sm90(const DecodeParams& p, cudaStream_t stream, cudaError_t* err) {
  return launch_mla_decode_e4m3_sm90_impl<Query>(p, stream, err);
}

}  // namespace fmla
