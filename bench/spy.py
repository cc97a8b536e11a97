"""Top lines of a py-spy profile: ``python -m bench.spy PROFILE.raw [--top N]``.

Record one with py-spy (PyPI ``py-spy``) against the server while a scenario runs, e.g.::

    py-spy record --pid PID --duration 6 --rate 200 --format raw -o view.raw --nonblocking

Idle samples (threads waiting for work, the event loop waiting for sockets) are left out, so the
shares are of the time the server's threads were busy. ``self``: where the sample was taken;
``inclusive``: every function on the stack, the framework's wrappers left out.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence

IDLE = ("Condition.wait", "Runner.run", "select (selectors", "EpollSelector.select")
WRAPPERS = (
    "<module>",
    "Command.",
    "Group.",
    "Context.",
    "OperatorCommand.",
    "serve (",
    "run (main",
    "Server.run",
    "asyncio_run",
    "Thread._boot",
    "WorkerThread.run",
    "Handle._run",
    "_run_once",
    "BaseEventLoop.run",
    "Runner.run",
    "Router.",
    "APIRouter.",
    "Starlette.",
    "FastAPI.",
    "RequestResponseCycle",
    "_IncludedRouter",
    "AsyncExitStack",
)


def _frame(text: str) -> str:
    name = text.split(" (")[0]
    where = text.split(" (")[-1].split(":")[0].split("/")[-1]
    return f"{name} ({where})"


def summarise(lines: Sequence[str], top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    busy = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";")]
        if frames[-1].startswith(IDLE):
            continue
        busy += int(count)
        own[frames[-1]] += int(count)
        for name in set(frames):
            inclusive[name] += int(count)
    if not busy:
        return "no busy samples"
    out = [f"busy samples: {busy}", "self:"]
    out += [f"  {n * 100 / busy:5.1f} %  {k}" for k, n in own.most_common(top)]
    out.append("inclusive:")
    shown = [
        (k, n)
        for k, n in inclusive.most_common()
        if not k.startswith(WRAPPERS) and "iddleware" not in k and "wrapped_app" not in k
    ]
    out += [f"  {n * 100 / busy:5.1f} %  {k}" for k, n in shown[:top]]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spy", description=__doc__)
    parser.add_argument("profile", help="py-spy record --format raw output")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    with open(args.profile, encoding="utf-8") as handle:
        print(summarise(handle.readlines(), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
