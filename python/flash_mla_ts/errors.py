"""Exceptions raised by flash_mla_ts.

A bad argument is an ArgumentError naming the argument, what was expected and what was given, raised
before anything reaches the library; it is both a TypeError and a ValueError, which is what callers
caught before it existed. A status returned by the library becomes a FlashMlaError subclass that
carries the status and the library's own message (fmla_last_error); InvalidArgumentError, the
library's refusal of an argument, is an ArgumentError too.
"""

import numbers
import re

__all__ = [
    "ArgumentError",
    "FlashMlaError",
    "InvalidArgumentError",
    "NoDeviceError",
    "CudaError",
    "OutOfMemoryError",
    "UnsupportedError",
    "LibraryNotFoundError",
    "ScheduleMismatchError",
    "describe_value",
]


def _article(noun):
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _type_name(value_type):
    module = value_type.__module__
    if module == "builtins":
        return value_type.__qualname__
    return f"{module}.{value_type.__qualname__}"


def describe_value(value):
    """How a message prints a value the caller passed: numbers as they are, strings quoted (so that
    '8' and 8 read differently), tensors by shape, dtype and device, anything else by its type."""
    value_type = type(value)
    if value_type is bool:
        return f"{value} (a bool)"
    if value_type in (int, float, str, bytes):  # repr quotes strings: '8' is not 8
        return repr(value)
    if value is None:
        return "None"
    if value_type is list or value_type is tuple:
        count = len(value)
        return f"{_article(value_type.__name__)} of {count} element{'' if count == 1 else 's'}"
    if isinstance(value, type):
        return f"the class {_type_name(value)}"
    if isinstance(value, numbers.Number):  # numpy scalars, enums, Decimal: the value and its type
        return f"{value} ({_article(_type_name(value_type))})"
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:  # a tensor or an array, without importing torch
        device = getattr(value, "device", None)
        where = f" on {device}" if device is not None else ""
        return (f"{_article(_type_name(value_type))} of shape {tuple(shape)} dtype {dtype}"
                f"{where}")
    if value_type.__module__ == "torch":  # torch.dtype, torch.device, torch.Size: by value
        return f"{value} ({_article(_type_name(value_type))})"
    return _article(_type_name(value_type))


class ArgumentError(TypeError, ValueError):
    """An argument had the wrong type, dtype, rank, layout, device, range or value; raised before
    any work is done. `argument` is its name as the caller wrote it, `expected` and `actual` say in
    words what was expected and what was given."""

    def __init__(self, argument, expected, actual):
        self.argument = argument
        self.expected = expected
        self.actual = actual
        super().__init__(f"{argument}: expected {expected}, got {actual}")

    def __reduce__(self):
        return type(self), (self.argument, self.expected, self.actual)


class FlashMlaError(RuntimeError):
    """A call into libflashmla.so returned a status other than FMLA_OK."""

    def __init__(self, function: str, status: int, status_name: str, detail: str):
        self.function = function
        self.status = status
        self.status_name = status_name
        self.detail = detail
        message = f"{function}: {status_name}"
        super().__init__(f"{message}: {detail}" if detail else message)

    def __reduce__(self):
        return type(self), (self.function, self.status, self.status_name, self.detail)


# The library words its argument errors as ArgumentError does: "name: expected X, got Y". X may
# itself hold commas ("[b, s_q, h_q, d_qk]"), so X runs to the last ", got ".
_LIBRARY_ARGUMENT_MESSAGE = re.compile(
    r"(?P<argument>[A-Za-z_][\w.\[\]]*): expected (?P<expected>.+), got (?P<actual>.+)", re.DOTALL)


class InvalidArgumentError(FlashMlaError, ArgumentError):
    """FMLA_ERROR_INVALID_ARGUMENT: a shape, stride or value the library refused up front.
    argument, expected and actual are read from the library's message (None where it does not
    have the form "name: expected X, got Y")."""

    def __init__(self, function: str, status: int, status_name: str, detail: str):
        FlashMlaError.__init__(self, function, status, status_name, detail)
        match = _LIBRARY_ARGUMENT_MESSAGE.fullmatch(detail or "")
        self.argument, self.expected, self.actual = (
            match.group("argument", "expected", "actual") if match else (None, None, None))


class NoDeviceError(FlashMlaError):
    """FMLA_ERROR_NO_DEVICE: no usable GPU or driver."""


class CudaError(FlashMlaError):
    """FMLA_ERROR_CUDA: a CUDA call failed (the detail names it)."""


class OutOfMemoryError(FlashMlaError, MemoryError):
    """FMLA_ERROR_OUT_OF_MEMORY."""


class UnsupportedError(FlashMlaError, ValueError, NotImplementedError):
    """FMLA_ERROR_UNSUPPORTED: a request outside what the kernels implement (head dims, ...).
    Also a NotImplementedError, like the refusals of the features this library lacks."""


class LibraryNotFoundError(OSError):
    """libflashmla.so could not be found or loaded."""


class ScheduleMismatchError(ArgumentError, AssertionError):
    """A FlashMLASchedMeta reused for a call whose shapes or flags differ from those it was built
    for. Also an AssertionError, which is what FlashMLA raises there, so that code written for it
    catches this one too. The message adds `advice` to the ArgumentError's."""

    def __init__(self, argument, expected, actual, advice):
        super().__init__(argument, expected, actual)
        self.advice = advice
        self.args = (f"{self.args[0]}. {advice}",)

    def __reduce__(self):
        return type(self), (self.argument, self.expected, self.actual, self.advice)


# fmla_status values (flash_mla.h) to the exception raised for them.
STATUS_ERRORS = {
    1: InvalidArgumentError,
    2: NoDeviceError,
    3: CudaError,
    4: OutOfMemoryError,
    5: UnsupportedError,
}
