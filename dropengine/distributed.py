"""Monte Carlo sampling and exact enumeration on a Dask cluster (``dask.distributed``).

The work is cut into (input block x sample range) tasks for ``sample`` and (input block
x part of the code) tasks for ``enumerate``; each task runs the C++ engine on a worker,
and the statistics are merged pairwise along a tree on the cluster. Every random draw
is addressed by (seed, input, sample, ...), so a distributed run draws exactly the
samples of a single-process run with the same seed, and its merged float64 statistics
equal that run's to rounding. The network is scattered to the workers once. A task
lost with its worker is recomputed elsewhere by Dask, with the same result.

    pip install "dropengine[distributed]"

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")          # or Client() for a local cluster
    st = dropengine.distributed.sample(net, X, gate, 10**7, seed=1, client=client)
"""
from __future__ import annotations

import numpy as np

from . import _engine as engine
from . import exact as _exact
from ._validation import as_count, as_precision, as_threads, seed_key
from .gates import refuse_continuous
from .sampling import sample as _sample
from .stats import SampleStats

__all__ = ["sample", "enumerate", "DEFAULT_MAX_TASKS"]

#: Samples per block of the engine: sample ranges are multiples of it.
_BLOCK = 64
#: Runs cut into more tasks than this are refused (MemoryError) before anything is
#: submitted: every task and every merge is a future held by the client and the
#: scheduler (about a kilobyte each), so millions of them exhaust memory and stall the
#: scheduler long before the work itself matters. Raise it with ``max_tasks``.
DEFAULT_MAX_TASKS = 100_000


def _client(client):
    try:
        from dask.distributed import get_client
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError('dropengine.distributed needs Dask: pip install "dropengine[distributed]"') from None
    if client is None:
        try:
            return get_client()
        except ValueError:
            raise ValueError("client: no Dask client is running; pass client=Client(...)") from None
    if not hasattr(client, "submit") or not hasattr(client, "scatter"):
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}")
    return client


def _ranges(total: int, size: int):
    return [(a, min(size, total - a)) for a in range(0, total, size)]


def _concat_provenance(parts):
    """Provenance of consecutive input blocks stacked: known only when every block holds
    the same sample ranges of the same keys and the blocks' inputs follow one another."""
    if any(p.provenance is None for p in parts):
        return None
    out, row = [], 0
    for p in parts:
        shifted = sorted((c.key, c.samples, c.inputs[0] - row) for c in p.provenance)
        if out and shifted != out:
            return None
        out, row = shifted, row + p.n_inputs
    return [(key, (i0, i0 + row), samples) for key, samples, i0 in out]


def _concat_inputs(parts) -> SampleStats:
    """Statistics of consecutive input blocks, stacked into one object."""
    first = parts[0]
    acc = {k: np.concatenate([p._acc[k] for p in parts], axis=0) for k in first._acc}
    return SampleStats(acc, first.layer_sizes, first.pairs, seed_entropy=first.seed_entropy,
                       softmax_layers=first.softmax_layers, exact=first.exact,
                       n_subnetworks=first.n_subnetworks, provenance=_concat_provenance(parts),
                       precision=first.precision)


def _check_tasks(n_tasks: int, max_tasks: int, why: str, name: str) -> None:
    if n_tasks > max_tasks:
        raise MemoryError(f"{name}: the run would make {n_tasks} tasks ({why}), more than max_tasks = "
                          f"{max_tasks}; each is a Dask future held by the client and the scheduler. Use a "
                          f"larger {name} or raise max_tasks")


def _merge(a: SampleStats, b: SampleStats) -> SampleStats:
    return a.merge(b)


def _tree_merge(client, futures):
    """Pairwise merges on the cluster, level by level (a balanced tree, in task order)."""
    while len(futures) > 1:
        nxt = [client.submit(_merge, futures[i], futures[i + 1], pure=False) for i in range(0, len(futures) - 1, 2)]
        if len(futures) % 2:
            nxt.append(futures[-1])
        futures = nxt
    return futures[0]


def _sample_task(net, X, gate, n, seed, first_sample, first_input, pairs, threads, precision):
    return _sample(net, X, gate, n, seed=seed, first_sample=first_sample, first_input=first_input, pairs=pairs,
                   threads=threads, precision=precision)


