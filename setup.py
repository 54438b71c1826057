"""Build driver: CMake builds everything (cpp/CMakeLists.txt); this file only runs it.

In the style of pybind11's cmake_example: C++ users and Python users get the same
library, configured in one place.
"""
import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str, source_dir: Path) -> None:
        super().__init__(name, sources=[])
        self.source_dir = source_dir


class CMakeBuild(build_ext):
    def build_extension(self, ext: CMakeExtension) -> None:
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / ext.name
        build_dir.mkdir(parents=True, exist_ok=True)
        cfg = os.environ.get("DROPENGINE_BUILD_TYPE", "Release")
        args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCMAKE_BUILD_TYPE={cfg}",
            "-DDROPENGINE_PYTHON=ON",
        ]
        # Extra options, e.g. DROPENGINE_CMAKE_ARGS="-DDROPENGINE_OPENMP=OFF".
        args += os.environ.get("DROPENGINE_CMAKE_ARGS", "").split()
        try:
            import ninja  # noqa: F401  (the PyPI ninja, so no system build tool is needed)

            args.append("-GNinja")
        except ImportError:
            pass
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        subprocess.run(["cmake", "-S", str(ext.source_dir), "-B", str(build_dir), *args], check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--parallel", jobs], check=True)


setup(
    ext_modules=[CMakeExtension("dropengine._core", ROOT / "cpp")],
    cmdclass={"build_ext": CMakeBuild},
)
