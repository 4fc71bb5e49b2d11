// The GQA / MHA / MQA decode kernel, 16 query rows of a KV head a block: its constants, with the
// reason.
#pragma once

#include "../config.h"

namespace fmla {
namespace gqa {

// Query rows of one KV head (s_q * h_q / h_kv) a block takes: one m16 MMA tile. Decode with
// group sizes up to 16 (or s_q * group <= 16) is memory-bound; over 16-bit caches larger row
// counts take the generic 64-row kernel, whose tensor-core work then pays for itself, and over
// e4m3 caches (no generic kernel) a block for each 16 rows.
constexpr int kMaxRows = 16;

// Whether the kernel merges the sequences it cuts itself (merge.cuh): not with e4m3 queries, whose
// kernel ptxas gives 235-239 registers instead of 255 beside the merge's code, 3% slower on every
// row (bench/NOTES.md, v39); the combine kernel merges theirs. The kernel's traits and the
// launcher (launch.h) both ask this.
constexpr bool kernel_merges_splits(bool e4m3_queries) { return !e4m3_queries; }

// One block per SM (the schedule's parts times the KV heads fill the SMs): its shared memory goes
// to as many cache tiles in flight as fit, the bytes that keep HBM busy.
constexpr int kSmemBudget = 227 * 1024;
constexpr int kMaxStages = 8;

}  // namespace gqa
}  // namespace fmla