def _enumerate_task(net, X, gate, part, pairs, threads, max_subnetworks):
    return _exact.enumerate(net, X, gate, pairs=pairs, part=part, threads=threads, max_subnetworks=max_subnetworks)


def _run(client, net, X, chunk_inputs, make_tasks, progress):
    net_f = client.scatter(net, broadcast=True)
    blocks = []
    for i0, ni in _ranges(X.shape[0], chunk_inputs):
        futures = make_tasks(net_f, X[i0:i0 + ni], i0)
        blocks.append(_tree_merge(client, futures))
    if progress:
        from dask.distributed import progress as show

        show(blocks)
    return _concat_inputs(client.gather(blocks))


def sample(net, inputs, gate=None, n_samples: int = 1000, *, seed=None, client=None, chunk_samples=None,
           chunk_inputs=None, pairs=None, threads_per_task=None, progress: bool = False,
           max_tasks: int = DEFAULT_MAX_TASKS, precision=None) -> SampleStats:
    """``dropengine.sample`` spread over a Dask cluster; same arguments and result
    (``precision`` included).

    Parameters
    ----------
    client : dask.distributed.Client or None (the current default client)
    chunk_samples, chunk_inputs : int, optional
        Samples (rounded up to a multiple of 64) and inputs per task. By default about
        four tasks per worker: the samples are cut into ranges of at least 1024, then
        the inputs into blocks if more tasks are needed.
    threads_per_task : int, optional
        OpenMP threads of each task (by default all the worker's cores).
    progress : bool
        Show Dask's progress bar (or follow the tasks on the dashboard).
    max_tasks : int
        Runs cut into more (input block x sample range) tasks are refused with
        MemoryError before anything is submitted (``DEFAULT_MAX_TASKS``).

    Returns
    -------
    SampleStats
        Equal, to rounding, to ``dropengine.sample(net, inputs, gate, n_samples, seed=seed)``;
        ``seed_entropy`` records the seed when it was None.

    Examples
    --------
    A local cluster stands in for ``Client("tcp://scheduler:8786")``:

    >>> import numpy as np, dropengine as de, dropengine.distributed as dd
    >>> from dask.distributed import Client
    >>> net = de.Network.random([10, 8, 3], "logistic", seed=0, dtype=np.float64)
    >>> X = np.random.default_rng(0).uniform(size=(4, 10))
    >>> with Client(processes=False, n_workers=2, dashboard_address=None) as client:
    ...     st = dd.sample(net, X, de.Dropout(0.5), 4096, seed=1, client=client, chunk_samples=1024)
    >>> local = de.sample(net, X, de.Dropout(0.5), 4096, seed=1)
    >>> bool(np.allclose(st.E[1], local.E[1], rtol=0, atol=1e-12))
    True
    """
    engine.check_net(net)
    X = engine.as_inputs(net, inputs)
    engine.gate_spec(gate, net)
    n_samples = as_count(n_samples, "n_samples")
    engine.check_ranges(X.shape[0], n_samples)
    max_tasks = as_count(max_tasks, "max_tasks")
    threads = as_threads(threads_per_task) or None
    _, _, ss = seed_key(seed)
    pair_list = None if pairs is None else list(pairs)
    engine.unit_pairs(net, pair_list)
    as_precision(precision, net.dtype, X)  # refuses a bad precision before anything is submitted
    client = _client(client)
    # Default: about four tasks per worker, cut along samples first (ranges of at least
    # 1024 samples), then along inputs.
    tasks_wanted = 4 * max(1, len(client.scheduler_info().get("workers", {})))
    if chunk_samples is None:
        chunk_samples = max(1024, -(-n_samples // tasks_wanted))
    chunk_samples = as_count(chunk_samples, "chunk_samples")
    chunk_samples = -(-chunk_samples // _BLOCK) * _BLOCK
    if chunk_inputs is None:
        blocks = -(-tasks_wanted // -(-n_samples // chunk_samples))
        chunk_inputs = max(1, -(-X.shape[0] // blocks))
    chunk_inputs = as_count(chunk_inputs, "chunk_inputs")
    n_ranges, n_blocks = -(-n_samples // chunk_samples), -(-X.shape[0] // chunk_inputs)
    _check_tasks(n_ranges * n_blocks, max_tasks, f"{n_blocks} input blocks x {n_ranges} sample ranges",
                 "chunk_samples" if n_ranges >= n_blocks else "chunk_inputs")
    if X.shape[0] == 0:
        return _sample(net, X, gate, n_samples, seed=ss, pairs=pair_list, precision=precision)

    def tasks(net_f, Xb, i0):
        return [client.submit(_sample_task, net_f, Xb, gate, n, ss, s0, i0, pair_list, threads, precision,
                              pure=False, retries=3)
                for s0, n in _ranges(n_samples, chunk_samples)]

    st = _run(client, net, X, chunk_inputs, tasks, progress)
    st.seed_entropy = ss.entropy
    return st


def enumerate(net, inputs, gate=None, *, client=None, parts=None, chunk_inputs=None, pairs=None,
              threads_per_task=None, max_subnetworks: int = _exact.DEFAULT_MAX_SUBNETWORKS,
              progress: bool = False, max_tasks: int = DEFAULT_MAX_TASKS) -> SampleStats:
    """``dropengine.exact.enumerate`` spread over a Dask cluster; same arguments and result.

    Each input block's code is cut into ``parts`` equal ranges (a power of two, at most
    ``exact.max_parts(net, gate)``; by default about four per worker), enumerated as
    separate tasks and merged. The result equals the single-process enumeration to
    rounding. Runs cut into more than ``max_tasks`` (input block x part) tasks are
    refused with MemoryError before anything is submitted.

    Examples
    --------
    An enumeration of 2^20 subnetworks in four parts on a local cluster:

    >>> import numpy as np, dropengine as de, dropengine.distributed as dd
    >>> from dask.distributed import Client
    >>> net = de.Network.random([14, 6, 2], "logistic", seed=0, dtype=np.float64)
    >>> X = np.random.default_rng(0).uniform(size=(3, 14))
    >>> with Client(processes=False, n_workers=2, dashboard_address=None) as client:
    ...     st = dd.enumerate(net, X, de.Dropout(0.5), client=client, parts=4)
    >>> ex = de.exact.enumerate(net, X, de.Dropout(0.5))
    >>> st.n_samples, bool(np.allclose(st.E[1], ex.E[1], rtol=0, atol=1e-12))
    (1048576, True)
    """
    engine.check_net(net)
    refuse_continuous(gate, "distributed.enumerate")
    X = engine.as_inputs(net, inputs)
    engine.gate_spec(gate, net, allow_spikes=False)
    threads = as_threads(threads_per_task) or None
    pair_list = None if pairs is None else list(pairs)
    engine.unit_pairs(net, pair_list)
    max_subnetworks = as_count(max_subnetworks, "max_subnetworks")
    max_tasks = as_count(max_tasks, "max_tasks")
    n = _exact.n_subnetworks(net, gate)
    if n > max_subnetworks:
        raise ValueError(f"max_subnetworks: the gate induces {n} subnetworks, more than max_subnetworks = "
                         f"{max_subnetworks}")
    most = _exact.max_parts(net, gate)
    client = _client(client)
    if parts is None:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        parts = min(most, 1 << max(0, (4 * workers - 1).bit_length()))
    parts = as_count(parts, "parts")
    if parts & (parts - 1) or parts > most:
        raise ValueError(f"parts must be a power of two <= {most} (exact.max_parts), got {parts}")
    chunk_inputs = max(1, X.shape[0]) if chunk_inputs is None else as_count(chunk_inputs, "chunk_inputs")
    n_blocks = -(-X.shape[0] // chunk_inputs)
    _check_tasks(n_blocks * parts, max_tasks, f"{n_blocks} input blocks x {parts} parts",
                 "parts" if parts >= n_blocks else "chunk_inputs")
    if X.shape[0] == 0:
        return _exact.enumerate(net, X, gate, pairs=pair_list, max_subnetworks=max_subnetworks)

    def tasks(net_f, Xb, i0):
        return [client.submit(_enumerate_task, net_f, Xb, gate, (k, parts), pair_list, threads, max_subnetworks,
                              pure=False, retries=3)
                for k in range(parts)]

    return _run(client, net, X, chunk_inputs, tasks, progress)
