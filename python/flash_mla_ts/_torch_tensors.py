"""torch tensors as fmla_tensor views, the checks made before any call into the library, and the
plumbing of one call (device, stream).

Every check raises ArgumentError naming the argument, what was expected and what was given. The
library checks shapes, strides and alignment again, and the sizes of one argument against another
(reporting them through InvalidArgumentError, an ArgumentError too); what is checked here is what
ctypes cannot see: that an argument is a tensor, its dtype, its device and its layout, and that a
Python number is of the right type and fits the C type it becomes.

The same checks serve the eager path, which packs each tensor into the call's fmla_tensor buffer as
it checks it, and the fake (meta) implementations that torch.compile traces with, which only check.
"""

import numbers

from . import _library
from .errors import ArgumentError, describe_value

try:  # torch is optional at import: the package imports without it, the functions say why
    import torch as _torch
except Exception as _err:  # a broken install (missing CUDA libraries, ...) is reported at use
    _torch = None
    _TORCH_ERROR = _err
else:
    _TORCH_ERROR = None


def import_torch():
    """torch, or an ImportError saying why this function needs it."""
    if _torch is None:
        raise ImportError(
            "flash_mla_ts needs PyTorch with CUDA for this function (it takes and returns torch "
            "CUDA tensors); install torch in this environment"
        ) from _TORCH_ERROR
    return _torch


# ------------------------------------------------------------------------------------ dtypes

# fmla_dtype codes (flash_mla.h) of the torch dtypes the library knows; {} without torch.
DTYPE_CODES = {}
if _torch is not None:
    DTYPE_CODES = {_torch.float32: 0, _torch.bfloat16: 1, _torch.float16: 2, _torch.int32: 4}
    if getattr(_torch, "float8_e4m3fn", None) is not None:
        DTYPE_CODES[_torch.float8_e4m3fn] = 3


def _codes(*names):
    """{dtype: code} of the named torch dtypes, in that order (the order of error messages)."""
    dtypes = [getattr(_torch, n, None) for n in names] if _torch is not None else []
    return {d: DTYPE_CODES[d] for d in dtypes if d is not None and d in DTYPE_CODES}


HALF = _codes("bfloat16", "float16")
INT32 = _codes("int32")
FLOAT32 = _codes("float32")
CACHE_DTYPES = _codes("bfloat16", "float16", "float32", "float8_e4m3fn")
FP8 = _codes("float8_e4m3fn")
# One-dtype tables for "the same dtype as q": no dict built per call.
SAME = {dtype: {dtype: code} for dtype, code in DTYPE_CODES.items()}

# Dimension names, for the messages.
Q_LAYOUT = ("b", "s_q", "h_q", "d_qk")
CACHE_LAYOUT = ("num_pages", "page_size", "h_kv", "d")
TABLE_LAYOUT = ("b", "max_pages")
SEQLENS_LAYOUT = ("b",)
METADATA_INTS = 8  # FMLA_METADATA_INTS
METADATA_LAYOUT = ("num_sm_parts", str(METADATA_INTS))
SPLITS_LAYOUT = ("b + 1",)
OUT_LAYOUT = ("b", "s_q", "h_q", "d_v")
LSE_LAYOUT = ("b", "h_q", "s_q")
ROWS_LAYOUT = ("n", "h_kv", "d")
SLOTS_LAYOUT = ("n",)

_Tensor = _torch.Tensor if _torch is not None else ()


# ------------------------------------------------------------------------------------ checks


INT32_MAX = 2**31 - 1  # the sizes passed to the library as int32 must fit
MAX_NUM_SMS = 4096  # an SM count: more than any GPU has, few enough to size a schedule by
_FLOAT32_MAX = 3.4028234663852886e38  # softmax_scale is passed as a float32


def require_int(name, value, minimum, maximum=INT32_MAX, why="an int32"):
    """An int (not a bool) in [minimum, maximum]; returns it as a Python int. `why` explains the
    upper bound in the message."""
    if type(value) is not int:  # the usual case first: an ABC isinstance costs more
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            _bad_int(name, value, minimum, maximum, why)
        value = int(value)
    if not minimum <= value <= maximum:
        _bad_int(name, value, minimum, maximum, why)
    return value


