"""The `dropengine` command: subcommands on saved files, one-line errors, exit codes."""
import numpy as np
import pytest

import dropengine as de
from dropengine.cli import main


@pytest.fixture
def files(tmp_path):
    net = de.Network.random([6, 5, 3], ["logistic", "softmax"], seed=0, dtype=np.float64)
    X = np.random.default_rng(1).uniform(size=(4, 6))
    net_path = net.save(tmp_path / "net.npz")
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "x.npz", inputs=X)
    return net, X, str(net_path), str(tmp_path / "x.npy"), str(tmp_path / "x.npz"), tmp_path


def test_sample_writes_the_same_statistics_as_the_api(files, capsys):
    net, X, net_path, x_npy, _, tmp = files
    out = tmp / "st.npz"
    assert main(["sample", net_path, x_npy, "--samples", "500", "--seed", "3", "--keep", "0.8,0.5",
                 "--out", str(out)]) == 0
    got = de.SampleStats.load(out)
    want = de.sample(net, X, de.Dropout([0.8, 0.5]), 500, seed=3)
    for k in want._acc:
        assert np.array_equal(got._acc[k], want._acc[k])
    assert "written to" in capsys.readouterr().out


def test_enumerate_and_ensemble(files):
    net, X, net_path, _, x_npz, tmp = files
    assert main(["enumerate", net_path, x_npz, "--out", str(tmp / "ex.npz"), "--quiet"]) == 0
    ex = de.SampleStats.load(tmp / "ex.npz")
    assert ex.exact and ex.n_samples == 2**6 * 2**5
    assert main(["ensemble", net_path, x_npz, "--keep", "0.5", "--out", str(tmp / "ens.npz"), "--quiet"]) == 0
    z = np.load(tmp / "ens.npz")
    _, W = de.ensemble(net, X, de.Dropout(0.5))
    assert np.array_equal(z["W1"], W[1])


@pytest.mark.parametrize("case", ["missing", "shape", "corrupt", "keep", "npz-keys"])
def test_bad_input_gives_one_line_and_status_2(files, capsys, case):
    net, X, net_path, x_npy, _, tmp = files
    args = ["sample", net_path, x_npy, "--out", str(tmp / "o.npz")]
    if case == "missing":
        args[1] = str(tmp / "nope.npz")
    elif case == "shape":
        np.save(tmp / "bad.npy", np.ones((2, 7)))
        args[2] = str(tmp / "bad.npy")
    elif case == "corrupt":
        (tmp / "c.npz").write_bytes(b"PK\x03\x04 not really a zip")
        args[1] = str(tmp / "c.npz")
    elif case == "keep":
        args += ["--keep", "1.5"]
    else:
        np.savez(tmp / "two.npz", a=X, b=X)
        args[2] = str(tmp / "two.npz")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dropengine sample: error:") and "\n" not in err and "Traceback" not in err
    assert not (tmp / "o.npz").exists()


def test_bench_subcommand_errors_are_one_line(capsys):
    assert main(["bench", "--only", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    # either the scripts are not there (installed package) or the name is unknown
    assert err.startswith("dropengine bench: error:") and "\n" not in err
