"""The trainer's checkpoint format: one .npz, written atomically, read with every array
and setting checked before any of it reaches the core.

Layout (format "dropengine.Trainer/2"; "/1", written before the schedule flag existed,
is still read; "/3" is "/2" plus ``sources``, written for networks with skip connections
only, so a chain's checkpoint is what it always was):

    format      0-d str     the format name
    position    int64 (3,)  (epoch, minibatch within the epoch, minibatches in all)
    transfers   float64 (L, 5)  Transfer.spec() of each layer
    has_bias    bool (L,)
    W{h}, vW{h} (n_out, n_in) in the network's dtype: weights and momentum velocities
                            (with skip connections: over the concatenated input,
                            ``Network.input_weights``)
    sources     0-d str     "/3" only, JSON: per layer h = 1..L its sorted source layers
    b{h}, vb{h} (n_out,)       biases and their velocities (zeros where has_bias is False)
    settings    0-d str     JSON: the Trainer's options, the Philox key, the partial epoch
    history     0-d str     JSON: Trainer.history

A file from anywhere may be damaged or crafted: the core trusts the sizes it is given,
so a short array would be read past its end. Hence `read` checks each array's dtype,
shape (against the network the file describes) and finiteness and each setting's type,
and raises ValueError naming the entry.
"""
from __future__ import annotations

import json
import math

import numpy as np

from .._io import load_npz, save_npz_atomic
from .._dag import split_blocks
from ..gates import AdditiveNoise, Dropin, Dropout, Gates, GaussianGate, NoGate, WeightNoise
from ..network import Network
from ..transfer import transfer_from_spec

__all__ = ["FORMAT", "write", "read", "jsonable", "gate_to_json", "gate_from_json", "CALLABLE"]

FORMAT = "dropengine.Trainer/2"
FORMAT_DAG = "dropengine.Trainer/3"
_READS = (FORMAT, FORMAT_DAG, "dropengine.Trainer/1")
#: The settings' "schedule" of a trainer whose schedule was a callable: code cannot be
#: stored, so `Trainer.load` asks for it again rather than falling back to a constant rate.
CALLABLE = "callable"
_HISTORY_ROWS = ("epoch", "learning_rate", "train_loss", "train_error", "test_error", "seconds", "examples_per_s")
_POSITION_MAX = 2**62


def jsonable(v):
    """`v` with NumPy arrays and scalars replaced by lists and Python numbers."""
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def gate_to_json(gate):
    """The settings' JSON form of a training gate (None for no gate)."""
    if gate is None or isinstance(gate, NoGate):
        return None
    if isinstance(gate, Dropin):
        return {"kind": "dropin", "rate": jsonable(gate.rate)}
    if isinstance(gate, GaussianGate):
        return {"kind": "gaussian", "mean": jsonable(gate.mean), "std": jsonable(gate.std), "on": gate.on}
    if isinstance(gate, AdditiveNoise):
        return {"kind": "additive_noise", "std": jsonable(gate.std), "on": gate.on}
    if isinstance(gate, WeightNoise):
        return {"kind": "weight_noise", "std": jsonable(gate.std)}
    if isinstance(gate, Gates):
        return {"kind": "gates", "gates": [gate_to_json(g) for g in gate.gates]}
    return {"kind": "dropout", "keep": jsonable(gate.keep), "on": gate.on, "keep_bias": jsonable(gate.keep_bias)}


_GATE_KEYS = {"dropin": ("kind", "rate"), "dropout": ("kind", "keep", "on", "keep_bias"),
              "gaussian": ("kind", "mean", "std", "on"), "additive_noise": ("kind", "std", "on"),
              "weight_noise": ("kind", "std"), "gates": ("kind", "gates")}


