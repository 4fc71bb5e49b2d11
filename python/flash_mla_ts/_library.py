"""Finding, loading and declaring libflashmla.so (the C ABI of csrc/include/flash_mla.h), by ctypes.

The library is looked for, in order: $FLASH_MLA_LIBRARY; a copy inside the installed package (the
install copies build/libflashmla.so in when it exists); build/libflashmla.so of the source tree this
package sits in. It is loaded on first use, so importing flash_mla_ts never fails for want of it.
"""

import ctypes
import os
import struct
import threading
from pathlib import Path

from .errors import STATUS_ERRORS, FlashMlaError, LibraryNotFoundError

LIBRARY_ENV = "FLASH_MLA_LIBRARY"
LIBRARY_NAME = "libflashmla.so"
MAX_DIMS = 6  # FMLA_MAX_DIMS


class FmlaTensor(ctypes.Structure):
    """struct fmla_tensor: a strided view of device memory; shape and strides in elements."""

    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int32),
        ("ndim", ctypes.c_int32),
        ("shape", ctypes.c_int64 * MAX_DIMS),
        ("strides", ctypes.c_int64 * MAX_DIMS),
    ]


TENSOR_BYTES = ctypes.sizeof(FmlaTensor)
SHAPE_OFFSET = FmlaTensor.shape.offset
STRIDES_OFFSET = FmlaTensor.strides.offset
CALL_TENSORS = 12  # the slots of one call's tensors (0-10, and 11 for descale_q)


class CallBlock(ctypes.Structure):
    """The fmla_tensor views of one call, and an int for fmla_get_device to write into: one
    allocation per call, owned by the calling thread (so calls from several threads never share
    one)."""

    _fields_ = [("tensors", FmlaTensor * CALL_TENSORS), ("device", ctypes.c_int)]


DEVICE_OFFSET = CallBlock.device.offset


def _packer(ndim):
    """pack_into(buffer, offset, data, dtype, ndim, *shape, *strides) writing one fmla_tensor of
    `ndim` dims; one struct call instead of a ctypes field assignment per value."""
    pointer = "Q" if ctypes.sizeof(ctypes.c_void_p) == 8 else "I"
    head = ctypes.sizeof(ctypes.c_void_p) + 8  # data, dtype, ndim
    gap = STRIDES_OFFSET - SHAPE_OFFSET - 8 * ndim
    layout = struct.Struct(f"={pointer}ii{SHAPE_OFFSET - head}x{ndim}q{gap}x{ndim}q")
    return layout.pack_into


PACKERS = tuple(_packer(ndim) for ndim in range(MAX_DIMS + 1))

# Tensor arguments are passed as plain addresses (an fmla_tensor packed into a buffer that the
# caller owns for the call): cheaper per call than a ctypes pointer object for each tensor.
_T = ctypes.c_void_p
_int, _i32, _i64 = ctypes.c_int, ctypes.c_int32, ctypes.c_int64
_ptr, _size, _float = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_float

# name: (result type, argument types); every fmla_status is a C int.
_PROTOTYPES = {
    "fmla_status_string": (ctypes.c_char_p, [_int]),
    "fmla_last_error": (ctypes.c_char_p, []),
    "fmla_version": (ctypes.c_char_p, []),
    "fmla_device_count": (_int, [ctypes.POINTER(_int)]),
    "fmla_get_device": (_int, [_ptr]),
    "fmla_set_device": (_int, [_int]),
    "fmla_device_synchronize": (_int, []),
    "fmla_malloc": (_int, [ctypes.POINTER(_ptr), _size]),
    "fmla_free": (_int, [_ptr]),
    "fmla_mla_num_sm_parts": (_int, [_int, _int, _int]),
    "fmla_decode_workspace_bytes": (_size, [_i64, _i64, _i64, _i64, _i64]),
    "fmla_get_mla_metadata": (_int, [_T, _i32, _i32, _T, _T, _ptr]),
    "fmla_mla_decode": (
        _int,
        [_T, _T, _T, _T, _i32, _T, _T, _float, _i32, _T, _T, _ptr, _size, _ptr],
    ),
    "fmla_mla_decode_fp8": (
        _int,
        [_T, _T, _T, _T, _i32, _T, _T, _float, _i32, _i32, _T, _T, _T, _T, _ptr, _size, _ptr],
    ),
    "fmla_gqa_decode": (
        _int,
        [_T, _T, _T, _T, _T, _T, _T, _float, _i32, _T, _T, _ptr, _size, _ptr],
    ),
    "fmla_gqa_decode_e4m3": (
        _int,
        [_T, _T, _T, _T, _T, _T, _T, _float, _i32, _T, _T, _T, _T, _T, _ptr, _size, _ptr],
    ),
    "fmla_write_kv": (_int, [_T, _T, _T, _ptr]),
    "fmla_write_kv_fp8": (_int, [_T, _T, _T, _i32, _T, _ptr]),
}

_lock = threading.Lock()
_library = None


def candidate_paths():
    """The places looked at, in order, as (where, path)."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        # An explicit choice is the only candidate: silently falling back would hide a typo.
        return [(f"${LIBRARY_ENV}", Path(env))]
    here = Path(__file__).resolve().parent
    return [
        ("the installed package", here / LIBRARY_NAME),
        ("the source tree", here.parent.parent / "build" / LIBRARY_NAME),
    ]


def find_library() -> Path:
    """The path of libflashmla.so, or LibraryNotFoundError saying where it looked and how to build
    it."""
    candidates = candidate_paths()
    for _, path in candidates:
        if path.is_file():
            return path
    looked = "; ".join(f"{where}: {path}" for where, path in candidates)
    raise LibraryNotFoundError(
        f"{LIBRARY_NAME} not found (looked at {looked}). Build it at the project root with "
        f"`npm run build:native` (needs the CUDA toolkit), then reinstall this package "
        f"(`pip install --no-build-isolation ./python`) or set "
        f"{LIBRARY_ENV}=/path/to/{LIBRARY_NAME}."
    )


def load():
    """The loaded library with every prototype declared (loaded once per process)."""
    global _library
    with _lock:
        if _library is None:
            path = find_library()
            try:
                lib = ctypes.CDLL(str(path))
            except OSError as err:
                raise LibraryNotFoundError(
                    f"{LIBRARY_NAME} at {path} could not be loaded: {err}"
                ) from err
            for name, (restype, argtypes) in _PROTOTYPES.items():
                fn = getattr(lib, name)
                fn.restype = restype
                fn.argtypes = argtypes
            _library = lib
        return _library


def check(function: str, status: int) -> None:
    """Raises the FlashMlaError subclass for a non-OK status, with the library's message."""
    if status == 0:
        return
    lib = load()
    name = lib.fmla_status_string(status).decode()
    detail = lib.fmla_last_error().decode(errors="replace")
    raise STATUS_ERRORS.get(status, FlashMlaError)(function, status, name, detail)


def call(function: str, *args) -> None:
    """Calls an fmla_status function and raises on failure."""
    check(function, getattr(load(), function)(*args))
