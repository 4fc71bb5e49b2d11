"""The decode call in C++: flash_mla_ts._fast_decode (python/ext/fast_decode.cpp), when it was built
for the torch of this process.

attention.py calls `decode(...)` first: it returns (out, lse) for the calls it takes, None for any
it leaves to the checked Python path (which then raises the typed error naming the argument), or
the library's status when the library refused the call. The first call loads the module: from the
installed package, else build/ of the source tree this package sits in (`python3
python/native_build.py --extension` builds it there). Where it is missing, was built for another
torch, or FLASH_MLA_TS_FAST_PATH=0, `decode` stays a function returning None: the ctypes path does
all the work, about 25 us slower a call. status() says which and why.
"""

import ctypes
import importlib.util
import os
import sysconfig
from pathlib import Path

from . import _library

FAST_PATH_ENV = "FLASH_MLA_TS_FAST_PATH"
MODULE_NAME = "_fast_decode"

_module = None
_problem = "not loaded yet (it loads on the first decode call)"


def _none(*args):
    return None


def _candidates():
    filename = MODULE_NAME + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")
    here = Path(__file__).resolve().parent
    return [here / filename, here.parent.parent / "build" / filename]


def _load():
    """The loaded module, or None with _problem saying why not."""
    global _problem
    if os.environ.get(FAST_PATH_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        _problem = f"turned off by {FAST_PATH_ENV}={os.environ[FAST_PATH_ENV]}"
        return None
    path = next((p for p in _candidates() if p.is_file()), None)
    if path is None:
        _problem = (f"{MODULE_NAME} is not built (looked at "
                    f"{', '.join(str(p) for p in _candidates())})")
        return None
    try:
        import torch

        spec = importlib.util.spec_from_file_location(f"flash_mla_ts.{MODULE_NAME}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001  (a stale or foreign build: the ctypes path serves)
        _problem = f"{path} could not be loaded: {type(err).__name__}: {err}"
        return None
    if module.built_for_torch != torch.__version__:
        _problem = (f"{path} was built for torch {module.built_for_torch}, this is torch "
                    f"{torch.__version__}: rebuild it (reinstall the package)")
        return None
    raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    capturing = getattr(torch._C, "_cuda_isCurrentStreamCapturing", None)
    if raw_stream is None or capturing is None:
        _problem = f"torch {torch.__version__} has no CUDA stream functions (a CPU-only torch?)"
        return None
    try:
        lib = _library.load()
    except Exception as err:  # noqa: BLE001  (the decode call itself reports it)
        _problem = f"the library is not loaded: {err}"
        return None
    address = lambda fn: ctypes.cast(fn, ctypes.c_void_p).value  # noqa: E731
    module.bind(address(lib.fmla_mla_decode), address(lib.fmla_gqa_decode),
                address(lib.fmla_decode_workspace_bytes), raw_stream, capturing)
    _problem = None
    return module


def _ensure_loaded():
    """Loads the module once; `decode` becomes its function, or _none."""
    global decode, _module
    if decode is _first_decode:
        _module = _load()
        decode = _module.decode if _module is not None else _none


def _first_decode(*args):
    _ensure_loaded()
    return decode(*args)


decode = _first_decode


def status():
    """Where the decode call runs: 'C++ (<path>)', or 'ctypes: <why not C++>'."""
    _ensure_loaded()
    if _module is not None:
        return f"C++ ({_module.__file__})"
    return f"ctypes: {_problem}"


def release_workspaces():
    """Hands the workspaces the C++ call keeps (one per device and stream, the size of the largest
    call) back to torch's allocator; returns their bytes. The next call allocates again."""
    return _module.release_workspaces() if _module is not None else 0
