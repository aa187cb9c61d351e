"""Numba kernels of the 0-D persistence engine (private).

The public wrapper (:func:`topoeval.persistence.persistence_diagram`) prepares a
*padded grid*: the array with a one-cell frame around it on every (non-singleton)
axis, in C order.  Frame cells are never active, so the neighbours of a cell are a
fixed table of flat offsets and no bounds checks are needed.

Union-find conventions (``parent`` is an int32 or int64 array over the padded grid):

* ``parent[p] == -1``      cell ``p`` is not (yet) in the filtration (frame, omitted, later);
* ``parent[p] <= -2``      ``p`` is a root; its component was the ``(-parent[p] - 2)``-th born,
  i.e. it stores ``-(birth slot + 2)``; slots increase with the birth rank, so the elder rule
  compares slots;
* ``parent[p] >= 0``       ``p`` is linked to ``parent[p]``.

The root of a component is always its birth cell (the younger root is linked under the
older one), so the birth cell of a dying component is its root.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _find(parent, p):
    """Root of ``p`` with path halving."""
    q = parent[p]
    while q >= 0:
        r = parent[q]
        if r < 0:
            return q
        parent[p] = r
        p = r
        q = parent[p]
    return p


@njit(cache=True, nogil=True)
def _grow(buf, size):
    out = np.empty(max(2 * buf.shape[0], size), dtype=buf.dtype)
    out[: buf.shape[0]] = buf
    return out


@njit(cache=True, nogil=True)
def union_find_padded(order, n_active, parent, offsets):
    """0-D persistence pairs by union-find over padded cells in filtration order.

    Parameters
    ----------
    order : (m,) int array
        Padded flat indices in filtration order; only the first ``n_active`` are used.
    n_active : int
        Number of cells in the filtration.
    parent : (P,) int array
        Padded grid, every entry ``-1`` on entry (overwritten).
    offsets : (k,) int64 array
        Flat offsets of the neighbours in the padded grid.

    Returns
    -------
    birth_cells, death_cells : (n_births,) int64 arrays
        Padded flat indices of the creating and killing cell of every class, in birth
        order; ``death_cells`` is ``-1`` for classes that never die.
    """
    k = offsets.shape[0]
    cap = 1024
    births = np.empty(cap, dtype=np.int64)
    deaths = np.empty(cap, dtype=np.int64)
    nb = 0
    for r in range(n_active):
        p = np.int64(order[r])
        root = np.int64(-1)
        for j in range(k):
            q = p + offsets[j]
            if parent[q] == -1:
                continue
            rq = _find(parent, q)
            if root < 0:
                root = rq
            elif rq != root:
                # elder rule: the component with the larger birth slot dies here
                if parent[rq] < parent[root]:
                    # rq has the larger slot (-(slot+2) smaller): rq is younger
                    deaths[-parent[rq] - 2] = p
                    parent[rq] = root
                else:
                    deaths[-parent[root] - 2] = p
                    parent[root] = rq
                    root = rq
        if root < 0:
            if nb == births.shape[0]:
                births = _grow(births, nb + 1)
                deaths = _grow(deaths, nb + 1)
            births[nb] = p
            deaths[nb] = -1
            parent[p] = -(nb + 2)
            nb += 1
        else:
            parent[p] = root
    return births[:nb].copy(), deaths[:nb].copy()
