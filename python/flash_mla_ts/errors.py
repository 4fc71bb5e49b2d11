"""Exceptions raised by flash_mla_ts.

Argument errors found in Python are the built-in TypeError / ValueError, raised before anything
reaches the library. A status returned by the library becomes a FlashMlaError subclass that carries
the status and the library's own message (fmla_last_error), which names the argument or CUDA call.
"""

__all__ = [
    "FlashMlaError",
    "InvalidArgumentError",
    "NoDeviceError",
    "CudaError",
    "OutOfMemoryError",
    "UnsupportedError",
    "LibraryNotFoundError",
    "ScheduleMismatchError",
]


class FlashMlaError(RuntimeError):
    """A call into libflashmla.so returned a status other than FMLA_OK."""

    def __init__(self, function: str, status: int, status_name: str, detail: str):
        self.function = function
        self.status = status
        self.status_name = status_name
        self.detail = detail
        message = f"{function}: {status_name}"
        super().__init__(f"{message}: {detail}" if detail else message)


class InvalidArgumentError(FlashMlaError, ValueError):
    """FMLA_ERROR_INVALID_ARGUMENT: a shape, stride or value the library refused up front."""


class NoDeviceError(FlashMlaError):
    """FMLA_ERROR_NO_DEVICE: no usable GPU or driver."""


class CudaError(FlashMlaError):
    """FMLA_ERROR_CUDA: a CUDA call failed (the detail names it)."""


class OutOfMemoryError(FlashMlaError, MemoryError):
    """FMLA_ERROR_OUT_OF_MEMORY."""


class UnsupportedError(FlashMlaError, ValueError):
    """FMLA_ERROR_UNSUPPORTED: a request outside what the kernels implement (head dims, ...)."""


class LibraryNotFoundError(OSError):
    """libflashmla.so could not be found or loaded."""


class ScheduleMismatchError(ValueError, AssertionError):
    """A FlashMLASchedMeta reused for a call whose shapes or flags differ from those it was built
    for. Also an AssertionError, which is what FlashMLA raises there, so that code written for it
    catches this one too."""


# fmla_status values (flash_mla.h) to the exception raised for them.
STATUS_ERRORS = {
    1: InvalidArgumentError,
    2: NoDeviceError,
    3: CudaError,
    4: OutOfMemoryError,
    5: UnsupportedError,
}
