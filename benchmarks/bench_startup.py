"""Start-up time and peak memory of the command lines, against ``python -c pass`` in the same run.

    python benchmarks/bench_startup.py --repeats 5 --output benchmarks/results/startup.md
    python benchmarks/bench_startup.py --root /path/to/another/checkout   # the same cases on other code

Each case runs ``--repeats`` times in a fresh interpreter (stdout and stderr discarded); the
table gives the median and fastest wall time and the peak resident memory of the child
(``os.wait4``). ``ingest --status`` runs on a small data dir that the script makes first with a
tiny ingest (60 generated products, the ``tiny-test`` model), or on ``--status-data-dir``.
Goals (issue 9): ``--help`` and argument errors under 1 s, ``--status`` under 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELP_GOAL_S = 1.0
STATUS_GOAL_S = 2.0


@dataclass(frozen=True)
class Case:
    label: str
    args: list[str]
    goal_s: float | None
    expected_rc: int


@dataclass
class Timing:
    seconds: list[float]
    peak_rss_mb: float
    return_codes: set[int]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def cases(data_dir: Path, missing: Path, store_label: str) -> list[Case]:
    edge = ["--data-dir", str(data_dir), "--qdrant", "edge"]
    return [
        Case("baseline: python -c pass", ["-c", "pass"], None, 0),
        Case("ingest --help", ["-m", "ingest", "--help"], HELP_GOAL_S, 0),
        Case("ingest --batch-size 0 (bad argument)", ["-m", "ingest", "--batch-size", "0"], HELP_GOAL_S, 2),
        Case("ingest --dataset MISSING", ["-m", "ingest", "--dataset", str(missing), *edge], HELP_GOAL_S, 2),
        Case(f"ingest --status ({store_label})", ["-m", "ingest", "--status", *edge], STATUS_GOAL_S, 0),
        Case("finetune --help", ["-m", "finetune", "--help"], HELP_GOAL_S, 0),
        Case("finetune --epochs 0", ["-m", "finetune", "--epochs", "0", "--output-dir", str(missing.parent / "out")], HELP_GOAL_S, 2),
        Case("finetune --dataset MISSING", ["-m", "finetune", "--dataset", str(missing), "--output-dir", str(missing.parent / "out")], HELP_GOAL_S, 2),
        Case("finetune.evaluate --help", ["-m", "finetune.evaluate", "--help"], HELP_GOAL_S, 0),
    ]


def run_once(args: list[str], root: Path, cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and exit code of one ``python ARGS`` with ``root`` on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; tell Popen so it does not wait again
    return elapsed, usage.ru_maxrss / 1024, process.returncode


def measure(case: Case, root: Path, cwd: Path, repeats: int) -> Timing:
    run_once(case.args, root, cwd)  # warm the file cache and __pycache__
    seconds, peaks, codes = [], [], set()
    for _ in range(repeats):
        elapsed, peak, code = run_once(case.args, root, cwd)
        seconds.append(elapsed)
        peaks.append(peak)
        codes.add(code)
    return Timing(seconds, max(peaks), codes)


def make_data_dir(root: Path, folder: Path) -> Path:
    """A data dir holding 60 generated products, ingested with the tiny test model."""
    script = (
        "import sys; from pathlib import Path; from tests.synthetic import make_rows, write_parquet; "
        "write_parquet(Path(sys.argv[1]), make_rows(60))"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", script, str(folder / "dataset")], cwd=root, env=env, check=True, capture_output=True)
    data_dir = folder / "data"
    subprocess.run(
        [sys.executable, "-m", "ingest", "--model", "tiny-test", "--dataset", str(folder / "dataset"), "--data-dir", str(data_dir),
         "--qdrant", "edge", "--workers", "0"],
        cwd=root, env=env, check=True, capture_output=True,
    )
    return data_dir


def table(results: list[tuple[Case, Timing]]) -> str:
    baseline = results[0][1].median
    lines = [
        "| command | median (s) | fastest (s) | over `python -c pass` (s) | peak RSS (MB) | exit code | goal |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case, timing in results:
        if case.goal_s is None:
            verdict = "baseline"
        else:
            verdict = f"< {case.goal_s:g} s: {'yes' if timing.median < case.goal_s else '**no**'}"
        codes = ", ".join(str(c) for c in sorted(timing.return_codes))
        if timing.return_codes != {case.expected_rc}:
            codes += f" (expected {case.expected_rc})"
        lines.append(
            f"| {case.label} | {timing.median:.2f} | {min(timing.seconds):.2f} | {timing.median - baseline:+.2f} | "
            f"{timing.peak_rss_mb:.0f} | {codes} | {verdict} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case, after one warm-up (default: 5)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose code is timed (default: this one)")
    parser.add_argument("--status-data-dir", type=Path, help="time --status on this data dir instead of a generated one")
    parser.add_argument("--output", type=Path, help="also write the table (Markdown) here")
    args = parser.parse_args()
    root = args.root.resolve()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as temporary:
        folder = Path(temporary)
        data_dir = args.status_data_dir or make_data_dir(root, folder)
        label = f"embedded store in {args.status_data_dir}" if args.status_data_dir else "embedded store, 60 generated products"
        results = [(case, measure(case, root, folder, args.repeats)) for case in cases(data_dir, folder / "no-such-dataset", label)]
    text = (
        f"python {' '.join(sys.argv)}\n\ncode: {root}; {args.repeats} timed runs per command after one warm-up; "
        f"{os.cpu_count()} CPUs\n\n{table(results)}\n"
    )
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
