"""Library facts that need no torch: its version and the GPUs it can see."""

import ctypes

from . import _library
from .errors import NoDeviceError


def library_version():
    """libflashmla's version, "MAJOR.MINOR.PATCH"."""
    return _library.load().fmla_version().decode()


def device_count():
    """CUDA devices the library can use; 0 where there is no GPU or driver (not NoDeviceError)."""
    count = ctypes.c_int(0)
    try:
        _library.call("fmla_device_count", ctypes.byref(count))
    except NoDeviceError:
        return 0
    return count.value
