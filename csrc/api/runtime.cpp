// Thin wrappers over the CUDA runtime (linked statically into the library) for callers that reach
// the library through an FFI: devices, memory, streams, events and graph capture.
#include <stdio.h>
#include <string.h>

#include "checks.h"

using namespace fmla;

namespace {
cudaStream_t as_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

fmla_status require_out(const void* p, const char* name) {
  if (!p) return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected a pointer, got NULL", name);
  return FMLA_OK;
}

fmla_status require_valid_device(int device) {
  int count = 0;
  FMLA_TRY(from_cuda(cudaGetDeviceCount(&count), "cudaGetDeviceCount"));
  if (device < 0 || device >= count)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "device: expected 0 <= device < %d, got %d", count,
                device);
  return FMLA_OK;
}
}  // namespace

extern "C" {

fmla_status fmla_device_count(int* count) {
  FMLA_TRY(require_out(count, "count"));
  *count = 0;
  FMLA_TRY(require_device());
  return from_cuda(cudaGetDeviceCount(count), "cudaGetDeviceCount");
}

fmla_status fmla_device_properties(int device, fmla_device_props* props) {
  FMLA_TRY(require_out(props, "props"));
  FMLA_TRY(require_device());
  FMLA_TRY(require_valid_device(device));
  cudaDeviceProp p;
  FMLA_TRY(from_cuda(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties"));
  memset(props, 0, sizeof *props);
  strncpy(props->name, p.name, sizeof props->name - 1);
  props->multiprocessor_count = p.multiProcessorCount;
  props->compute_capability_major = p.major;
  props->compute_capability_minor = p.minor;
  props->total_global_memory_bytes = p.totalGlobalMem;
  props->l2_cache_bytes = static_cast<uint64_t>(p.l2CacheSize);
  props->max_shared_memory_per_block_optin_bytes = p.sharedMemPerBlockOptin;
  return FMLA_OK;
}

fmla_status fmla_set_device(int device) {
  FMLA_TRY(require_device());
  FMLA_TRY(require_valid_device(device));
  return from_cuda(cudaSetDevice(device), "cudaSetDevice");
}

fmla_status fmla_get_device(int* device) {
  FMLA_TRY(require_out(device, "device"));
  FMLA_TRY(require_device());
  return from_cuda(cudaGetDevice(device), "cudaGetDevice");
}

fmla_status fmla_device_synchronize(void) {
  FMLA_TRY(require_device());
  return from_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

fmla_status fmla_memory_info(size_t* free_bytes, size_t* total_bytes) {
  FMLA_TRY(require_out(free_bytes, "free_bytes"));
  FMLA_TRY(require_out(total_bytes, "total_bytes"));
  *free_bytes = *total_bytes = 0;
  FMLA_TRY(require_device());
  return from_cuda(cudaMemGetInfo(free_bytes, total_bytes), "cudaMemGetInfo");
}

fmla_status fmla_malloc(void** ptr, size_t bytes) {
  FMLA_TRY(require_out(ptr, "ptr"));
  *ptr = nullptr;
  FMLA_TRY(require_device());
  if (bytes == 0) return FMLA_OK;
  const cudaError_t err = cudaMalloc(ptr, bytes);
  if (err != cudaSuccess) {
    *ptr = nullptr;
    char what[96];
    snprintf(what, sizeof what, "cudaMalloc(%zu bytes)", bytes);
    return from_cuda(err, what);
  }
  return FMLA_OK;
}

fmla_status fmla_free(void* ptr) {
  FMLA_TRY(require_device());
  if (!ptr) return FMLA_OK;
  return from_cuda(cudaFree(ptr), "cudaFree");
}

static fmla_status copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                        void* stream, const char* what) {
  FMLA_TRY(require_device());
  if (bytes == 0) return FMLA_OK;
  if (!dst || !src)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "%s: expected non-NULL dst and src, got %p and %p",
                what, dst, src);
  return from_cuda(cudaMemcpyAsync(dst, src, bytes, kind, as_stream(stream)), what);
}

fmla_status fmla_memcpy_htod(void* dst, const void* src, size_t bytes, void* stream) {
  return copy(dst, src, bytes, cudaMemcpyHostToDevice, stream, "fmla_memcpy_htod");
}

fmla_status fmla_memcpy_dtoh(void* dst, const void* src, size_t bytes, void* stream) {
  return copy(dst, src, bytes, cudaMemcpyDeviceToHost, stream, "fmla_memcpy_dtoh");
}

fmla_status fmla_memcpy_dtod(void* dst, const void* src, size_t bytes, void* stream) {
  return copy(dst, src, bytes, cudaMemcpyDeviceToDevice, stream, "fmla_memcpy_dtod");
}

fmla_status fmla_memset_async(void* ptr, int byte_value, size_t bytes, void* stream) {
  FMLA_TRY(require_device());
  if (bytes == 0) return FMLA_OK;
  FMLA_TRY(require_out(ptr, "ptr"));
  return from_cuda(cudaMemsetAsync(ptr, byte_value, bytes, as_stream(stream)), "cudaMemsetAsync");
}

fmla_status fmla_stream_create(void** stream) {
  FMLA_TRY(require_out(stream, "stream"));
  *stream = nullptr;
  FMLA_TRY(require_device());
  cudaStream_t s = nullptr;
  FMLA_TRY(from_cuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate"));
  *stream = s;
  return FMLA_OK;
}

fmla_status fmla_stream_destroy(void* stream) {
  FMLA_TRY(require_device());
  if (!stream) return FMLA_OK;
  return from_cuda(cudaStreamDestroy(as_stream(stream)), "cudaStreamDestroy");
}

fmla_status fmla_stream_synchronize(void* stream) {
  FMLA_TRY(require_device());
  return from_cuda(cudaStreamSynchronize(as_stream(stream)), "cudaStreamSynchronize");
}

fmla_status fmla_event_create(void** event) {
  FMLA_TRY(require_out(event, "event"));
  *event = nullptr;
  FMLA_TRY(require_device());
  cudaEvent_t e = nullptr;
  FMLA_TRY(from_cuda(cudaEventCreate(&e), "cudaEventCreate"));
  *event = e;
  return FMLA_OK;
}

fmla_status fmla_event_destroy(void* event) {
  FMLA_TRY(require_device());
  if (!event) return FMLA_OK;
  return from_cuda(cudaEventDestroy(static_cast<cudaEvent_t>(event)), "cudaEventDestroy");
}

fmla_status fmla_event_record(void* event, void* stream) {
  FMLA_TRY(require_device());
  FMLA_TRY(require_out(event, "event"));
  return from_cuda(cudaEventRecord(static_cast<cudaEvent_t>(event), as_stream(stream)),
                   "cudaEventRecord");
}

fmla_status fmla_event_synchronize(void* event) {
  FMLA_TRY(require_device());
  FMLA_TRY(require_out(event, "event"));
  return from_cuda(cudaEventSynchronize(static_cast<cudaEvent_t>(event)), "cudaEventSynchronize");
}

fmla_status fmla_event_elapsed_ms(float* ms, void* start, void* end) {
  FMLA_TRY(require_out(ms, "ms"));
  FMLA_TRY(require_device());
  FMLA_TRY(require_out(start, "start"));
  FMLA_TRY(require_out(end, "end"));
  return from_cuda(cudaEventElapsedTime(ms, static_cast<cudaEvent_t>(start),
                                        static_cast<cudaEvent_t>(end)),
                   "cudaEventElapsedTime");
}

fmla_status fmla_graph_begin_capture(void* stream) {
  FMLA_TRY(require_device());
  if (!stream)
    return fail(FMLA_ERROR_INVALID_ARGUMENT,
                "stream: expected a created stream, got NULL (the legacy default stream cannot be "
                "captured)");
  return from_cuda(cudaStreamBeginCapture(as_stream(stream), cudaStreamCaptureModeThreadLocal),
                   "cudaStreamBeginCapture");
}

fmla_status fmla_graph_end_capture(void* stream, void** graph_exec) {
  FMLA_TRY(require_out(graph_exec, "graph_exec"));
  *graph_exec = nullptr;
  FMLA_TRY(require_device());
  if (!stream)
    return fail(FMLA_ERROR_INVALID_ARGUMENT, "stream: expected the capturing stream, got NULL");
  cudaGraph_t graph = nullptr;
  FMLA_TRY(from_cuda(cudaStreamEndCapture(as_stream(stream), &graph), "cudaStreamEndCapture"));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  FMLA_TRY(from_cuda(err, "cudaGraphInstantiate"));
  *graph_exec = exec;
  return FMLA_OK;
}

fmla_status fmla_graph_launch(void* graph_exec, void* stream) {
  FMLA_TRY(require_device());
  FMLA_TRY(require_out(graph_exec, "graph_exec"));
  return from_cuda(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph_exec), as_stream(stream)),
                   "cudaGraphLaunch");
}

fmla_status fmla_graph_destroy(void* graph_exec) {
  FMLA_TRY(require_device());
  if (!graph_exec) return FMLA_OK;
  return from_cuda(cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph_exec)),
                   "cudaGraphExecDestroy");
}

}  // extern "C"
