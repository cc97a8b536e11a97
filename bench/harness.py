"""The benchmark machinery: throwaway databases, the server process, the load loop and statistics.

Scenarios live in :mod:`bench.scenarios`; the command line in :mod:`bench.run`. The server always
runs as a separate process (``passeport serve``), as in production, so what is measured includes
uvicorn, the middleware and the real database driver, while the load generator runs apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

LOCALHOST = "127.0.0.1"
DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
UPGRADE_TIMEOUT_S = 300.0


class BenchError(Exception):
    """The benchmark cannot go on; the message says why (with the server log's tail if relevant)."""


# --------------------------------------------------------------------------------------------------
# Scenarios


@dataclass
class SetupContext:
    """What a scenario's setup hook gets to prepare its data, once, before any measurement.

    The hook may call the API through ``client`` (already pointed at the server) or write to the
    database at ``database_url`` directly; whatever it puts in ``headers`` is sent with every
    request of the scenario, and ``state`` fills the ``{placeholders}`` of the scenario's path.
    A hook that fills ``paths`` spreads the requests over them, in turn, in place of the
    scenario's one path (writes to many rows, as many people at once make them).
    """

    client: httpx.AsyncClient
    database_url: str
    headers: dict[str, str] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)


SetupHook = Callable[[SetupContext], Awaitable[None]]
# Called for every request with an index unique over the scenario's whole run (warm-up included),
# so that writes can stay unique.
BodyFactory = Callable[[SetupContext, int], Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    expected_status: int = 200
    description: str = ""
    setup: SetupHook | None = None
    body: BodyFactory | None = None
    # The lowest acceptable scenario_rps / baseline_rps, when the scenario has a target: one for
    # every database, or one per database ("sqlite", "postgres").
    min_rps_ratio: float | Mapping[str, float] | None = None


@dataclass(frozen=True)
class _Plan:
    """A scenario once its setup has run: everything a request needs, computed once."""

    scenario: Scenario
    context: SetupContext
    path: str
    indices: Iterator[int] = field(default_factory=itertools.count)

    async def send(self, client: httpx.AsyncClient, index: int) -> httpx.Response:
        body = self.scenario.body
        return await client.request(
            self.scenario.method,
            self.path,
            headers=self.context.headers,
            json=body(self.context, index) if body is not None else None,
        )


async def _prepare(scenario: Scenario, client: httpx.AsyncClient, database_url: str) -> _Plan:
    context = SetupContext(client=client, database_url=database_url)
    if scenario.setup is not None:
        await scenario.setup(context)
    return _Plan(scenario, context, scenario.path.format(**context.state))


# --------------------------------------------------------------------------------------------------
# Throwaway databases


@contextlib.contextmanager
def sqlite_database(workdir: Path) -> Iterator[str]:
    # The file lives in the run's temporary directory, which the caller removes afterwards.
    yield f"sqlite:///{workdir / 'bench.db'}"


@contextlib.contextmanager
def postgres_database(admin_url: str = DEFAULT_POSTGRES_ADMIN_URL) -> Iterator[str]:
    """Create ``passeport_bench_<pid>`` for the run and drop it afterwards, whatever happens."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = f"passeport_bench_{os.getpid()}"
    admin = make_url(admin_url)
    # psycopg takes libpq URIs only, without SQLAlchemy's "+driver" suffix.
    admin_conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    app_url = admin.set(drivername="postgresql+psycopg", database=name)
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))

    def admin_execute(*statements: sql.Composed) -> None:
        try:
            with psycopg.connect(admin_conninfo, autocommit=True, connect_timeout=10) as conn:
                for statement in statements:
                    conn.execute(statement)
        except psycopg.Error as exc:
            raise BenchError(f"PostgreSQL at {admin.render_as_string()}: {exc}") from exc

    # A run killed with SIGKILL under a recycled pid may have left the database behind.
    admin_execute(drop, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield app_url.render_as_string(hide_password=False)
    finally:
        admin_execute(drop)


# --------------------------------------------------------------------------------------------------
# The server process


def free_port() -> int:
    # Racy by nature (another process may take it before the server binds): start() retries.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def passeport_command() -> list[str]:
    """The ``passeport`` script of the interpreter running us, so that both run the same code."""
    script = Path(sys.executable).with_name("passeport")
    if script.exists():
        return [str(script)]
    found = shutil.which("passeport")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]


class _PortTaken(Exception):
    pass


class Server:
    """``passeport serve`` on a fresh database, in its own process group.

    Its own group so that stopping it reaches uvicorn's workers too, and so that a Ctrl-C meant for
    the harness does not kill it before the harness has closed its connections.
    """

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        workers: int = 1,
        log_level: str = "WARNING",
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.workers = workers
        self.log_level = log_level
        self.extra_env = dict(extra_env or {})
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _environment(self) -> dict[str, str]:
        # Inherited PASSEPORT_* variables would make runs differ from shell to shell.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSEPORT_")}
        env.update(
            PASSEPORT_ENV="development",
            PASSEPORT_DATABASE_URL=self.database_url,
            PASSEPORT_LOG_LEVEL=self.log_level,
            PASSEPORT_PUBLIC_URL=self.base_url,
        )
        env.update(self.extra_env)
        return env

    def upgrade(self) -> None:
        # cwd is the run's directory so that a developer's .env in the repository is not read.
        result = subprocess.run(
            [*passeport_command(), "db", "upgrade"],
            env=self._environment(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=UPGRADE_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise BenchError(f"`passeport db upgrade` failed:\n{_tail(result.stderr)}")

    def start(self, attempts: int = 3) -> None:
        for _ in range(attempts):
            self.port = free_port()
            self._log_path = self.workdir / f"server-{self.port}.log"
            with self._log_path.open("wb") as log:
                self._spawn(log)
            try:
                self._wait_ready()
                return
            except _PortTaken:
                self.stop()
        raise BenchError(f"no free port found in {attempts} attempts")

    def _spawn(self, log: IO[bytes]) -> None:
        self._proc = subprocess.Popen(
            [
                *passeport_command(),
                "serve",
                "--host",
                LOCALHOST,
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self._environment(),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                code = self._proc.poll()
                if code is not None:
                    log = self.log_tail()
                    if "address already in use" in log.lower():
                        raise _PortTaken
                    raise BenchError(f"the server exited with code {code} before ready:\n{log}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/readyz").status_code == 200:
                        return
                time.sleep(0.1)
        self.stop()
        raise BenchError(f"/readyz not ready after {READY_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float | None:
        # start_new_session made the server the leader of its own group: its pgid is its pid.
        return process_group_cpu_s(self._proc.pid) if self._proc else None

    def log_tail(self) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return _tail(self._log_path.read_text(errors="replace"))

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # SIGTERM lets uvicorn's supervisor stop its workers; SIGKILL only if that hangs.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def running_server(
    database_url: str,
    workdir: Path,
    *,
    workers: int = 1,
    log_level: str = "WARNING",
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    server = Server(
        database_url, workdir, workers=workers, log_level=log_level, extra_env=extra_env
    )
    server.upgrade()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------------------------------
# Load and statistics


@dataclass(frozen=True)
class LoadConfig:
    concurrency: int = 32
    duration_s: float = 5.0
    rounds: int = 3
    warmup_s: float = 1.0
    # wrk's threads: one outruns a server process; each one more takes a core from the server.
    threads: int = 1


@dataclass(frozen=True)
class Measurement:
    """One stretch of load on one scenario."""

    scenario: str
    ok: int
    errors: int
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    # Share of one core the load generator used: near 1.0, the client, not the server, is the limit.
    client_cpu: float
    # CPU seconds the server's processes used meanwhile; None where it cannot be read.
    server_cpu_s: float | None = None
    first_error: str | None = None

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def server_ms_per_request(self) -> float:
        """What one request costs the server whoever the bottleneck was: robust to a slow client."""
        answered = self.ok + self.errors
        if self.server_cpu_s is None or not answered:
            return math.nan
        return self.server_cpu_s * 1000 / answered

    @property
    def server_cpu(self) -> float:
        """Share of one core the server used (above 1.0 with several workers)."""
        if self.server_cpu_s is None or self.elapsed_s <= 0:
            return math.nan
        return self.server_cpu_s / self.elapsed_s


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: always a latency that was actually observed."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def process_group_cpu_s(pgid: int) -> float | None:
    """CPU seconds used so far by the live processes of a group (uvicorn and its workers).

    Linux only (reads /proc); None elsewhere, and the CPU columns then read n/a.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces and parentheses: split after its end.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we were reading
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


CpuProbe = Callable[[], float | None]

# What wrk's ``done`` hook prints, one line, for us to parse.
_WRK_MARK = "WRK-RESULT "
_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "%s%d %d %d %d %d %d %d %d %d\\n", "{mark}", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_command() -> str:
    """The wrk executable, or a BenchError naming the command that installs it."""
    found = shutil.which("wrk")
    if found is None:
        raise BenchError(
            "wrk is needed as the load generator: `apt-get install -y wrk` (Debian), or `make "
            "bench`, which installs it when run as root"
        )
    return found


def _lua_string(text: str) -> str:
    # A long bracket whose level no "]=...=]" in the text can close early.
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def wrk_script(plan: _Plan, *, bodies: int = 12) -> str:
    """The Lua script that makes wrk send the plan's requests and print the figures we parse.

    A scenario without a body is one fixed request, built once by wrk. A scenario with a body
    cycles through the first ``bodies`` bodies of its factory (writes stay varied, the request
    costs wrk almost nothing to make). A setup that filled ``paths`` has its requests go to
    each of them in turn.
    """
    lines = [f"wrk.method = {_lua_string(plan.scenario.method)}"]
    for name, value in plan.context.headers.items():
        lines.append(f"wrk.headers[ {_lua_string(name)} ] = {_lua_string(value)}")
    factory = plan.scenario.body
    body, path = "nil", "nil"
    if factory is not None:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        made = [json.dumps(factory(plan.context, next(plan.indices))) for _ in range(bodies)]
        lines.append("local bodies = {" + ", ".join(_lua_string(b) for b in made) + "}")
        body = "bodies[n % #bodies + 1]"
    if plan.context.paths:
        lines.append("local paths = {" + ", ".join(map(_lua_string, plan.context.paths)) + "}")
        path = "paths[n % #paths + 1]"
    if factory is not None or plan.context.paths:
        lines.append("local n = -1")
        lines.append(
            f"request = function()\n  n = n + 1\n  return wrk.format(nil, {path}, nil, {body})\nend"
        )
    lines.append(_WRK_DONE.replace("{mark}", _WRK_MARK))
    return "\n".join(lines) + "\n"


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def measure(
    base_url: str,
    plan: _Plan,
    *,
    duration_s: float,
    concurrency: int,
    threads: int,
    workdir: Path,
    server_cpu: CpuProbe | None = None,
) -> Measurement:
    """Keep ``concurrency`` requests in flight with wrk for ``duration_s`` (whole seconds)."""
    script = workdir / f"wrk-{plan.scenario.name}.lua"
    script.write_text(wrk_script(plan))
    seconds = max(1, round(duration_s))
    command = [
        wrk_command(),
        f"-t{min(threads, concurrency)}",
        f"-c{concurrency}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        base_url + plan.path,
    ]
    probe = server_cpu or (lambda: None)
    server_started = probe()
    cpu_started = _children_cpu_s()
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await proc.communicate()
    elapsed = time.perf_counter() - started
    server_ended = probe()
    cpu = _children_cpu_s() - cpu_started
    text = output.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith(_WRK_MARK)), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"wrk failed (exit {proc.returncode}):\n{_tail(text)}")
    requests, duration_us, *errs, p50_us, p99_us = (int(x) for x in line.split()[1:])
    connect, read, write, status, timeout = errs
    errors = connect + read + write + status + timeout
    wrk_elapsed = duration_us / 1e6 if duration_us else elapsed
    server_cpu_s = (
        server_ended - server_started
        if server_started is not None and server_ended is not None
        else None
    )
    first_error = None
    if errors:
        first_error = (
            f"wrk: {status} answers >= 400, {timeout} timeouts, "
            f"{connect + read + write} socket errors"
        )
    return Measurement(
        scenario=plan.scenario.name,
        # wrk counts every answer in requests, the errors among them.
        ok=max(0, requests - status),
        errors=errors,
        elapsed_s=wrk_elapsed,
        p50_ms=p50_us / 1000,
        p99_ms=p99_us / 1000,
        client_cpu=cpu / elapsed if elapsed > 0 else 0.0,
        server_cpu_s=server_cpu_s,
        first_error=first_error,
    )


