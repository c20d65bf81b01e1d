"""Bundles libdnabert.so into the package when it is built (make lib), so `pip install ./bindings/python`
gives a self-contained install. Without a built library the package still installs and then finds the
library through DNABERT_LIB or the system loader path at import time."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

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


setup(cmdclass={"build_py": BuildPyWithLibrary})
