"""A JSON response serialised by orjson, for the routes whose answers are large or frequent."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """JSON from plain values (dicts, lists, str, int, dates, aware datetimes, enums).

    The same text pydantic writes for the same values (UTC as ``Z``, UTF-8 unescaped), at a
    fraction of the cost, and without a model to build or validate first. A route returning it
    keeps its ``response_model`` for the documentation; FastAPI then does not validate again.
    """

    @staticmethod
    def dumps(content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)

    def render(self, content: Any) -> bytes:
        return self.dumps(content)
