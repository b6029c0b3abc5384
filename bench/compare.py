"""The comparison: `run` of the /bin/true bundle, every runtime once per round, in rotating order."""

from __future__ import annotations

from runtimes import Runtime
from spawn import Identity, Output, reap_orphans, run_checked
from stats import markdown_table, ms, paired_ratios, percentile, summary_ms

SPAWN_KEY = "spawn /bin/true"


def measure_run(
    runtimes: list[Runtime], spawn_identity: Identity, runs: int, warmup: int, output: Output, counter, progress
) -> dict[str, list[int]]:
    """Return {runtime key: wall times in ns} of `run`, plus SPAWN_KEY for the driver's own fork and exec.

    Each round runs every entry once, starting one entry later than the
    round before, so that drift and periodic noise on the machine fall on
    all runtimes alike. The first `warmup` rounds are not recorded.
    """
    entries: list[tuple[str, object]] = [(runtime.key, runtime) for runtime in runtimes]
    entries.append((SPAWN_KEY, None))
    samples: dict[str, list[int]] = {key: [] for key, _runtime in entries}
    for round_index in range(warmup + runs):
        shift = round_index % len(entries)
        for key, runtime in entries[shift:] + entries[:shift]:
            if runtime is None:
                elapsed = run_checked(["/bin/true"], spawn_identity, output, output)
            else:
                argv = runtime.argv("run", "--bundle", runtime.bundle, runtime.container_id(next(counter)))
                elapsed = run_checked(argv, runtime.identity, output, output)
                reap_orphans()
            if round_index >= warmup:
                samples[key].append(elapsed)
        progress(round_index + 1, warmup + runs)
    return samples


def report(runtimes: list[Runtime], samples: dict[str, list[int]]) -> tuple[str, list[dict]]:
    """Return the Markdown table of medians, spreads and ratios to userrunc, and the same as records."""
    rows = []
    records = []
    for runtime in runtimes:
        values = samples[runtime.key]
        summary = summary_ms(values)
        reference = samples.get(f"userrunc {runtime.mode}")
        record = {"runtime": runtime.name, "mode": runtime.mode, "note": runtime.note, **summary}
        ratio_cells = ["", ""]
        if reference:
            reference_median = summary_ms(reference)["median"]
            pairs = paired_ratios(values, reference)
            record["ratio_of_medians"] = summary["median"] / reference_median
            record["paired_ratio_p10"] = percentile(pairs, 0.10)
            record["paired_ratio_p90"] = percentile(pairs, 0.90)
            ratio_cells = [
                f"{record['ratio_of_medians']:.2f}",
                f"{record['paired_ratio_p10']:.2f}–{record['paired_ratio_p90']:.2f}",
            ]
        records.append(record)
        rows.append(
            [runtime.mode, runtime.name, ms(summary["median"]), ms(summary["p10"]), ms(summary["p90"]), *ratio_cells]
        )
    spawn = summary_ms(samples[SPAWN_KEY])
    records.append({"runtime": SPAWN_KEY, "mode": "root", "note": "the driver's fork, exec and wait", **spawn})
    rows.append(["root", SPAWN_KEY, ms(spawn["median"]), ms(spawn["p10"]), ms(spawn["p90"]), "", ""])
    header = ["mode", "runtime", "median ms", "p10 ms", "p90 ms", "÷ userrunc", "paired p10–p90"]
    return markdown_table(header, rows), records
