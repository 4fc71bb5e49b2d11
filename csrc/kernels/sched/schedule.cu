#include "../common/schedule_fields.h"
#include "../config.h"
#include "schedule.cuh"

namespace fmla {

__device__ __forceinline__ int64_t key_blocks(int32_t seqlen) {
  // Negative lengths are invalid input; they count as empty sequences.
  return seqlen > 0 ? (static_cast<int64_t>(seqlen) + kBlockN - 1) / kBlockN : 0;
}

// Walks the batch greedily (docs/schedule.md), one step per sequence or cut, in global memory: the
// path for batches or part counts too large to stage in shared memory. Without `cut`, each part
// takes whole sequences (up to one overhead more than its share) and the walk reports whether the
// parts covered the batch.
__device__ bool walk_global(const ScheduleParams& p, int64_t total, bool cut) {
  const int64_t payload = (total + p.num_sm_parts - 1) / p.num_sm_parts + kFixedOverheadBlocks +
                          (cut ? 0 : kFixedOverheadBlocks);
  int batch = 0, split = 0;
  int64_t block = 0;
  int32_t previous_length = 0;  // length of sequence batch - 1
  p.num_splits[0] = 0;
  for (int part = 0; part < p.num_sm_parts; ++part) {
    const int begin_batch = batch;
    const int64_t begin_token = block * kBlockN;
    const int begin_split = split;
    int64_t remaining = payload;
    int end_batch = batch - 1;
    int64_t end_token = previous_length;
    while (batch < p.b && remaining > kFixedOverheadBlocks) {
      const int32_t seqlen = max(0, p.cache_seqlens[batch * p.seqlens_stride]);
      const int64_t rest = key_blocks(seqlen) - block;
      if (rest + kFixedOverheadBlocks <= remaining) {  // the rest of this sequence fits
        remaining -= rest + kFixedOverheadBlocks;
        end_batch = batch;
        end_token = seqlen;
        previous_length = seqlen;
        p.num_splits[batch + 1] = ++split;
        ++batch;
        block = 0;
      } else if (cut) {  // cut it; the rest goes to the next part
        block += remaining - kFixedOverheadBlocks;
        end_batch = batch;
        end_token = block * kBlockN;
        ++split;
        remaining = 0;
      } else {
        break;  // it starts the next part
      }
    }
    int32_t* m = p.metadata + static_cast<int64_t>(part) * kMetadataInts;
    for (int i = 0; i < kMetadataInts; ++i) m[i] = 0;
    m[kMetaBeginBatch] = begin_batch, m[kMetaBeginToken] = static_cast<int32_t>(begin_token);
    m[kMetaEndBatch] = end_batch, m[kMetaEndToken] = static_cast<int32_t>(end_token);
    m[kMetaBeginSplit] = begin_split;
  }
  return batch == p.b;
}

// Inclusive prefix sum over the block (every thread passes one value); `warp_sums` holds
// kScheduleThreads / 32 values and may be reused once the call returns.
template <typename T>
__device__ __forceinline__ T block_inclusive_scan(T v, T* warp_sums) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int d = 1; d < 32; d *= 2) {
    const T o = __shfl_up_sync(0xffffffffu, v, d);
    if (lane >= d) v += o;
  }
  if (lane == 31) warp_sums[warp] = v;
  __syncthreads();
  for (int w = 0; w < warp; ++w) v += warp_sums[w];
  __syncthreads();
  return v;
}

