"""Table formatting shared by the leaderboard, the claims and the README block."""

import pandas as pd


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a markdown table (no blank line after it)."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(cells) + " |" for cells in rows]


def missing(value) -> bool:
    """Whether a cell value is absent (None or NaN)."""
    return value is None or pd.isna(value)


def num(value) -> str:
    """A value to 4 decimals; empty when absent."""
    return "" if missing(value) else f"{value:.4f}"


def interval(mean, half) -> str:
    """``[mean - half, mean + half]`` to 4 decimals; empty when either is absent."""
    if missing(mean) or missing(half):
        return ""
    return f"[{mean - half:.4f}, {mean + half:.4f}]"


def mean_pm(mean, std) -> str:
    """``"mean ± std"`` to 4 decimals; the mean alone without a std; empty without a mean."""
    if missing(mean):
        return ""
    return f"{mean:.4f}" if pd.isna(std) else f"{mean:.4f} ± {std:.4f}"


def integer(value) -> str:
    """A value rounded to an integer; empty when absent."""
    return "" if missing(value) else str(round(value))


def tflop(value) -> str:
    """Training TFLOP to one decimal (two below 1); empty when absent (records before the meter)."""
    return "" if missing(value) else f"{value:.{2 if value < 1 else 1}f}"
