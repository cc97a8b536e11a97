"""The one error type, and its rendering as RFC 9457 ``application/problem+json``.

Services raise :class:`AppError` (or a subclass that fixes status and code); they never know about
HTTP. One set of handlers, installed by :func:`install_error_handlers`, turns those, request
validation errors and Starlette's own HTTP errors into a problem document with a stable machine
``code``; anything unexpected becomes an ``internal_error`` problem in
:class:`app.core.middleware.RequestContextMiddleware`, which knows the request id. Clients
react to ``code``; ``title`` and ``detail`` are for people, in the caller's language
(``Accept-Language``): each code's status and its French and English sentences live in the one
registry, :mod:`app.core.problems`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core import problems
from app.core.logging import current_request_id
from app.core.problems import Lang

logger = logging.getLogger("app.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:passeport:problem:"


class AppError(Exception):
    """A failure that the caller can act on: an HTTP status, a stable code and a human detail."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    media_type: str = PROBLEM_MEDIA_TYPE

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if code is not None:
            self.code = code
        # One code, one status: the registry's, wherever the code is raised.
        registered = problems.status_of(self.code)
        if status is not None:
            self.status = status
        elif registered is not None:
            self.status = registered
        if title is not None:
            self.title = title
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.detail)


class OAuthError(AppError):
    """A problem document for OAuth clients (a wallet's token and credential requests): the same
    members plus ``error``, served as ``application/json`` as RFC 6749 5.2 and OpenID4VCI 1.0
    require, since their client libraries read no other media type."""

    media_type = "application/json"

    def __init__(self, detail: str | None = None, *, error: str, **kw: Any) -> None:
        super().__init__(detail, error=error, error_description=detail, **kw)


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class InvalidInput(AppError):
    status, code, title = 422, "invalid_input", "Invalid input"


class Unauthenticated(AppError):
    status, code, title = 401, "unauthenticated", "Authentication required"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class TooManyRequests(AppError):
    status, code, title = 429, "too_many_requests", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int, **kw: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **kw)


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Request body too large"


#: Seconds a client is told to wait when the database is unavailable.
DATABASE_RETRY_AFTER = 5


class DatabaseUnavailable(AppError):
    status, code, title = 503, "database_unavailable", "Service unavailable"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        super().__init__(
            detail
            or "The database cannot be reached for a moment; nothing was changed by this "
            f"request unless a later read shows it. Try again in {DATABASE_RETRY_AFTER} seconds.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
            **kw,
        )


# SQLite reports contention and a missing or broken file as OperationalError, as it does a
# misspelt table: only these mean "unavailable", the rest are bugs and stay 500s.
_SQLITE_OUTAGES = ("database is locked", "unable to open database", "disk i/o error", "is full")


def is_database_outage(exc: BaseException) -> bool:
    """True for the errors a database that is down, restarting or saturated gives, any driver."""
    if isinstance(exc, sa_exc.TimeoutError):  # no connection free in the pool in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):
        message = str(exc.orig).lower()
        return any(sign in message for sign in _SQLITE_OUTAGES)
    # psycopg: a refused or lost connection, a server shutting down or starting up.
    return True


def request_lang(request: Request) -> Lang:
    """French or English, from the request's ``Accept-Language`` (English when it says nothing)."""
    return problems.negotiate(request.headers.get("accept-language"))


# The wallet issuer's OAuth endpoints (app/wallet/router.py, docs/wallet.md): their refusals
# are application/json with OAuth's ``error``, whichever layer refuses.
OAUTH_ENDPOINT = re.compile(r"^/wallet/[^/]+/(token|credential|nonce)$")


def _oauth_error(endpoint: str, status: int) -> str:
    if status == 401:
        return "invalid_token"
    return "invalid_credential_request" if endpoint == "credential" else "invalid_request"


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    lang: Lang | None = None,
    media_type: str = PROBLEM_MEDIA_TYPE,
    **extra: Any,
) -> JSONResponse:
    """A problem document. With ``lang`` and a registered code, ``title`` is the registry's
    sentence in that language, and so is ``detail`` in French (the registry's precise form when
    the extra members fill it; the services' details are English, for developers); the
    ``Content-Language`` header then names the language."""
    if lang is not None and code in problems.PROBLEMS:
        title = problems.message(code, lang)
        if lang == "fr":
            detail = problems.french_detail(code, extra) or title
    if instance is not None and media_type == PROBLEM_MEDIA_TYPE and "error" not in extra:
        oauth = OAUTH_ENDPOINT.match(instance)
        if oauth is not None:
            # Refused before the wallet's own code ran (a body too large or unreadable): still
            # in the shape an OAuth client reads (RFC 6749 5.2, OpenID4VCI 1.0 8.3.1.2).
            media_type = "application/json"
            extra = {**extra, "error": _oauth_error(oauth.group(1), status)}
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    response_headers = dict(headers or {})
    if lang is not None:
        response_headers["Vary"] = "Accept-Language"
        if code in problems.PROBLEMS:
            # Only a registered code is said in the caller's language; the header says so.
            response_headers["Content-Language"] = lang
    return JSONResponse(body, status_code=status, headers=response_headers, media_type=media_type)


# Starlette raises these itself (unknown path, wrong method, …); give each a stable code.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _validation_errors(exc: RequestValidationError, lang: Lang) -> list[dict[str, Any]]:
    # Pydantic echoes the offending input and its context; leave them out, since the input may
    # be a password or a whole uploaded file. ``msg`` is one plain sentence in the caller's
    # language ("Le prénom doit faire au plus 100 caractères."), ``field`` the field's name.
    return [
        {
            "loc": [_printable(part) for part in err.get("loc", ())],
            "field": problems.field_name(tuple(err.get("loc", ()))),
            "msg": problems.validation_message(err, lang),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


def _printable(part: int | str) -> int | str:
    # A location may be a key the client sent (an unknown field): one with a lone surrogate
    # cannot be written as UTF-8, so it is shown escaped.
    if isinstance(part, str):
        return part.encode("utf-8", "backslashreplace").decode()
    return part


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        lang=request_lang(request),
        media_type=exc.media_type,
        **exc.extra,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = request_lang(request)
    errors = _validation_errors(exc, lang)
    # One sentence per field, the first error of each field only.
    sentences: dict[str, str] = {}
    for error in errors:
        sentences.setdefault(str(error["field"]), error["msg"])
    detail = " ".join(sentences.values()) or problems.message("validation_error", lang)
    return problem_response(
        status=422,
        code="validation_error",
        title=problems.message("validation_error", lang),
        detail=detail,
        instance=request.url.path,
        errors=errors,
        headers={"Content-Language": lang, "Vary": "Accept-Language"},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    title = problems.message(code, "en")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else title
    return problem_response(
        status=exc.status_code,
        code=code,
        title=title,
        detail=detail,
        instance=request.url.path,
        headers=dict(exc.headers or {}),
        lang=request_lang(request),
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_outage(exc):
        raise exc  # a bug: RequestContextMiddleware logs it and answers 500
    # One line, no traceback: an outage is an operator's matter, and its message no secret.
    logger.warning(
        "database unavailable",
        extra={"path": request.url.path, "error": type(exc).__name__},
    )
    return await _app_error(request, DatabaseUnavailable())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(sa_exc.TimeoutError, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Anything else is caught by RequestContextMiddleware, which knows the request id.
