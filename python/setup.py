"""Bundles the library that build_backend.build_wheel built (no compiled extension of its own)."""

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

from native_build import LIBRARY_NAME, WHEEL_LIBRARY_ENV

# Set by build_backend.build_wheel: the library's path, or "" for a pure-Python wheel.
LIBRARY = Path(os.environ[WHEEL_LIBRARY_ENV]) if os.environ.get(WHEEL_LIBRARY_ENV) else None


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "flash_mla_ts" / LIBRARY_NAME
        if LIBRARY is not None:
            shutil.copy2(LIBRARY, target)
            print(f"flash_mla_ts: bundled {LIBRARY}")
        else:
            # build_lib outlives a build: a library an earlier build put there must not ship now.
            if target.exists():
                target.unlink()
            print(f"flash_mla_ts: no {LIBRARY_NAME} bundled")


class BinaryDistribution(Distribution):
    """A wheel that carries a shared library is platform-specific."""

    def has_ext_modules(self):
        return LIBRARY is not None


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