async def check_answer(client: httpx.AsyncClient, plan: _Plan) -> None:
    """One request through httpx before the load: wrk counts a wrong 2xx or 3xx as success."""
    body = plan.scenario.body
    response = await client.request(
        plan.scenario.method,
        plan.path,
        headers=plan.context.headers,
        json=body(plan.context, next(plan.indices)) if body is not None else None,
    )
    if response.status_code != plan.scenario.expected_status:
        raise BenchError(
            f"{plan.scenario.name}: {plan.scenario.method} {plan.path} gave "
            f"{response.status_code}, expected {plan.scenario.expected_status}: "
            f"{response.text[:300]}"
        )


@dataclass(frozen=True)
class Summary:
    """The medians over a scenario's measurements in one run."""

    scenario: str
    measurements: tuple[Measurement, ...]

    @property
    def rps(self) -> float:
        return statistics.median(m.rps for m in self.measurements)

    @property
    def p50_ms(self) -> float:
        return statistics.median(m.p50_ms for m in self.measurements)

    @property
    def p99_ms(self) -> float:
        return statistics.median(m.p99_ms for m in self.measurements)

    @property
    def client_cpu(self) -> float:
        return statistics.median(m.client_cpu for m in self.measurements)

    @property
    def server_ms_per_request(self) -> float:
        return _median(m.server_ms_per_request for m in self.measurements)

    @property
    def server_cpu(self) -> float:
        return _median(m.server_cpu for m in self.measurements)

    @property
    def requests(self) -> int:
        return sum(m.ok for m in self.measurements)

    @property
    def errors(self) -> int:
        return sum(m.errors for m in self.measurements)

    @property
    def first_error(self) -> str | None:
        return next((m.first_error for m in self.measurements if m.first_error), None)


