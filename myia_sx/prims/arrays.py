"""Arrays: ``@``, shapes, construction, reshaping, transposition, ``where``,
``size`` and indexing helpers."""

from __future__ import annotations

import numpy as np

from ..dtypes import NUMPY, dtype_of, promote
from ..errors import SxRuntimeError, SxTypeError
from ..forms import Keyword
from ..values import type_name
from .numeric import check_i64
from .sequences import get_item
from .table import (PrimShapeError, apply_in, cast, need_array, num_or_array, prim, scalar,
                    shape_text)

@prim("@", 2)
def _matmul(a, b):
    """Matrix product (numpy matmul semantics)."""
    need_array("@", a, 1)
    need_array("@", b, 2)
    num_or_array("@", a, 1)
    num_or_array("@", b, 2)
    if a.ndim == 0 or b.ndim == 0:
        raise PrimShapeError(f"{shape_text(a)} @ {shape_text(b)}: @ needs rank >= 1")
    return apply_in(promote(dtype_of(a), dtype_of(b)), "@", np.matmul, a, b)


def _shape_arg(name, s):
    if type(s) is int:
        s = (s,)
    if type(s) is not tuple or not all(type(d) is int for d in s):
        raise SxTypeError(f"{name} expects a shape (a tuple of integers), got {type_name(s)}")
    if any(d < 0 for d in s):
        raise PrimShapeError(f"negative dimension in shape {s}")
    return s


_DTYPE_NAMES = {"f64": np.float64, "f32": np.float32, "i64": np.int64}


def _dtype_arg(name, dtype, default):
    if dtype is None:
        return default
    key = dtype.name if type(dtype) is Keyword else dtype
    if type(key) is not str or key not in _DTYPE_NAMES:
        raise SxTypeError(f":dtype of {name} must be :f64, :f32 or :i64")
    return _DTYPE_NAMES[key]


def _alloc(name, make, shape, *args):
    """``make(shape, *args)``; an array too big for memory is a user error, not a crash."""
    try:
        return make(shape, *args)
    except (MemoryError, ValueError):
        raise SxRuntimeError(f"{name}: cannot allocate an array of shape {shape}") from None


@prim("zeros", 1, 1, {"dtype": None})
def _zeros(shape, dtype=None):
    """Array of zeros of the given shape (f64 unless :dtype)."""
    return _alloc("zeros", np.zeros, _shape_arg("zeros", shape),
                  _dtype_arg("zeros", dtype, np.float64))


@prim("ones", 1, 1, {"dtype": None})
def _ones(shape, dtype=None):
    """Array of ones of the given shape (f64 unless :dtype)."""
    return _alloc("ones", np.ones, _shape_arg("ones", shape),
                  _dtype_arg("ones", dtype, np.float64))


def _scalar_dtype(v):
    if type(v) not in (int, float, np.float32):
        raise SxTypeError(f"expected a number, got {type_name(v)}")
    return NUMPY[dtype_of(v)[0]]


@prim("full", 2, 2, {"dtype": None})
def _full(shape, value, dtype=None):
    """Array of the given shape filled with value (dtype of value unless :dtype)."""
    return _alloc("full", np.full, _shape_arg("full", shape), value,
                  _dtype_arg("full", dtype, _scalar_dtype(value)))


@prim("array", 1, 1, {"dtype": None})
def _array(data, dtype=None):
    """Array from a (nested) tuple of numbers."""
    leaves = list(_tuple_leaves(data))
    if not leaves:
        raise SxTypeError("array needs at least one element")
    for v in leaves:
        if type(v) is int:
            check_i64("array", v)
        elif type(v) not in (float, np.float32):
            raise SxTypeError(f"array elements must be numbers, got {type_name(v)}")
    default = np.float64 if any(type(v) is not int for v in leaves) else np.int64
    target = _dtype_arg("array", dtype, default)
    try:
        a = np.array(data, dtype=default)
    except ValueError:
        depth = 0
        while type(data) is tuple and data:
            depth += 1
            data = data[0]
        if depth > _MAX_DIMS:
            raise PrimShapeError(f"tuples nested {depth} deep: an array has at most "
                                 f"{_MAX_DIMS} dimensions") from None
        raise PrimShapeError("nested tuples of different lengths") from None
    with np.errstate(all="ignore"):   # floats to :i64 as astype casts them (as full does)
        return a.astype(target, copy=False)


