"""Builds libflashmla.so for the wheel, from the sources beside this folder (../csrc).

The project's CMake build (../CMakeLists.txt) does it; where CMake is missing, the npm build
(../scripts/build-native.mjs) does, if Node.js is there. Neither needs anything from PyPI, so
`pip install --no-build-isolation ./python` builds offline. nvcc is looked for where those builds
look (PATH, $CUDA_HOME/bin, $CUDA_PATH/bin, /usr/local/cuda/bin; $CUDACXX alone when set), and its
absence is an error unless FLASH_MLA_TS_PURE_PYTHON=1 asks for the Python package alone.

The build goes to $FMLA_BUILD_DIR/python (default build/python, relative to the project root);
FMLA_CUDA_ARCHS and FMLA_JOBS are read as the npm build reads them.

It also builds flash_mla_ts._fast_decode (ext/fast_decode.cpp: the decode call in C++, for host
time) against the torch importable here, with the C++ compiler torch's extensions use; without
torch or a compiler the package calls the library through ctypes alone, and says why at build time
and in flash_mla_ts.fast_path_status(). `python3 python/native_build.py --extension` builds it
into build/ for the source tree.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARY_NAME = "libflashmla.so"
PURE_PYTHON_ENV = "FLASH_MLA_TS_PURE_PYTHON"
# How build_backend tells setup.py (run by setuptools in the same process) what to bundle.
WHEEL_LIBRARY_ENV = "_FLASH_MLA_TS_WHEEL_LIBRARY"
EXTENSION_NAME = "_fast_decode"
EXTENSION_SOURCE = ROOT / "python" / "ext" / "fast_decode.cpp"
# How build_backend tells setup.py where the extension is ("" when it was not built).
WHEEL_EXTENSION_ENV = "_FLASH_MLA_TS_WHEEL_EXTENSION"
# Looked at after PATH and $CUDA_HOME / $CUDA_PATH, as the other builds do.
DEFAULT_CUDA_DIRS = ("/usr/local/cuda",)


class NativeBuildError(RuntimeError):
    """The library could not be built; the message says why and what to do."""


def pure_python_requested(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get(PURE_PYTHON_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _executable(path):
    return path is not None and os.path.isfile(path) and os.access(path, os.X_OK)


def find_nvcc(environ=None):
    """The path of nvcc, or None."""
    environ = os.environ if environ is None else environ
    if environ.get("CUDACXX"):
        # An explicit choice is the only candidate, as for CMake.
        return environ["CUDACXX"] if _executable(environ["CUDACXX"]) else None
    candidates = [shutil.which("nvcc", path=environ.get("PATH", ""))]
    for name in ("CUDA_HOME", "CUDA_PATH"):
        if environ.get(name):
            candidates.append(os.path.join(environ[name], "bin", "nvcc"))
    candidates += [os.path.join(d, "bin", "nvcc") for d in DEFAULT_CUDA_DIRS]
    return next((c for c in candidates if _executable(c)), None)


def _no_nvcc_message(environ):
    if environ.get("CUDACXX"):
        where = f"$CUDACXX={environ['CUDACXX']} is not an executable"
    else:
        places = ["PATH", "$CUDA_HOME/bin", "$CUDA_PATH/bin"]
        places += [f"{d}/bin" for d in DEFAULT_CUDA_DIRS]
        where = f"nvcc was not found (looked at {', '.join(places)})"
    return (
        f"flash_mla_ts: cannot build {LIBRARY_NAME}: {where}. Install the CUDA toolkit (12.4 or "
        f"newer) or set CUDA_HOME, then install again; or set {PURE_PYTHON_ENV}=1 to install the "
        f"Python package without the library and point FLASH_MLA_LIBRARY at a {LIBRARY_NAME} "
        "built elsewhere."
    )


def _run(command, env):
    print("flash_mla_ts: " + " ".join(str(c) for c in command), flush=True)
    status = subprocess.call([str(c) for c in command], cwd=str(ROOT), env=env)
    if status != 0:
        raise NativeBuildError(
            f"flash_mla_ts: building {LIBRARY_NAME} failed: {Path(str(command[0])).name} exited "
            f"with status {status} (its output is above)"
        )


def build_library(environ=None):
    """Builds the library (incrementally) and returns its path; NativeBuildError when it cannot."""
    environ = dict(os.environ if environ is None else environ)
    nvcc = find_nvcc(environ)
    if nvcc is None:
        raise NativeBuildError(_no_nvcc_message(environ))
    if not (ROOT / "CMakeLists.txt").is_file() or not (ROOT / "csrc").is_dir():
        raise NativeBuildError(
            f"flash_mla_ts: cannot build {LIBRARY_NAME}: the project's sources are not beside this "
            f"package (no {ROOT / 'CMakeLists.txt'}); install from the project's source tree, or "
            f"set {PURE_PYTHON_ENV}=1 to install the Python package alone."
        )
    build_dir = ROOT / environ.get("FMLA_BUILD_DIR", "build") / "python"
    jobs = environ.get("FMLA_JOBS") or str(os.cpu_count() or 1)
    cmake = shutil.which("cmake", path=environ.get("PATH", ""))
    node = shutil.which("node", path=environ.get("PATH", ""))
    if cmake:
        # -U: FMLA_CUDA_ARCHS comes from the environment (or the default) on every install, not
        # from what an earlier configure cached; an empty build type adds no flags.
        configure = [cmake, "-S", ROOT, "-B", build_dir, f"-DCMAKE_CUDA_COMPILER={nvcc}"]
        _run(configure + ["-UFMLA_CUDA_ARCHS", "-DCMAKE_BUILD_TYPE="], environ)
        _run([cmake, "--build", build_dir, "--parallel", jobs], environ)
    elif node:
        environ["FMLA_BUILD_DIR"] = str(build_dir)
        # The nvcc found above first on PATH, so that build-native.mjs takes the same one.
        environ["PATH"] = os.pathsep.join([str(Path(nvcc).parent), environ.get("PATH", "")])
        _run([node, ROOT / "scripts" / "build-native.mjs"], environ)
    else:
        raise NativeBuildError(
            f"flash_mla_ts: cannot build {LIBRARY_NAME}: neither CMake (3.18 or newer) nor Node.js "
            f"is on PATH; install CMake, or set {PURE_PYTHON_ENV}=1 to install the Python package "
            "alone."
        )
    library = build_dir / LIBRARY_NAME
    if not library.is_file():
        raise NativeBuildError(f"flash_mla_ts: the build finished without {library}")
    return library


def wheel_library(environ=None):
    """The library the wheel carries (built now), or None for a pure-Python wheel."""
    if pure_python_requested(environ):
        print(f"flash_mla_ts: {PURE_PYTHON_ENV} is set, no {LIBRARY_NAME} built", file=sys.stderr)
        return None
    return build_library(environ)


def extension_filename():
    """The extension's file name for this Python (_fast_decode.cpython-311-x86_64-linux-gnu.so)."""
    return EXTENSION_NAME + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")


