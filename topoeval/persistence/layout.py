"""Where every cell lives in the union-find array: a padded, cache-line-bricked copy of the grid."""

from __future__ import annotations

import functools
import itertools

import numpy as np


def _squeezed_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    core = tuple(s for s in shape if s > 1)
    return core if core else (1,)


_MAX_INT32_CELLS = 2**31 - 2  # above: np.argsort and int64 union-find (no radix sort)
_BRICKS = {2: (4, 4), 3: (2, 2, 4)}  # 16 int32 = one 64-byte cache line per brick


def _grid(m: int, d: int) -> np.ndarray:
    """(m**d, d) int64: every point of {0, ..., m-1}**d in C order."""
    return np.array(list(itertools.product(range(m), repeat=d)), dtype=np.int64).reshape(m**d, d)


class _Layout:
    """Where every cell lives in the union-find array.

    The array gets a frame of never-active cells (so neighbours need no bounds checks) and,
    in 2-D and 3-D, is stored in bricks of 16 cells (4x4, 2x2x4) that fill one cache line,
    so a 3x3(x3) neighbourhood touches fewer lines.  The storage index of the cell at core
    coordinates ``x`` is ``sum(tables[i, x[i]])``; the offset to a neighbour depends on the
    cell's position in its brick, ``storage & lmask``.
    """

    def __init__(self, core: tuple[int, ...], connectivity: str, bricks: bool = True) -> None:
        d = len(core)
        B = _BRICKS.get(d, (1,) * d) if bricks else (1,) * d
        self.core, self.B = core, B
        self.NB = tuple(-(-(c + 2) // b) for c, b in zip(core, B))
        bsize = int(np.prod(B))
        self.bsize = bsize
        self.LS = _c_strides(B)
        self.BS = tuple(s * bsize for s in _c_strides(self.NB))
        self.size = int(np.prod(self.NB, dtype=np.int64)) * bsize
        self.lmask = bsize - 1
        tables = np.zeros((d, max(core)), dtype=np.int64)
        for i, c in enumerate(core):
            tables[i, :c] = self._tpad(i, np.arange(1, c + 1))
        self.tables = tables
        # neighbour offsets per position inside a brick
        deltas = _grid(3, d) - 1
        deltas = deltas[np.any(deltas != 0, axis=1)]
        if connectivity == "face":
            deltas = deltas[np.abs(deltas).sum(axis=1) == 1]
        local = np.array(list(np.ndindex(*B)), dtype=np.int64).reshape(bsize, d)
        self.offsets = self._diff(local, deltas)
        if bsize > 1:  # the 2**d corners cover every brick the neighbourhood touches
            corners = _grid(2, d) * 2 - 1
            self.pf = self._diff(local, corners)
        elif d <= 3:  # the first cell of every neighbour row
            rows = _grid(3, d - 1) - 1
            rows = np.concatenate([rows, -np.ones((rows.shape[0], 1), dtype=np.int64)], axis=1)
            self.pf = self._diff(local, rows)
        else:
            self.pf = np.empty((1, 0), dtype=np.int64)
        for arr in (self.tables, self.offsets, self.pf):
            arr.flags.writeable = False  # layouts are cached and shared

    def _tpad(self, i, p):
        return (p // self.B[i]) * self.BS[i] + (p % self.B[i]) * self.LS[i]

    def _diff(self, local, deltas):
        out = np.zeros((local.shape[0], deltas.shape[0]), dtype=np.int64)
        for i, b in enumerate(self.B):
            base = b + local[:, i][:, None]  # a position in the second brick: no negatives
            out += self._tpad(i, base + deltas[:, i][None, :]) - self._tpad(i, base)
        return out

    def to_core(self, s: np.ndarray) -> np.ndarray:
        """(m, d) core coordinates of storage indices ``s``."""
        s = np.asarray(s, dtype=np.int64)
        brick, loc = np.divmod(s, self.bsize)
        bc = np.unravel_index(brick, self.NB)
        lc = np.unravel_index(loc, self.B)
        out = np.empty((s.shape[0], len(self.core)), dtype=np.int64)
        for i, b in enumerate(self.B):
            out[:, i] = bc[i] * b + lc[i] - 1
        return out


@functools.lru_cache(maxsize=64)
def _layout(core: tuple[int, ...], connectivity: str, bricks: bool) -> _Layout:
    """Cached layouts: batches of equal-shape arrays reuse the tables (read-only)."""
    return _Layout(core, connectivity, bricks)


def _c_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    return tuple(strides)
