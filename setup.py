"""Builds serengeti._C with CMake + Ninja and installs the package from python/serengeti.

Environment knobs:
  SERENGETI_BUILD_DIR   persistent CMake build directory (developer loop: only changed files
                        recompile); default: setuptools' temporary build directory.
  SERENGETI_BUILD_TYPE  CMake build type (default Release).
  SERENGETI_CMAKE_ARGS  extra arguments passed to CMake configure (space separated).
  MAX_JOBS              parallel compile jobs (default: all cores).

The compiler output of the build (with nvcc's ptxas register/spill report when the CUDA backend is
built) is kept in <build dir>/build.log.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    """An Extension with no sources of its own: CMake builds it (see CMakeBuild)."""

    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configure once, then build the `_C` target into the directory setuptools expects."""

    def build_extension(self, ext: Extension) -> None:
        import pybind11  # a build requirement, imported here so `setup.py --help` works without it

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(os.environ.get("SERENGETI_BUILD_DIR", Path(self.build_temp) / "cmake")).resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        build_type = os.environ.get("SERENGETI_BUILD_TYPE", "Release")
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
            f"-DCMAKE_BUILD_TYPE={build_type}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DSERENGETI_PYTHON_OUTPUT_DIR={out_dir}",
        ]
        configure += shlex.split(os.environ.get("SERENGETI_CMAKE_ARGS", ""))
        subprocess.run(configure, check=True)
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 1))
        build = ["cmake", "--build", str(build_dir), "--target", "_C", "--", f"-j{jobs}"]
        _run_logged(build, build_dir / "build.log")


def _run_logged(command: list, log_path: Path) -> None:
    """Runs `command`, streaming its output and keeping a copy in `log_path` (the ptxas register and
    spill report of the CUDA kernels lives there)."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        if proc.wait() != 0:
            raise subprocess.CalledProcessError(proc.returncode, command)


setup(
    ext_modules=[CMakeExtension("serengeti._C")],
    cmdclass={"build_ext": CMakeBuild},
)
