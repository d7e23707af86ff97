"""Train the character-level LSTM of char_lstm.sx on Shakespeare's sonnets
(examples/data/sonnets.txt) and print a sample of what it writes.

    python examples/char_lstm.py [EPOCHS]

The text is cut into overlapping windows of 32 characters; the last tenth
(most of the last sonnet) is held out.  The figure printed at the end is the
held-out loss in bits per character, next to that of the characters'
frequencies alone.  The text is small (3 kB): past about 10 epochs the
model learns it by heart and the held-out loss rises again.
"""

import sys
from pathlib import Path

import numpy as np

import myia_sx

HERE = Path(__file__).resolve().parent
WINDOW, STRIDE, HIDDEN, BATCH = 32, 8, 64, 32


def windows(ids):
    """Inputs and targets (the inputs shifted by one) of each window."""
    starts = range(0, len(ids) - WINDOW - 1, STRIDE)
    x = np.stack([ids[s:s + WINDOW] for s in starts])
    y = np.stack([ids[s + 1:s + WINDOW + 1] for s in starts])
    return x, y


def unigram_bits(train, held_out, n):
    """Bits per character of held_out under the character frequencies of
    train (plus one)."""
    counts = np.bincount(train, minlength=n) + 1.0
    return float(-np.mean(np.log2(counts[held_out] / counts.sum())))


def main(epochs=10, text=None, progress=True):
    text = text or (HERE / "data" / "sonnets.txt").read_text(encoding="utf-8")
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text], dtype=np.int64)
    cut = len(ids) * 9 // 10
    x, y = windows(ids[:cut])
    xv, yv = windows(ids[cut:])
    m = myia_sx.load(HERE / "char_lstm.sx")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    p0 = m.lm_init(m.key(0), len(chars), HIDDEN)
    p, _, history = myia_sx.fit(m.loss, m.adam_update, m.adam(0.01), p0, m.adam_init(p0),
                                x[order], y[order], BATCH, epochs, progress=progress,
                                evaluate=lambda p: {"held_out_loss": m.loss(p, xv, yv)})
    prime = np.array([chars.index(c) for c in "Shall I "], dtype=np.int64)
    out = m.sample(p, m.key(1), prime, 200, 0.6)
    figures = {"epochs": epochs,
               "train_bits_per_char": history["loss"][-1] / np.log(2),
               "held_out_bits_per_char": history["held_out_loss"][-1] / np.log(2),
               "frequencies_bits_per_char": unigram_bits(ids[:cut], ids[cut:], len(chars)),
               "seconds_per_epoch": float(np.mean(history["seconds"]))}
    return figures, "Shall I " + "".join(chars[i] for i in out)


if __name__ == "__main__":
    figures, sample = main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    print(sample)
    print("  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in figures.items()))
