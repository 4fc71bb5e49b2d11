// The generic split-KV decode kernel (sm_80+; MLA where the sm_90a kernel cannot run, and GQA):
// its constants, with the reason.
#pragma once

#include "../config.h"

namespace fmla {

// 8 warps = 4 row groups of 16 rows x 2 halves (of the tile's keys for q.k, of the value columns
// for p.v). 8 warps give the register file room for the 64 x 512 float accumulator.
constexpr int kDecodeWarps = 8;
constexpr int kDecodeThreads = kDecodeWarps * 32;

constexpr int kMaxSmemPerBlock = 227 * 1024;  // Hopper's opt-in limit

}  // namespace fmla
