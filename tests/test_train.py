"""Training from Python (myia_sx.fit, myia_sx.plot_history): the steps of
the prelude's fit, the history of each epoch, the progress bar, the plot,
and located errors for bad arguments."""

import sys

import numpy as np
import pytest

import myia_sx

SRC = """
(require macros.layers)
(sequential net [:hidden (dense 3 4) tanh :out (dense 4 2)])
(defn loss [p x y] (mse (net-apply p x) y))
"""


@pytest.fixture(scope="module")
def m():
    return myia_sx.load_string(SRC, filename="train.sx")


def data(n=10):
    rng = np.random.default_rng(3)
    return rng.normal(size=(n, 3)), rng.normal(size=(n, 2))


def leaves(p):
    return [p.hidden.W, p.hidden.b, p.out.W, p.out.b]


def test_fit_takes_the_steps_of_the_prelude_fit(m):
    x, y = data()
    p0 = m.net_init(m.key(1))
    opt = m.adam(0.05)
    want, want_state = m.fit(m.loss, m.adam_update, opt, p0, m.adam_init(p0), x, y, 3, 4)
    got, state, history = myia_sx.fit(m.loss, m.adam_update, opt, p0, m.adam_init(p0), x, y,
                                      3, 4, progress=False)
    for a, b in zip(leaves(got), leaves(want)):
        np.testing.assert_array_equal(a, b)
    # 3 minibatches of 3 per epoch (the tenth example left out), 4 epochs
    assert state.count == want_state.count == 12.0
    assert history["epoch"] == [1, 2, 3, 4]
    assert all(s > 0 for s in history["seconds"])
    assert all(r > 0 for r in history["examples_per_second"])
    assert history["loss"][-1] < history["loss"][0]


def test_the_history_loss_is_the_mean_minibatch_loss_before_each_step(m):
    x, y = data()
    p0 = m.net_init(m.key(2))
    # a learning rate of zero keeps the parameters: each epoch's loss is the
    # mean of the minibatch losses at p0
    _, _, history = myia_sx.fit(m.loss, m.sgd_update, m.sgd(0.0, 0.0), p0, m.sgd_init(p0),
                                x, y, 5, 2, progress=False)
    out = np.tanh(x @ p0.hidden.W + p0.hidden.b) @ p0.out.W + p0.out.b
    per_batch = [np.mean((out[i:i + 5] - y[i:i + 5]) ** 2) for i in (0, 5)]
    assert history["loss"] == pytest.approx([np.mean(per_batch)] * 2, rel=1e-12)


def test_evaluate_adds_figures_to_the_history(m):
    x, y = data()
    p0 = m.net_init(m.key(0))
    calls = []

    def evaluate(p):
        calls.append(p)
        return {"val_loss": m.loss(p, x, y), "score": 1.0}
    p, _, history = myia_sx.fit(m.loss, m.adam_update, m.adam(0.05), p0, m.adam_init(p0),
                                x, y, 5, 3, evaluate=evaluate, progress=False)
    assert len(calls) == 3 and calls[-1] is p
    assert history["val_loss"][-1] == m.loss(p, x, y)
    assert history["score"] == [1.0, 1.0, 1.0]


def test_the_progress_bar_shows_the_epoch_loss_and_throughput(m, capsys):
    x, y = data()
    p0 = m.net_init(m.key(0))
    myia_sx.fit(m.loss, m.adam_update, m.adam(0.05), p0, m.adam_init(p0), x, y, 5, 2)
    err = capsys.readouterr().err
    assert "ex/s" in err and "epoch 2/2 loss " in err and "20.0/20.0" in err


def test_the_history_is_plotted_as_png(m, tmp_path):
    x, y = data()
    p0 = m.net_init(m.key(0))
    _, _, history = myia_sx.fit(m.loss, m.adam_update, m.adam(0.05), p0, m.adam_init(p0), x, y,
                                5, 3, evaluate=lambda p: {"accuracy": 0.5}, progress=False,
                                plot=tmp_path / "h.png")
    png = (tmp_path / "h.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    myia_sx.plot_history({"epoch": [1, 2], "loss": [1.0, 0.5]}, tmp_path / "l.png")
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG"


def test_plotting_without_matplotlib_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib fails
    with pytest.raises(myia_sx.SxRuntimeError, match=r"needs matplotlib.*myia_sx\[plot\]") as e:
        myia_sx.plot_history({"epoch": [1], "loss": [1.0]}, tmp_path / "h.png")
    assert e.value.span.source.name.endswith("test_train.py")
    assert not (tmp_path / "h.png").exists()


@pytest.mark.parametrize("change, message", [
    ({"batch": 0}, "batch must be an int of at least 1, got 0"),
    ({"epochs": 1.5}, "epochs must be an int of at least 0, got 1.5"),
    ({"loss": len}, "loss must be a function of an sx module"),
    ({"y": np.zeros((9, 2))}, "x has 10 examples and y 9"),
    ({"x": [1.0, 2.0]}, "x must be a numpy array"),
    ({"evaluate": 3}, "evaluate must be callable"),
])
def test_bad_arguments_are_located_at_the_python_call(m, change, message):
    x, y = data()
    p0 = m.net_init(m.key(0))
    args = dict(loss=m.loss, update=m.adam_update, opt=m.adam(0.1), params=p0,
                state=m.adam_init(p0), x=x, y=y, batch=5, epochs=1)
    args.update(change)
    evaluate = args.pop("evaluate", None)
    with pytest.raises(myia_sx.SxTypeError, match=message) as e:
        myia_sx.fit(**args, evaluate=evaluate, progress=False)
    assert e.value.span.source.name.endswith("test_train.py")


def test_an_error_in_the_loss_points_at_the_sx_source(m):
    x, y = data()
    p0 = m.net_init(m.key(0))
    with pytest.raises(myia_sx.SxShapeError) as e:
        myia_sx.fit(m.loss, m.adam_update, m.adam(0.1), p0, m.adam_init(p0), x, np.zeros((10, 3)),
                    5, 1, progress=False)
    # in mse of the prelude, called from loss at train.sx:4
    assert "train.sx:4:20: note: called from loss" in str(e.value)


def test_the_python_session_of_docs_training_runs(monkeypatch):
    import doctest

    from conftest import ROOT
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(str(ROOT / "docs" / "training.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0
