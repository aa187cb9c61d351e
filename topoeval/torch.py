"""The directional sign loss (DSL) as a PyTorch loss.

``import topoeval.torch`` (explicitly: it is not re-exported by ``topoeval``,
which never imports torch) gives training loops the loss of Dam, Agarwal &
Gopalakrishnan (arXiv 2504.04202, Algorithm 1) with the conventions of
PyTorch losses: ``loss(input, target)`` where ``input`` is the model output
(the reconstruction), the **first axis is the batch axis**, each sample may
have any number of dimensions after it, and ``reduction`` is ``"mean"``,
``"sum"`` or ``"none"``.

For every non-batch axis ``i`` of a sample, with finite differences
``D_X = diff(input, axis=i)`` and ``D_Y = diff(target, axis=i)``::

    Delta_i = |sigma(s * D_X) - sigma(s * D_Y)| / 2
    value   = sum_i w_i * sum(Delta_i)              (one value per sample)
    value  /= sum_i w_i * (differences along i)     (normalize=True)

with sigma = tanh, softsign or a callable, sharpness ``s`` and weights ``w``
(default 1 per axis, 0 switches an axis off).  The values equal those of
:func:`topoeval.dsl` / :func:`topoeval.exact_dsl` with ``batch_axis=0`` (the
NumPy implementation) to floating-point tolerance.

The code is device-agnostic (CPU, CUDA, ...) and works under
:func:`torch.compile`.  float16 / bfloat16 inputs are computed in float32
(the loss is returned in float32, so an unnormalized sum cannot overflow
float16); float32 and float64 are computed in their own precision.  Like
PyTorch's own losses, the differentiable loss does not check for NaN/inf
(that would synchronise with the device on every step): NaN propagates.

Examples
--------
>>> import torch
>>> from topoeval.torch import DirectionalSignLoss, exact_directional_sign_loss
>>> x = torch.tensor([[0.0, 1.0, 0.5, 2.0]])       # one sample of 4 values
>>> y = torch.tensor([[0.0, 1.0, 1.5, 2.0]])       # its middle step goes up
>>> exact_directional_sign_loss(x, y)              # one step direction differs
tensor(1., dtype=torch.float64)
>>> loss_fn = DirectionalSignLoss(sharpness=100.0)
>>> round(loss_fn(x, y).item(), 4)                 # 1 mismatch of 3 comparisons
0.3333
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Union

from .errors import (
    InvalidDTypeError,
    InvalidInputError,
    InvalidOptionError,
    ShapeMismatchError,
    missing_dependency,
)

try:
    import torch
    from torch import Tensor, nn
    from torch.nn import functional as F
except ImportError:  # pragma: no cover - exercised only where torch is missing
    raise missing_dependency("torch", "torch", "topoeval.torch (the PyTorch directional sign loss)") from None

__all__ = [
    "DEFAULT_SHARPNESS",
    "DirectionalSignLoss",
    "directional_sign_loss",
    "exact_directional_sign_loss",
]

#: Default sharpness ``s`` (the same default as :func:`topoeval.dsl`, whose docstring explains it).
DEFAULT_SHARPNESS = 16.0

REDUCTIONS = ("mean", "sum", "none")
SIGNS = ("tanh", "softsign", "sign")

SignFunction = Callable[[Tensor], Tensor]
SignOption = Union[str, SignFunction]


# ----------------------------------------------------------------------------- validation


def _check_reduction(reduction: Any) -> str:
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise InvalidOptionError(
            f"reduction={reduction!r} is not valid; use one of: {', '.join(map(repr, REDUCTIONS))}"
        )
    return reduction


def _check_sign(sign: Any) -> SignFunction:
    if isinstance(sign, str):
        if sign == "tanh":
            return torch.tanh
        if sign == "softsign":
            return F.softsign
        if sign == "sign":
            return torch.sign
        raise InvalidOptionError(
            f"sign={sign!r} is not valid; use 'tanh', 'softsign', 'sign' or a callable mapping a "
            "tensor to a tensor of the same shape (a differentiable, odd, sign-like function)"
        )
    if isinstance(sign, tuple) and len(sign) == 2 and all(callable(f) for f in sign):
        return sign[0]  # topoeval.dsl's (f, fprime) pair: autograd needs only f
    if callable(sign):
        return sign
    raise InvalidOptionError(
        f"sign={sign!r} is neither 'tanh', 'softsign', 'sign' nor a callable; pass one of those"
    )


def _check_sharpness(sharpness: Any) -> float | Tensor:
    """A positive finite float, or a tensor holding one value (kept as a tensor: it may need a grad)."""
    if isinstance(sharpness, Tensor):
        if sharpness.numel() != 1:
            raise InvalidOptionError(
                f"sharpness is a tensor of shape {tuple(sharpness.shape)}; pass a single value "
                "(a 0-d tensor or a float)"
            )
        if not sharpness.is_floating_point():
            raise InvalidOptionError(
                f"sharpness is a {sharpness.dtype} tensor; pass a floating-point tensor or a float"
            )
        return sharpness.reshape(())
    if isinstance(sharpness, bool):
        raise InvalidOptionError(f"sharpness={sharpness!r} is not a number; pass a positive real number")
    try:
        s = float(sharpness)
    except (TypeError, ValueError):
        raise InvalidOptionError(
            f"sharpness={sharpness!r} is not a number; pass a positive real number"
        ) from None
    if not (s > 0.0 and math.isfinite(s)):
        raise InvalidOptionError(f"sharpness={sharpness!r} is not valid; pass a finite positive number")
    return s


def _as_weight_list(weights: Any) -> tuple[float, ...] | None:
    """Weights as a tuple of floats (not yet checked against the number of axes)."""
    if weights is None:
        return None
    if isinstance(weights, Tensor):
        weights = weights.detach().cpu().reshape(-1).tolist()
    elif isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence) and not hasattr(
        weights, "__array__"
    ):
        raise InvalidOptionError(
            f"weights={weights!r} is not a sequence; pass one non-negative number per non-batch axis"
        )
    out = []
    for w in list(weights):
        try:
            v = float(w)
        except (TypeError, ValueError):
            raise InvalidOptionError(
                f"weights={weights!r} holds {w!r}, which is not a number; pass non-negative numbers"
            ) from None
        if not (v >= 0.0 and math.isfinite(v)):
            raise InvalidOptionError(
                f"weights={weights!r} holds {w!r}; every weight must be a finite non-negative number "
                "(0 switches an axis off)"
            )
        out.append(v)
    return tuple(out)


def _check_tensors(input: Any, target: Any, *, differentiable: bool) -> tuple[Tensor, Tensor]:
    for name, t in (("input", input), ("target", target)):
        if not isinstance(t, Tensor):
            raise InvalidInputError(
                f"{name} is a {type(t).__name__}, not a torch.Tensor; convert it with "
                "torch.as_tensor(...) (or use topoeval.dsl for NumPy arrays)"
            )
        if t.is_complex():
            raise InvalidDTypeError(
                f"{name} is complex ({t.dtype}); the sign of a complex difference is not defined - "
                "pass its .real, .imag or .abs()"
            )
        if differentiable and not t.is_floating_point():
            raise InvalidDTypeError(
                f"{name} has dtype {t.dtype}; the differentiable loss needs floating-point tensors - "
                "convert with .float() (or use exact_directional_sign_loss for integer data)"
            )
    if input.shape != target.shape:
        raise ShapeMismatchError(
            f"input has shape {tuple(input.shape)} but target has shape {tuple(target.shape)}; they "
            "must have exactly the same shape (no broadcasting) - reshape or crop one of them"
        )
    if input.device != target.device:
        raise InvalidInputError(
            f"input is on {input.device} but target is on {target.device}; move both to the same "
            "device, e.g. target.to(input.device)"
        )
    if input.ndim < 2:
        raise InvalidInputError(
            f"input is {input.ndim}-dimensional (shape {tuple(input.shape)}); the first axis is the "
            "batch axis, so pass at least 2 dimensions, e.g. input.unsqueeze(0) for a single sample"
        )
    if input.numel() == 0:
        raise InvalidInputError(
            f"input is empty (shape {tuple(input.shape)}); pass a batch with at least one sample and one value"
        )
    return input, target


def _axis_plan(
    shape: Sequence[int], weights: tuple[float, ...] | None, normalize: bool
) -> tuple[list[tuple[int, float]], float]:
    """Axes (with their weights) that contribute, and the weighted number of comparisons per sample."""
    sample_shape = tuple(int(n) for n in shape[1:])
    if weights is None:
        weights = (1.0,) * len(sample_shape)
    elif len(weights) != len(sample_shape):
        raise InvalidOptionError(
            f"weights has {len(weights)} value(s) but the samples have {len(sample_shape)} axis/axes "
            f"(shape {tuple(shape)}, first axis = batch); pass one weight per non-batch axis"
        )
    size = math.prod(sample_shape)
    plan = []
    comparisons = 0.0
    for i, (n, w) in enumerate(zip(sample_shape, weights)):
        if n < 2 or w == 0.0:
            continue
        plan.append((i + 1, w))
        comparisons += w * (size // n) * (n - 1)
    if not plan and normalize:
        raise InvalidInputError(
            f"there is nothing to compare: every non-batch axis of shape {tuple(shape)} has length 1 "
            f"or weight 0 (weights={weights}); normalize=True would divide by zero - give an axis of "
            "length >= 2 a non-zero weight, or pass normalize=False (the loss is then 0)"
        )
    return plan, comparisons


def _compute_dtype(a: Tensor, b: Tensor) -> torch.dtype:
    dtype = torch.promote_types(a.dtype, b.dtype)
    if not dtype.is_floating_point:
        return torch.float64
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype


def _reduce(per_sample: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


# ----------------------------------------------------------------------------- functional


def directional_sign_loss(
    input: Tensor,
    target: Tensor,
    *,
    sharpness: float | Tensor = DEFAULT_SHARPNESS,
    sign: SignOption = "tanh",
    weights: Sequence[float] | Tensor | None = None,
    reduction: str = "mean",
    normalize: bool = True,
) -> Tensor:
    r"""Differentiable directional sign loss between a batch of outputs and targets.

    Parameters
    ----------
    input : Tensor, shape (B, *S)
        Model output (the reconstruction); floating point.  The first axis is the batch axis.
    target : Tensor, shape (B, *S)
        Reference, same shape (no broadcasting), same device.  Gradients flow to it too when it
        requires them.
    sharpness : float or Tensor, default DEFAULT_SHARPNESS (16.0)
        ``s`` in ``sigma(s * D)``, in units of 1 / (data units): ``tanh(s * D)`` is close to
        ``sign(D)`` once ``|D| >> 1 / s``, so choose ``s`` from the typical size of a step of
        your data (or fit it, see :class:`DirectionalSignLoss`); larger values approach the exact sign (and
        :func:`exact_directional_sign_loss`) but give vanishing gradients.  A 0-d tensor that
        requires grad makes ``s`` trainable (the paper's Algorithm 2).
    sign : {"tanh", "softsign", "sign"} or callable, default "tanh"
        The sign-like function sigma.  ``"softsign"`` is ``x / (1 + |x|)``; ``"sign"`` gives the
        exact value (zero gradient; prefer :func:`exact_directional_sign_loss`); a callable maps
        a tensor to a tensor of the same shape and should be odd, increasing, with values in
        [-1, 1] (then the loss lies in [0, 1] when normalized).  The ``(f, fprime)`` pair that
        :func:`topoeval.dsl_gradient` takes is accepted too (autograd uses only ``f``).
    weights : sequence of float, length len(S), optional
        Non-negative weight per non-batch axis (default 1 each); 0 switches an axis off, e.g. the
        component axis of a vector field.
    reduction : {"mean", "sum", "none"}, default "mean"
        Mean or sum of the per-sample values, or the per-sample values of shape (B,).
    normalize : bool, default True
        Divide each sample's value by the weighted number of comparisons
        ``sum_i w_i * (n_i - 1) * prod(S) / n_i``, so it lies in [0, 1] next to MSE; False keeps
        count units (the paper's Table 1 "Exact DSL" column).

    Returns
    -------
    Tensor
        0-d (mean/sum) or shape (B,) (none); float32 for float16/bfloat16 inputs, otherwise the
        (promoted) dtype of the inputs.

    Raises
    ------
    InvalidInputError, ShapeMismatchError, InvalidDTypeError, InvalidOptionError
        Not tensors, different shapes/devices, fewer than 2 dimensions, empty, integer or complex
        dtype, an invalid option, or nothing to compare (every axis of length 1 or weight 0)
        with ``normalize=True`` (with ``normalize=False`` the loss is then 0).

    See Also
    --------
    DirectionalSignLoss : the same as an ``nn.Module`` (optionally with a learnable sharpness).
    exact_directional_sign_loss : the non-differentiable metric (sigma = sign).
    topoeval.dsl : the NumPy implementation, same values with ``batch_axis=0``.

    Examples
    --------
    >>> import torch
    >>> from topoeval.torch import directional_sign_loss
    >>> target = torch.tensor([[0.0, 1.0, 2.0, 1.0]])
    >>> output = torch.tensor([[0.0, 2.0, 1.0, 0.0]], requires_grad=True)
    >>> loss = directional_sign_loss(output, target, sharpness=4.0)
    >>> loss.backward()
    >>> round(loss.item(), 4), output.grad.shape
    (0.3333, torch.Size([1, 4]))
    """
    input, target = _check_tensors(input, target, differentiable=True)
    s = _check_sharpness(sharpness)
    sigma = _check_sign(sign)
    reduction = _check_reduction(reduction)
    plan, comparisons = _axis_plan(input.shape, _as_weight_list(weights), normalize)

    dtype = _compute_dtype(input, target)
    x = input.to(dtype)
    y = target.to(dtype)
    if isinstance(s, Tensor) and s.dtype != dtype and s.dtype in (torch.float16, torch.bfloat16):
        s = s.to(dtype)
    batch = x.shape[0]
    total = None
    for axis, w in plan:
        dx = torch.diff(x, dim=axis)
        dy = torch.diff(y, dim=axis)
        delta = (sigma(s * dx) - sigma(s * dy)).abs()
        part = delta.reshape(batch, -1).sum(dim=1) * (0.5 * w)
        total = part if total is None else total + part
    if total is None:  # nothing to compare (normalize=False): 0, still connected to the graph
        total = (x.reshape(batch, -1)[:, :1] * 0.0).sum(dim=1)
    if normalize:
        total = total / comparisons
    return _reduce(total, reduction)


@torch.no_grad()
def exact_directional_sign_loss(
    input: Tensor,
    target: Tensor,
    *,
    weights: Sequence[float] | Tensor | None = None,
    reduction: str = "mean",
    normalize: bool = False,
) -> Tensor:
    r"""Exact directional sign loss: weighted count of finite differences whose signs disagree.

    sigma = sign, so per comparison ``|sign(D_X) - sign(D_Y)| / 2`` is 1 for opposite directions
    and 1/2 for a flat step against a non-flat one.  Not differentiable (evaluated without
    autograd); the metric the paper reports as "Exact DSL".

    Parameters
    ----------
    input, target : Tensor, shape (B, *S)
        Reconstruction and reference, same shape and device; any real dtype (integers and bool
        are compared exactly).  The first axis is the batch axis.
    weights : sequence of float, length len(S), optional
        Non-negative weight per non-batch axis (default 1 each).
    reduction : {"mean", "sum", "none"}, default "mean"
        Mean or sum over the batch, or the per-sample values of shape (B,).
    normalize : bool, default False
        False: count units (number of mismatching comparisons, as :func:`topoeval.exact_dsl`);
        True: divide by the weighted number of comparisons (the fraction in [0, 1]).

    Returns
    -------
    Tensor
        float64 (float32 on devices without float64, such as Apple MPS); 0-d or shape (B,).
        Counts are accumulated in int64, so they are exact.

    Examples
    --------
    >>> import torch
    >>> from topoeval.torch import exact_directional_sign_loss
    >>> x = torch.tensor([[1, 2, 3, 3], [0, 1, 0, 1]])
    >>> y = torch.tensor([[1, 2, 1, 3], [0, 1, 0, 1]])
    >>> exact_directional_sign_loss(x, y, reduction="none")
    tensor([1.5000, 0.0000], dtype=torch.float64)
    """
    input, target = _check_tensors(input, target, differentiable=False)
    reduction = _check_reduction(reduction)
    plan, comparisons = _axis_plan(input.shape, _as_weight_list(weights), normalize)
    out_dtype = torch.float32 if input.device.type == "mps" else torch.float64
    dtype = torch.promote_types(input.dtype, target.dtype)
    if not dtype.is_floating_point:
        dtype = torch.int64  # differences of integers (and bools) computed exactly
    x = input.detach().to(dtype)
    y = target.detach().to(dtype)
    batch = x.shape[0]
    total = None
    for axis, w in plan:
        sx = torch.sign(torch.diff(x, dim=axis)).to(torch.int8)
        sy = torch.sign(torch.diff(y, dim=axis)).to(torch.int8)
        # |sign a - sign b| is 0, 1 or 2 half-mismatches
        halves = (sx - sy).abs().reshape(batch, -1).sum(dim=1, dtype=torch.int64)
        part = halves.to(out_dtype) * (0.5 * w)
        total = part if total is None else total + part
    if total is None:  # nothing to compare (normalize=False)
        total = torch.zeros(batch, dtype=out_dtype, device=x.device)
    if normalize:
        total = total / comparisons
    return _reduce(total, reduction)


# ----------------------------------------------------------------------------- module


class DirectionalSignLoss(nn.Module):
    r"""The directional sign loss as an ``nn.Module`` (call it as ``loss_fn(input, target)``).

    Parameters
    ----------
    sharpness : float, default DEFAULT_SHARPNESS (16.0)
        Initial (or fixed) sharpness ``s`` of ``sigma(s * D)``.
    sign : {"tanh", "softsign", "sign"} or callable, default "tanh"
        The sign-like function; see :func:`directional_sign_loss`.
    weights : sequence of float, optional
        Non-negative weight per non-batch axis (default 1 each).
    reduction : {"mean", "sum", "none"}, default "mean"
        Reduction over the batch (first) axis.
    normalize : bool, default True
        Divide by the weighted number of comparisons (value in [0, 1]).
    learnable_sharpness : bool, default False
        Make ``s`` a trainable parameter, stored as ``log_sharpness`` (so it stays positive under
        any optimiser step).  Used to fit ``s`` to a reference loss (the paper's Algorithm 2,
        Appendix 5.3); see the example.

    Attributes
    ----------
    sharpness : float or Tensor
        The current ``s`` (a 0-d tensor carrying a grad when learnable).
    log_sharpness : nn.Parameter
        Only when ``learnable_sharpness=True``.

    Shape
    -----
    input, target : (B, *S), same shape.  Output: scalar, or (B,) with ``reduction="none"``.

    Examples
    --------
    >>> import torch
    >>> from topoeval.torch import DirectionalSignLoss
    >>> _ = torch.manual_seed(0)
    >>> loss_fn = DirectionalSignLoss(sharpness=32.0)
    >>> output = torch.randn(4, 8, 16, requires_grad=True)
    >>> loss = loss_fn(output, torch.randn(4, 8, 16))
    >>> loss.backward()
    >>> 0.0 < loss.item() < 1.0, output.grad.shape
    (True, torch.Size([4, 8, 16]))

    Algorithm 2 (fit ``s`` so that DSL between random pairs of samples matches their MSE):

    >>> data = torch.cumsum(torch.randn(64, 128), dim=1) / 100  # 64 random-walk samples
    >>> fit = DirectionalSignLoss(sharpness=1.0, learnable_sharpness=True)
    >>> opt = torch.optim.Adam(fit.parameters(), lr=0.05)
    >>> for step in range(150):
    ...     perm = torch.randperm(64)
    ...     a, b = data[perm[:32]], data[perm[32:]]
    ...     gap = (fit(a, b) - torch.nn.functional.mse_loss(a, b)) ** 2
    ...     opt.zero_grad(); gap.backward(); opt.step()
    >>> 1.5 < fit.sharpness.item() < 4.0     # DSL(s) ~ MSE between random pairs
    True
    """

    def __init__(
        self,
        sharpness: float = DEFAULT_SHARPNESS,
        sign: SignOption = "tanh",
        weights: Sequence[float] | Tensor | None = None,
        reduction: str = "mean",
        normalize: bool = True,
        learnable_sharpness: bool = False,
    ) -> None:
        super().__init__()
        s = _check_sharpness(sharpness)
        s = float(s.detach()) if isinstance(s, Tensor) else s
        _check_sign(sign)
        self.sign = sign
        self.weights = _as_weight_list(weights)
        self.reduction = _check_reduction(reduction)
        self.normalize = bool(normalize)
        self.learnable_sharpness = bool(learnable_sharpness)
        if self.learnable_sharpness:
            self.log_sharpness = nn.Parameter(torch.tensor(math.log(s)))
        else:
            self._sharpness = s

    @property
    def sharpness(self) -> float | Tensor:
        if self.learnable_sharpness:
            return self.log_sharpness.exp()
        return self._sharpness

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return directional_sign_loss(
            input,
            target,
            sharpness=self.sharpness,
            sign=self.sign,
            weights=self.weights,
            reduction=self.reduction,
            normalize=self.normalize,
        )

    def extra_repr(self) -> str:
        s = float(self.sharpness.detach()) if self.learnable_sharpness else self._sharpness
        sign = self.sign if isinstance(self.sign, str) else getattr(self.sign, "__name__", repr(self.sign))
        parts = [f"sharpness={s:.6g}", f"sign={sign!r}"]
        if self.weights is not None:
            parts.append(f"weights={self.weights}")
        parts += [f"reduction={self.reduction!r}", f"normalize={self.normalize}"]
        if self.learnable_sharpness:
            parts.append("learnable_sharpness=True")
        return ", ".join(parts)
