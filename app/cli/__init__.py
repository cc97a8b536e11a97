"""The `passeport` command line: each command is one unit of work over the API's services.

One module per command group (``server`` holds ``serve`` and ``db``); what they share (settings,
the checked connection, error translation) is in ``context``. The entry point is ``app.cli:main``.
"""

from app.cli import (  # noqa: F401  (each module adds its commands to main)
    admin,
    audit,
    credential,
    demo,
    federation,
    framework,
    keys,
    retention,
    server,
    stats,
    structures,
    trust,
)
from app.cli.root import main

__all__ = ["main"]