@dataclass(frozen=True)
class Comparison:
    """A scenario beside the baseline measured just before each of its rounds, round for round."""

    database: str
    scenario: Scenario
    result: Summary
    baseline: Summary

    @property
    def rps_ratio(self) -> float:
        return _ratio(self.result.rps, self.baseline.rps)

    @property
    def p50_ratio(self) -> float:
        return _ratio(self.result.p50_ms, self.baseline.p50_ms)

    @property
    def p99_ratio(self) -> float:
        return _ratio(self.result.p99_ms, self.baseline.p99_ms)

    @property
    def server_cost_ratio(self) -> float:
        return _ratio(self.result.server_ms_per_request, self.baseline.server_ms_per_request)

    @property
    def round_rps_ratios(self) -> list[float]:
        """Per-round ratios: their spread shows how much the shared machine moved meanwhile."""
        pairs = zip(self.result.measurements, self.baseline.measurements, strict=True)
        return [_ratio(s.rps, b.rps) for s, b in pairs]

    @property
    def target(self) -> float | None:
        target = self.scenario.min_rps_ratio
        if target is None or isinstance(target, float | int):
            return target
        return target.get(self.database)

    @property
    def meets_target(self) -> bool | None:
        target = self.target
        return None if target is None else self.rps_ratio >= target


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference else math.nan


