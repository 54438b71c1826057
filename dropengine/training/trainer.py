"""Minibatch SGD with dropout, dropin and backpercolation (Sections 10.2, 11).

The loop over minibatches runs in the C++ core (cpp/include/dropengine/train.h); this
module checks arguments, keeps the epoch loop, the learning-rate schedule, the history,
checkpoints and the measurements taken at chosen epochs.
"""
from __future__ import annotations

import contextlib
import json
import numbers
import signal
import threading
import time

import numpy as np

from .. import _core
from .._io import load_npz, save_npz_atomic
from .._validation import as_count, as_real_array, as_threads, seed_key
from ..gates import Dropin, Dropout, NoGate, resolve_gate
from ..network import Network
from ..transfer import transfer_from_spec
from .schedules import resolve_schedule

__all__ = ["Trainer", "train", "LOSSES"]

#: Loss names and their codes in the core (train.h).
LOSSES = {"squared": 0, "relative_entropy": 1, "cross_entropy": 2}
_BACKPROP, _BACKPERCOLATION = -1.0, 0.0
_FORMAT = "dropengine.Trainer/1"


def _backward_modes(backward, n_hidden: int) -> list:
    """Per hidden layer: -1 (backprop), 0 (backpercolation) or a fixed keep p in (0, 1]."""
    def one(v, name):
        if isinstance(v, str):
            if v == "backprop":
                return _BACKPROP
            if v == "backpercolation":
                return _BACKPERCOLATION
            raise ValueError(f"{name} must be 'backprop', 'backpercolation' or a keep probability "
                             f"in (0, 1], got {v!r}")
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a string or a number, got {type(v).__name__}")
        if not 0 < float(v) <= 1:
            raise ValueError(f"{name}: a fixed backpercolation keep probability must lie in (0, 1], got {v}")
        return float(v)

    if isinstance(backward, (list, tuple)):
        if len(backward) != n_hidden:
            raise ValueError(f"backward must have one entry per hidden layer ({n_hidden}), got {len(backward)}")
        return [one(v, f"backward[{h}]") for h, v in enumerate(backward)]
    return [one(backward, "backward")] * n_hidden


def _max_derivative(f) -> float:
    kind, c, lam, t, slope = f.spec()
    return {0: 1.0, 1: abs(lam) / 4, 2: abs(lam), 3: abs(slope), 4: 1.0, 5: 1.0}[int(kind)]


