"""Minibatch SGD with dropout, dropin and backpercolation (Sections 10.2, 11).

The loop over minibatches runs in the C++ core (cpp/include/dropengine/train.h); this
module checks arguments, keeps the epoch loop, the learning-rate schedule, the history,
the measurements taken at chosen epochs, and watches for divergence. The checkpoint
format lives in `dropengine.training.checkpoint`.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time

import numpy as np

from .. import _engine as engine
from .._validation import as_count, as_real_array, as_threads, seed_key
from ..gates import CONTINUOUS_GATES, Dropin, Dropout, Gates, GaussianGate, NoGate
from .._dag import split_blocks
from ..network import Network
from ..transfer import transfer_from_spec
from . import checkpoint as ckpt
from .interrupts import SigintGuard
from .options import BACKPERCOLATION, BACKPROP, LOSSES, backward_modes, core_backward, real_in
from .schedules import normalize_schedule, resolve_schedule

__all__ = ["Trainer", "train", "LOSSES", "TrainingDiverged"]

#: fit hands the core about this many pieces of an epoch: between them it checks the
#: weights for divergence, and each piece re-reads X once (the core checks it per call).
_PIECES_PER_EPOCH = 8


class TrainingDiverged(FloatingPointError):
    """SGD produced a non-finite loss or non-finite weights.

    A FloatingPointError (like NumPy's overflow errors), not a ValueError: the inputs
    were valid; the arithmetic blew up (typically the learning rate is too large).
    Attributes `epoch` and `minibatch` (counted from 0, as in Trainer.position) name the
    minibatch whose step failed; the trainer is left just before it, weights finite.

    Examples
    --------
    >>> import dropengine as de
    >>> err = de.training.TrainingDiverged("non-finite loss", epoch=2, minibatch=5)
    >>> isinstance(err, FloatingPointError), err.epoch, err.minibatch
    (True, 2, 5)
    """

    def __init__(self, message, epoch: int, minibatch: int):
        super().__init__(message)
        self.epoch, self.minibatch = epoch, minibatch


class Trainer:
    """Trains a network by minibatch stochastic gradient descent under a dropout gate.

    Each step draws a subnetwork per example (Eq. 166), propagates, and descends the
    minibatch mean gradient of the loss (Eq. 172-175) with momentum:
    v <- mu v - eta_e (g + decay w), w <- w + v; optionally every unit's incoming weight
    vector is then scaled back to norm <= max_norm. Training uses the paper's plain
    gates (no 1/p scaling at training time); the trained network's predictions are the
    ensemble network's (Eq. 167, `dropengine.ensemble`). Runs are bit-identical for any
    thread count, and a run resumed from a checkpoint equals an uninterrupted one.

    A Trainer is used by one thread at a time: its methods raise RuntimeError when
    another thread is inside one of them (the core's buffers are shared).

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
        or callable(e) -> eta_e / eta_0. A callable cannot be stored in a checkpoint:
        `Trainer.load` then requires it again.
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

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> net = de.training.init_network([5, 8, 2], ["logistic", "softmax"], seed=0)
    >>> tr = de.Trainer(net, de.Dropout([1.0, 0.5]), learning_rate=0.5, batch_size=20, seed=0)
    >>> history = tr.fit(X, y, epochs=20, X_test=X, y_test=y)
    >>> bool(history["test_error"][-1] < 0.2)     # the ensemble network's error (Eq. 167)
    True
    """

    def __init__(self, net: Network, gate=None, *, loss: str = "cross_entropy", batch_size: int = 100,
                 learning_rate: float = 0.1, schedule=None, momentum: float = 0.0, weight_decay: float = 0.0,
                 max_norm=None, backward="backprop", seed=0, threads=None):
        self._setup(net, gate, loss=loss, batch_size=batch_size, learning_rate=learning_rate, schedule=schedule,
                    momentum=momentum, weight_decay=weight_decay, max_norm=max_norm, backward=backward, seed=seed,
                    threads=threads)

    def _setup(self, net, gate, *, loss, batch_size, learning_rate, schedule, momentum, weight_decay, max_norm,
               backward, seed, threads, key=None):
        """Checks the options and stores them as plain Python values (so that a
        checkpoint can always be written), then builds the core, once."""
        if not isinstance(net, Network):
            raise TypeError(f"net must be a dropengine.Network, got {type(net).__name__}")
        if gate is not None and not isinstance(gate, (Dropout, Dropin, NoGate, Gates) + CONTINUOUS_GATES):
            raise TypeError(f"gate must be Dropout, Dropin, GaussianGate, AdditiveNoise, WeightNoise, Gates, NoGate or "
                            f"None for training, got {type(gate).__name__}")
        if not isinstance(loss, str) or loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        self.batch_size = as_count(batch_size, "batch_size")
        self.learning_rate = real_in(learning_rate, "learning_rate", 0.0, math.inf, lo_open=True)
        self.schedule = normalize_schedule(schedule)
        self._schedule = resolve_schedule(self.schedule)
        self.momentum = real_in(momentum, "momentum", 0.0, 1.0)
        self.weight_decay = real_in(weight_decay, "weight_decay", 0.0, math.inf)
        self.max_norm = None if max_norm is None else real_in(max_norm, "max_norm", 0.0, math.inf, lo_open=True)
        self.backward = backward_modes(backward, net.n_layers - 1)
        for h, (mode, f) in enumerate(zip(self.backward, net.transfers)):
            if mode == BACKPERCOLATION and f.max_derivative > 1:
                raise ValueError(f"backward: backpercolation reads sigma'(S) as a probability, so layer {h} "
                                 f"needs sigma' <= 1, but {f!r} has max sigma' = {f.max_derivative:g} "
                                 "(logistic: lam <= 4; tanh: lam <= 1)")
        self.threads = as_threads(threads)
        k0, k1, _ = seed_key(seed)
        self._k0, self._k1 = key if key is not None else (k0, k1)
        self.seed = seed if seed is None or isinstance(seed, np.random.SeedSequence) else int(seed)
        self.loss, self.gate = loss, gate
        self._gate_json = ckpt.gate_to_json(gate)  # here, so an unstorable gate fails now
        self._transfers = [tuple(float(v) for v in f.spec()) for f in net.transfers]
        self._has_bias = [b is not None for b in net.biases]
        # Layer h's weights as the core holds them: over its concatenated input (skip
        # connections, Eq. 21); the blocks split them back.
        self._blocks = [net.input_weights(h)[1] for h in range(1, net.n_layers + 1)]
        self._shapes = [net.input_weights(h)[0].shape for h in range(1, net.n_layers + 1)]
        self._sources = None if net.is_chain else [[l for l, _, _ in b] for b in self._blocks]
        self.dtype = net.dtype
        self._core = engine.trainer(net, engine.gate_spec(gate, net, allow_spikes=False), loss=loss,
                                    batch_size=self.batch_size, momentum=self.momentum,
                                    weight_decay=self.weight_decay, max_norm=self.max_norm or 0.0,
                                    backward=core_backward(self.backward), key=(self._k0, self._k1),
                                    threads=self.threads)
        self._lock = threading.RLock()
        self._partial = None
        self.history = {"epoch": [], "learning_rate": [], "train_loss": [], "train_error": [], "test_error": [],
                        "seconds": [], "examples_per_s": [], "measurements": []}

    @contextlib.contextmanager
    def _in_use(self):
        # The core releases the GIL and shares its buffers between calls (predict
        # re-sizes those a running fit uses): a second thread must not enter. Re-entry
        # by the same thread (a progress callback calling save) is fine.
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("this Trainer is in use by another thread; its methods cannot run concurrently "
                               "(use one Trainer per thread, e.g. another Trainer.load of a checkpoint)")
        try:
            yield
        finally:
            self._lock.release()

    # --- state --------------------------------------------------------------------
    @property
    def network(self) -> Network:
        """The current weights as a Network (a copy)."""
        with self._in_use():
            layers = self._layers()
        return Network([split_blocks(W, blocks, h) for h, ((W, _, _, _), blocks) in enumerate(zip(layers, self._blocks), 1)],
                       [b if hb else None for (_, b, _, _), hb in
                                                      zip(layers, self._has_bias)],
                       [transfer_from_spec(s) for s in self._transfers], dtype=self.dtype)

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self.position[0]

    @property
    def position(self) -> tuple:
        """(epoch, minibatch within the epoch, minibatches in all)."""
        with self._in_use():
            return tuple(int(v) for v in self._core.position())

    def _layers(self):
        """(W, b, vW, vb) per layer, copies, W and vW shaped (n_out, n_in)."""
        return [self._core.get_layer(h) for h in range(len(self._shapes))]

    def _state(self):
        return self._layers(), tuple(int(v) for v in self._core.position())

    def _restore(self, state):
        layers, pos = state
        for h, (W, b, vW, vb) in enumerate(layers):
            self._core.set_layer(h, W, b, vW, vb)
        self._core.set_position(list(pos))

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

    def _batches_per_epoch(self, X) -> int:
        n_batches = -(-X.shape[0] // self.batch_size)
        _, batch, _ = self._core.position()
        if batch >= n_batches:
            raise ValueError(f"X: the trainer is at minibatch {batch} of its epoch, but X makes only {n_batches} "
                             f"minibatches of {self.batch_size}; continue a run with the data it was started on")
        return n_batches

    # --- training -----------------------------------------------------------------
    def learning_rate_at(self, epoch: int) -> float:
        return float(self.learning_rate * self._schedule(epoch))

    def _checked_rate(self, e: int) -> float:
        lr = self.learning_rate_at(e)
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"schedule: the learning rate at epoch {e} is {lr}; it must be > 0")
        return lr

    def _screen(self, pr, X, labels, targets, lr):
        """Divergence check after the core ran from the state it saved (core.save_state):
        returns (progress, None) when the loss and the weights are finite. Otherwise
        replays the batches one at a time from that state (runs are deterministic) to find
        the first that fails, leaves the core just before it and returns (progress of the
        good batches, TrainingDiverged to raise)."""
        if np.isfinite(pr["loss_sum"]) and self._core.finite():
            return pr, None
        self._core.restore_state()
        before = self._state()
        good = {"batches": 0, "examples": 0, "loss_sum": 0.0, "errors": 0, "interrupted": False, "epoch_done": False}
        state = before
        for _ in range(pr["batches"]):
            one = self._core.run(X, labels, targets, lr, 1)
            after = self._state()
            bad_w = not all(np.isfinite(a).all() for layer in after[0] for a in layer)
            if bad_w or not np.isfinite(one["loss_sum"]):
                self._restore(state)
                e, b, _ = state[1]
                what = "the weights" if bad_w else "the loss"
                return good, TrainingDiverged(
                    f"training diverged: {what} became non-finite in epoch {e}, minibatch {b} (counting from 0) "
                    f"at learning rate {lr:g}; the trainer is left before that minibatch and the checkpoint "
                    "on disk (if any) is the last good one. Try a smaller learning_rate (or max_norm).", e, b)
            for k in ("batches", "examples", "loss_sum", "errors"):
                good[k] += one[k]
            good["epoch_done"] = one["epoch_done"]
            state = after
        # Not reproduced: the core is not deterministic after all; keep the state it started from.
        self._restore(before)
        e, b, _ = before[1]
        return {**good, "batches": 0, "examples": 0, "loss_sum": 0.0, "errors": 0, "epoch_done": False}, \
            TrainingDiverged(f"training diverged within {pr['batches']} minibatches from epoch {e}, minibatch {b} "
                             "(a replay did not reproduce it); the trainer is left at that position", e, b)

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
        An epoch that completed is always recorded (history row, test error, checkpoint)
        before a Ctrl-C that arrives during that bookkeeping is raised.

        Raises TrainingDiverged when a minibatch makes the loss or the weights
        non-finite: the trainer is left before that minibatch, and `checkpoint` keeps
        the last good epoch.
        """
        with self._in_use():
            return self._fit(X, y, epochs, X_test=X_test, y_test=y_test, test_every=test_every, probes=probes,
                             measure_at=measure_at, n_probe_samples=n_probe_samples, checkpoint=checkpoint,
                             time_limit=time_limit, progress=progress)

    def _fit(self, X, y, epochs, *, X_test, y_test, test_every, probes, measure_at, n_probe_samples, checkpoint,
             time_limit, progress):
        from .probes import measure

        epochs = as_count(epochs, "epochs", minimum=0)
        X, labels, targets = self._data(X, y)
        test = self._data(X_test, y_test, "X_test", "y_test") if X_test is not None else None
        if probes is not None:
            probes = as_real_array(probes, "probes", dtype=self.dtype, ndim=2)
        measure_at = set(as_count(e, "measure_at", minimum=0) for e in measure_at)
        n_probe_samples = as_count(n_probe_samples, "n_probe_samples")
        test_every = as_count(test_every, "test_every")
        if time_limit is not None:
            time_limit = real_in(time_limit, "time_limit", 0.0, math.inf)
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be callable, got {type(progress).__name__}")
        n_batches = self._batches_per_epoch(X)
        piece = max(1, -(-n_batches // _PIECES_PER_EPOCH))
        self._checked_rate(self.epoch)

        def take_measurement():
            if probes is not None and self.epoch in measure_at and self.position[1] == 0 and not any(
                    m["epoch"] == self.epoch for m in self.history["measurements"]):
                self.history["measurements"].append(
                    measure(self.network, probes, self.gate, n_probe_samples, epoch=self.epoch,
                            seed=self.seed, threads=self.threads or None))

        t_start = time.perf_counter()
        with SigintGuard() as guard:
            take_measurement()
            while self.epoch < epochs:
                e = self.epoch
                lr = self._checked_rate(e)
                t0 = time.perf_counter()
                self._core.save_state()
                pr, late = guard.call_core(self._core.run, X, labels, targets, lr, piece)
                # From the core's return to the end of the bookkeeping, Ctrl-C is held
                # back (guard.call_core left it so): the state, history and checkpoint
                # always describe a whole number of minibatches, and a finished epoch is
                # recorded before the interrupt is raised.
                try:
                    pr, diverged = self._screen(pr, X, labels, targets, lr)
                    acc = self._partial or {"loss": 0.0, "errors": 0, "examples": 0, "seconds": 0.0}
                    acc = {"loss": acc["loss"] + float(pr["loss_sum"]), "errors": acc["errors"] + int(pr["errors"]),
                           "examples": acc["examples"] + int(pr["examples"]),
                           "seconds": acc["seconds"] + time.perf_counter() - t0}
                    self._partial = acc
                    if diverged is not None:
                        raise diverged  # the checkpoint on disk stays the last good one
                    row = None
                    if pr["epoch_done"]:
                        row = self._end_epoch(e, lr, acc, test, test_every, epochs)
                    if checkpoint is not None and (row is not None or pr["interrupted"] or late):
                        self.save(checkpoint)
                    if pr["interrupted"] or late:
                        raise KeyboardInterrupt
                except BaseException:
                    guard.forget()
                    raise
                guard.release()
                if row is None:
                    continue
                take_measurement()
                if progress is not None:
                    progress(row)
                if time_limit is not None and time.perf_counter() - t_start > time_limit:
                    break
        return self.history

    def _end_epoch(self, e, lr, acc, test, test_every, epochs):
        n = max(acc["examples"], 1)
        row = {"epoch": e + 1, "learning_rate": lr, "train_loss": acc["loss"] / n, "train_error": acc["errors"] / n,
               "test_error": float("nan"), "seconds": acc["seconds"],
               "examples_per_s": acc["examples"] / max(acc["seconds"], 1e-12)}
        if test and ((e + 1) % test_every == 0 or e + 1 == epochs):
            row["test_error"] = self._error(*test)
        self._partial = None
        for k, v in row.items():
            self.history[k].append(v)
        return row

    def run_batches(self, X, y, n_batches: int) -> dict:
        """Runs at most `n_batches` minibatches of the current epoch (stopping at its end)
        at the scheduled learning rate, without touching the history: a low-level step
        for custom loops. Returns the core's progress (batches, examples, loss_sum,
        errors, epoch_done, interrupted). Raises TrainingDiverged as `fit` does."""
        with self._in_use():
            X, labels, targets = self._data(X, y)
            n_batches = as_count(n_batches, "n_batches")
            self._batches_per_epoch(X)
            lr = self._checked_rate(self.epoch)
            self._core.save_state()
            pr = self._core.run(X, labels, targets, lr, n_batches)
            pr, diverged = self._screen(pr, X, labels, targets, lr)
            if diverged is not None:
                raise diverged
            if pr["interrupted"]:
                raise KeyboardInterrupt
            return pr

    def error(self, X, y) -> float:
        """Classification error of the ensemble network (Eq. 167) on (X, y)."""
        with self._in_use():
            return self._error(*self._data(X, y, "X", "y"))

    def predict(self, X):
        """Outputs (n, n_out) of the ensemble network (Eq. 167) with the current weights:
        every gate replaced by its expectation, as `dropengine.ensemble` computes it."""
        from ..sampling import ensemble

        with self._in_use():
            n_in = self._shapes[0][1]
            X = as_real_array(X, "X", dtype=self.dtype, ndim=2)
            if X.shape[1] != n_in:
                raise ValueError(f"X must have shape (n_examples, {n_in}), got {X.shape}")
            if _gates_connections(self.gate):
                return ensemble(self.network, X, self.gate, threads=self.threads or None)[1][-1]
            # The core polls for Ctrl-C between chunks of rows (cpp/src/train.cpp).
            return self._core.predict(X)

    def _error(self, X, labels, targets) -> float:
        guess = self.predict(X).argmax(axis=1)
        want = labels if labels is not None else targets.argmax(axis=1)
        return float(np.mean(guess != want))

    def gradient(self, X, y, *, step: int = 0):
        """Mean gradient of the loss over the rows of (X, y) as one minibatch, under the
        gate drawn for minibatch `step`, without updating: (gW list, gb list, summed loss)."""
        with self._in_use():
            X, labels, targets = self._data(X, y)
            step = as_count(step, "step", minimum=0)
            gW, gb, loss = self._core.gradient(X, labels, targets, step)
            return list(gW), list(gb), float(loss)

    # --- checkpoints --------------------------------------------------------------
    def save(self, path):
        """Writes weights, velocities, position, settings and history to `path` (.npz,
        atomically; format in `dropengine.training.checkpoint`): `Trainer.load(path)`
        continues the run bit for bit."""
        with self._in_use():
            layers, position = self._state()
        settings = {"loss": self.loss, "batch_size": self.batch_size, "learning_rate": self.learning_rate,
                    "schedule": ckpt.CALLABLE if callable(self.schedule) else
                    (list(self.schedule) if self.schedule is not None else None),
                    "momentum": self.momentum, "weight_decay": self.weight_decay, "max_norm": self.max_norm,
                    "backward": [{BACKPROP: "backprop", BACKPERCOLATION: "backpercolation"}.get(m, m)
                                 for m in self.backward],
                    "gate": self._gate_json, "partial_epoch": self._partial,
                    "seed": self.seed if isinstance(self.seed, int) else None,
                    "key": [self._k0, self._k1], "dtype": np.dtype(self.dtype).name}
        return ckpt.write(path, layers=layers, position=position, transfers=self._transfers,
                           has_bias=self._has_bias, settings=settings, history=self.history, sources=self._sources)

    @classmethod
    def load(cls, path, *, threads=None, schedule=None) -> "Trainer":
        """A trainer restored from `save`. `schedule` must be passed again when the run
        used a callable schedule (and may replace a stored one); every array and setting
        of the file is checked first (ValueError naming the entry)."""
        threads = as_threads(threads)
        schedule = normalize_schedule(schedule)
        c = ckpt.read(path)
        s = c["settings"]
        if s["schedule"] == ckpt.CALLABLE and schedule is None:
            raise ValueError(f"schedule: the checkpoint {str(path)!r} was written by a trainer with a callable "
                             "schedule, which cannot be stored; pass it again: Trainer.load(path, schedule=...)")
        if schedule is None and s["schedule"] is not None:
            schedule = tuple(s["schedule"])
        tr = cls.__new__(cls)
        try:  # threads and a given schedule are checked above: what fails here is the file's
            tr._setup(c["network"], ckpt.gate_from_json(s["gate"]), loss=s["loss"], batch_size=s["batch_size"],
                      learning_rate=s["learning_rate"], schedule=schedule, momentum=s["momentum"],
                      weight_decay=s["weight_decay"], max_norm=s["max_norm"], backward=s["backward"],
                      seed=s["seed"] if s["seed"] is not None else 0, threads=threads or None, key=tuple(s["key"]))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"path: {str(path)!r} does not hold a valid trainer checkpoint: settings: {exc}") \
                from None
        for h, ((vW, vb), b) in enumerate(zip(c["velocities"], c["biases"])):
            # b as stored, also where has_bias is False: the core keeps (unused) zeros there
            tr._core.set_layer(h, c["network"].input_weights(h + 1)[0], b, vW, vb)
        tr._core.set_position(list(c["position"]))
        tr.history = c["history"]
        tr._partial = s["partial_epoch"]
        return tr


def train(net: Network, X, y, gate=None, *, epochs: int = 10, X_test=None, y_test=None, **options):
    """Trains a copy of `net`; returns (trained Network, history). Options as for `Trainer`
    (loss, batch_size, learning_rate, schedule, momentum, weight_decay, max_norm,
    backward, seed, threads) and `Trainer.fit` (probes, measure_at, n_probe_samples,
    checkpoint, time_limit, progress).

    Examples
    --------
    >>> import numpy as np, dropengine as de
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> net = de.training.init_network([5, 8, 2], ["logistic", "softmax"], seed=0)
    >>> trained, history = de.train(net, X, y, de.Dropout([1.0, 0.5]), epochs=5,
    ...                             learning_rate=0.5, batch_size=20)
    >>> history["epoch"]
    [1, 2, 3, 4, 5]
    """
    fit_keys = {"probes", "measure_at", "n_probe_samples", "checkpoint", "time_limit", "progress"}
    fit_opts = {k: options.pop(k) for k in list(options) if k in fit_keys}
    tr = Trainer(net, gate, **options)
    tr.fit(X, y, epochs, X_test=X_test, y_test=y_test, **fit_opts)
    return tr.network, tr.history


def _gates_connections(gate) -> bool:
    """Whether some entry gates connections with a nonzero-mean gate: the ensemble then
    scales each weight (Eq. 26), which the core's predict does not."""
    entries = gate.gates if isinstance(gate, Gates) else [gate]
    return any(isinstance(g, (Dropout, GaussianGate)) and g.on == "connections" for g in entries)
