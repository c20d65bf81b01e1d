"""Bundles libdnabert.so into the package when it is built (make lib), so `pip install ./bindings/python`
gives a self-contained install. Without a built library the package still installs and then finds the
library through DNABERT_LIB or the system loader path at import time."""
import os
import shutil

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))


def find_built_library():
    candidates = [os.environ.get("DNABERT_LIB", ""),
                  os.path.join(HERE, "..", "..", "build", "lib", "libdnabert.so")]
    for c in candidates:
        if c and os.path.isfile(c):
            return c
    return None


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        lib = find_built_library()
        if lib:
            dest = os.path.join(self.build_lib, "dnabert", "libdnabert.so")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(lib, dest)
        else:
            print("warning: libdnabert.so not found; set DNABERT_LIB at run time")


class PlatformWheel(bdist_wheel):
    """The wheel carries libdnabert.so (machine code for one platform): tag it py3-none-<platform>, e.g.
    linux_x86_64, not py3-none-any, so pip never installs it on another machine type. The Python code has no
    extension module, so any Python 3 and ABI will do."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


class BinaryDistribution(Distribution):
    """Installs into platlib (the package holds a shared library), at the wheel's root."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel}, distclass=BinaryDistribution)