def gate_from_json(s):
    """The gate `gate_to_json` describes; ValueError naming the entry otherwise (the
    gate's own checks run on the values)."""
    if s is None:
        return None
    if not isinstance(s, dict) or s.get("kind") not in _GATE_KEYS:
        raise ValueError(f"settings['gate'] must be null or a description of a {', '.join(_GATE_KEYS)} gate, "
                         f"got {s!r:.200}")
    need = _GATE_KEYS[s["kind"]]
    if sorted(s) != sorted(need):
        raise ValueError(f"settings['gate'] must have the keys {list(need)}, got {sorted(s)}")
    kind = s["kind"]
    if kind == "dropin":
        return Dropin(rate=s["rate"])
    if kind == "gaussian":
        return GaussianGate(mean=s["mean"], std=s["std"], on=s["on"])
    if kind == "additive_noise":
        return AdditiveNoise(std=s["std"], on=s["on"])
    if kind == "weight_noise":
        return WeightNoise(std=s["std"])
    if kind == "gates":
        if not isinstance(s["gates"], list) or any(isinstance(g, dict) and g.get("kind") == "gates" for g in s["gates"]):
            raise ValueError(f"settings['gate']['gates'] must be a list of gate descriptions, got {s['gates']!r:.200}")
        return Gates([gate_from_json(g) for g in s["gates"]])
    return Dropout(keep=s["keep"], on=s["on"], keep_bias=s["keep_bias"])


def write(path, *, layers, position, transfers, has_bias, settings: dict, history: dict, sources=None):
    """Writes a checkpoint atomically. `settings` and `history` must already be plain
    Python values (the Trainer normalises them when it is built); json.dumps is given
    no fallback so that anything else is a bug found here, not a file that loads wrong.
    `sources`: None for a chain, else each layer's source layers (format "/3")."""
    arrays = {"format": np.array(FORMAT if sources is None else FORMAT_DAG),
              "position": np.array(position, dtype=np.int64)}
    if sources is not None:
        arrays["sources"] = np.array(json.dumps([[int(l) for l in s] for s in sources]))
    for h, (W, b, vW, vb) in enumerate(layers):
        arrays.update({f"W{h}": W, f"b{h}": b, f"vW{h}": vW, f"vb{h}": vb})
    arrays["transfers"] = np.array(transfers, dtype=np.float64)
    arrays["has_bias"] = np.array(has_bias, dtype=bool)
    arrays["settings"] = np.array(json.dumps(settings))
    arrays["history"] = np.array(json.dumps(jsonable(history)))
    return save_npz_atomic(path, arrays)


class _Bad(ValueError):
    pass


def _json(z, key):
    a = z[key]
    if not isinstance(a, np.ndarray) or a.dtype.kind != "U" or a.ndim != 0:
        raise _Bad(f"{key!r} must be a 0-d string array (JSON), got dtype {a.dtype}, shape {a.shape}")
    try:
        return json.loads(str(a))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; deep nesting recurses
        raise _Bad(f"{key!r} is not valid JSON: {exc}") from None


def _int(v, name, lo=0, hi=_POSITION_MAX):
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v < hi:
        raise _Bad(f"{name} must be an integer in [{lo}, {hi}), got {v!r:.100}")
    return v


def _real(v, name, *, optional=False):
    if optional and v is None:
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _Bad(f"{name} must be a finite number{' or null' if optional else ''}, got {v!r:.100}")
    return float(v)