def _bad_int(name, value, minimum, maximum, why):
    raise ArgumentError(name, f"an int in [{minimum}, {maximum}] ({why})", describe_value(value))


def require_num_sms(num_sms):
    return require_int("num_sms", num_sms, 1, MAX_NUM_SMS, "an SM count")


def require_flag(name, value):
    """A bool; 0 and 1 pass as False and True (as a C flag would), and so does a numpy bool."""
    if value is True or value is False:
        return value
    if not isinstance(value, bool) and isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool"):
        return bool(value)
    raise ArgumentError(name, "a bool", describe_value(value))


def softmax_scale_value(softmax_scale, head_dim):
    """softmax_scale as the float the library takes: None gives 1/sqrt(head_dim); else a real
    number, finite as a float32 (NaN fails the range test too)."""
    if softmax_scale is None:
        return head_dim ** -0.5
    if type(softmax_scale) is float and -_FLOAT32_MAX <= softmax_scale <= _FLOAT32_MAX:
        return softmax_scale
    if not isinstance(softmax_scale, bool) and isinstance(softmax_scale, numbers.Real):
        try:
            scale = float(softmax_scale)
        except OverflowError:  # an int beyond any float
            pass
        else:
            if -_FLOAT32_MAX <= scale <= _FLOAT32_MAX:
                return scale
    raise ArgumentError("softmax_scale", "a finite float (as a float32) or None",
                        describe_value(softmax_scale))


def require_rank(name, value, layout):
    """A torch.Tensor with len(layout) dims; returns its shape. The check the schedule needs
    before it reads shapes (dtypes and layouts are checked by the call itself)."""
    if not isinstance(value, _Tensor):
        raise ArgumentError(name, "a torch.Tensor", describe_value(value))
    shape = value.shape
    if len(shape) != len(layout):
        _bad_rank(name, shape, layout)
    return shape


def _bad_rank(name, shape, layout):
    raise ArgumentError(name, f"{len(layout)} dims [{', '.join(layout)}]",
                        f"shape {tuple(shape)}")


_PACKERS = _library.PACKERS
TENSOR_BYTES = _library.TENSOR_BYTES


def pack(block, slot, name, value, allowed, layout, contiguous=False):
    """A tensor argument: a torch.Tensor with a dtype of `allowed` ({dtype: code}) and len(layout)
    dims, its innermost dimension contiguous (all of it with `contiguous`). Returns its shape.

    With a call block, its fmla_tensor view goes into slot `slot` (data_ptr already includes the
    storage offset); without (block None, the fake implementations), it is only checked. Devices
    are checked afterwards, for all arguments at once, so that a wrong dtype is reported wherever
    the tensors live."""
    if not isinstance(value, _Tensor):
        raise ArgumentError(name, "a torch.Tensor", describe_value(value))
    code = allowed.get(value.dtype)
    if code is None:
        expected = " or ".join(str(d) for d in allowed)
        raise ArgumentError(name, f"dtype {expected}", str(value.dtype))
    shape = value.shape
    ndim = len(shape)
    if ndim != len(layout):
        _bad_rank(name, shape, layout)
    strides = value.stride()
    if contiguous:
        if not value.is_contiguous():
            raise ArgumentError(name, "a contiguous tensor",
                                f"shape {tuple(shape)} with strides {strides}")
    elif ndim and shape[-1] > 1 and strides[-1] != 1:
        raise ArgumentError(name, "a contiguous last dimension (stride 1)", f"strides {strides}")
    if block is not None:
        _PACKERS[ndim](block, slot * TENSOR_BYTES, value.data_ptr(), code, ndim, *shape, *strides)
    return shape


def pack_scale(block, slot, name, value, expected="a float32 tensor of one element"):
    """A scale argument: a float32 torch.Tensor of one element (any rank), packed (with a block) as
    a one-element view into slot `slot`."""
    if not isinstance(value, _Tensor) or value.dtype != _torch.float32 or value.numel() != 1:
        raise ArgumentError(name, expected, describe_value(value))
    if block is not None:
        _PACKERS[1](block, slot * TENSOR_BYTES, value.data_ptr(), FLOAT32[value.dtype], 1, 1, 1)
    return value