class Trainer:
    """Trains a network by minibatch stochastic gradient descent under a dropout gate.

    Each step draws a subnetwork per example (Eq. 166), propagates, and descends the
    minibatch mean gradient of the loss (Eq. 172-175) with momentum:
    v <- mu v - eta_e (g + decay w), w <- w + v; optionally every unit's incoming weight
    vector is then scaled back to norm <= max_norm. Training uses the paper's plain
    gates (no 1/p scaling at training time); the trained network's predictions are the
    ensemble network's (Eq. 167, `dropengine.ensemble`). Runs are bit-identical for any
    thread count, and a run resumed from a checkpoint equals an uninterrupted one.

    Parameters
    ----------
    net : Network
        Initial weights (copied; float32 or float64 as the network is).
    gate : Dropout (on units or connections), Dropin or None
        The forward noise. Dropin (Section 11.6) sets units to 1 with its rate.
    loss : {"cross_entropy", "relative_entropy", "squared"}
        Softmax cross entropy (softmax output), relative entropy (Eq. 156, logistic
        output) or squared error (Eq. 55, any output).
    batch_size : int
        Examples per minibatch.
    learning_rate : float
        eta_0 > 0.
    schedule : None, ("exponential", gamma), ("inverse", tau) or callable
        Learning rate of epoch e: eta_0; eta_0 gamma^e; eta_0 tau / (tau + e), whose sum
        diverges while the sum of squares converges (the condition of Section 11.1);
        or callable(e) -> eta_e.
    momentum : float in [0, 1)
    weight_decay : float >= 0
    max_norm : float or None
    backward : "backprop", "backpercolation", a float p, or a list per hidden layer
        Backpropagation multiplies the error signal at a hidden unit by sigma'(S)
        (Eq. 173). Backpercolation (Section 10.2) passes it whole with probability
        sigma'(S) and stops it otherwise (so sigma' <= 1 is required: logistic lam <= 4,
        tanh lam <= 1); a float p passes it whole with the fixed probability p. A list
        mixes them, e.g. backprop in the top layers and backpercolation below. (This is
        the paper's backpercolation, not the unrelated SNNS learning rule of that name.)
    seed : int or numpy.random.SeedSequence
        Keys every draw: example order, gates, backpercolation coins.
    threads : int or None
        OpenMP threads (None: all).
    """

    def __init__(self, net: Network, gate=None, *, loss: str = "cross_entropy", batch_size: int = 100,
                 learning_rate: float = 0.1, schedule=None, momentum: float = 0.0, weight_decay: float = 0.0,
                 max_norm=None, backward="backprop", seed=0, threads=None):
        if not isinstance(net, Network):
            raise TypeError(f"net must be a dropengine.Network, got {type(net).__name__}")
        if gate is not None and not isinstance(gate, (Dropout, Dropin, NoGate)):
            raise TypeError(f"gate must be Dropout, Dropin, NoGate or None for training, got {type(gate).__name__}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        self.batch_size = as_count(batch_size, "batch_size")
        lr = as_real_array(learning_rate, "learning_rate", dtype=np.float64)
        if lr.ndim != 0 or not lr > 0:
            raise ValueError(f"learning_rate must be a number > 0, got {learning_rate!r}")
        self.learning_rate = float(lr)
        self._schedule = resolve_schedule(schedule)
        self.schedule = schedule
        for name, v, lo, hi in (("momentum", momentum, 0.0, 1.0), ("weight_decay", weight_decay, 0.0, np.inf)):
            a = as_real_array(v, name, dtype=np.float64)
            if a.ndim != 0 or not (lo <= float(a) < hi):
                raise ValueError(f"{name} must be a number in [{lo}, {hi}), got {v!r}")
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        if max_norm is not None:
            a = as_real_array(max_norm, "max_norm", dtype=np.float64)
            if a.ndim != 0 or not float(a) > 0:
                raise ValueError(f"max_norm must be None or a number > 0, got {max_norm!r}")
        self.max_norm = None if max_norm is None else float(max_norm)
        self.backward = _backward_modes(backward, net.n_layers - 1)
        for h, (mode, f) in enumerate(zip(self.backward, net.transfers)):
            if mode == _BACKPERCOLATION and _max_derivative(f) > 1:
                raise ValueError(f"backward: backpercolation reads sigma'(S) as a probability, so layer {h} "
                                 f"needs sigma' <= 1, but {f!r} has max sigma' = {_max_derivative(f):g} "
                                 "(logistic: lam <= 4; tanh: lam <= 1)")
        self.loss, self.gate, self.seed = loss, gate, seed
        self.threads = as_threads(threads)
        self._k0, self._k1, _ = seed_key(seed)
        self._transfers = [f.spec() for f in net.transfers]
        self._has_bias = [b is not None for b in net.biases]
        self._shapes = [w.shape for w in net.weights]
        self.dtype = net.dtype
        kind, p, keep_bias = resolve_gate(gate, net, allow_spikes=False)
        W, b, f = net._core_args()
        cls = _core.Trainer_f32 if net.dtype == np.float32 else _core.Trainer_f64
        self._core = cls(W, b, f, kind, p, keep_bias, LOSSES[loss], self.batch_size, self.momentum,
                         self.weight_decay, self.max_norm or 0.0, self.backward, self._k0, self._k1, self.threads)
        self.history = {"epoch": [], "learning_rate": [], "train_loss": [], "train_error": [], "test_error": [],
                        "seconds": [], "examples_per_s": [], "measurements": []}

    # --- state --------------------------------------------------------------------
    @property
    def network(self) -> Network:
        """The current weights as a Network (a copy)."""
        Ws, bs = [], []
        for h, (n_out, n_in) in enumerate(self._shapes):
            W, b, _, _ = self._core.get_layer(h, n_out, n_in)
            Ws.append(W.reshape(n_out, n_in))
            bs.append(b if self._has_bias[h] else None)
        return Network(Ws, bs, [transfer_from_spec(s) for s in self._transfers], dtype=self.dtype)

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return int(self._core.position()[0])

    @property
    def position(self) -> tuple:
        """(epoch, minibatch within the epoch, minibatches in all)."""
        return tuple(int(v) for v in self._core.position())

    # --- data ---------------------------------------------------------------------
    def _data(self, X, y, name_X="X", name_y="y"):
        n_in, n_out = self._shapes[0][1], self._shapes[-1][0]
        X = as_real_array(X, name_X, dtype=self.dtype, ndim=2)
        if X.shape[1] != n_in:
            raise ValueError(f"{name_X} must have shape (n_examples, {n_in}), got {X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"{name_X} holds no examples")
        y = np.asarray(y)
        if y.ndim == 1:
            if y.dtype.kind not in "iu":
                raise TypeError(f"{name_y} must hold integer class labels (or be a 2-D target array), "
                                f"got dtype {y.dtype}")
            if y.shape[0] != X.shape[0]:
                raise ValueError(f"{name_y} has {y.shape[0]} labels for {X.shape[0]} examples")
            if y.size and (y.min() < 0 or y.max() >= n_out):
                bad = int(y[(y < 0) | (y >= n_out)][0])
                raise ValueError(f"{name_y}: label {bad} is outside [0, {n_out}) (the output layer has {n_out} units)")
            return X, np.ascontiguousarray(y, dtype=np.int32), None
        T = as_real_array(y, name_y, dtype=self.dtype, ndim=2)
        if T.shape != (X.shape[0], n_out):
            raise ValueError(f"{name_y} must be labels of shape ({X.shape[0]},) or targets of shape "
                             f"({X.shape[0]}, {n_out}), got {T.shape}")
        return X, None, T

    # --- training -----------------------------------------------------------------
    def learning_rate_at(self, epoch: int) -> float:
        return float(self.learning_rate * self._schedule(epoch))

    def fit(self, X, y, epochs: int, *, X_test=None, y_test=None, test_every: int = 1, probes=None, measure_at=(),
            n_probe_samples: int = 1000, checkpoint=None, time_limit=None, progress=None):
        """Trains until `epochs` epochs are complete (counting those done before).

        Parameters
        ----------
        X, y : arrays
            Inputs (n, n_in) and integer labels (n,) or targets (n, n_out).
        X_test, y_test : arrays, optional
            Held-out examples; their error under the ensemble network (Eq. 167) is
            recorded after every `test_every`-th epoch and the last one (NaN between).
        probes : array (k, n_in), optional; measure_at : iterable of epochs
            At each listed epoch (0: before training), the dropout statistics of the
            probe inputs are measured (see `dropengine.training.probes.measure`) and
            appended to history["measurements"].
        checkpoint : path, optional
            Saved (atomically) after every epoch and when interrupted.
        time_limit : seconds, optional
            Stops after the first epoch that ends past it.
        progress : callable(dict), optional
            Called after every epoch with that epoch's history row.

        Ctrl-C stops at a minibatch boundary: the weights, position and history stay
        consistent (and are saved to `checkpoint`), then KeyboardInterrupt propagates.
        """
        from .probes import measure

        epochs = as_count(epochs, "epochs", minimum=0)
        X, labels, targets = self._data(X, y)
        test = self._data(X_test, y_test, "X_test", "y_test") if X_test is not None else None
        if probes is not None:
            probes = as_real_array(probes, "probes", dtype=self.dtype, ndim=2)
        measure_at = set(as_count(e, "measure_at", minimum=0) for e in measure_at)
        n_probe_samples = as_count(n_probe_samples, "n_probe_samples")
        test_every = as_count(test_every, "test_every")
        lr0 = self.learning_rate_at(self.epoch)
        if not (np.isfinite(lr0) and lr0 > 0):
            raise ValueError(f"schedule: the learning rate at epoch {self.epoch} is {lr0}; it must be > 0")

        def take_measurement():
            if probes is not None and self.epoch in measure_at and self.position[1] == 0 and not any(
                    m["epoch"] == self.epoch for m in self.history["measurements"]):
                self.history["measurements"].append(
                    measure(self.network, probes, self.gate, n_probe_samples, epoch=self.epoch,
                            seed=self.seed, threads=self.threads or None))

        t_start = time.perf_counter()
        take_measurement()
        while self.epoch < epochs:
            e = self.epoch
            lr = self.learning_rate_at(e)
            if not (np.isfinite(lr) and lr > 0):
                raise ValueError(f"schedule: the learning rate at epoch {e} is {lr}; it must be > 0")
            t0 = time.perf_counter()
            # Ctrl-C inside the core stops it at a minibatch boundary (pr["interrupted"]);
            # around it, the bookkeeping runs with Ctrl-C deferred, so the state, history
            # and checkpoint always describe a whole number of minibatches.
            pr = self._core.run(X, labels, targets, lr, 2**62)
            with _sigint_deferred():
                acc = getattr(self, "_partial", None) or {"loss": 0.0, "errors": 0, "examples": 0, "seconds": 0.0}
                acc["loss"] += pr["loss_sum"]
                acc["errors"] += pr["errors"]
                acc["examples"] += pr["examples"]
                acc["seconds"] += time.perf_counter() - t0
                self._partial = acc
                if pr["interrupted"]:
                    if checkpoint is not None:
                        self.save(checkpoint)
                    raise KeyboardInterrupt
            row = {"epoch": e + 1, "learning_rate": lr, "train_loss": acc["loss"] / max(acc["examples"], 1),
                   "train_error": acc["errors"] / max(acc["examples"], 1), "test_error": float("nan"),
                   "seconds": acc["seconds"], "examples_per_s": acc["examples"] / max(acc["seconds"], 1e-12)}
            try:
                if test and ((e + 1) % test_every == 0 or e + 1 == epochs):
                    row["test_error"] = self._error(*test)
            finally:  # also when interrupted while evaluating: the epoch is done, record it
                with _sigint_deferred():
                    self._partial = None
                    for k, v in row.items():
                        self.history[k].append(v)
                    if checkpoint is not None:
                        self.save(checkpoint)
            take_measurement()
            if progress is not None:
                progress(row)
            if time_limit is not None and time.perf_counter() - t_start > time_limit:
                break
        return self.history

    def run_batches(self, X, y, n_batches: int) -> dict:
        """Runs at most `n_batches` minibatches of the current epoch (stopping at its end)
        at the scheduled learning rate, without touching the history: a low-level step
        for custom loops. Returns the core's progress (batches, examples, loss_sum,
        errors, epoch_done, interrupted)."""
        X, labels, targets = self._data(X, y)
        n_batches = as_count(n_batches, "n_batches")
        lr = self.learning_rate_at(self.epoch)
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"schedule: the learning rate at epoch {self.epoch} is {lr}; it must be > 0")
        pr = self._core.run(X, labels, targets, lr, n_batches)
        if pr["interrupted"]:
            raise KeyboardInterrupt
        return pr

    def error(self, X, y) -> float:
        """Classification error of the ensemble network (Eq. 167) on (X, y)."""
        return self._error(*self._data(X, y, "X", "y"))

    def predict(self, X):
        """Outputs (n, n_out) of the ensemble network (Eq. 167) with the current weights:
        every gate replaced by its expectation, as `dropengine.ensemble` computes it."""
        from ..sampling import ensemble

        n_in = self._shapes[0][1]
        X = as_real_array(X, "X", dtype=self.dtype, ndim=2)
        if X.shape[1] != n_in:
            raise ValueError(f"X must have shape (n_examples, {n_in}), got {X.shape}")
        if isinstance(self.gate, Dropout) and self.gate.on == "connections":
            return ensemble(self.network, X, self.gate, threads=self.threads or None)[1][-1]
        return self._core.predict(X, self._shapes[-1][0])

    def _error(self, X, labels, targets) -> float:
        guess = self.predict(X).argmax(axis=1)
        want = labels if labels is not None else targets.argmax(axis=1)
        return float(np.mean(guess != want))

    def gradient(self, X, y, *, step: int = 0):
        """Mean gradient of the loss over the rows of (X, y) as one minibatch, under the
        gate drawn for minibatch `step`, without updating: (gW list, gb list, summed loss)."""
        X, labels, targets = self._data(X, y)
        step = as_count(step, "step", minimum=0)
        gW, gb, loss = self._core.gradient(X, labels, targets, step)
        return ([g.reshape(s) for g, s in zip(gW, self._shapes)], list(gb), float(loss))

    # --- checkpoints --------------------------------------------------------------
    def save(self, path):
        """Writes weights, velocities, position, settings and history to `path` (.npz,
        atomically): `Trainer.load(path)` continues the run bit for bit."""
        arrays = {"format": np.array(_FORMAT), "position": np.array(self.position, dtype=np.int64)}
        for h, (n_out, n_in) in enumerate(self._shapes):
            W, b, vW, vb = self._core.get_layer(h, n_out, n_in)
            arrays.update({f"W{h}": W.reshape(n_out, n_in), f"b{h}": b, f"vW{h}": vW.reshape(n_out, n_in),
                           f"vb{h}": vb})
        arrays["transfers"] = np.array(self._transfers, dtype=np.float64)
        arrays["has_bias"] = np.array(self._has_bias)
        settings = {"loss": self.loss, "batch_size": self.batch_size, "learning_rate": self.learning_rate,
                    "schedule": self.schedule if not callable(self.schedule) else None,
                    "momentum": self.momentum, "weight_decay": self.weight_decay, "max_norm": self.max_norm,
                    "backward": [{_BACKPROP: "backprop", _BACKPERCOLATION: "backpercolation"}.get(m, m)
                                 for m in self.backward],
                    "gate": _gate_spec(self.gate), "partial_epoch": getattr(self, "_partial", None),
                    "seed": self.seed if isinstance(self.seed, int) else None,
                    "key": [self._k0, self._k1], "dtype": np.dtype(self.dtype).name}
        arrays["settings"] = np.array(json.dumps(settings))
        arrays["history"] = np.array(json.dumps(_jsonable(self.history)))
        return save_npz_atomic(path, arrays)

    @classmethod
    def load(cls, path, *, threads=None, schedule=None) -> "Trainer":
        """A trainer restored from `save`; pass `schedule` again if it was a callable."""
        z = load_npz(path)
        if str(z.get("format", "")) != _FORMAT:
            raise ValueError(f"path: {str(path)!r} is not a dropengine trainer checkpoint")
        try:
            s = json.loads(str(z["settings"]))
            L = len(z["transfers"])
            net = Network([z[f"W{h}"] for h in range(L)],
                          [z[f"b{h}"] if z["has_bias"][h] else None for h in range(L)],
                          [transfer_from_spec(t) for t in z["transfers"]], dtype=s["dtype"])
            sched = schedule if schedule is not None else (tuple(s["schedule"]) if s["schedule"] else None)
            tr = cls(net, _gate_from_spec(s["gate"]), loss=s["loss"], batch_size=s["batch_size"],
                     learning_rate=s["learning_rate"], schedule=sched, momentum=s["momentum"],
                     weight_decay=s["weight_decay"], max_norm=s["max_norm"], backward=s["backward"],
                     seed=s["seed"] if s["seed"] is not None else 0, threads=threads)
            tr._k0, tr._k1 = s["key"]
            tr._core = type(tr._core)(*_rebuild_args(tr, net))
            for h, (n_out, n_in) in enumerate(tr._shapes):
                tr._core.set_layer(h, z[f"W{h}"].reshape(-1), z[f"b{h}"], z[f"vW{h}"].reshape(-1), z[f"vb{h}"])
            tr._core.set_position([int(v) for v in z["position"]])
            tr.history = json.loads(str(z["history"]))
            tr._partial = s.get("partial_epoch")
            return tr
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"path: {str(path)!r} does not hold a valid trainer checkpoint: {exc}") from None


