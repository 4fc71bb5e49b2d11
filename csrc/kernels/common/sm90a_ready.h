// Whether a kernel's sm_90a code is in this library and the current device can run it.
#pragma once

#include <cuda_runtime.h>

namespace fmla {

// A build that carries only older PTX has an empty body for sm_90a kernels (their code is guarded
// by __CUDA_ARCH_FEAT_SM90_ALL), so the check is on the binary: sm_90 code on an sm_90 device. It
// also opts KERNEL into `smem_bytes` of dynamic shared memory. Checked once a device (0 = not yet,
// 1 = yes, 2 = no).
template <auto KERNEL>
bool sm90a_kernel_ready(int device, int smem_bytes) {
  static int state[64] = {};
  if (device < 0 || device >= 64) return false;
  int s = __atomic_load_n(&state[device], __ATOMIC_ACQUIRE);
  if (s == 0) {
    int major = 0, minor = 0;
    cudaFuncAttributes attr{};
    s = 2;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess &&
        major == 9 && minor == 0 && cudaFuncGetAttributes(&attr, KERNEL) == cudaSuccess &&
        attr.binaryVersion == 90 && attr.ptxVersion >= 90 &&
        cudaFuncSetAttribute(KERNEL, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes) ==
            cudaSuccess)
      s = 1;
    cudaGetLastError();  // a refusal above is not the caller's error
    __atomic_store_n(&state[device], s, __ATOMIC_RELEASE);
  }
  return s == 1;
}

// Whether clusters of `cluster` blocks of KERNEL (threads and dynamic shared memory as given, after
// sm90a_kernel_ready) can be placed on the current device at all: a partitioned GPU may not hold
// one. Checked once a device, as above.
template <auto KERNEL>
bool sm90a_clusters_fit(int device, int threads, int smem_bytes, int cluster) {
  static int state[64] = {};
  if (device < 0 || device >= 64) return false;
  int s = __atomic_load_n(&state[device], __ATOMIC_ACQUIRE);
  if (s == 0) {
    cudaLaunchAttribute attr{};
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = cluster, attr.val.clusterDim.y = 1, attr.val.clusterDim.z = 1;
    cudaLaunchConfig_t config{};
    config.gridDim = dim3(cluster), config.blockDim = dim3(threads);
    config.dynamicSmemBytes = smem_bytes, config.attrs = &attr, config.numAttrs = 1;
    int clusters = 0;
    s = cudaOccupancyMaxActiveClusters(&clusters, KERNEL, &config) == cudaSuccess && clusters > 0
            ? 1
            : 2;
    cudaGetLastError();
    __atomic_store_n(&state[device], s, __ATOMIC_RELEASE);
  }
  return s == 1;
}

}  // namespace fmla