def _most_dimensions():
    """The most dimensions numpy gives an array: 32 before numpy 2, 64 since."""
    x = 0.0
    for _ in range(33):
        x = (x,)
    try:
        np.array(x)
    except ValueError:
        return 32
    return 64


_MAX_DIMS = _most_dimensions()


def _tuple_leaves(x):
    stack = [x]
    while stack:
        y = stack.pop()
        if type(y) is tuple:
            stack.extend(y)
        else:
            yield y


@prim("shape", 1)
def _shape(x):
    """The shape of an array, as a tuple of integers."""
    need_array("shape", x)
    return tuple(int(d) for d in x.shape)


@prim("reshape", 2)
def _reshape(x, shape):
    """The array with a new shape of the same size (one dimension may be -1)."""
    need_array("reshape", x)
    if type(shape) is int:
        shape = (shape,)
    if type(shape) is not tuple or not all(type(d) is int for d in shape):
        raise SxTypeError(f"reshape expects a shape tuple, got {type_name(shape)}")
    try:
        return x.reshape(shape)
    except ValueError:
        raise PrimShapeError(f"cannot reshape {shape_text(x)} to {shape}") from None


@prim("transpose", 1, 1, {"axes": None})
def _transpose(x, axes=None):
    """Reverse the axes of an array (or permute them by :axes)."""
    need_array("transpose", x)
    if axes is not None:
        if type(axes) is not tuple or not all(type(a) is int for a in axes):
            raise SxTypeError(f":axes of transpose must be a tuple of integers, "
                              f"got {type_name(axes)}")
        if sorted(axes) != list(range(x.ndim)):
            raise PrimShapeError(f":axes {axes} is not a permutation of {x.ndim} axes")
    return np.transpose(x, axes)


@prim("where", 3)
def _where(c, a, b):
    """Elementwise choice: a where c is true, else b (broadcasting)."""
    if not (type(c) is bool or (type(c) is np.ndarray and c.dtype == np.bool_)):
        raise SxTypeError(f"where expects a bool array condition, got {type_name(c)}")
    num_or_array("where", a, 2)
    num_or_array("where", b, 3)
    d = promote(dtype_of(a), dtype_of(b))
    try:
        with np.errstate(all="ignore"):
            return scalar(np.where(c, cast(a, d), cast(b, d)))
    except ValueError:
        raise PrimShapeError(
            f"where {shape_text(c)} {shape_text(a)} {shape_text(b)}") from None



@prim("size", 1)
def _size(x):
    """The number of elements of an array (1 for a number)."""
    if type(x) is np.ndarray:
        return int(x.size)
    num_or_array("size", x, 1)
    return 1


@prim("arange", 1)
def _arange(n):
    """The i64 array [0 1 ... n-1]."""
    if type(n) is not int or isinstance(n, bool):
        raise SxTypeError(f"arange expects an integer, got {type_name(n)}")
    if n < 0:
        raise PrimShapeError(f"arange of a negative length {n}")
    return _alloc("arange", lambda shape, dtype: np.arange(shape[0], dtype=dtype), (n,),
                  np.int64)


# -- 2-D convolution: images [N H W C] (batch, height, width, channels) and
# filters [KH KW C F]; stride 1, no padding ("valid").  conv2d-grad-x and
# conv2d-grad-w are its adjoints in the image and in the filters (its
# derivative rules, and theirs, are made of the three).

def _conv_arrays(name, *named):
    for k, (x, what) in enumerate(named, 1):
        if type(x) is not np.ndarray or x.dtype not in (np.float64, np.float32) or x.ndim != 4:
            raise SxTypeError(f"{name} expects {what} (a float array of rank 4) as argument "
                              f"{k}, got {type_name(x)}")
    dtype = named[0][0].dtype
    for x, _ in named[1:]:
        dtype = np.promote_types(dtype, x.dtype)
    return [x.astype(dtype, copy=False) for x, _ in named]


def _conv_shapes(name, x_shape, w_shape, out_shape=None):
    n, h, wd, c = x_shape
    kh, kw, c2, f = w_shape
    if c != c2 or kh > h or kw > wd or kh == 0 or kw == 0:
        raise PrimShapeError(f"{name}: images {shape_text(x_shape)} and filters "
                             f"{shape_text(w_shape)} (channels must agree, the filter fit)")
    want = (n, h - kh + 1, wd - kw + 1, f)
    if out_shape is not None and tuple(out_shape) != want:
        raise PrimShapeError(f"{name}: a sensitivity of shape {shape_text(out_shape)} where "
                             f"the output's is {shape_text(want)}")
    return want


