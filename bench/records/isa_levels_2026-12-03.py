# Record (2026-12-03, session 12): the sampler at DROPENGINE_SIMD=avx512 vs avx2 on the 2-core AMD EPYC; run from /tmp.
"""The sampler (paper network, 10 x 3,000 samples) at DROPENGINE_SIMD=avx512 vs avx2, alternating processes (the level is read at import)."""
import subprocess, sys, statistics, json
code = r'''
import time, json, numpy as np, dropengine as de
from dropengine.datasets import PAPER_SIZES, mnist_like_inputs
net = de.Network.random(PAPER_SIZES, "logistic", seed=0, dtype=np.float32)
X = mnist_like_inputs(10)
g = de.Dropout([0.8, 0.5, 0.5, 0.5, 0.5])
de.sample(net, X, g, 200, seed=1)
t = time.perf_counter(); de.sample(net, X, g, 3000, seed=1); dt = time.perf_counter() - t
print(json.dumps({"isa": de.build_info()["simd"], "samples_per_s": 30000 / dt}))
'''
res = {"avx512": [], "avx2": []}
for r in range(6):
    for lvl in (["avx512", "avx2"] if r % 2 == 0 else ["avx2", "avx512"]):
        out = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "DROPENGINE_SIMD": lvl}, capture_output=True, text=True, check=True).stdout
        d = json.loads(out.strip().splitlines()[-1]); res[lvl].append(d["samples_per_s"]); assert d["isa"] == lvl, d
for k, v in res.items(): print(k, f"median {statistics.median(v):,.0f} samples/s", [f"{x:,.0f}" for x in v])
print("avx512/avx2 per round:", [f"{a/b:.3f}" for a, b in zip(res["avx512"], res["avx2"])])
