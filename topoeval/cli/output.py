"""The one output layer of the commands: rich tables on a terminal, plain aligned text elsewhere.

Every command builds its text output from :class:`Table` objects and plain lines and
hands them to :func:`render`, which decides, for all commands alike:

* standard output that is a terminal: rich tables (box drawing, colours, squeezed to
  the terminal's width);
* a file (``-o out.txt``) or a pipe (``> out.txt``, ``| head``): plain aligned text,
  columns separated by two spaces, no box drawing, no escape codes, no trailing
  spaces and no wrapping (a long title or a wide table stays on one line each), so
  that ``grep``, ``awk`` and ``diff`` see one record per line.

rich is imported only for a terminal.

Examples
--------
>>> t = Table([("name", "left"), ("value", "right")], title="a title")
>>> t.add_row("psnr", "41.2")
>>> t.add_row("max_abs_error", "0.01")
>>> print(render([t, "a note"], output="out.txt"))
a title
name           value
psnr            41.2
max_abs_error   0.01
a note
<BLANKLINE>
"""

from __future__ import annotations

import io
import sys
from typing import Iterable, Sequence, Union

__all__ = ["Table", "is_terminal", "render", "text_console"]

_SEP = "  "  # between columns of plain text


class Table:
    """A table of text cells, rendered by :func:`render`.

    Parameters
    ----------
    columns : sequence of (str, str)
        ``(header, justify)`` per column; ``justify`` is ``"left"`` or ``"right"``.
    title : str, optional
        Shown above the table (may hold several lines).
    show_header : bool
        Print the column headers.
    indent : int
        Plain text only: spaces before every row (the rows under a section are indented
        by two more).
    """

    def __init__(self, columns: Sequence[tuple[str, str]], *, title: str | None = None,
                 show_header: bool = True, indent: int = 0):
        for _, justify in columns:
            if justify not in ("left", "right"):
                raise ValueError(f"justify must be 'left' or 'right', not {justify!r}")
        self.columns = list(columns)
        self.title = title
        self.show_header = show_header
        self.indent = indent
        self.rows: list[tuple[str, ...] | str] = []  # a str is a section heading

    def add_row(self, *cells: object) -> None:
        """Append a row of ``len(columns)`` cells (converted with ``str``)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"a row of {len(cells)} cells in a table of {len(self.columns)} columns")
        self.rows.append(tuple(str(c) for c in cells))

    def add_section(self, heading: str) -> None:
        """Append a heading row; the rows after it are indented in plain text."""
        self.rows.append(str(heading))

    # ------------------------------------------------------------------ plain text

    def plain(self) -> list[str]:
        """The table as lines of plain aligned text (no trailing spaces)."""
        sections = any(isinstance(r, str) for r in self.rows)
        inner = " " * (self.indent + (2 if sections else 0))
        cells = [r for r in self.rows if not isinstance(r, str)]
        if self.show_header:
            cells = [tuple(h for h, _ in self.columns), *cells]
        widths = [max((len(r[k]) for r in cells), default=0) for k in range(len(self.columns))]
        just = [j for _, j in self.columns]

        def line(row):
            parts = [c.rjust(w) if j == "right" else c.ljust(w) for c, w, j in zip(row, widths, just)]
            return (inner + _SEP.join(parts)).rstrip()

        out = [] if self.title is None else [t.rstrip() for t in self.title.splitlines()]
        if self.show_header:
            out.append(line(cells[0]))
        for r in self.rows:
            out.append((" " * self.indent + r).rstrip() if isinstance(r, str) else line(r))
        return out

    # ------------------------------------------------------------------ rich

    def rich(self):
        """The table as a :class:`rich.table.Table` (cells are text, never markup)."""
        from rich.table import Table as RichTable
        from rich.text import Text

        title = None if self.title is None else Text(self.title)
        table = RichTable(title=title, title_justify="left", header_style="bold",
                          show_header=self.show_header)
        for header, justify in self.columns:
            table.add_column(header, justify=justify)
        empty = ("",) * (len(self.columns) - 1)
        indent = ""
        for r in self.rows:
            if isinstance(r, str):
                table.add_row(Text(r, style="bold cyan"), *empty)
                indent = "  "
            else:
                table.add_row(Text(indent + r[0]), *(Text(c) for c in r[1:]))
        return table


Block = Union[Table, str]


def is_terminal(output: str | None = None) -> bool:
    """Whether text for ``output`` (None or ``'-'``: standard output) goes to a terminal."""
    if output not in (None, "-"):
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def render(blocks: Iterable[Block], output: str | None = None) -> str:
    """Render tables and lines of text for ``output`` (None or ``'-'``: standard output).

    Parameters
    ----------
    blocks : iterable of Table or str
        In order; a str is printed as ``print`` would (``""`` is a blank line), never wrapped.
    output : str, optional
        The ``-o`` path of the command; rich tables only when it is standard output
        and that is a terminal.

    Returns
    -------
    str
        The text, ending with a newline (empty when there are no blocks).
    """
    blocks = list(blocks)
    if not is_terminal(output):
        lines: list[str] = []
        for b in blocks:
            lines.extend(b.plain() if isinstance(b, Table) else [t.rstrip() for t in b.split("\n")])
        return "".join(ln + "\n" for ln in lines)
    console, buf = text_console(output)
    for b in blocks:
        if isinstance(b, Table):
            console.print(b.rich())
        else:
            console.print(b, markup=False, highlight=False, soft_wrap=True)
    return buf.getvalue()


def text_console(output: str | None = None, *, width: int = 100):
    """A rich Console writing into a buffer: ``(console, buffer)``.

    Colours and the terminal's width when the text goes to a terminal (:func:`is_terminal`);
    otherwise no colours and a fixed ``width`` (prefer :func:`render`, which writes plain
    text there).
    """
    from rich.console import Console

    tty = is_terminal(output)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=tty, no_color=not tty, width=None if tty else width,
                      highlight=False)
    return console, buf
