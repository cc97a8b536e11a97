"""Command line: ``python -m bench.run [--scenario NAME ...] [--database sqlite|postgres] ...``.

Prints progress on stderr, the results table on stdout and, with ``--json``, the raw figures.
Exit status: 0 done, 1 some request got an unexpected answer (or a target was missed, with
``--check-targets``), 2 the benchmark could not run, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.harness import (
    DEFAULT_POSTGRES_ADMIN_URL,
    BenchError,
    Comparison,
    LoadConfig,
    Scenario,
    Summary,
    postgres_database,
    run_scenarios,
    running_server,
    sqlite_database,
)
from bench.scenarios import BASELINE, SCENARIOS

DATABASES = ("sqlite", "postgres")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="Load the app, started as a separate process on a fresh database, and report "
        "each scenario beside the /healthz baseline measured in the same run.",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        metavar="NAME",
        help=f"repeatable; default: all ({', '.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--database",
        action="append",
        choices=DATABASES,
        help="repeatable, each gets its own server and database; default: sqlite",
    )
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds per measurement (wrk: whole seconds)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="baseline/scenario rounds")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (each takes CPU from the server)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds per scenario")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL),
        help="maintenance database the throwaway one is created from (env BENCH_POSTGRES_URL; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="PASSEPORT_NAME=VALUE",
        help="extra setting for the server, repeatable",
    )
    parser.add_argument("--log-level", default="WARNING", help="the server's PASSEPORT_LOG_LEVEL")
    parser.add_argument(
        "--check-targets", action="store_true", help="exit 1 when a scenario misses its target"
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    for name, value in (
        ("--duration", args.duration),
        ("--rounds", args.rounds),
        ("--concurrency", args.concurrency),
        ("--workers", args.workers),
        ("--threads", args.threads),
    ):
        if value <= 0:
            parser.error(f"{name} must be positive")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    for item in args.env:
        if "=" not in item or not item.startswith("PASSEPORT_"):
            parser.error(f"--env {item!r}: expected PASSEPORT_NAME=VALUE")
    return args


@contextlib.contextmanager
def throwaway_database(kind: str, workdir: Path, postgres_url: str) -> Iterator[str]:
    if kind == "postgres":
        with postgres_database(postgres_url) as url:
            yield url
    else:
        with sqlite_database(workdir) as url:
            yield url


def bench_database(
    kind: str, scenarios: list[Scenario], config: LoadConfig, args: argparse.Namespace
) -> tuple[Summary, list[Comparison]]:
    extra_env = dict(item.split("=", 1) for item in args.env)
    with (
        tempfile.TemporaryDirectory(prefix="passeport-bench-") as tmp,
        throwaway_database(kind, Path(tmp), args.postgres_url) as database_url,
        running_server(
            database_url,
            Path(tmp),
            workers=args.workers,
            log_level=args.log_level,
            extra_env=extra_env,
        ) as server,
    ):
        progress(f"[{kind}] server pid {server.pid} at {server.base_url}")
        return asyncio.run(
            run_scenarios(
                server.base_url,
                database_url,
                kind,
                BASELINE,
                scenarios,
                config,
                server_cpu=server.cpu_seconds,
                progress=progress,
            )
        )


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        # On a shared host, what the neighbours were doing when the run started.
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _fmt(value: float, digits: int) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0%}"


def _round(value: float, digits: int = 3) -> float | None:
    # JSON has no NaN.
    return None if math.isnan(value) else round(value, digits)


COLUMNS = (
    "database",
    "scenario",
    "rps",
    "p50 ms",
    "p99 ms",
    "rps ratio",
    "per round",
    "p50 ratio",
    "p99 ratio",
    "srv ms/req",
    "cost ratio",
    "srv cpu",
    "client cpu",
    "errors",
    "target",
)
# Text columns are aligned left, figures right.
LEFT = {"database", "scenario", "target"}


def _row(kind: str, label: str, summary: Summary, comparison: Comparison | None) -> dict[str, str]:
    row = {
        "database": kind,
        "scenario": label,
        "rps": _fmt(summary.rps, 0),
        "p50 ms": _fmt(summary.p50_ms, 2),
        "p99 ms": _fmt(summary.p99_ms, 2),
        "rps ratio": "1.00",
        "p50 ratio": "1.00",
        "p99 ratio": "1.00",
        "srv ms/req": _fmt(summary.server_ms_per_request, 2),
        "cost ratio": "1.00",
        "srv cpu": _percent(summary.server_cpu),
        "client cpu": _percent(summary.client_cpu),
        "errors": str(summary.errors),
    }
    if comparison is not None:
        per_round = comparison.round_rps_ratios
        target = comparison.target
        verdict = "met" if comparison.meets_target else "MISSED"
        row |= {
            "rps ratio": _fmt(comparison.rps_ratio, 2),
            "per round": f"{min(per_round):.2f}-{max(per_round):.2f}",
            "p50 ratio": _fmt(comparison.p50_ratio, 2),
            "p99 ratio": _fmt(comparison.p99_ratio, 2),
            "cost ratio": _fmt(comparison.server_cost_ratio, 2),
            "target": "" if target is None else f"rps ratio >= {target:.2f}: {verdict}",
        }
    return row


def table(results: list[tuple[Summary, list[Comparison]]], databases: list[str]) -> str:
    rows = [dict(zip(COLUMNS, COLUMNS, strict=True))]
    for kind, (base, comparisons) in zip(databases, results, strict=True):
        # Each scenario under the baseline rounds it was paired with: its ratios' denominator.
        for c in comparisons:
            rows.append(_row(kind, f"{base.scenario} {BASELINE.path}", c.baseline, None))
            rows.append(_row(kind, c.scenario.name, c.result, c))
    widths = {col: max(len(row.get(col, "")) for row in rows) for col in COLUMNS}
    lines = [
        "  ".join(
            row.get(col, "").ljust(widths[col])
            if col in LEFT
            else row.get(col, "").rjust(widths[col])
            for col in COLUMNS
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def _measurements(summary: Summary) -> list[dict[str, Any]]:
    return [
        {
            "rps": round(m.rps, 1),
            "ok": m.ok,
            "errors": m.errors,
            "elapsed_s": round(m.elapsed_s, 3),
            "p50_ms": _round(m.p50_ms),
            "p99_ms": _round(m.p99_ms),
            "client_cpu": round(m.client_cpu, 3),
            "server_cpu": _round(m.server_cpu),
            "server_ms_per_request": _round(m.server_ms_per_request),
            "first_error": m.first_error,
        }
        for m in summary.measurements
    ]


def _summary(summary: Summary) -> dict[str, Any]:
    return {
        "rps": round(summary.rps, 1),
        "p50_ms": _round(summary.p50_ms),
        "p99_ms": _round(summary.p99_ms),
        "server_ms_per_request": _round(summary.server_ms_per_request),
        "server_cpu": _round(summary.server_cpu),
        "client_cpu": round(summary.client_cpu, 3),
        "requests": summary.requests,
        "errors": summary.errors,
        "measurements": _measurements(summary),
    }


def as_json(
    results: list[tuple[Summary, list[Comparison]]],
    databases: list[str],
    config: LoadConfig,
    args: argparse.Namespace,
    started: str,
    host: dict[str, Any],
) -> dict[str, Any]:
    return {
        "started": started,
        "machine": host,
        "config": {
            "concurrency": config.concurrency,
            "duration_s": config.duration_s,
            "rounds": config.rounds,
            "warmup_s": config.warmup_s,
            "threads": config.threads,
            "load_generator": "wrk",
            "workers": args.workers,
        },
        "databases": {
            kind: {
                # Every baseline measurement of the run; each scenario also has its own pairs.
                "baseline": {"path": BASELINE.path, **_summary(base)},
                "scenarios": {
                    c.scenario.name: {
                        "method": c.scenario.method,
                        "path": c.scenario.path,
                        "expected_status": c.scenario.expected_status,
                        **_summary(c.result),
                        "rps_ratio": _round(c.rps_ratio),
                        "p50_ratio": _round(c.p50_ratio),
                        "p99_ratio": _round(c.p99_ratio),
                        "server_cost_ratio": _round(c.server_cost_ratio),
                        "round_rps_ratios": [_round(r) for r in c.round_rps_ratios],
                        "paired_baseline": _summary(c.baseline),
                        "min_rps_ratio": c.target,
                        "meets_target": c.meets_target,
                    }
                    for c in comparisons
                },
            }
            for kind, (base, comparisons) in zip(databases, results, strict=True)
        },
    }


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM (a CI timeout, `kill`) must unwind like Ctrl-C so that the server is stopped and the
    # throwaway database dropped.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for s in [BASELINE, *SCENARIOS.values()]:
            print(f"{s.name:<16} {s.method} {s.path} -> {s.expected_status}  {s.description}")
        return 0
    signal.signal(signal.SIGTERM, _raise_interrupt)

    scenarios = [SCENARIOS[name] for name in dict.fromkeys(args.scenario or SCENARIOS)]
    databases: list[str] = list(dict.fromkeys(args.database or ["sqlite"]))
    config = LoadConfig(
        concurrency=args.concurrency,
        duration_s=args.duration,
        rounds=args.rounds,
        warmup_s=args.warmup,
        threads=args.threads,
    )
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    host = machine()

    results: list[tuple[Summary, list[Comparison]]] = []
    try:
        for kind in databases:
            results.append(bench_database(kind, scenarios, config, args))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; server stopped", file=sys.stderr)
        return 130

    print(
        f"Passeport numérique benchmark, {started}, {host['cpus']} CPUs "
        f"(load average at start {host['loadavg_at_start'][0]}), {config.rounds} rounds x "
        f"{config.duration_s:g} s, concurrency {config.concurrency}, {args.workers} worker(s)"
    )
    print(table(results, databases))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = as_json(results, databases, config, args, started, host)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        progress(f"figures written to {args.json}")

    comparisons = [c for _, cs in results for c in cs]
    failed = sum(b.errors for b, _ in results) + sum(c.result.errors for c in comparisons)
    if failed:
        first = next(
            (s.first_error for b, cs in results for s in [b, *(c.result for c in cs)] if s.errors),
            None,
        )
        print(f"bench: {failed} requests got an unexpected answer, first: {first}", file=sys.stderr)
        return 1
    missed = [c for c in comparisons if c.meets_target is False]
    if missed and args.check_targets:
        names = ", ".join(f"{c.database}/{c.scenario.name}" for c in missed)
        print(f"bench: target missed by {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
