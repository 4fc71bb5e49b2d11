// The split-KV schedule of docs/schedule.md, ported line by line to C++ for checking the device
// kernel (which must agree bit for bit).
#pragma once

#include <stdint.h>

#include <algorithm>
#include <vector>

struct ScheduleRef {
  std::vector<int32_t> metadata;    // [num_sm_parts * 8]
  std::vector<int32_t> num_splits;  // [b + 1]
};

// The greedy walk at `payload`: cutting the sequence that does not fit (`cut`) or ending the part
// before it. False when the parts end before the batch does (only without cuts).
inline bool schedule_walk(const std::vector<int32_t>& seqlens, const std::vector<int64_t>& blocks,
                          int num_sm_parts, int64_t payload, bool cut, ScheduleRef* r) {
  const int kBlockN = 64, kOverhead = 5;
  const int b = static_cast<int>(seqlens.size());
  r->metadata.assign(static_cast<size_t>(num_sm_parts) * 8, 0);
  r->num_splits.assign(b + 1, 0);
  int batch = 0, split = 0;
  int64_t block = 0;
  for (int p = 0; p < num_sm_parts; ++p) {
    const int begin_batch = batch;
    const int64_t begin_token = block * kBlockN;
    const int begin_split = split;
    int64_t remaining = payload;
    int end_batch = batch - 1;
    int64_t end_token = batch > 0 ? std::max(seqlens[batch - 1], 0) : 0;
    while (batch < b && remaining > kOverhead) {
      const int64_t rest = blocks[batch] - block;
      if (rest + kOverhead <= remaining) {
        remaining -= rest + kOverhead;
        end_batch = batch;
        end_token = std::max(seqlens[batch], 0);
        split += 1;
        r->num_splits[batch + 1] = split;
        batch += 1;
        block = 0;
      } else if (cut) {
        block += remaining - kOverhead;
        end_batch = batch;
        end_token = block * kBlockN;
        split += 1;
        remaining = 0;
      } else {
        break;
      }
    }
    int32_t* m = &r->metadata[static_cast<size_t>(p) * 8];
    m[0] = begin_batch;
    m[1] = static_cast<int32_t>(begin_token);
    m[2] = end_batch;
    m[3] = static_cast<int32_t>(end_token);
    m[4] = begin_split;
  }
  return batch == b;
}

inline ScheduleRef schedule_ref(const std::vector<int32_t>& seqlens, int num_sm_parts) {
  const int kBlockN = 64, kOverhead = 5;
  const int b = static_cast<int>(seqlens.size());
  std::vector<int64_t> blocks(b);
  int64_t total = 0;
  for (int i = 0; i < b; ++i) {
    blocks[i] = (std::max(seqlens[i], 0) + kBlockN - 1) / kBlockN;
    total += blocks[i] + kOverhead;
  }
  const int64_t payload = (total + num_sm_parts - 1) / num_sm_parts + kOverhead;
  ScheduleRef r;
  // At least a sequence a part: whole sequences when each part may take one overhead more than its
  // share; else cuts.
  if (b < num_sm_parts || !schedule_walk(seqlens, blocks, num_sm_parts, payload + kOverhead, false, &r))
    schedule_walk(seqlens, blocks, num_sm_parts, payload, true, &r);
  return r;
}