def _array(z, key, shape, dtype):
    a = z[key]
    if a.dtype != dtype:
        raise _Bad(f"{key!r} must have dtype {np.dtype(dtype).name}, got {a.dtype}")
    if a.shape != tuple(shape):
        raise _Bad(f"{key!r} must have shape {tuple(shape)}, got {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise _Bad(f"{key!r} must be finite (no NaN or Inf)")
    return np.ascontiguousarray(a)


def _settings(s):
    if not isinstance(s, dict):
        raise _Bad(f"'settings' must be a JSON object, got {type(s).__name__}")
    need = {"loss", "batch_size", "learning_rate", "schedule", "momentum", "weight_decay", "max_norm", "backward",
            "gate", "partial_epoch", "seed", "key", "dtype"}
    if set(s) != need:
        raise _Bad(f"'settings' must have the keys {sorted(need)}; missing {sorted(need - set(s))}, "
                   f"unexpected {sorted(set(s) - need)}")
    if s["dtype"] not in ("float32", "float64"):
        raise _Bad(f"settings['dtype'] must be 'float32' or 'float64', got {s['dtype']!r:.100}")
    if not isinstance(s["loss"], str):
        raise _Bad(f"settings['loss'] must be a string, got {s['loss']!r:.100}")
    _int(s["batch_size"], "settings['batch_size']", 1)
    for k in ("learning_rate", "momentum", "weight_decay"):
        _real(s[k], f"settings[{k!r}]")
    _real(s["max_norm"], "settings['max_norm']", optional=True)
    sched = s["schedule"]
    if not (sched is None or sched == CALLABLE or isinstance(sched, list)):
        raise _Bad(f"settings['schedule'] must be null, {CALLABLE!r} or a list, got {sched!r:.100}")
    b = s["backward"]
    if not isinstance(b, list) or not all(isinstance(v, str) or (isinstance(v, (int, float)) and
                                                                 not isinstance(v, bool)) for v in b):
        raise _Bad(f"settings['backward'] must be a list of strings and numbers, got {b!r:.100}")
    if s["seed"] is not None:
        _int(s["seed"], "settings['seed']", 0, 2**128)
    k = s["key"]
    if not isinstance(k, list) or len(k) != 2:
        raise _Bad(f"settings['key'] must be a list of two integers, got {k!r:.100}")
    for i, v in enumerate(k):
        _int(v, f"settings['key'][{i}]", 0, 2**32)
    p = s["partial_epoch"]
    if p is not None:
        if not isinstance(p, dict) or set(p) != {"loss", "errors", "examples", "seconds"}:
            raise _Bad(f"settings['partial_epoch'] must be null or an object with loss, errors, examples and "
                       f"seconds, got {p!r:.200}")
        _real(p["loss"], "settings['partial_epoch']['loss']")
        _int(p["errors"], "settings['partial_epoch']['errors']")
        _int(p["examples"], "settings['partial_epoch']['examples']")
        if _real(p["seconds"], "settings['partial_epoch']['seconds']") < 0:
            raise _Bad("settings['partial_epoch']['seconds'] must be >= 0")
    return s


def _sources(z, L: int) -> list:
    """The "/3" entry 'sources': for each layer h = 1..L, its distinct source layers
    l < h in increasing order, the first layer's being [0]."""
    s = _json(z, "sources")
    ok = isinstance(s, list) and len(s) == L and all(
        isinstance(row, list) and row and all(isinstance(l, int) and not isinstance(l, bool) for l in row)
        and row == sorted(set(row)) and 0 <= row[0] and row[-1] < h + 1 for h, row in enumerate(s))
    if not ok or s[0] != [0]:
        raise _Bad(f"'sources' must list, for each of the {L} layers h, its distinct source layers l < h in "
                   f"increasing order, got {s!r:.200}")
    return s


def _history(hist):
    if not isinstance(hist, dict) or set(hist) != set(_HISTORY_ROWS) | {"measurements"}:
        raise _Bad(f"'history' must be an object with the keys {list(_HISTORY_ROWS) + ['measurements']}")
    rows = {len(hist[k]) if isinstance(hist[k], list) else -1 for k in _HISTORY_ROWS}
    if len(rows) != 1 or -1 in rows:
        raise _Bad("'history' must hold lists of one length (one entry per epoch)")
    for k in _HISTORY_ROWS:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in hist[k]):
            raise _Bad(f"history[{k!r}] must hold numbers")
    if not isinstance(hist["measurements"], list):
        raise _Bad("history['measurements'] must be a list")
    return hist


def read(path) -> dict:
    """The checked contents of a checkpoint: network (a Network), velocities (list of
    (vW, vb)), position (3 ints), settings (dict, as written), history (dict), format.
    ValueError naming the entry for anything not as `write` makes it."""
    z = load_npz(path)
    where = f"path: {str(path)!r}"
    fmt = z.get("format")
    if not (isinstance(fmt, np.ndarray) and fmt.dtype.kind == "U" and fmt.ndim == 0 and str(fmt) in _READS):
        raise ValueError(f"{where} is not a dropengine trainer checkpoint")
    try:
        return _read(z, str(fmt))
    except _Bad as exc:
        raise ValueError(f"{where} does not hold a valid trainer checkpoint: {exc}") from None


