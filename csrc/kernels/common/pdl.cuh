// Programmatic dependent launch (sm_90+): a kernel launched with launch_dependent() may be set up
// and scheduled while the previous kernel in the stream finishes, which hides most of its launch
// latency; it must call wait_for_previous_kernel() before touching memory that the previous kernel
// (or anything before it in the stream) writes or reads. The one exception: where the previous
// kernel is an ordinary launch, it began after all earlier work had finished, so what only that
// earlier work wrote may be read before the wait (the combine kernel reads the schedule so).
// Elsewhere, an ordinary launch.
#pragma once

#include <cuda_runtime.h>

#include <mutex>

namespace fmla {

__device__ __forceinline__ void wait_for_previous_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Lets the next kernel in the stream (launched with launch_dependent) be scheduled now, beside this
// one: its blocks then sit in wait_for_previous_kernel() until this grid has finished and its writes
// are visible, so calling this early is safe and hides the next launch behind this kernel's work.
__device__ __forceinline__ void allow_next_kernel_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// Whether the current device takes programmatic launches (compute capability 9.0 or newer),
// remembered per device. FMLA_NO_PDL builds the library without them (for comparisons).
inline bool device_takes_pdl() {
#ifdef FMLA_NO_PDL
  return false;
#else
  static int known[64] = {};  // 0 unknown, 1 no, 2 yes
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= 64) return false;
  int state = __atomic_load_n(&known[device], __ATOMIC_RELAXED);
  if (state == 0) {
    int major = 0;
    const cudaError_t err =
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
    state = err == cudaSuccess && major >= 9 ? 2 : 1;
    __atomic_store_n(&known[device], state, __ATOMIC_RELAXED);
  }
  return state == 2;
#endif
}

// Whether `kernel` was compiled with its wait (from sm_90 code or PTX): a library that carries only
// older PTX runs kernels without it on a Hopper device, and those must not start early. Remembered
// per kernel (a few) and device.
inline bool kernel_waits_for_previous(const void* kernel) {
  struct Entry { const void* kernel; int device; bool waits; };
  static std::mutex lock;
  static Entry known[32];
  static int used = 0;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return false;
  std::lock_guard<std::mutex> guard(lock);
  for (int i = 0; i < used; ++i)
    if (known[i].kernel == kernel && known[i].device == device) return known[i].waits;
  cudaFuncAttributes attr{};
  const bool waits = cudaFuncGetAttributes(&attr, kernel) == cudaSuccess && attr.ptxVersion >= 90;
  cudaGetLastError();
  if (used < 32) known[used++] = Entry{kernel, device, waits};
  return waits;
}

template <typename... Params, typename... Args>
cudaError_t launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                             cudaStream_t stream, Args&&... args) {
  if (device_takes_pdl() && kernel_waits_for_previous(reinterpret_cast<const void*>(kernel))) {
    cudaLaunchAttribute attribute;
    attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config = {};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = smem;
    config.stream = stream;
    config.attrs = &attribute;
    config.numAttrs = 1;
    const cudaError_t err = cudaLaunchKernelEx(&config, kernel, static_cast<Args&&>(args)...);
    if (err == cudaSuccess) return cudaSuccess;
    cudaGetLastError();  // not taken here (e.g. an older driver): fall back to a plain launch
  }
  kernel<<<grid, block, smem, stream>>>(static_cast<Args&&>(args)...);
  return cudaGetLastError();
}

}  // namespace fmla
