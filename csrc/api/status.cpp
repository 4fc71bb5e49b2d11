// Status names, the last error and the version.
#include "../include/flash_mla.h"

namespace fmla {
const char* last_error_message();
}

extern "C" {

const char* fmla_status_string(fmla_status status) {
  switch (status) {
    case FMLA_OK: return "FMLA_OK";
    case FMLA_ERROR_INVALID_ARGUMENT: return "FMLA_ERROR_INVALID_ARGUMENT";
    case FMLA_ERROR_NO_DEVICE: return "FMLA_ERROR_NO_DEVICE";
    case FMLA_ERROR_CUDA: return "FMLA_ERROR_CUDA";
    case FMLA_ERROR_OUT_OF_MEMORY: return "FMLA_ERROR_OUT_OF_MEMORY";
    case FMLA_ERROR_UNSUPPORTED: return "FMLA_ERROR_UNSUPPORTED";
  }
  return "FMLA_ERROR_UNKNOWN_STATUS";
}

const char* fmla_last_error(void) { return fmla::last_error_message(); }

const char* fmla_version(void) { return "0.1.0"; }

}  // extern "C"