@contextlib.contextmanager
def _sigint_deferred():
    """Holds back Ctrl-C (main thread only) until the block is done, then raises it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    old = signal.signal(signal.SIGINT, lambda s, f: got.append(s))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if got:
        raise KeyboardInterrupt


def _rebuild_args(tr: Trainer, net: Network):
    kind, p, keep_bias = resolve_gate(tr.gate, net, allow_spikes=False)
    W, b, f = net._core_args()
    return (W, b, f, kind, p, keep_bias, LOSSES[tr.loss], tr.batch_size, tr.momentum, tr.weight_decay,
            tr.max_norm or 0.0, tr.backward, tr._k0, tr._k1, tr.threads)


def _gate_spec(gate):
    if gate is None or isinstance(gate, NoGate):
        return None
    if isinstance(gate, Dropin):
        return {"kind": "dropin", "rate": _jsonable(gate.rate)}
    return {"kind": "dropout", "keep": _jsonable(gate.keep), "on": gate.on, "keep_bias": _jsonable(gate.keep_bias)}


def _gate_from_spec(s):
    if s is None:
        return None
    if s["kind"] == "dropin":
        return Dropin(rate=s["rate"])
    return Dropout(keep=s["keep"], on=s["on"], keep_bias=s["keep_bias"])


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def train(net: Network, X, y, gate=None, *, epochs: int = 10, X_test=None, y_test=None, **options):
    """Trains a copy of `net`; returns (trained Network, history). Options as for `Trainer`
    (loss, batch_size, learning_rate, schedule, momentum, weight_decay, max_norm,
    backward, seed, threads) and `Trainer.fit` (probes, measure_at, n_probe_samples,
    checkpoint, time_limit, progress)."""
    fit_keys = {"probes", "measure_at", "n_probe_samples", "checkpoint", "time_limit", "progress"}
    fit_opts = {k: options.pop(k) for k in list(options) if k in fit_keys}
    tr = Trainer(net, gate, **options)
    tr.fit(X, y, epochs, X_test=X_test, y_test=y_test, **fit_opts)
    return tr.network, tr.history
