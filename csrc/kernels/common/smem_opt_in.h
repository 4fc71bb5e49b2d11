// Opting a kernel into more than 48 KB of dynamic shared memory, once a device.
#pragma once

#include <cuda_runtime.h>

namespace fmla {

// The opt-in limit is per function and device; setting it is cheap but not free, so each
// instantiation (KERNEL) remembers the devices already done.
template <auto KERNEL>
cudaError_t opt_in_shared_memory(int bytes) {
  static unsigned long long configured_devices = 0;
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  const unsigned long long bit = device < 64 ? 1ull << device : 0ull;
  if (__atomic_load_n(&configured_devices, __ATOMIC_ACQUIRE) & bit) return cudaSuccess;
  err = cudaFuncSetAttribute(KERNEL, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (err == cudaSuccess) __atomic_fetch_or(&configured_devices, bit, __ATOMIC_ACQ_REL);
  return err;
}

}  // namespace fmla
