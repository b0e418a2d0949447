"""Render a result DataFrame as a text table, CSV, JSON (the versioned envelope of
``memprof.report.schema``) or Markdown.

One renderer for every command, so every command's ``--format`` behaves alike.
Missing values (a counter that was unavailable) render as the string given in
the frame, never as 0 or NaN: callers put "unavailable (<why>)" in such cells.
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pandas as pd

from memprof.report.output import infer_format, write_or_keep
from memprof.report.schema import ANALYSIS_HEADLINE, BREAKDOWN_COLUMNS, envelope, schema_name

FORMATS = ("table", "csv", "json", "markdown")


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unavailable"
    if isinstance(value, (float, np.floating)):
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1e6 or magnitude < 1e-3:
            return f"{value:.4g}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if magnitude < 10 else f"{value:,.2f}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    return str(value)


def _json_value(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def to_text_table(frame: pd.DataFrame) -> str:
    """Fixed-width table with right-aligned numbers, for a terminal."""
    headers = [str(c) for c in frame.columns]
    rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]

    def fmt(cells):
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

    lines = [fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
    return "\n".join(lines) + "\n"


def to_markdown(frame: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown table."""
    headers = [str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    for row in frame.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines) + "\n"


def to_json(frame: pd.DataFrame, metadata: dict | None = None, *, kind: str) -> str:
    """The versioned envelope ``memprof.report.schema.envelope``: schema, metadata, rows
    (exact numbers, null where unavailable)."""
    records = [
        {str(k): _json_value(v) for k, v in zip(frame.columns, row)}
        for row in frame.itertuples(index=False, name=None)
    ]
    return json.dumps(envelope(kind, records, metadata), indent=2, default=str) + "\n"


def render(frame: pd.DataFrame, fmt: str, metadata: dict | None = None, *, kind: str) -> str:
    """Render ``frame`` in one of FORMATS; ``kind`` (a ``schema.KINDS`` name) labels the JSON envelope."""
    schema_name(kind)  # an unknown kind is a programming error in every format, not only JSON
    if fmt == "table":
        return to_text_table(frame)
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return to_json(frame, metadata, kind=kind)
    if fmt == "markdown":
        return to_markdown(frame)
    raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")


def emit(frame: pd.DataFrame, fmt: str, output: str | os.PathLike | None = None, metadata: dict | None = None, *,
         kind: str) -> None:
    """Write the rendered frame to ``output`` atomically, or to stdout when output is None or '-'.

    ``fmt`` None: the format the output's suffix implies (``output.infer_format``). When the
    final write fails the text is kept in a temporary file (``output.OutputKept`` names it)."""
    text = render(frame, fmt or infer_format(output), metadata, kind=kind)
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_or_keep(output, text)


def emit_analysis(frame: pd.DataFrame, fmt: str, output=None, metadata: dict | None = None, *,
                  all_columns: bool = False, metadata_path=None, keep: tuple[str, ...] = (),
                  kind: str = "analysis", breakdown: bool = False) -> None:
    """Emit an analysis table: CSV and JSON (the envelope, with the metadata) carry every
    column, the table and Markdown views the headline columns (``schema.ANALYSIS_HEADLINE``,
    plus ``keep``, e.g. swept parameters, and with ``breakdown`` the cycle breakdown,
    ``schema.BREAKDOWN_COLUMNS``) unless ``all_columns``. The run's metadata also goes to
    ``metadata_path`` (JSON, atomically) when given."""
    fmt = fmt or infer_format(output)
    if fmt in ("table", "markdown") and not all_columns:
        wanted = list(dict.fromkeys([*keep, *ANALYSIS_HEADLINE, *(BREAKDOWN_COLUMNS if breakdown else ())]))
        frame = frame[[c for c in wanted if c in frame.columns]]
    emit(frame, fmt, output, metadata, kind=kind)
    if metadata_path is not None:
        write_or_keep(metadata_path, json.dumps(metadata or {}, indent=2, default=str) + "\n", "metadata")