def build_extension(output_dir, environ=None):
    """Builds flash_mla_ts._fast_decode into output_dir against the torch importable here and
    returns its path; None, with the reason printed, where torch or a C++ compiler is missing or
    the compiler fails (the package then works without it, through ctypes)."""
    environ = dict(os.environ if environ is None else environ)
    try:
        import torch
        from torch.utils import cpp_extension
    except Exception as err:  # noqa: BLE001  (a broken torch is as good as none here)
        print(f"flash_mla_ts: {EXTENSION_NAME} not built: torch is not importable here ({err}); "
              "install with `pip install --no-build-isolation ./python` in the environment that "
              "has torch, for the faster decode call", file=sys.stderr)
        return None
    cxx = environ.get("CXX") or shutil.which("c++", path=environ.get("PATH", "")) or shutil.which(
        "g++", path=environ.get("PATH", ""))
    if not cxx:
        print(f"flash_mla_ts: {EXTENSION_NAME} not built: no C++ compiler (set CXX)",
              file=sys.stderr)
        return None
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / extension_filename()
    command = [
        cxx, "-O2", "-std=c++20", "-shared", "-fPIC", "-fvisibility=hidden",
        f"-D_GLIBCXX_USE_CXX11_ABI={int(torch.compiled_with_cxx11_abi())}",
        f'-DFMLA_TORCH_VERSION="{torch.__version__}"',
        *[f"-I{p}" for p in cpp_extension.include_paths()],
        f"-I{sysconfig.get_paths()['include']}", f"-I{ROOT / 'csrc' / 'include'}",
        EXTENSION_SOURCE, "-o", target,
        *[f"-L{p}" for p in cpp_extension.library_paths()],
        "-lc10", "-ltorch", "-ltorch_cpu", "-ltorch_python",
    ]
    print("flash_mla_ts: " + " ".join(str(c) for c in command), flush=True)
    if subprocess.call([str(c) for c in command], cwd=str(ROOT), env=environ) != 0:
        print(f"flash_mla_ts: {EXTENSION_NAME} not built: the compiler failed (output above); the "
              "package calls the library through ctypes alone", file=sys.stderr)
        return None
    return target


def wheel_extension(environ=None):
    """The extension the wheel carries (built now), or None."""
    if pure_python_requested(environ):
        return None
    return build_extension(ROOT / (environ or os.environ).get("FMLA_BUILD_DIR", "build") /
                           "python", environ)


if __name__ == "__main__":
    if sys.argv[1:] != ["--extension"]:
        sys.exit("usage: python3 python/native_build.py --extension   (builds "
                 f"build/{extension_filename()} for the source tree)")
    sys.exit(0 if build_extension(ROOT / "build") else 1)
