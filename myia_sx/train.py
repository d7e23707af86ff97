"""Training from Python: the prelude's ``fit`` loop (``prelude/optim.sx``)
driven one minibatch at a time, with a progress bar (tqdm), a history of the
figures of each epoch, and a plot of it written as PNG (matplotlib, the
optional extra ``plot``).

Each step is the prelude's ``fit-step``, so a run here takes the same steps
as ``(fit loss update opt params state x y batch epochs)`` in the language:
the same minibatches, in order, the last partial one left out.
"""

from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from . import library
from .api import Function, to_python
from .errors import SxRuntimeError, SxTypeError, entry_point

_STEP = None


def _fit_step() -> Function:
    """The prelude's ``fit-step``, as a Python callable (made once)."""
    global _STEP
    if _STEP is None:
        _STEP = to_python(library.base_env().globals["fit-step"])
    return _STEP


def _count(value, what, least):
    if type(value) is not int or value < least:
        raise SxTypeError(f"fit: {what} must be an int of at least {least}, got {value!r}")
    return value


@entry_point
def fit(loss, update, opt, params, state, x, y, batch, epochs, *, evaluate=None,
        progress=True, plot=None):
    """Train ``params`` for ``epochs`` passes over examples ``x`` and labels
    ``y`` (numpy arrays, along their first axis) in minibatches of ``batch``.

    ``loss`` is an sx function ``(loss params xb yb)``; ``update``, ``opt``
    and ``state`` an optimizer of the prelude (``m.adam_update``,
    ``m.adam(0.01)``, ``m.adam_init(params)``).  ``evaluate``, if given, is
    called with the parameters after each epoch and returns a dict of
    figures (``{"test_accuracy": ...}``) kept in the history.  ``progress``
    shows a progress bar with the loss and the examples per second; ``plot``
    is a path where the history is drawn (:func:`plot_history`).

    Returns ``(params, state, history)``: ``history`` maps ``"epoch"``,
    ``"loss"`` (the mean loss of the epoch's minibatches, each before its
    step), ``"seconds"``, ``"examples_per_second"`` and each figure of
    ``evaluate`` to a list with one entry per epoch.
    """
    for f, what in ((loss, "loss"), (update, "update")):
        if not isinstance(f, Function):
            raise SxTypeError(f"fit: {what} must be a function of an sx module (such as "
                              f"m.loss), got a Python {type(f).__name__}")
    if evaluate is not None and not callable(evaluate):
        raise SxTypeError(f"fit: evaluate must be callable, got a Python {type(evaluate).__name__}")
    batch = _count(batch, "batch", 1)
    epochs = _count(epochs, "epochs", 0)
    for v, what in ((x, "x"), (y, "y")):
        if not (type(v) is tuple or type(v) is np.ndarray and v.ndim > 0):
            raise SxTypeError(f"fit: {what} must be a numpy array of examples along its first "
                              f"axis or a tuple of examples, got {type(v).__name__}")
    if len(x) != len(y):
        raise SxTypeError(f"fit: x has {len(x)} examples and y {len(y)}")
    steps = len(x) // batch
    step = _fit_step()
    history = {"epoch": [], "loss": [], "seconds": [], "examples_per_second": []}
    bar = _progress(epochs * steps * batch, progress)
    try:
        for epoch in range(1, epochs + 1):
            start, losses = time.perf_counter(), []
            for i in range(steps):
                lo, hi = i * batch, (i + 1) * batch
                value, params, state = step(loss, update, opt, params, state, x[lo:hi], y[lo:hi])
                losses.append(float(value))
                bar.update(batch)
                bar.set_postfix_str(f"epoch {epoch}/{epochs} loss {np.mean(losses):.4f}",
                                    refresh=False)
            seconds = time.perf_counter() - start
            history["epoch"].append(epoch)
            history["loss"].append(float(np.mean(losses)) if losses else float("nan"))
            history["seconds"].append(seconds)
            history["examples_per_second"].append(steps * batch / seconds if seconds else 0.0)
            for name, value in (evaluate(params) if evaluate is not None else {}).items():
                history.setdefault(name, []).append(float(value))
    finally:
        bar.close()
    if plot is not None:
        plot_history(history, plot)
    return params, state, history


def _progress(total, shown):
    """A tqdm bar of ``total`` examples (disabled unless ``shown``)."""
    return tqdm(total=total, unit="ex", unit_scale=True, disable=not shown, leave=True,
                dynamic_ncols=True)


@entry_point
def plot_history(history, path) -> None:
    """Draw the history of :func:`fit` to the PNG file ``path``: the figures
    whose name holds "loss" against the epoch on the left, the others (such
    as an accuracy) on the right."""
    try:
        import matplotlib
    except ImportError:
        raise SxRuntimeError("plotting the history needs matplotlib, an optional extra: "
                             "pip install 'myia_sx[plot]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    series = [k for k in history if k not in ("epoch", "seconds", "examples_per_second")]
    losses = [k for k in series if "loss" in k]
    others = [k for k in series if "loss" not in k]
    fig, axes = pyplot.subplots(1, 2 if others else 1, figsize=(10 if others else 5, 3.5),
                                squeeze=False)
    for ax, names in zip(axes[0], (losses, others)):
        for name in names:
            ax.plot(history["epoch"], history[name], marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    pyplot.close(fig)
