// Float64 CPU reference of paged decode attention (DESIGN.md semantics), used to validate the
// float32 GPU reference kernel on small shapes.
#pragma once

#include <math.h>
#include <stdint.h>

#include <vector>

// q [b, s_q, h_q, d_qk], k [pages, ps, h_kv, d_qk], v [pages, ps, h_kv, d_v] (v == nullptr: the
// first d_v columns of k), all as float, contiguous. Writes out [b, s_q, h_q, d_v], lse [b, h_q, s_q].
inline void cpu_reference(const std::vector<float>& q, const std::vector<float>& k,
                          const std::vector<float>* v, const std::vector<int32_t>& block_table,
                          int max_pages, const std::vector<int32_t>& seqlens, int s_q, int h_q,
                          int h_kv, int d_qk, int d_v, int page_size, double scale, bool causal,
                          std::vector<double>& out, std::vector<double>& lse) {
  const int b = static_cast<int>(seqlens.size());
  const int v_dim = v ? d_v : d_qk;
  out.assign(static_cast<size_t>(b) * s_q * h_q * d_v, 0.0);
  lse.assign(static_cast<size_t>(b) * h_q * s_q, 0.0);
  for (int i = 0; i < b; ++i)
    for (int j = 0; j < s_q; ++j)
      for (int h = 0; h < h_q; ++h) {
        const int g = h / (h_q / h_kv);
        const int L = seqlens[i];
        const int limit = causal ? std::min(L, L - s_q + j + 1) : L;
        double* o = &out[((static_cast<size_t>(i) * s_q + j) * h_q + h) * d_v];
        double& l = lse[(static_cast<size_t>(i) * h_q + h) * s_q + j];
        if (limit <= 0) {
          l = INFINITY;
          continue;
        }
        const float* qr = &q[((static_cast<size_t>(i) * s_q + j) * h_q + h) * d_qk];
        std::vector<double> s(limit);
        double mx = -INFINITY;
        for (int t = 0; t < limit; ++t) {
          const size_t page = block_table[static_cast<size_t>(i) * max_pages + t / page_size];
          const float* kr = &k[((page * page_size + t % page_size) * h_kv + g) * d_qk];
          double acc = 0;
          for (int d = 0; d < d_qk; ++d) acc += static_cast<double>(qr[d]) * kr[d];
          s[t] = acc * scale;
          mx = std::max(mx, s[t]);
        }
        double sum = 0;
        for (int t = 0; t < limit; ++t) sum += exp(s[t] - mx);
        for (int t = 0; t < limit; ++t) {
          const double w = exp(s[t] - mx) / sum;
          const size_t page = block_table[static_cast<size_t>(i) * max_pages + t / page_size];
          const float* vr = v ? &(*v)[((page * page_size + t % page_size) * h_kv + g) * d_v]
                              : &k[((page * page_size + t % page_size) * h_kv + g) * v_dim];
          for (int d = 0; d < d_v; ++d) o[d] += w * vr[d];
        }
        l = mx + log(sum);
      }
}
