"""Self-contained HTML reports and summary figures of comparisons, batches and sweeps.

Every report is **one HTML file** that needs nothing else to be read: the
pictures are PNGs embedded as ``data:`` URIs, the CSS is inline, no script is
used, and a Content-Security-Policy forbids any network access, so the file can
be mailed, archived or opened offline.  Needs the optional extra ``plot``
(matplotlib, imported inside the functions).

Figures are drawn with matplotlib's Agg renderer into
:class:`matplotlib.figure.Figure` objects (pyplot is never used, whatever its
backend), in a fixed style independent of the user's rcParams, and saved
without timestamps or version strings: the same inputs give the same bytes.

Files are written atomically (a temporary file in the same folder, then
``os.replace``) and an existing file is only replaced with ``force=True``
(:class:`~topoeval.errors.OutputExistsError` otherwise).

=========================  ===============================================================
:func:`write_report`       one comparison: metrics, options, fields, diagrams, matchings,
                           mismatch map, critical points
:func:`save_summary_plot`  one comparison as a single PNG (or SVG / PDF) figure
:func:`write_batch_report` a :class:`~topoeval.BatchResult`: metric distributions per
                           reconstruction, worst samples (with pictures when the data is given)
:func:`write_sweep_report` rate-distortion curves of a compressor sweep
:func:`save_sweep_plot`    the rate-distortion curves as a single PNG (or SVG / PDF) figure
=========================  ===============================================================

Modules: :mod:`.page` (the page shell: CSS, document, tables, embedded pictures, atomic
writing), :mod:`.figures` (the report-only figures and saving them), and one module per
page kind: :mod:`.comparison`, :mod:`.batch`, :mod:`.sweep`.
"""

from .batch import write_batch_report
from .comparison import save_summary_plot, write_report
from .sweep import save_sweep_plot, write_sweep_report

__all__ = [
    "save_summary_plot",
    "save_sweep_plot",
    "write_batch_report",
    "write_report",
    "write_sweep_report",
]