def _read(z, fmt):
    fixed = ("format", "position", "transfers", "has_bias", "settings", "history")
    for key in fixed:
        if key not in z:
            raise _Bad(f"the entry {key!r} is missing")
    t = z["transfers"]
    if t.dtype != np.float64 or t.ndim != 2 or t.shape[1] != 5 or not 1 <= t.shape[0] <= 4096:
        raise _Bad(f"'transfers' must be a float64 array of shape (n_layers, 5), got {t.dtype} {t.shape}")
    L = t.shape[0]
    layer_keys = [f"{n}{h}" for h in range(L) for n in ("W", "b", "vW", "vb")]
    missing = [k for k in layer_keys if k not in z]
    extra = sorted(set(z) - set(fixed) - set(layer_keys) - ({"sources"} if fmt == FORMAT_DAG else set()))
    if missing or extra:
        raise _Bad(f"the layer entries do not match 'transfers' ({L} layers): missing {missing[:8]}, "
                   f"unexpected {extra[:8]}")
    s = _settings(_json(z, "settings"))
    if fmt != FORMAT and s["schedule"] == CALLABLE:
        raise _Bad(f"settings['schedule'] {CALLABLE!r} is not part of format {fmt!r}")
    history = _history(_json(z, "history"))
    dtype = np.dtype(s["dtype"])
    if not np.isfinite(t).all() or (t[:, 0] != np.round(t[:, 0])).any():
        raise _Bad("'transfers' must be finite, with integer kinds in column 0")
    try:
        transfers = [transfer_from_spec(row) for row in t]
    except (ValueError, TypeError) as exc:
        raise _Bad(f"'transfers': {exc}") from None
    has_bias = _array(z, "has_bias", (L,), np.bool_)
    pos = z["position"]
    if pos.dtype.kind not in "iu" or pos.shape != (3,):
        raise _Bad(f"'position' must be 3 integers (epoch, minibatch, step), got {pos.dtype} {pos.shape}")
    epoch, batch, step = (int(v) for v in pos)
    for name, v in (("epoch", epoch), ("minibatch", batch), ("step", step)):
        _int(v, f"'position' {name}")
    if step < epoch + batch:  # every epoch has at least one minibatch, so step >= epoch + batch
        raise _Bad(f"'position' {(epoch, batch, step)} is impossible: step counts all minibatches run, "
                   f"so it is at least epoch + minibatch")
    sources = _sources(z, L) if fmt == FORMAT_DAG else [[h] for h in range(L)]
    W, b, vel = [], [], []
    sizes = []  # units of layer l (0: the input)
    for h in range(L):
        w = z[f"W{h}"]
        n_in = None if h == 0 else sum(sizes[l] for l in sources[h])
        if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1 or (n_in is not None and w.shape[1] != n_in):
            want = "(n_out, n_in)" if n_in is None else f"(n_out, {n_in}) (n_in: the units of layers {sources[h]})"
            raise _Bad(f"'W{h}' must have shape {want}, got {w.shape}")
        if h == 0:
            sizes.append(w.shape[1])
        shape = w.shape
        Wh = _array(z, f"W{h}", shape, dtype)
        offsets = np.cumsum([0] + [sizes[l] for l in sources[h]])
        W.append(split_blocks(Wh, [(l, int(o), sizes[l]) for l, o in zip(sources[h], offsets)], h + 1))
        b.append(_array(z, f"b{h}", shape[:1], dtype))
        vel.append((_array(z, f"vW{h}", shape, dtype), _array(z, f"vb{h}", shape[:1], dtype)))
        sizes.append(shape[0])
    try:
        net = Network(W, [bh if hb else None for bh, hb in zip(b, has_bias)], transfers, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise _Bad(f"the network: {exc}") from None
    return {"format": fmt, "network": net, "biases": b, "velocities": vel, "position": (epoch, batch, step),
            "settings": s, "history": history}
