"""Build driver: CMake builds the C++ core and its pybind11 module (cpp/CMakeLists.txt);
Cython builds the analysis kernels (dropengine/analysis/_kernels.pyx).

In the style of pybind11's cmake_example: C++ users and Python users get the same
library, configured in one place.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str, source_dir: Path) -> None:
        super().__init__(name, sources=[])
        self.source_dir = source_dir


def openmp_flags(compiler) -> list:
    """["-fopenmp"] when the compiler builds and links an OpenMP program, else [] (serial)."""
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "omp.c"
        src.write_text("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n")
        try:
            objs = compiler.compile([str(src)], output_dir=d, extra_postargs=["-fopenmp"])
            compiler.link_executable(objs, "omp", output_dir=d, extra_postargs=["-fopenmp"])
            return ["-fopenmp"]
        except Exception:
            print("dropengine: the C compiler has no OpenMP; building serial analysis kernels", file=sys.stderr)
            return []


def forget_stale_cache(build_dir: Path) -> None:
    """Removes a CMake cache whose tools are gone. pip builds in a temporary environment
    (its own cmake, ninja, pybind11) but keeps build/ in the source tree, so a second
    `pip install ".[...]"` would find a cache pointing at the first one's deleted ninja
    and fail to configure."""
    cache = build_dir / "CMakeCache.txt"
    if not cache.exists():
        return
    for line in cache.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.split(":")[0] in ("CMAKE_MAKE_PROGRAM", "Python_EXECUTABLE", "pybind11_DIR") and value \
                and not Path(value).exists():
            import shutil

            print(f"dropengine: {key.split(':')[0]} of the old CMake cache ({value}) is gone; configuring anew",
                  file=sys.stderr)
            cache.unlink()
            shutil.rmtree(build_dir / "CMakeFiles", ignore_errors=True)
            return


class Build(build_ext):
    def build_extension(self, ext) -> None:
        if isinstance(ext, CMakeExtension):
            self.build_cmake(ext)
            return
        flags = openmp_flags(self.compiler)
        ext.extra_compile_args = ["-O3", *flags]
        ext.extra_link_args = flags
        super().build_extension(ext)

    def build_cmake(self, ext: CMakeExtension) -> None:
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / ext.name
        build_dir.mkdir(parents=True, exist_ok=True)
        forget_stale_cache(build_dir)
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


def cython_extensions() -> list:
    from Cython.Build import cythonize

    kernels = Extension("dropengine.analysis._kernels", ["dropengine/analysis/_kernels.pyx"])
    return cythonize([kernels], compiler_directives={"language_level": 3})


setup(
    ext_modules=[CMakeExtension("dropengine._core", ROOT / "cpp"), *cython_extensions()],
    cmdclass={"build_ext": Build},
)
