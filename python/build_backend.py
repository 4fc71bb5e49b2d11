"""PEP 517 build backend: setuptools' own, or a small wheel writer where setuptools has none.

Building a wheel first builds libflashmla.so from ../csrc (native_build.py: needs nvcc, and CMake or
Node.js; FLASH_MLA_TS_PURE_PYTHON=1 skips it). setuptools builds wheels through the `wheel` package
before version 70.1. The GPU machines install offline with `pip install --no-build-isolation
./python`, so pip cannot fetch `wheel` there; where neither is available this module writes the
wheel itself. Both paths install the same files: flash_mla_ts/*.py and the library just built.
"""

import base64
import hashlib
import os
import re
import sys
import sysconfig
import zipfile
from pathlib import Path

from setuptools import build_meta as _setuptools

import native_build

HERE = Path(__file__).resolve().parent
PACKAGE = "flash_mla_ts"


def _setuptools_writes_wheels():
    try:
        import wheel  # noqa: F401  (setuptools < 70.1 builds wheels with it)

        return True
    except ImportError:
        pass
    try:
        from setuptools.command import bdist_wheel  # noqa: F401  (setuptools >= 70.1)

        return True
    except ImportError:
        return False


def _project_field(name):
    """A string field of [project] in pyproject.toml (the one place the metadata is written)."""
    text = (HERE / "pyproject.toml").read_text()
    match = re.search(rf'^{name}\s*=\s*"([^"]*)"', text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"pyproject.toml: [project] has no {name}")
    return match.group(1)


def _metadata():
    name, version = _project_field("name"), _project_field("version")
    readme = (HERE / "README.md").read_text() if (HERE / "README.md").exists() else ""
    header = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: {_project_field('description')}\nLicense: MIT\n"
        f"Requires-Python: {_project_field('requires-python')}\n"
        "Description-Content-Type: text/markdown\n\n"
    )
    return name, version, header + readme


def _tag(library, extension):
    if library is None:
        return "py3-none-any"
    platform = re.sub(r"[-.]", "_", sysconfig.get_platform())
    if extension is None:
        return "py3-none-" + platform
    # The extension is built for this CPython's ABI (its EXT_SUFFIX).
    python = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    return f"{python}-{python}-{platform}"


def _write_dist_info(directory, name, version, metadata):
    info = Path(directory) / f"{name}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(metadata)
    return info.name


def _fallback_prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version, metadata = _metadata()
    return _write_dist_info(metadata_directory, name, version, metadata)


def _write_wheel(wheel_directory, library, extension):
    name, version, metadata = _metadata()
    tag = _tag(library, extension)
    files = {f"{PACKAGE}/{p.name}": p.read_bytes() for p in sorted((HERE / PACKAGE).glob("*.py"))}
    for binary in (library, extension):
        if binary is not None:
            files[f"{PACKAGE}/{binary.name}"] = binary.read_bytes()
    info = f"{name}-{version}.dist-info"
    files[f"{info}/METADATA"] = metadata.encode()
    files[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: {PACKAGE}.build_backend\n"
        f"Root-Is-Purelib: {'false' if library is not None else 'true'}\nTag: {tag}\n"
    ).encode()
    files[f"{info}/top_level.txt"] = f"{PACKAGE}\n".encode()
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()

    wheel_name = f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel_name, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = (0o755 if path.endswith(".so") else 0o644) << 16
            zf.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return wheel_name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    library = native_build.wheel_library()
    extension = None if library is None else native_build.wheel_extension()
    if _setuptools_writes_wheels():
        # setup.py, run by setuptools in this process, bundles what these name ("": nothing).
        os.environ[native_build.WHEEL_LIBRARY_ENV] = "" if library is None else str(library)
        os.environ[native_build.WHEEL_EXTENSION_ENV] = "" if extension is None else str(extension)
        return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    return _write_wheel(wheel_directory, library, extension)


build_sdist = _setuptools.build_sdist
get_requires_for_build_sdist = _setuptools.get_requires_for_build_sdist

if _setuptools_writes_wheels():
    get_requires_for_build_wheel = _setuptools.get_requires_for_build_wheel
    prepare_metadata_for_build_wheel = _setuptools.prepare_metadata_for_build_wheel
else:
    prepare_metadata_for_build_wheel = _fallback_prepare_metadata_for_build_wheel

    def get_requires_for_build_wheel(config_settings=None):
        return []
