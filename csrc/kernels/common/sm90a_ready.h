// Whether a kernel's sm_90a code is in this library and the current device can run it.
#pragma once

#include <cuda_runtime.h>

namespace fmla {

// `check()` once a device, its answer kept in `state` (0 = not yet, 1 = yes, 2 = no); a refusal
// of a runtime call inside is not the caller's error.
template <typename Check>
bool once_a_device(int (&state)[64], int device, Check check) {
  if (device < 0 || device >= 64) return false;
  int s = __atomic_load_n(&state[device], __ATOMIC_ACQUIRE);
  if (s == 0) {
    s = check() ? 1 : 2;
    cudaGetLastError();
    __atomic_store_n(&state[device], s, __ATOMIC_RELEASE);
  }
  return s == 1;
}

// A build that carries only older PTX has an empty body for sm_90a kernels (their code is guarded
// by __CUDA_ARCH_FEAT_SM90_ALL), so the check is on the binary: sm_90 code on an sm_90 device. It
// also opts KERNEL into `smem_bytes` of dynamic shared memory.
template <auto KERNEL>
bool sm90a_kernel_ready(int device, int smem_bytes) {
  static int state[64] = {};
  return once_a_device(state, device, [&] {
    int major = 0, minor = 0;
    cudaFuncAttributes attr{};
    return cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) ==
               cudaSuccess &&
           cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) ==
               cudaSuccess &&
           major == 9 && minor == 0 && cudaFuncGetAttributes(&attr, KERNEL) == cudaSuccess &&
           attr.binaryVersion == 90 && attr.ptxVersion >= 90 &&
           cudaFuncSetAttribute(KERNEL, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                smem_bytes) == cudaSuccess;
  });
}

}  // namespace fmla
