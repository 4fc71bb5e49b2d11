// Host cost of a launch on the machine at hand, beside the cost of fmla_mla_decode and
// fmla_get_mla_metadata called from C on a tiny problem (b = 1, s_k = 64, h_q = 16): how much of a
// decode call's host time is the platform's launch cost and how much is the library's.
//   nvcc -std=c++17 -arch=sm_90a -Icsrc/include -o build/launch_cost test/native/launch_cost.cu \
//     -Lbuild -lflashmla -Xlinker -rpath -Xlinker $PWD/build && build/launch_cost
#include <chrono>
#include <cstdio>
#include <vector>
#include <cuda_runtime.h>
#include "flash_mla.h"
__global__ void empty_kernel() {}
static double now_us() { return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
static fmla_tensor T(void* p, int dt, std::vector<long> shape) {
  fmla_tensor t{}; t.data = p; t.dtype = dt; t.ndim = (int)shape.size();
  long s = 1; for (int i = t.ndim - 1; i >= 0; --i) { t.shape[i] = shape[i]; t.strides[i] = s; s *= shape[i]; }
  return t;
}
int main() {
  cudaStream_t st; cudaStreamCreate(&st);
  for (int i = 0; i < 100; i++) empty_kernel<<<1, 32, 0, st>>>();
  cudaStreamSynchronize(st);
  double t0 = now_us(); for (int i = 0; i < 1000; i++) empty_kernel<<<1, 32, 0, st>>>(); double t1 = now_us();
  cudaStreamSynchronize(st);
  printf("empty kernel launch: %.2f us/launch (enqueue)\n", (t1 - t0) / 1000);
  void *q, *kv, *bt, *sl, *tsm, *ns, *out, *lse, *ws;
  cudaMalloc(&q, 16 * 576 * 2); cudaMalloc(&kv, 2 * 64 * 576 * 2); cudaMalloc(&bt, 8); cudaMalloc(&sl, 4);
  cudaMalloc(&tsm, 132 * 8 * 4); cudaMalloc(&ns, 8); cudaMalloc(&out, 16 * 512 * 2); cudaMalloc(&lse, 64); cudaMalloc(&ws, 16 << 20);
  int h_bt[2] = {0, 1}, h_sl[1] = {64};
  cudaMemcpy(bt, h_bt, 8, cudaMemcpyHostToDevice); cudaMemcpy(sl, h_sl, 4, cudaMemcpyHostToDevice);
  cudaMemset(q, 0x3c, 16 * 576 * 2); cudaMemset(kv, 0x3c, 2 * 64 * 576 * 2);
  fmla_tensor tq = T(q, 1, {1, 1, 16, 576}), tkv = T(kv, 1, {2, 64, 1, 576}), tbt = T(bt, 4, {1, 2}), tsl = T(sl, 4, {1});
  int parts = fmla_mla_num_sm_parts(132, 16, 1);
  fmla_tensor ttsm = T(tsm, 4, {parts, 8}), tns = T(ns, 4, {2}), tout = T(out, 1, {1, 1, 16, 512}), tlse = T(lse, 0, {1, 16, 1});
  if (fmla_get_mla_metadata(&tsl, 16, 1, &ttsm, &tns, st)) { printf("meta: %s\n", fmla_last_error()); return 1; }
  auto decode = [&] { return fmla_mla_decode(&tq, &tkv, &tbt, &tsl, 512, &ttsm, &tns, 0.04f, 0, &tout, &tlse, ws, 16 << 20, st); };
  for (int i = 0; i < 100; i++) if (decode()) { printf("decode: %s\n", fmla_last_error()); return 1; }
  cudaStreamSynchronize(st);
  t0 = now_us(); for (int i = 0; i < 1000; i++) decode(); t1 = now_us(); cudaStreamSynchronize(st); double t2 = now_us();
  printf("fmla_mla_decode: %.2f us/call enqueue, %.2f us/call wall\n", (t1 - t0) / 1000, (t2 - t0) / 1000);
  t0 = now_us(); for (int i = 0; i < 1000; i++) fmla_get_mla_metadata(&tsl, 16, 1, &ttsm, &tns, st); t1 = now_us(); cudaStreamSynchronize(st);
  printf("fmla_get_mla_metadata: %.2f us/call enqueue\n", (t1 - t0) / 1000);
  return 0;
}