def _median(values: Iterable[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return statistics.median(known) if known else math.nan


Progress = Callable[[str], None]


async def run_scenarios(
    base_url: str,
    database_url: str,
    database: str,
    baseline: Scenario,
    scenarios: Sequence[Scenario],
    config: LoadConfig,
    *,
    server_cpu: CpuProbe | None = None,
    progress: Progress | None = None,
) -> tuple[Summary, list[Comparison]]:
    """Set every scenario up, warm up, then measure ``baseline, s1, baseline, s2, …`` per round.

    The baseline runs right before each scenario so that both see the same machine: on a shared
    host a neighbour's burst then moves both figures and mostly cancels out of the ratio.
    """
    say = progress or (lambda _: None)
    workdir = Path(tempfile.mkdtemp(prefix="passeport-wrk-"))
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30.0, trust_env=False) as client:
            base_plan = await _prepare(baseline, client, database_url)
            plans = [await _prepare(s, client, database_url) for s in scenarios]
            for plan in [base_plan, *plans]:
                await check_answer(client, plan)

        async def run(plan: _Plan, duration_s: float) -> Measurement:
            return await measure(
                base_url,
                plan,
                duration_s=duration_s,
                concurrency=config.concurrency,
                threads=config.threads,
                workdir=workdir,
                server_cpu=server_cpu,
            )

        if config.warmup_s > 0:
            for plan in [base_plan, *plans]:
                say(f"[{database}] warm-up {plan.scenario.name}")
                # Opens the connections and fills the server's caches; not counted.
                await run(plan, config.warmup_s)

        base_runs: list[Measurement] = []
        paired: dict[str, list[Measurement]] = {s.name: [] for s in scenarios}
        runs: dict[str, list[Measurement]] = {s.name: [] for s in scenarios}
        for round_no in range(1, config.rounds + 1):
            for plan in plans:
                pair = [await run(base_plan, config.duration_s), await run(plan, config.duration_s)]
                for m in pair:
                    say(
                        f"[{database}] round {round_no}/{config.rounds} {m.scenario:<16} "
                        f"{m.rps:8.1f} rps  p50 {m.p50_ms:7.2f} ms  p99 {m.p99_ms:7.2f} ms  "
                        f"server {m.server_ms_per_request:5.2f} ms/req"
                        + (f"  {m.errors} errors ({m.first_error})" if m.errors else "")
                    )
                base_runs.append(pair[0])
                paired[plan.scenario.name].append(pair[0])
                runs[plan.scenario.name].append(pair[1])

    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    base_summary = Summary(baseline.name, tuple(base_runs))
    comparisons = [
        Comparison(
            database=database,
            scenario=s,
            result=Summary(s.name, tuple(runs[s.name])),
            baseline=Summary(baseline.name, tuple(paired[s.name])),
        )
        for s in scenarios
    ]
    return base_summary, comparisons
