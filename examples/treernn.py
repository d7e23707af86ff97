"""Train the TreeRNN of treernn.sx to read the sentiment of phrases built
from a small grammar, given as parse trees (nested tuples of word ids).

    python examples/treernn.py [EPOCHS]

A phrase is an adjective (good, great, nice: positive; bad, awful, poor:
negative), "very P" (the sign of P), "not P" (the opposite sign) or
"P but P'" (the sign of P'); its tree nests as the grammar does: "not very
bad" is (not, (very, bad)) and "P but P'" is (P, (but, P')).  The label is
1 for a positive phrase.  The model trains on phrases of up to 3 levels;
the figure printed at the end is its accuracy on phrases of up to 4 levels
that it never saw.
"""

import sys
from pathlib import Path

import numpy as np

import myia_sx

HERE = Path(__file__).resolve().parent
WORDS = ["good", "great", "nice", "bad", "awful", "poor", "not", "very", "but"]
ID = {w: i for i, w in enumerate(WORDS)}


def phrase(rng, depth):
    """A random phrase of at most depth levels: (tree, sign, text), the text
    with its nested phrases in parentheses."""
    kind = rng.integers(4) if depth > 0 else 0
    if kind == 0:
        w = WORDS[rng.integers(6)]
        return ID[w], (1 if ID[w] < 3 else -1), w
    if kind in (1, 2):
        t, sign, text = phrase(rng, depth - 1)
        word = "very" if kind == 1 else "not"
        return (ID[word], t), (sign if kind == 1 else -sign), f"{word} {nested(t, text)}"
    t1, _, text1 = phrase(rng, depth - 1)
    t2, sign, text2 = phrase(rng, depth - 1)
    return (t1, (ID["but"], t2)), sign, f"{nested(t1, text1)} but {nested(t2, text2)}"


def nested(tree, text):
    return f"({text})" if type(tree) is tuple else text


def dataset(rng, n, depth, seen):
    """n phrases of at most depth levels, none in seen (which gets them): a
    tuple of trees, their labels, their texts."""
    trees, labels, texts = [], [], []
    while len(trees) < n:
        t, sign, text = phrase(rng, depth)
        if text not in seen:
            seen.add(text)
            trees.append(t)
            labels.append(1 if sign > 0 else 0)
            texts.append(text)
    return tuple(trees), np.array(labels, dtype=np.int64), texts


def main(epochs=10, n_train=600, n_test=200, progress=True, lr=0.01):
    rng, seen = np.random.default_rng(0), set()
    x, y, _ = dataset(rng, n_train, 3, seen)
    xt, yt, texts = dataset(rng, n_test, 4, seen)
    m = myia_sx.load(HERE / "treernn.sx")
    p0 = m.tree_net_init(m.key(0), len(WORDS), 16, 2)
    p, _, history = myia_sx.fit(m.loss, m.adam_update, m.adam(lr), p0, m.adam_init(p0),
                                x, y, 20, epochs, progress=progress,
                                evaluate=lambda p: {"test_accuracy": m.accuracy_on(p, xt, yt)})
    examples = [(texts[i], "positive" if np.argmax(m.logits(p, xt[i])) else "negative")
                for i in range(5)]
    figures = {"epochs": epochs, "train_loss": history["loss"][-1],
               "train_accuracy": m.accuracy_on(p, x, y),
               "test_accuracy": history["test_accuracy"][-1],
               "seconds_per_epoch": float(np.mean(history["seconds"]))}
    return figures, examples


if __name__ == "__main__":
    figures, examples = main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    for text, label in examples:
        print(f"{label:8}  {text}")
    print("  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in figures.items()))
