// fmla_mla_num_sm_parts and fmla_get_mla_metadata: the split-KV schedule (docs/schedule.md).
#include "../kernels/config.h"
#include "../kernels/sched/schedule.cuh"
#include "checks.h"

using namespace fmla;

// The C header publishes the schedule's constants; the kernels are built from config.h.
static_assert(FMLA_BLOCK_M == kBlockM, "flash_mla.h and kernels/config.h agree on rows a block");
static_assert(FMLA_BLOCK_N == kBlockN, "flash_mla.h and kernels/config.h agree on keys a tile");
static_assert(FMLA_FIXED_OVERHEAD_BLOCKS == kFixedOverheadBlocks,
              "flash_mla.h and kernels/config.h agree on the cost of a split");
static_assert(FMLA_METADATA_INTS == kMetadataInts,
              "flash_mla.h and kernels/config.h agree on the metadata row");

extern "C" {

int fmla_mla_num_sm_parts(int num_sms, int num_q_tokens_per_head_k, int num_heads_k) {
  if (num_sms <= 0 || num_q_tokens_per_head_k <= 0 || num_heads_k <= 0) return 1;
  // 64-bit: num_q_tokens_per_head_k + kBlockM - 1 overflows int near INT_MAX.
  const int64_t row_blocks =
      (static_cast<int64_t>(num_q_tokens_per_head_k) + kBlockM - 1) / kBlockM;
  const int64_t parts = num_sms / num_heads_k / row_blocks;
  return parts > 1 ? static_cast<int>(parts) : 1;
}

fmla_status fmla_get_mla_metadata(const fmla_tensor* cache_seqlens,
                                  int32_t num_q_tokens_per_head_k, int32_t num_heads_k,
                                  fmla_tensor* tile_scheduler_metadata, fmla_tensor* num_splits,
                                  void* stream) {
  FMLA_TRY(require_device());
  FMLA_TRY(check_tensor(cache_seqlens, "cache_seqlens", 1, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(tile_scheduler_metadata, "tile_scheduler_metadata", 2, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_tensor(num_splits, "num_splits", 1, {FMLA_DTYPE_INT32}));
  FMLA_TRY(check_contiguous(cache_seqlens, "cache_seqlens"));
  if (num_q_tokens_per_head_k < 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "num_q_tokens_per_head_k: expected >= 1, got %d",
                num_q_tokens_per_head_k);
  if (num_heads_k < 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "num_heads_k: expected >= 1, got %d", num_heads_k);
  const int64_t b = cache_seqlens->shape[0];
  const int64_t parts = tile_scheduler_metadata->shape[0];
  if (b > INT32_MAX - 1)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "cache_seqlens: expected at most %d sequences, got %lld",
                INT32_MAX - 1, static_cast<long long>(b));
  if (parts < 1 || parts > INT32_MAX)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "tile_scheduler_metadata: expected shape[0] (num_sm_parts) >= 1, got %lld",
                static_cast<long long>(parts));
  FMLA_TRY(check_dim(tile_scheduler_metadata, "tile_scheduler_metadata", 1, kMetadataInts));
  FMLA_TRY(check_contiguous(tile_scheduler_metadata, "tile_scheduler_metadata"));
  FMLA_TRY(check_dim(num_splits, "num_splits", 0, b + 1, "b + 1"));
  FMLA_TRY(check_contiguous(num_splits, "num_splits"));

  ScheduleParams p{};
  p.cache_seqlens = static_cast<const int32_t*>(cache_seqlens->data);
  p.seqlens_stride = cache_seqlens->strides[0];
  p.metadata = static_cast<int32_t*>(tile_scheduler_metadata->data);
  p.num_splits = static_cast<int32_t*>(num_splits->data);
  p.b = static_cast<int>(b);
  p.num_sm_parts = static_cast<int>(parts);
  return from_cuda(launch_schedule(p, static_cast<cudaStream_t>(stream)), "schedule_kernel launch");
}

}  // extern "C"
