"""Runs the independent wallet (tests/wallet/wallet.mjs, Node, npm libraries) as a subprocess.

The wallet prints one JSON object; its exit status is 0 when done, 2 when refused (by the issuer,
the verifier's answer or its own checks), 1 when misused. A refusal is a result the tests look
at, so :func:`run` returns it; a misuse or a crash fails the test at once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

WALLET_DIR = Path(__file__).resolve().parent
WALLET = WALLET_DIR / "wallet.mjs"


def _node() -> str:
    node = shutil.which("node")
    assert node, "Node.js is needed for the test wallet (make install-dev)"
    assert (WALLET_DIR / "node_modules" / "@sd-jwt" / "sd-jwt-vc").is_dir(), (
        "the test wallet's packages are missing: run `make install-dev`"
    )
    return node


def run(*args: str, timeout: float = 60) -> tuple[int, dict[str, Any]]:
    """The wallet's exit status and its JSON answer.

    A value that may begin with "-" (a nonce is base64url) goes as ``--option=value``: Node's
    argument parser takes ``--option -abc`` for a missing value.
    """
    done = subprocess.run(
        [_node(), str(WALLET), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=WALLET_DIR,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode in (0, 2) and lines, (
        f"wallet {args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    )
    return done.returncode, dict(json.loads(lines[-1]))


def ok(*args: str) -> dict[str, Any]:
    """The answer of a wallet command that must succeed."""
    code, answer = run(*args)
    assert code == 0 and answer["ok"] is True, answer
    return answer


def refused(*args: str) -> dict[str, Any]:
    """The answer of a wallet command that must be refused."""
    code, answer = run(*args)
    assert code == 2 and answer["ok"] is False, answer
    return answer
