"""Copies ../build/libflashmla.so into the package when it exists (no compiled extension)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
LIBRARY = HERE.parent / "build" / "libflashmla.so"


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        if LIBRARY.is_file():
            target = Path(self.build_lib) / "flash_mla_ts" / LIBRARY.name
            shutil.copy2(LIBRARY, target)
            print(f"flash_mla_ts: bundled {LIBRARY}")
        else:
            print(
                f"flash_mla_ts: {LIBRARY} not found, installing without it; build it with "
                "`npm run build:native` and reinstall, or set FLASH_MLA_LIBRARY"
            )


class BinaryDistribution(Distribution):
    """A wheel that carries a shared library is platform-specific."""

    def has_ext_modules(self):
        return LIBRARY.is_file()


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
