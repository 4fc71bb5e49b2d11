// Split-KV combine: merges the float32 partials (o_k, lse_k) of every sequence that the schedule cut
// into several splits:  lse = ln(sum_k exp(lse_k)),  out = sum_k exp(lse_k - lse) * o_k.
// Sequences with one split were written by the decode kernel and are skipped. A partial with lse_k = -inf (no key attended in that split) weighs 0, and a row with no key
// attended at all gets out = 0, lse = +inf.
#pragma once

#include <math.h>

#include "../config.h"
#include "../mla_decode/params.h"
#include "../ptx.cuh"

namespace fmla {

// A persistent grid (a couple of blocks per SM) instead of one block per (part, row): most parts
// start no split sequence, and blocks that only find that out cost a memory round trip each.
//
// Each block first lists, in shared memory, the sequences with several splits: part q cuts its last
// sequence exactly when part q + 1 begins inside it, and lists it if part q also holds its first
// split (q does not itself begin inside it); at most num_sm_parts - 1 sequences have several splits. Then teams of D_V / 4 threads (a float4 of the row each) take the
// (sequence, row) items in turn.
template <typename Elem, int D_V>
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(const DecodeParams p) {
  constexpr int kTeam = D_V / 4;
  constexpr int kTeams = kCombineThreads / kTeam;
  static_assert(kTeam <= kCombineThreads && kCombineThreads % kTeam == 0, "team size");
  __shared__ int32_t split_seqs[kCombineMaxSeqs];
  __shared__ int32_t count;

  const int tid = threadIdx.x, team = tid / kTeam, col = (tid % kTeam) * 4;
  const int total_rows = p.s_q * p.h_q;
  const int64_t split_stride = static_cast<int64_t>(total_rows) * D_V;
  const int team_id = blockIdx.x * kTeams + team, team_stride = gridDim.x * kTeams;

  // Rounds of kCombineMaxSeqs candidate parts (one round unless num_sm_parts is huge).
  for (int round = 0; round * kCombineMaxSeqs < p.num_sm_parts - 1; ++round) {
    if (tid == 0) count = 0;
    __syncthreads();
    for (int q = round * kCombineMaxSeqs + tid;
         q < min(p.num_sm_parts - 1, (round + 1) * kCombineMaxSeqs); q += kCombineThreads) {
      const int32_t* meta = p.sched + q * kMetadataInts;
      const int end_batch = meta[2];
      const bool cut_after = meta[kMetadataInts] == end_batch && meta[kMetadataInts + 1] > 0;
      const bool cut_before = meta[0] == end_batch && meta[1] > 0;  // not the sequence's first part
      if (cut_after && !cut_before)
        split_seqs[atomicAdd(&count, 1)] = end_batch;  // order is irrelevant: items are independent
    }
    __syncthreads();
    const int items = count * total_rows;
    for (int item = team_id; item < items; item += team_stride) {
      const int bi = split_seqs[item / total_rows], row = item % total_rows;
      const int first = p.num_splits[bi];
      const int n = p.num_splits[bi + 1] - first;
      const float* lse_k = p.lse_accum + static_cast<int64_t>(first) * total_rows + row;
      float max_lse = -INFINITY;
#pragma unroll 8
      for (int k = 0; k < n; ++k) max_lse = fmaxf(max_lse, lse_k[static_cast<int64_t>(k) * total_rows]);
      float sum = 0.f;
      if (max_lse != -INFINITY) {
#pragma unroll 8
        for (int k = 0; k < n; ++k) sum += expf(lse_k[static_cast<int64_t>(k) * total_rows] - max_lse);
      }
      const bool empty = !(sum > 0.f);
      const float lse = empty ? INFINITY : max_lse + logf(sum);
      float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
      if (!empty) {
        const float* o = p.o_accum + (static_cast<int64_t>(first) * total_rows + row) * D_V + col;
#pragma unroll 8
        for (int k = 0; k < n; ++k) {  // independent loads: many splits in flight per thread
          const float w = expf(lse_k[static_cast<int64_t>(k) * total_rows] - lse);
          const float4 v = *reinterpret_cast<const float4*>(o + k * split_stride);
          acc.x += w * v.x;
          acc.y += w * v.y;
          acc.z += w * v.z;
          acc.w += w * v.w;
        }
      }
      const int g = row / p.rows_per_kv, m = row % p.rows_per_kv;
      const int j = m / p.heads_per_kv;
      const int h = g * p.heads_per_kv + m % p.heads_per_kv;
      Elem* out = static_cast<Elem*>(p.out) + bi * p.o_stride_b + j * p.o_stride_s + h * p.o_stride_h;
      uint2 packed;
      packed.x = pack2<Elem>(acc.x, acc.y);
      packed.y = pack2<Elem>(acc.z, acc.w);
      *reinterpret_cast<uint2*>(out + col) = packed;
      if (col == 0) p.lse[bi * p.lse_stride_b + h * p.lse_stride_h + j * p.lse_stride_s] = lse;
    }
    __syncthreads();  // split_seqs and count are rebuilt by the next round
  }
}

template <typename Elem, int D_V>
cudaError_t launch_combine(const DecodeParams& p, cudaStream_t stream) {
  if (p.num_sm_parts < 2) return cudaSuccess;  // one part never cuts a sequence
  int device = 0, sms = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err != cudaSuccess) return err;
  combine_kernel<Elem, D_V><<<kCombineBlocksPerSm * sms, kCombineThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace fmla
