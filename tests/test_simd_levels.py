"""DROPENGINE_SIMD caps the kernels' instruction set (issue 15): CI runs the twin and
golden-hash tests once per level, so each level's kernels are checked on one machine.
This test makes sure the variable takes effect, or those runs would check nothing new."""
import os
import subprocess
import sys

import dropengine as de

_PROBE = "import dropengine as de, numpy as np; print(de.build_info()['simd'])"


def _level(env_value):
    env = dict(os.environ)
    env.pop("DROPENGINE_SIMD", None)
    if env_value is not None:
        env["DROPENGINE_SIMD"] = env_value
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.abspath(__file__)))
    return out.stdout.strip()


def test_generic_level_is_taken():
    assert _level("generic") == "generic"


def test_cap_never_raises_the_level():
    best = _level(None)
    order = ["generic", "avx2", "avx512"]
    assert order.index(_level("avx2")) <= order.index("avx2")
    assert _level("avx512") == best


def test_this_process_reports_its_level():
    want = os.environ.get("DROPENGINE_SIMD")
    if want is None:
        assert de.build_info()["simd"] == _level(None)
    else:
        order = ["generic", "avx2", "avx512"]
        assert order.index(de.build_info()["simd"]) <= order.index(want)