def pack_new(block, slot, tensor, code, shape, strides):
    """The view of a tensor this package just allocated with `shape` and `strides`: nothing to
    check."""
    ndim = len(shape)
    _PACKERS[ndim](block, slot * TENSOR_BYTES, tensor.data_ptr(), code, ndim, *shape, *strides)


def require_same_cuda_device(named_tensors, allow_meta=False):
    """[(name, tensor), ...]: the first on a CUDA device, the others on the same one. Returns it.
    allow_meta: meta tensors pass (fake implementations may be traced on them)."""
    device = None
    for name, tensor in named_tensors:
        if allow_meta and tensor.device.type == "meta":
            continue
        if tensor.device.type != "cuda":
            where = f"CUDA tensor on {device}" if device is not None else "CUDA tensor"
            raise ArgumentError(name, f"a {where}", f"a tensor on {tensor.device}")
        if device is None:
            device = tensor.device
        elif tensor.device != device:
            raise ArgumentError(name,
                                f"a CUDA tensor on {device} (the device of {named_tensors[0][0]})",
                                f"a tensor on {tensor.device}")
    return device


def cuda_device_index(names, tensors):
    """The index of the one CUDA device all `tensors` are on; else the ArgumentError of
    require_same_cuda_device naming the first that is not. get_device() is an int (-1 off the GPU),
    cheaper than comparing torch.device objects."""
    index = tensors[0].get_device()
    if index >= 0:
        for tensor in tensors:
            if tensor.get_device() != index:
                break
        else:
            return index
    require_same_cuda_device(list(zip(names, tensors)))
    raise AssertionError("unreachable: require_same_cuda_device raised")


# ------------------------------------------------------------------------------------ per call

_raw_stream = None
if _torch is not None:
    _raw_stream = getattr(_torch._C, "_cuda_getCurrentRawStream", None)


def current_stream(index):
    """torch's current stream on device `index`, as an address (0 is the legacy default stream)."""
    if _raw_stream is not None:
        return _raw_stream(index)
    return _torch.cuda.current_stream(index).cuda_stream


_sm_counts = {}
_sm_parts = {}
_workspace = {}
_CACHE_LIMIT = 4096  # distinct shapes remembered; past it a cache starts again (bounded memory)


def sm_count(index):
    count = _sm_counts.get(index)
    if count is None:
        count = _torch.cuda.get_device_properties(index).multi_processor_count
        _sm_counts[index] = count
    return count


def num_sm_parts(num_sms, num_q_tokens_per_head_k, num_heads_k):
    key = (num_sms, num_q_tokens_per_head_k, num_heads_k)
    parts = _sm_parts.get(key)
    if parts is None:
        lib = _library.load()
        parts = lib.fmla_mla_num_sm_parts(num_sms, num_q_tokens_per_head_k, num_heads_k)
        if len(_sm_parts) >= _CACHE_LIMIT:
            _sm_parts.clear()
        _sm_parts[key] = parts
    return parts


def workspace_bytes(b, s_q, h_q, d_v, parts):
    key = (b, s_q, h_q, d_v, parts)
    size = _workspace.get(key)
    if size is None:
        size = _library.load().fmla_decode_workspace_bytes(b, s_q, h_q, d_v, parts)
        if len(_workspace) >= _CACHE_LIMIT:
            _workspace.clear()
        _workspace[key] = size
    return size


_DEVICE_OFFSET = _library.DEVICE_OFFSET


def invoke(function, block, base, device, args):
    """Calls the library's `function` with `args` on CUDA device `device`, the caller's current
    device restored afterwards. The current device is read from the library (whose runtime shares
    the driver's per-thread current context with torch's), and switched only when it differs."""
    lib = _library._library or _library.load()
    status = lib.fmla_get_device(base + _DEVICE_OFFSET)
    if status:
        _library.check("fmla_get_device", status)
    previous = block.device
    if previous == device:
        status = getattr(lib, function)(*args)
    else:
        _library.check("fmla_set_device", lib.fmla_set_device(device))
        try:
            status = getattr(lib, function)(*args)
        finally:
            restored = lib.fmla_set_device(previous)
        if status == 0 and restored != 0:
            _library.check("fmla_set_device", restored)
    if status:
        _library.check(function, status)

