"""Training time per epoch of the example models, myia_sx against the same
model in PyTorch eager, on one core.

    python3 bench/train_epoch.py [--epochs 3]

Models (examples/): the digits MLP (64-64-10) and CNN (3x3 conv to 16
channels, 2x2 max pool, dense), the character LSTM (64 units, windows of
32 characters) and the TreeRNN (16 dimensions, phrases of up to 3 levels).
Each is trained with Adam on the example's data and minibatches; an epoch's
time is the median of the epochs after the first (which pays for warming
up).  Each row runs in a process of its own pinned to one core, with one
BLAS thread.  The PyTorch column is left empty where torch is not installed
(pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu).
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "examples"))

MODELS = ["digits MLP", "digits CNN", "char LSTM", "TreeRNN"]


def digits():
    import numpy as np

    with np.load(os.path.join(ROOT, "examples", "data", "digits.npz")) as f:
        return f["x_train"] / 16.0, f["y_train"]


def chars():
    import numpy as np

    import char_lstm
    text = open(os.path.join(ROOT, "examples", "data", "sonnets.txt"), encoding="utf-8").read()
    alphabet = sorted(set(text))
    ids = np.array([alphabet.index(c) for c in text], dtype=np.int64)
    x, y = char_lstm.windows(ids[:len(ids) * 9 // 10])
    return x, y, len(alphabet)


def trees():
    import numpy as np

    import treernn
    x, y, _ = treernn.dataset(np.random.default_rng(0), 600, 3, set())
    return x, y


# -- myia_sx ------------------------------------------------------------------------

def sx_epochs(model, epochs):
    """Seconds of each epoch of the model's training with myia_sx.fit."""
    import myia_sx

    def load(name):
        return myia_sx.load(os.path.join(ROOT, "examples", name))
    if model == "digits MLP":
        m, (x, y), batch = load("digits.sx"), digits(), 32
        p = m.mlp_init(m.key(0))
    elif model == "digits CNN":
        m, (x, y), batch = load("digits_cnn.sx"), digits(), 32
        p = m.cnn_init(m.key(0))
    elif model == "char LSTM":
        m, batch = load("char_lstm.sx"), 32
        x, y, n = chars()
        p = m.lm_init(m.key(0), n, 64)
    else:
        m, (x, y), batch = load("treernn.sx"), trees(), 20
        p = m.tree_net_init(m.key(0), 9, 16, 2)
    _, _, history = myia_sx.fit(m.loss, m.adam_update, m.adam(0.01), p, m.adam_init(p), x, y,
                                batch, epochs, progress=False)
    return history["seconds"]


# -- PyTorch eager --------------------------------------------------------------------

def torch_epochs(model, epochs):
    """Seconds of each epoch of the same model trained with PyTorch eager."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.set_num_threads(1)
    torch.manual_seed(0)
    if model in ("digits MLP", "digits CNN"):
        x, y = digits()
        x, y, batch = torch.tensor(x), torch.tensor(y), 32
        if model == "digits MLP":
            net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).double()
            forward = net
        else:
            conv, out = nn.Conv2d(1, 16, 3).double(), nn.Linear(144, 10).double()
            net = nn.ModuleList([conv, out])

            def forward(xb):
                h = F.max_pool2d(F.relu(conv(xb.reshape(-1, 1, 8, 8))), 2)
                return out(h.reshape(len(xb), 144))

        def loss(xb, yb):
            return F.cross_entropy(forward(xb), yb)
    elif model == "char LSTM":
        x, y, n = chars()
        x, y, batch = torch.tensor(x), torch.tensor(y), 32
        embed, cell, out = nn.Embedding(n, 64).double(), nn.LSTMCell(64, 64).double(), \
            nn.Linear(64, n).double()
        net = nn.ModuleList([embed, cell, out])

        def loss(xb, yb):
            h = c = torch.zeros(len(xb), 64, dtype=torch.float64)
            total = 0.0
            for t in range(xb.shape[1]):
                h, c = cell(embed(xb[:, t]), (h, c))
                total = total + F.cross_entropy(out(h), yb[:, t])
            return total / xb.shape[1]
    else:
        x, y = trees()
        y, batch = torch.tensor(y), 20
        words, combine, out = nn.Embedding(9, 16).double(), nn.Linear(32, 16).double(), \
            nn.Linear(16, 2).double()
        net = nn.ModuleList([words, combine, out])

        def encode(t):
            if type(t) is tuple:
                return torch.tanh(combine(torch.cat([encode(t[0]), encode(t[1])])))
            return words.weight[t]

        def loss(xb, yb):
            logits = torch.stack([out(encode(t)) for t in xb])
            return F.cross_entropy(logits, yb)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for i in range(len(x) // batch):
            opt.zero_grad()
            loss(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]).backward()
            opt.step()
        seconds.append(time.perf_counter() - start)
    return seconds


def row(system, model, epochs):
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    if system == "torch" and importlib.util.find_spec("torch") is None:
        print(json.dumps(None))
        return
    seconds = (sx_epochs if system == "sx" else torch_epochs)(model, epochs)
    later = sorted(seconds[1:] or seconds)
    print(json.dumps(later[len(later) // 2]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--row", nargs=2, metavar=("SYSTEM", "MODEL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:
        row(args.row[0], args.row[1], args.epochs)
        return
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    print(f"{'model':<12}{'myia_sx s/epoch':>17}{'PyTorch s/epoch':>17}{'ratio':>9}")
    for model in MODELS:
        times = {}
        for system in ("sx", "torch"):
            out = subprocess.run([sys.executable, __file__, "--epochs", str(args.epochs),
                                  "--row", system, model], env=env, capture_output=True,
                                 text=True, check=True).stdout
            times[system] = json.loads(out.splitlines()[-1])
        sx, pt = times["sx"], times["torch"]
        ratio = f"{sx / pt:8.1f}x" if pt else f"{'':>9}"
        print(f"{model:<12}{sx:>17.3f}{(f'{pt:.3f}' if pt else '-'):>17}{ratio}", flush=True)


if __name__ == "__main__":
    main()
