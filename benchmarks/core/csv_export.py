"""CSV downloads that a spreadsheet opens as data, never as formulas (OWASP "CSV injection"): a text cell
that starts with = + - @, a tab or a carriage return gets a leading single quote, and every text cell is
quoted, so neither a formula nor a stray separator in uploaded sentences survives into Excel or Sheets."""

from __future__ import annotations

import csv

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(frame: pd.DataFrame, index: bool = True) -> bytes:
    """`frame` as UTF-8 CSV bytes with every text cell (labels of the index and columns too) neutralised."""
    safe = frame.map(neutralise)
    safe.index = safe.index.map(neutralise)
    safe.columns = safe.columns.map(neutralise)
    return safe.to_csv(index=index, quoting=csv.QUOTE_NONNUMERIC).encode("utf-8")
