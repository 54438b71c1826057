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


@pytest.mark.parametrize("command", ["sample", "ensemble", "enumerate"])
@pytest.mark.parametrize("case", ["missing", "missing-inputs", "shape", "corrupt", "keep", "npz-keys", "torch-missing"])
def test_bad_input_gives_one_line_and_status_2(files, capsys, case, command):
    net, X, net_path, x_npy, _, tmp = files
    args = [command, net_path, x_npy, "--out", str(tmp / "o.npz")]
    if case == "missing":
        args[1] = str(tmp / "nope.npz")
    elif case == "missing-inputs":
        args[2] = str(tmp / "nope.npy")
    elif case == "torch-missing":
        args[1] = str(tmp / "nope.pt")
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
    assert err.startswith(f"dropengine {command}: error:") and "\n" not in err and "Traceback" not in err
    assert not (tmp / "o.npz").exists()


@pytest.mark.parametrize("argv", [["sample"], ["sample", "a.npz", "b.npy", "--samples", "x"], ["nope"],
                                  ["reproduce", "--quick", "--full"], ["ensemble", "a", "b", "--gate", "maybe"]])
def test_usage_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dropengine") and ": error: " in err and "\n" not in err, err


@pytest.mark.parametrize("argv, what", [(["demo", "--inputs", "0"], "--inputs"), (["demo", "--samples", "-5"], "--samples"),
                                        (["demo", "--threads", "0"], "threads"),
                                        (["reproduce", "--only", "nope"], "--only")])
def test_demo_and_reproduce_check_options_before_any_work(argv, what, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"dropengine {argv[0]}: error: {what}") and "\n" not in err.strip(), (out, err)


def test_reproduce_out_must_be_a_folder(tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("keep me")
    assert main(["reproduce", "--only", "section8", "--out", str(f), "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err and f.read_text() == "keep me"


def test_pytorch_model_files(tmp_path, capsys):
    """A whole pickled model (read only with --trust-pickle, since unpickling runs code)
    or a state_dict (--transfer): the statistics equal those of the converted network."""
    torch = pytest.importorskip("torch")
    from dropengine.torch import from_torch

    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Dropout(0.2), nn.Linear(6, 5), nn.Sigmoid(), nn.Dropout(0.5), nn.Linear(5, 3),
                          nn.Softmax(dim=1)).double()
    torch.save(model, tmp_path / "m.pt")
    torch.save(model.state_dict(), tmp_path / "sd.pth")
    X = np.random.default_rng(1).uniform(size=(4, 6))
    np.save(tmp_path / "x.npy", X)
    net, gate = from_torch(model)
    base = ["sample", str(tmp_path / "m.pt"), str(tmp_path / "x.npy"), "--samples", "300", "--seed", "2", "--quiet"]
    assert main(base + ["--out", str(tmp_path / "a.npz")]) == 2
    assert "--trust-pickle" in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "a.npz"), "--trust-pickle"]) == 0
    want = de.sample(net, X, gate, 300, seed=2)  # the model's own dropout is the default gate
    assert np.array_equal(de.SampleStats.load(tmp_path / "a.npz").E[1], want.E[1])
    assert main(["ensemble", str(tmp_path / "sd.pth"), str(tmp_path / "x.npy"), "--transfer", "logistic,softmax",
                 "--keep", "1", "--quiet", "--out", str(tmp_path / "e.npz")]) == 0
    sd_net, _ = from_torch(model.state_dict(), transfer=["logistic", "softmax"])
    _, W = de.ensemble(sd_net, X, de.NoGate())
    with torch.no_grad():
        np.testing.assert_allclose(np.load(tmp_path / "e.npz")["W1"], model.eval()(torch.from_numpy(X)).numpy(),
                                   rtol=1e-12)
    np.testing.assert_array_equal(np.load(tmp_path / "e.npz")["W1"], W[1])
    (tmp_path / "bad.pt").write_bytes((tmp_path / "sd.pth").read_bytes()[:100])
    assert main(["sample", str(tmp_path / "bad.pt"), str(tmp_path / "x.npy"), "--trust-pickle",
                 "--out", str(tmp_path / "b.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dropengine sample: error: network:") and "\n" not in err
    assert not (tmp_path / "b.npz").exists()


def test_bench_is_a_script_of_the_source_tree_not_a_subcommand(capsys):
    # The bench scripts are not installed with the package: bench/run_all.py runs them.
    with pytest.raises(SystemExit):
        main(["bench"])
    assert "invalid choice: 'bench'" in capsys.readouterr().err