// Largest i in [0, n] with sorted[i] <= x (sorted[0] <= x is given).
__device__ __forceinline__ int last_at_most(const int64_t* sorted, int n, int64_t x) {
  int lo = 0, hi = n;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (sorted[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// t_0 .. t_parts (docs/schedule.md, "Computing it in parallel") by one thread; I is int32_t when
// the total cost fits, which shortens the dependent chain per part. Without CUT the parts end at
// sequence boundaries, with one overhead more each, and the result says whether they reach the end.
template <typename I, bool CUT>
__device__ __forceinline__ bool step_parts(const int64_t* cum, int b, int parts, int64_t* start) {
  const I total = static_cast<I>(cum[b]);
  const I payload = static_cast<I>((cum[b] + parts - 1) / parts + kFixedOverheadBlocks +
                                   (CUT ? 0 : kFixedOverheadBlocks));
  const I step = payload - kFixedOverheadBlocks;  // >= 1
  int j = min(1, b);
  I boundary = static_cast<I>(cum[j]);
  I t = 0;
  int q = 0;
  start[0] = 0;
  while (q < parts) {
    if (t >= total) {
      for (++q; q <= parts; ++q) start[q] = total;
      break;
    }
    const I e = t + payload;
    while (boundary < e - kFixedOverheadBlocks && j < b) boundary = static_cast<I>(cum[++j]);
    if (boundary < e - kFixedOverheadBlocks) {
      t = total;  // every sequence left ends inside this part
    } else if (boundary <= e) {
      t = boundary;  // the part ends with the sequence before this boundary
    } else if (!CUT) {
      // The part ends before the sequence that does not fit; one that fits in no part fails.
      const I before = static_cast<I>(cum[j - 1]);
      if (before == t) return false;
      t = before;
    } else {
      // Cuts until a part's window [E - overhead, E] reaches the boundary.
      const I last = boundary - payload;
      do {
        t += step;
        start[++q] = t;
      } while (q < parts && t < last);
      continue;
    }
    start[++q] = t;
  }
  return t >= total;
}

// Whole sequences if there are as many as parts and they fit (docs/schedule.md), else cuts.
template <typename I>
__device__ __forceinline__ void place_parts(const int64_t* cum, int b, int parts, int64_t* start) {
  if (b < parts || !step_parts<I, false>(cum, b, parts, start))
    step_parts<I, true>(cum, b, parts, start);
}

// The schedule as positions on a tape (docs/schedule.md, "Computing it in parallel"): sequence i
// occupies [C_i, C_(i+1)) with C the prefix sum of the costs, and part p starts at t_p. One thread
// steps t_p -> t_(p+1) (a compare and a store per part); everything else is a prefix sum or a
// binary search that all threads share.
__global__ void __launch_bounds__(kScheduleThreads) schedule_kernel(const ScheduleParams p) {
  __shared__ int64_t cum[kScheduleSmemSeqs + 1];     // C_0 .. C_b
  __shared__ int64_t start[kScheduleSmemParts + 1];  // t_0 .. t_parts
  __shared__ int32_t cuts[kScheduleSmemParts + 1];   // cuts among t_1 .. t_q
  __shared__ int64_t warp_sums[kScheduleThreads / 32];
  const int b = p.b, parts = p.num_sm_parts, tid = threadIdx.x;

  if (b > kScheduleSmemSeqs || parts > kScheduleSmemParts) {
    int64_t cost = 0;
    for (int i = tid; i < b; i += kScheduleThreads)
      cost += key_blocks(p.cache_seqlens[i * p.seqlens_stride]) + kFixedOverheadBlocks;
    for (int d = 16; d > 0; d /= 2) cost += __shfl_xor_sync(0xffffffffu, cost, d);
    if (tid % 32 == 0) warp_sums[tid / 32] = cost;
    __syncthreads();
    if (tid == 0) {
      int64_t total = 0;
      for (int w = 0; w < kScheduleThreads / 32; ++w) total += warp_sums[w];
      // Whole sequences first when there are as many as parts (docs/schedule.md); the walk with
      // cuts rewrites every field.
      if (p.b < p.num_sm_parts || !walk_global(p, total, false)) walk_global(p, total, true);
    }
    return;
  }

  // C_(i+1) = C_i + blocks_i + overhead: costs staged coalesced, then each thread scans a chunk.
  for (int i = tid; i < b; i += kScheduleThreads)
    cum[i + 1] = key_blocks(p.cache_seqlens[i * p.seqlens_stride]) + kFixedOverheadBlocks;
  __syncthreads();
  const int per = (b + kScheduleThreads - 1) / kScheduleThreads;
  const int lo = min(b, tid * per), hi = min(b, lo + per);
  int64_t chunk = 0;
  for (int i = lo; i < hi; ++i) chunk += cum[i + 1];
  int64_t run = block_inclusive_scan(chunk, warp_sums) - chunk;
  for (int i = lo; i < hi; ++i) cum[i + 1] = run += cum[i + 1];
  if (tid == 0) cum[0] = 0;
  __syncthreads();

  // t_(p+1) from t_p: with E = t_p + payload, the first boundary C_j >= E - overhead ends the part
  // if it is <= E (whole sequences up to j), else the part cuts at E - overhead. Between boundaries
  // the parts cut at a steady payload - overhead apart: that run is a tight add-and-store loop.
  const int64_t total = cum[b];
  if (tid == 0) {
    // int32 when t + payload cannot overflow it.
    if (total < (int64_t{1} << 29)) place_parts<int32_t>(cum, b, parts, start);
    else place_parts<int64_t>(cum, b, parts, start);
  }
  __syncthreads();

  // A part boundary t_q inside a sequence (t_q > C_i) is a cut; number them.
  const int per_part = (parts + kScheduleThreads - 1) / kScheduleThreads;
  const int plo = min(parts, tid * per_part), phi = min(parts, plo + per_part);
  int32_t n_cuts = 0;
  for (int q = plo + 1; q <= phi; ++q)
    n_cuts += start[q] > cum[last_at_most(cum, b, start[q])];
  int32_t run_cuts = block_inclusive_scan(n_cuts, reinterpret_cast<int32_t*>(warp_sums)) - n_cuts;
  for (int q = plo + 1; q <= phi; ++q)
    cuts[q] = run_cuts += start[q] > cum[last_at_most(cum, b, start[q])];
  if (tid == 0) cuts[0] = 0;
  __syncthreads();

  for (int q = tid; q < parts; q += kScheduleThreads) {
    const int bi = last_at_most(cum, b, start[q]);
    const int ei = last_at_most(cum, b, start[q + 1]);
    const int64_t bk = start[q] - cum[bi], ek = start[q + 1] - cum[ei];
    int32_t* m = p.metadata + static_cast<int64_t>(q) * kMetadataInts;
    for (int i = 0; i < kMetadataInts; ++i) m[i] = 0;
    m[kMetaBeginBatch] = bi;
    m[kMetaBeginToken] = static_cast<int32_t>(bk * kBlockN);
    m[kMetaEndBatch] = ek > 0 ? ei : ei - 1;
    m[kMetaEndToken] = ek > 0 ? static_cast<int32_t>(ek * kBlockN)
                       : ei > 0 ? max(0, p.cache_seqlens[(ei - 1) * p.seqlens_stride])
                                : 0;
    m[kMetaBeginSplit] = bi + cuts[q];
  }
  // Sequences 0 .. i - 1 have i final splits, plus one for every cut before C_i.
  for (int i = tid; i <= b; i += kScheduleThreads) {
    if (i == 0) {
      p.num_splits[0] = 0;
      continue;
    }
    int lo_q = 0, hi_q = parts;  // number of q in [1, parts] with t_q < C_i
    while (lo_q < hi_q) {
      const int mid = (lo_q + hi_q + 1) / 2;
      if (start[mid] < cum[i]) lo_q = mid;
      else hi_q = mid - 1;
    }
    p.num_splits[i] = i + cuts[lo_q];
  }
}

cudaError_t launch_schedule(const ScheduleParams& p, cudaStream_t stream) {
  schedule_kernel<<<1, kScheduleThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fmla
