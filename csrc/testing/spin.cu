// Keeps the GPU busy for a while. A benchmark launches this before its start event, so that the
// host's launch work for the timed call overlaps the spin instead of showing up as idle GPU time.
#include <cstdint>

#include "testing_common.h"

namespace fmla::testing {

__global__ void spin_kernel(uint64_t nanoseconds) {
  const uint64_t start = clock64_ns();
  while (clock64_ns() - start < nanoseconds) __nanosleep(1000);
}

}  // namespace fmla::testing

extern "C" fmla_status fmla_testing_spin(uint64_t nanoseconds, void* stream) {
  FMLA_TRY(fmla::require_device());
  fmla::testing::spin_kernel<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(nanoseconds);
  return fmla::check_launch("spin_kernel");
}
