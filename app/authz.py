"""Who may call what: the one home of the permission rules.

Every API route declares exactly one rule with ``dependencies=[authorize(RULE)]``. The app refuses
to start if a route has none (:func:`check_routes`), and the permission-matrix test walks the route
table with every kind of caller. Read this file to know the whole access policy.

Rules load the resource first and answer 404 before 403, so that a refusal never confirms that a
resource of another territory exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

_RULE_ATTR = "__authz_rule__"


@dataclass(frozen=True)
class Rule:
    name: str
    description: str


PUBLIC = Rule("public", "Anyone, with or without an account: reference data, health, verification.")


def authorize(rule: Rule) -> Any:
    """The dependency a route lists to declare (and enforce) its rule."""

    async def enforce() -> None:
        # Public routes need no caller; rules that do are added with accounts.
        return None

    setattr(enforce, _RULE_ATTR, rule)
    enforce.__name__ = f"authorize_{rule.name}"
    return Depends(enforce)


@dataclass(frozen=True)
class RouteInfo:
    methods: tuple[str, ...]
    path: str
    dependant: Dependant


def api_routes(app: FastAPI) -> Iterator[RouteInfo]:
    """Every API route of the app, with its full path and effective dependencies."""
    # FastAPI keeps included routers lazily in app.routes; iter_route_contexts expands them with
    # their prefixes and router-level dependencies.
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute):
            methods = tuple(sorted(ctx.methods or ()))
            yield RouteInfo(methods, str(ctx.path), ctx.dependant)


def rule_of(route: RouteInfo | APIRoute) -> list[Rule]:
    """Every rule a route declares (a well-formed route declares exactly one)."""
    found: list[Rule] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dep = pending.pop()
        call: Callable[..., Any] | None = dep.call
        rule = getattr(call, _RULE_ATTR, None)
        if isinstance(rule, Rule):
            found.append(rule)
        pending.extend(dep.dependencies)
    return found


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes that declare no rule, or more than one; empty when the app is well-formed."""
    return [
        f"{','.join(route.methods)} {route.path}"
        for route in api_routes(app)
        if len(rule_of(route)) != 1
    ]


def check_routes(app: FastAPI) -> None:
    bad = undeclared_routes(app)
    if bad:
        raise RuntimeError(f"routes without exactly one authorization rule: {'; '.join(bad)}")
