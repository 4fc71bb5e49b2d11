"""Builds libflashmla.so for the wheel, from the sources beside this folder (../csrc).

The project's CMake build (../CMakeLists.txt) does it; where CMake is missing, the npm build
(../scripts/build-native.mjs) does, if Node.js is there. Neither needs anything from PyPI, so
`pip install --no-build-isolation ./python` builds offline. nvcc is looked for where those builds
look (PATH, $CUDA_HOME/bin, $CUDA_PATH/bin, /usr/local/cuda/bin; $CUDACXX alone when set), and its
absence is an error unless FLASH_MLA_TS_PURE_PYTHON=1 asks for the Python package alone.

The build goes to $FMLA_BUILD_DIR/python (default build/python, relative to the project root);
FMLA_CUDA_ARCHS and FMLA_JOBS are read as the npm build reads them.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARY_NAME = "libflashmla.so"
PURE_PYTHON_ENV = "FLASH_MLA_TS_PURE_PYTHON"
# How build_backend tells setup.py (run by setuptools in the same process) what to bundle.
WHEEL_LIBRARY_ENV = "_FLASH_MLA_TS_WHEEL_LIBRARY"
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
