"""What the GPU tests need and whether this machine has it: the reasons they skip, or None."""

import flash_mla_ts
from flash_mla_ts import _library

try:
    import torch
except ImportError:
    torch = None


def _library_problem():
    try:
        _library.load()
    except flash_mla_ts.LibraryNotFoundError as err:
        return str(err)
    return None


LIBRARY_PROBLEM = _library_problem()
TORCH_PROBLEM = None if torch is not None else "torch is not installed"
GPU_PROBLEM = (
    LIBRARY_PROBLEM
    or TORCH_PROBLEM
    or (None if torch.cuda.is_available() else "CUDA is not available to torch (no GPU)")
    or (None if flash_mla_ts.device_count() > 0 else "libflashmla sees no CUDA device")
)