def _windows(x, kh, kw):
    return np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))


@prim("conv2d", 2)
def _conv2d(x, w):
    """2-D convolution (cross-correlation, as in deep learning) of images x
    [N H W C] with filters w [KH KW C F]: [N H-KH+1 W-KW+1 F]."""
    x, w = _conv_arrays("conv2d", (x, "images"), (w, "filters"))
    _conv_shapes("conv2d", x.shape, w.shape)
    return np.einsum("nijckl,klcf->nijf", _windows(x, *w.shape[:2]), w)


@prim("conv2d-grad-x", 3)
def _conv2d_grad_x(d, w, like):
    """The adjoint of conv2d in its images: d [N OH OW F] (a sensitivity of
    the output) with the filters w, as an array of the shape of like."""
    d, w, like = _conv_arrays("conv2d-grad-x", (d, "an output sensitivity"),
                              (w, "filters"), (like, "images"))
    kh, kw = w.shape[:2]
    _conv_shapes("conv2d-grad-x", like.shape, w.shape, d.shape)
    padded = np.pad(d, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
    return np.einsum("nabfkl,klcf->nabc", _windows(padded, kh, kw), w[::-1, ::-1])


@prim("conv2d-grad-w", 3)
def _conv2d_grad_w(x, d, like):
    """The adjoint of conv2d in its filters: images x and d [N OH OW F] (a
    sensitivity of the output), as an array of the shape of like."""
    x, d, like = _conv_arrays("conv2d-grad-w", (x, "images"),
                              (d, "an output sensitivity"), (like, "filters"))
    _conv_shapes("conv2d-grad-w", x.shape, like.shape, d.shape)
    return np.einsum("nijckl,nijf->klcf", _windows(x, *like.shape[:2]), d)


# -- random numbers: the counter-based generator Threefry-2x32 (20 rounds), as
# in JAX and Random123; a key and the counters are uint32 values held in i64.

_U32 = 0xFFFFFFFF
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def _u32_array(who, x, what, shape=None):
    if type(x) is not np.ndarray or x.dtype != np.int64 or x.ndim != 1 or \
            shape is not None and x.shape != shape:
        raise SxTypeError(f"{who} expects {what}, got {type_name(x)}")
    if x.size and (x.min() < 0 or x.max() > _U32):
        raise SxRuntimeError(f"{who}: {what} holds values outside 0 .. 2^32-1")
    return x.astype(np.uint32)


def threefry2x32(key, x0, x1):
    """The 20-round Threefry-2x32 block cipher of counter pairs (x0, x1),
    uint32 arrays, under key, a pair of uint32."""
    k0, k1 = np.uint32(key[0]), np.uint32(key[1])
    ks = (k0, k1, np.uint32(k0 ^ k1 ^ np.uint32(0x1BD11BDA)))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = (x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))
            x1 = x1 ^ x0
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


@prim("threefry2x32", 2)
def _threefry(key, counts):
    """The counters (an i64 array of uint32 values) enciphered under key (an
    i64 array of two uint32): the first half of the counters paired with the
    second, as JAX's threefry_2x32 (an odd count is padded with a zero)."""
    k = _u32_array("threefry2x32", key, "a key (an i64 array of 2 uint32 values)", (2,))
    c = _u32_array("threefry2x32", counts, "counters (an i64 array of uint32 values)")
    n = c.size
    if n % 2:
        c = np.concatenate([c, np.zeros(1, np.uint32)])
    with np.errstate(over="ignore"):
        y0, y1 = threefry2x32(k, c[:c.size // 2], c[c.size // 2:])
    return np.concatenate([y0, y1])[:n].astype(np.int64)


@prim("get-at", 2)
def _get_at(a, idx):
    """(get a i j ...) with the indices as one tuple."""
    if type(idx) is not tuple:
        raise SxTypeError(f"get-at expects an index tuple, got {type_name(idx)}")
    return get_item(a, *idx)


@prim("to-tuple", 1)
def _to_tuple(a):
    """An array as nested tuples of numbers (the inverse of array)."""
    if type(a) is not np.ndarray:
        raise SxTypeError(f"to-tuple expects an array, got {type_name(a)}")
    def conv(x):
        return tuple(conv(v) for v in x) if type(x) is np.ndarray else scalar(x)
    return conv(a) if a.ndim else scalar(a[()])

