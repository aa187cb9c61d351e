"""The differentiable (smooth sign) DSL and its per-axis breakdown."""

from __future__ import annotations

from typing import Any

from ._evaluate import _evaluate
from ._prepare import DEFAULT_SHARPNESS, _check_sharpness, _resolve_sign

__all__ = ["dsl", "dsl_per_axis"]


def dsl(
    x: Any,
    y: Any,
    *,
    sharpness: float = DEFAULT_SHARPNESS,
    sign: Any = "tanh",
    weights: Any = None,
    batch_axis: int | None = None,
    reduction: str = "mean",
    normalize: bool = True,
    jobs: int | None = None,
):
    """Differentiable directional sign loss (Algorithm 1 of the paper).

    For every non-batch axis ``i``: ``D_X = diff(x, axis=i)``, ``D_Y = diff(y, axis=i)``,
    ``Delta = |sigma(s D_X) - sigma(s D_Y)| / 2``; the loss is ``sum_i w_i sum(Delta)``,
    divided by the weighted number of comparisons when ``normalize`` is true.

    Parameters
    ----------
    x : array_like, shape (n_1, ..., n_d)
        The reconstruction / prediction.  Real (bool, integer or float), finite, not empty.
    y : array_like, shape (n_1, ..., n_d)
        The original / target, exactly the shape of ``x`` (no broadcasting).  The value
        is symmetric in ``x`` and ``y``.
    sharpness : float, default 16.0
        The factor ``s`` multiplying the finite differences before ``sigma``; larger is
        closer to the exact sign but gives vanishing gradients.  It is in units of
        1 / (data units): the default 16 is the value the paper used for its stock-price
        and shallow-water experiments (data of order 1, Table 4); for other scales fit it
        with :func:`find_sharpness` (Algorithm 2) or scale it with 1 / (typical |difference|).
    sign : {"tanh", "softsign", "sign"} or callable or (callable, callable), default "tanh"
        ``sigma``: ``tanh``, softsign ``z / (1 + |z|)``, ``"sign"`` (the exact loss, like
        :func:`exact_dsl`; ``sharpness`` is then irrelevant), or a vectorised callable
        (NumPy-ufunc-like, evaluated in float64; a pair ``(f, fprime)`` is also accepted).
    weights : sequence of float, optional
        One non-negative weight per non-batch axis (default all 1); 0 switches an axis off.
    batch_axis : int, optional
        Axis of independent samples: no differences along it, one value per sample.
    reduction : {"mean", "sum", "none"}, default "mean"
        How per-sample values are combined when ``batch_axis`` is given (as in PyTorch).
    normalize : bool, default True
        Divide by the weighted number of comparisons (value in [0, 1]); False keeps
        count units.
    jobs : int, optional
        Threads (default: the cores this process may use); arrays of fewer than 2**20 cells
        use one.  Counts are the same for every ``jobs``, float sums equal to rounding.

    Returns
    -------
    float or ndarray of shape (B,)
        The loss; a float64 array of per-sample values for ``reduction="none"`` with a
        ``batch_axis`` of length B.

    Raises
    ------
    ShapeMismatchError
        ``x`` and ``y`` differ in shape.
    NonFiniteError, InvalidDTypeError, InvalidInputError
        NaN/inf values, complex/object dtypes, empty inputs, nothing to compare.
    InvalidOptionError
        An invalid option value.

    See Also
    --------
    exact_dsl : the exact (sign) version, in count units by default.
    dsl_gradient : the analytic gradient with respect to ``x``.

    Notes
    -----
    Precision: with ``sign="tanh"`` and float32 inputs the differences, the sharpness product,
    tanh and each term are computed in float32, like NumPy's formula on float32 data, with
    float64 sums (deterministic order); the float32 tanh is within 2 ulp.  The error is at
    most about 2**-21 * sum(|tanh(s dX)| + |tanh(s dY)|): relative ~1e-6 unless ``x`` and
    ``y`` nearly agree everywhere.  Cast the inputs to float64 for float64 accuracy (every
    other dtype, ``"softsign"``, user sign functions and a sharpness outside [2**-60, 2**60],
    which float32 cannot carry, are computed in float64).

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> y = np.array([0.0, 1.0, 0.0, 1.0])
    >>> x = np.array([0.0, 1.0, 1.0, 0.0])
    >>> round(te.dsl(x, y, sharpness=100.0), 6)   # close to the exact 1.5 / 3 comparisons
    0.5
    >>> round(te.dsl(x, y, sharpness=1.0), 4)
    0.3808
    >>> te.dsl(x, x)
    0.0

    A batch of 2-D samples along axis 0, one value per sample:

    >>> rng = np.random.default_rng(0)
    >>> a = rng.random((3, 8, 8))
    >>> te.dsl(a, a + 0.1 * rng.random((3, 8, 8)), batch_axis=0, reduction="none").shape
    (3,)
    """
    kind, f, _ = _resolve_sign(sign)
    s = _check_sharpness(sharpness) if kind != 0 else 1.0
    return _evaluate(
        x, y, kind=kind, f=f, sharpness=s, weights=weights, batch_axis=batch_axis,
        reduction=reduction, normalize=bool(normalize), per_axis=False, jobs=jobs,
    )


def dsl_per_axis(
    x: Any,
    y: Any,
    *,
    sharpness: float = DEFAULT_SHARPNESS,
    sign: Any = "tanh",
    weights: Any = None,
    batch_axis: int | None = None,
    reduction: str = "mean",
    normalize: bool = True,
    jobs: int | None = None,
):
    """Per-axis breakdown of :func:`dsl`: each non-batch axis's weighted contribution.

    Same parameters as :func:`dsl` (``sign="sign"`` gives the breakdown of the exact
    loss; with ``normalize=True`` every contribution is divided by the same total
    number of weighted comparisons), so the contributions sum to :func:`dsl`.

    Returns
    -------
    ndarray, float64
        Shape (n_axes,) with ``n_axes = x.ndim`` (``x.ndim - 1`` with a batch axis), the
        non-batch axes in increasing order; shape (B, n_axes) for ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> import topoeval as te
    >>> a = np.array([[0, 1], [3, 2]])
    >>> b = np.array([[0, 1], [2, 3]])
    >>> te.dsl_per_axis(a, b, sign="sign", normalize=False)
    array([0., 1.])
    >>> te.dsl_per_axis(a, b, sign="sign")   # 1 mismatch out of 4 comparisons
    array([0.  , 0.25])
    """
    kind, f, _ = _resolve_sign(sign)
    s = _check_sharpness(sharpness) if kind != 0 else 1.0
    return _evaluate(
        x, y, kind=kind, f=f, sharpness=s, weights=weights, batch_axis=batch_axis,
        reduction=reduction, normalize=bool(normalize), per_axis=True, jobs=jobs,
    )
