"""Bundles what build_backend.build_wheel built: the library, and the C++ decode call
(_fast_decode, built by native_build.build_extension, not through setuptools' extension support)."""

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

from native_build import EXTENSION_NAME, LIBRARY_NAME, WHEEL_EXTENSION_ENV, WHEEL_LIBRARY_ENV

# Set by build_backend.build_wheel: the paths of the library and the extension, or "" for none.
LIBRARY = Path(os.environ[WHEEL_LIBRARY_ENV]) if os.environ.get(WHEEL_LIBRARY_ENV) else None
EXTENSION = Path(os.environ[WHEEL_EXTENSION_ENV]) if os.environ.get(WHEEL_EXTENSION_ENV) else None


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        package = Path(self.build_lib) / "flash_mla_ts"
        # build_lib outlives a build: binaries an earlier build put there must not ship now.
        for stale in [package / LIBRARY_NAME, *package.glob(EXTENSION_NAME + "*")]:
            stale.unlink(missing_ok=True)
        for binary in (LIBRARY, EXTENSION):
            if binary is not None:
                shutil.copy2(binary, package / binary.name)
                print(f"flash_mla_ts: bundled {binary}")
        if LIBRARY is None:
            print(f"flash_mla_ts: no {LIBRARY_NAME} bundled")


class BinaryDistribution(Distribution):
    """A wheel that carries a shared library is platform-specific."""

    def has_ext_modules(self):
        return LIBRARY is not None


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
