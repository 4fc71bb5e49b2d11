// MLA decode on sm_90a: host side (device checks, the cache's tensor map, the launch).
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>
#include <stdint.h>

#include <type_traits>

#include "../common/sm90a_ready.h"
#include "kernel.cuh"
#include "launch.h"

namespace fmla {
namespace mla_sm90 {

// The driver's tensor-map encoder, looked up once through the runtime (no -lcuda needed).
inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static PFN_cuTensorMapEncodeTiled_v12000 encoder = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      fn = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  return encoder;
}

template <typename Elem, KvLoad LOAD, MlaCache CACHE>
bool kernel_ready(int device) {
  return sm90a_kernel_ready<mla_decode_sm90_kernel<Elem, LOAD, CACHE>>(device, SmemLayout::kBytes);
}

// A paged MLA cache as [num_pages][page_size rows][row_elems (576) elements of `type`,
// element_bytes each], strides in elements; a box is box_cols elements of box_rows rows, in the
// 128-byte swizzle (or `swizzle`), each of its reads promoted to `promotion` in L2.
inline bool encode_paged_cache_map(
    const DecodeParams& p, CUtensorMapDataType type, int element_bytes, int box_cols, int box_rows,
    CUtensorMap* map, int row_elems = kMlaHeadDimQK,
    CUtensorMapSwizzle swizzle = CU_TENSOR_MAP_SWIZZLE_128B,
    CUtensorMapL2promotion promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B) {
  if (tensor_map_encoder() == nullptr) return false;
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(row_elems),
                              static_cast<cuuint64_t>(p.page_size),
                              static_cast<cuuint64_t>(p.num_pages)};
  const cuuint64_t strides[2] = {static_cast<cuuint64_t>(p.k_stride_row) * element_bytes,
                                 static_cast<cuuint64_t>(p.k_stride_page) * element_bytes};
  const cuuint32_t box[3] = {static_cast<cuuint32_t>(box_cols), static_cast<cuuint32_t>(box_rows),
                             1};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  return tensor_map_encoder()(map, type, 3, const_cast<void*>(p.k), dims, strides, box,
                              element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, promotion,
                              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// A box's rows: a tile's 64, or a whole page where pages are smaller (the page-box loaders).
inline int box_rows(const DecodeParams& p) { return p.page_size < kBlockN ? p.page_size : kBlockN; }

// The 16-bit cache: a box is 64 columns of box_rows rows. Where one row group reads each tile (up
// to 64 query rows a KV head) its reads are promoted to 128 bytes, a box row's own line: up to 1.4%
// faster on those memory-bound rows than 256 bytes, which tiles that several row groups read keep
// (0.4-0.6% faster there on whole calls; bench/NOTES.md, v61).
template <typename Elem>
bool encode_cache_map(const DecodeParams& p, CUtensorMap* map) {
  const CUtensorMapDataType type = std::is_same<Elem, __half>::value
                                       ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16
                                       : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  const CUtensorMapL2promotion promotion = mla_row_groups(p.rows_per_kv) == 1
                                               ? CU_TENSOR_MAP_L2_PROMOTION_L2_128B
                                               : CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
  return encode_paged_cache_map(p, type, sizeof(Elem), kBoxCols, box_rows(p), map, kMlaHeadDimQK,
                                CU_TENSOR_MAP_SWIZZLE_128B, promotion);
}

// Rows and pages laid out as the cache's strides say: a row's 576 columns, then a page's rows.
inline bool paged_strides_fit(const DecodeParams& p) {
  return p.k_stride_row >= kMlaHeadDimQK && p.k_stride_page >= p.k_stride_row * p.page_size;
}

inline bool tma_layout_ok(const DecodeParams& p, KvLoad load) {
  return (load != KvLoad::kTmaPages ? mla_pages_fit_tma(p.page_size)
                                    : mla_pages_fit_tma_boxes(p.page_size)) &&
         paged_strides_fit(p);
}

// The producer forms a row's address from byte strides of 32 bits (kernel.cuh, produce_rows).
template <typename Elem>
bool gather_strides_fit(const DecodeParams& p) {
  constexpr int64_t kMax = UINT32_MAX / sizeof(Elem);
  return p.k_stride_page >= 0 && p.k_stride_page <= kMax && p.k_stride_row >= 0 &&
         p.k_stride_row <= kMax;
}

}  // namespace mla_sm90

template <typename Elem>
bool launch_mla_decode_sm90(const DecodeParams& p, MlaKvLoad load, cudaStream_t stream,
                            cudaError_t* err) {
  using namespace mla_sm90;
  if (p.h_kv != 1 || reinterpret_cast<uintptr_t>(p.k) % 16 != 0 ||
      (p.k_stride_row * sizeof(Elem)) % 16 != 0 || (p.k_stride_page * sizeof(Elem)) % 16 != 0)
    return false;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return false;
  CUtensorMap map{};
  auto launch_tma = [&](auto load_constant) {
    constexpr KvLoad kLoad = decltype(load_constant)::value;
    if (!tma_layout_ok(p, kLoad) || !kernel_ready<Elem, kLoad, MlaCache::k16Bit>(device) ||
        !encode_cache_map<Elem>(p, &map))
      return false;
    mla_decode_sm90_kernel<Elem, kLoad, MlaCache::k16Bit>
        <<<BlockPlace::grid(p), threads_for(kLoad), SmemLayout::kBytes, stream>>>(p, map);
    return true;
  };
  if (load == MlaKvLoad::kTmaTiles) {
    if (!launch_tma(std::integral_constant<KvLoad, KvLoad::kTmaTiles>{})) return false;
  } else if (load == MlaKvLoad::kTmaProducer) {
    if (!launch_tma(std::integral_constant<KvLoad, KvLoad::kTmaProducer>{})) return false;
  } else if (load == MlaKvLoad::kTmaPages) {
    if (!launch_tma(std::integral_constant<KvLoad, KvLoad::kTmaPages>{})) return false;
  } else {
    if (!gather_strides_fit<Elem>(p) ||
        !kernel_ready<Elem, KvLoad::kGatherRows, MlaCache::k16Bit>(device))
      return false;
    mla_decode_sm90_kernel<Elem, KvLoad::kGatherRows, MlaCache::k16Bit>  // never reads the map
        <<<BlockPlace::grid(p), threads_for(KvLoad::kGatherRows), SmemLayout::kBytes,
           stream>>>(p, map);
  }
  *err = cudaGetLastError();
  return true;
}

template <typename Elem, MlaCache CACHE>
bool launch_mla_decode_sm90_fp8(const DecodeParams& p, cudaStream_t stream, cudaError_t* err) {
  using namespace mla_sm90;
  if (p.h_kv != 1 || reinterpret_cast<uintptr_t>(p.k) % 16 != 0 || p.k_stride_row % 16 != 0 ||
      p.k_stride_page % 16 != 0)
    return false;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      !kernel_ready<Elem, KvLoad::kGatherRows, CACHE>(device))
    return false;
  const CUtensorMap map{};  // never read
  mla_decode_sm90_kernel<Elem, KvLoad::kGatherRows, CACHE>
      <<<BlockPlace::grid(p), threads_for(KvLoad::kGatherRows), SmemLayout::kBytes,
         stream>>>(p, map);
  *err = cudaGetLastError();
  return true;
}

}  // namespace fmla
