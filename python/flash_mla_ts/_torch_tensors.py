"""torch tensors as fmla_tensor views, and the checks made before any call into the library.

Every check names the argument, what was expected and what was given. The library checks shapes,
strides and alignment again (and reports them through InvalidArgumentError); what is checked here is
what ctypes cannot see: that an argument is a tensor, its dtype, its device and its layout.
"""

import ctypes
import numbers

from ._library import MAX_DIMS, FmlaTensor


def import_torch():
    """torch, or an ImportError saying why this function needs it."""
    try:
        import torch
    except ImportError as err:
        raise ImportError(
            "flash_mla_ts needs PyTorch with CUDA for this function (it takes and returns torch "
            "CUDA tensors); install torch in this environment"
        ) from err
    return torch


def fmla_dtype(dtype):
    """The fmla_dtype code of a torch dtype, or None if the library has no such dtype."""
    torch = import_torch()
    codes = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2, torch.int32: 4}
    fp8 = getattr(torch, "float8_e4m3fn", None)
    if fp8 is not None:
        codes[fp8] = 3
    return codes.get(dtype)


def require_tensor(name, value):
    torch = import_torch()
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    return value


def require_dtype(name, tensor, allowed):
    if tensor.dtype not in allowed:
        expected = " or ".join(str(d) for d in allowed)
        raise TypeError(f"{name}: expected dtype {expected}, got {tensor.dtype}")


def require_ndim(name, tensor, layout):
    """layout: the dimension names, e.g. ("b", "s_q", "h_q", "d_qk")."""
    if tensor.dim() != len(layout):
        raise ValueError(
            f"{name}: expected {len(layout)} dims [{', '.join(layout)}], "
            f"got shape {tuple(tensor.shape)}"
        )


def require_same_cuda_device(named_tensors):
    """[(name, tensor), ...]: the first on a CUDA device, the others on the same one. Returns it."""
    device = None
    for name, tensor in named_tensors:
        if tensor.device.type != "cuda":
            where = f"CUDA tensor on {device}" if device is not None else "CUDA tensor"
            raise ValueError(f"{name}: expected a {where}, got a tensor on {tensor.device}")
        if device is None:
            device = tensor.device
        elif tensor.device != device:
            raise ValueError(
                f"{name}: expected a CUDA tensor on {device} "
                f"(the device of {named_tensors[0][0]}), "
                f"got a tensor on {tensor.device}"
            )
    return device


def require_inner_contiguous(name, tensor):
    if tensor.dim() > 0 and tensor.shape[-1] > 1 and tensor.stride(-1) != 1:
        raise ValueError(
            f"{name}: expected a contiguous last dimension (stride 1), "
            f"got strides {tensor.stride()}"
        )


def require_contiguous(name, tensor):
    if not tensor.is_contiguous():
        raise ValueError(
            f"{name}: expected a contiguous tensor, got shape {tuple(tensor.shape)} with strides "
            f"{tensor.stride()}"
        )


def require_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def checked(name, value, dtypes, layout, contiguous=False):
    """A tensor argument: a torch.Tensor of one of `dtypes` with `layout` dims, its innermost
    dimension contiguous (all of it with `contiguous`). Devices are checked afterwards, for all
    arguments at once (require_same_cuda_device), so that a wrong dtype is reported wherever the
    tensors live."""
    tensor = require_tensor(name, value)
    require_dtype(name, tensor, dtypes)
    require_ndim(name, tensor, layout)
    if contiguous:
        require_contiguous(name, tensor)
    else:
        require_inner_contiguous(name, tensor)
    return tensor


def as_fmla(tensor):
    """An fmla_tensor view of a torch tensor (data_ptr already includes the storage offset)."""
    if tensor.dim() > MAX_DIMS:
        raise ValueError(f"expected at most {MAX_DIMS} dims, got shape {tuple(tensor.shape)}")
    code = fmla_dtype(tensor.dtype)
    if code is None:
        raise TypeError(f"dtype {tensor.dtype} has no libflashmla counterpart")
    view = FmlaTensor()
    view.data = tensor.data_ptr() or None
    view.dtype = code
    view.ndim = tensor.dim()
    for d in range(tensor.dim()):
        view.shape[d] = tensor.shape[d]
        view.strides[d] = tensor.stride(d)
    return view


def ref(view):
    """A pointer to an fmla_tensor for a ctypes call."""
    return ctypes.byref(view)
