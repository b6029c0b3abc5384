"""Percentiles and Markdown tables of timing samples (nanoseconds in, milliseconds out)."""

from __future__ import annotations

import statistics


def percentile(values: list[float], fraction: float) -> float:
    """Return the percentile at `fraction` (0 to 1), interpolated linearly between the nearest samples."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(samples_ns: list[int]) -> dict:
    """Return n, median, p10, p90, min and mean of samples, in milliseconds."""
    values = [sample / 1e6 for sample in samples_ns]
    return {
        "n": len(values),
        "median": statistics.median(values) if values else float("nan"),
        "p10": percentile(values, 0.10),
        "p90": percentile(values, 0.90),
        "min": min(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def paired_ratios(samples: list[int], reference: list[int]) -> list[float]:
    """Return samples[i] / reference[i] for samples taken in the same round."""
    return [value / base for value, base in zip(samples, reference) if base > 0]


def markdown_table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """Return a Markdown table; `align` has one l or r per column (default: two left, the rest right)."""
    align = align or "ll" + "r" * (len(header) - 2)
    widths = [max(len(str(row[column])) for row in [header, *rows]) for column in range(len(header))]

    def line(cells):
        padded = [
            str(cell).ljust(width) if side == "l" else str(cell).rjust(width)
            for cell, width, side in zip(cells, widths, align)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join(("-" * width if side == "l" else "-" * (width - 1) + ":") for width, side in zip(widths, align)) + " |"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def ms(value: float) -> str:
    return f"{value:.1f}"
