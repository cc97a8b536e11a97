"""Who may call what: the one home of the permission rules.

Every API route declares exactly one rule, with ``dependencies=[authorize(RULE)]`` or, when it
needs the caller, a parameter ``principal: Annotated[Principal, authorize(RULE)]``. The app refuses
to start if a route has none (:func:`check_routes`), and the permission-matrix test walks the route
table with every kind of caller. Read this file to know the whole access policy.

A rule decides at the route level (who may call at all: 401, 403); the ``ensure_*`` checks decide
once the resource is loaded, answering 404 before 403 so that a refusal never confirms that a
resource of another territory exists. Services call them with the Principal they are given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.accounts.models import Role
from app.accounts.principal import ANONYMOUS, CallerKind, Principal
from app.core.errors import Forbidden, NotFound, Unauthenticated

_RULE_ATTR = "__authz_rule__"

ANY_ACCOUNT = frozenset(Role)
ADMINS = frozenset({Role.PLATFORM_ADMIN, Role.TERRITORY_ADMIN})

# What a personal access token may be limited to. A browser session has every scope its role has.
SCOPES: dict[str, str] = {
    "account:read": "Read one's own account and tokens.",
    "passports:read": "Find and read the passports one may see.",
    "passports:write": "Open passports and record or withdraw validations.",
    "territory:admin": "Manage the territory: structures, accounts, invitations, journal.",
    "platform:admin": "Create and edit territories (platform admins).",
}
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.MEDIATOR: frozenset({"account:read", "passports:read", "passports:write"}),
    Role.TERRITORY_ADMIN: frozenset(
        {"account:read", "passports:read", "passports:write", "territory:admin"}
    ),
    Role.PLATFORM_ADMIN: frozenset({"account:read", "territory:admin", "platform:admin"}),
}


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    # None: no account needed. Otherwise the roles that pass the route-level check; the
    # resource-level checks below (territory, structure) come after the resource is loaded.
    roles: frozenset[Role] | None = None
    scope: str | None = None
    session_only: bool = False
    # A citizen rule admits citizens signed in to their own passport, and nobody else.
    citizen: bool = False


PUBLIC = Rule("public", "Anyone, with or without an account: reference data, health, verification.")
SIGNED_IN = Rule("signed_in", "Any account, by session or token.", ANY_ACCOUNT, "account:read")
BROWSER_SESSION = Rule(
    "browser_session",
    "Any account, signed in through the browser (a token cannot mint tokens).",
    ANY_ACCOUNT,
    session_only=True,
)
TERRITORY_ADMIN = Rule(
    "territory_admin",
    "Coordinators of the territory concerned, and platform admins.",
    ADMINS,
    "territory:admin",
)
PLATFORM_ADMIN = Rule(
    "platform_admin", "Platform admins only.", frozenset({Role.PLATFORM_ADMIN}), "platform:admin"
)
TRUST_ADMIN = Rule(
    "trust_admin",
    "Coordinators of any territory of this instance, and platform admins: the instance's trust "
    "store (which other instances' issuers verify here) is shared by all its territories.",
    ADMINS,
    "territory:admin",
)
STAFF = frozenset({Role.MEDIATOR, Role.TERRITORY_ADMIN})
PASSPORT_READ = Rule(
    "passport_read",
    "Mediators and coordinators; then the passport must be visible to them (its territory, or a "
    "structure it was shared with). Platform admins do not read passports.",
    STAFF,
    "passports:read",
)
PASSPORT_WRITE = Rule(
    "passport_write",
    "Mediators and coordinators, on passports visible to them, in a structure they belong to.",
    STAFF,
    "passports:write",
)
CITIZEN = Rule(
    "citizen", "The citizen, signed in to their own passport.", frozenset(), citizen=True
)


def authorize(rule: Rule) -> Any:
    """The dependency a route lists to declare and enforce its rule; it yields the Principal."""
    if rule.roles is None:

        async def enforce_public() -> Principal:
            # No lookup at all: public routes (the framework, health) stay as cheap as possible.
            return ANONYMOUS

        enforce: Callable[..., Any] = enforce_public
    else:

        async def enforce_rule(request: Request) -> Principal:
            from app.accounts.authn import resolve, resolve_from_memory

            # An API token accepted recently is known without I/O: no thread hop for it (the
            # token cache follows revocations through the change feed, app/core/changes.py).
            principal = resolve_from_memory(request)
            if principal is None:
                state = request.app.state
                principal = await run_in_threadpool(resolve, request, state.engine, state.settings)
            return check(rule, principal)

        enforce = enforce_rule
    setattr(enforce, _RULE_ATTR, rule)
    enforce.__name__ = f"authorize_{rule.name}"
    return Depends(enforce)


def check(rule: Rule, principal: Principal) -> Principal:
    """The route-level decision: 401 without a caller, 403 for a caller of the wrong kind."""
    if rule.roles is None:
        return principal
    if rule.citizen:
        if principal.kind is CallerKind.CITIZEN:
            return principal
        if principal.kind is CallerKind.ANONYMOUS:
            raise Unauthenticated("Sign in with your passport number and access code.")
        raise Forbidden("This is the citizen's own space.", code="citizen_only")
    if principal.kind is CallerKind.CITIZEN:
        raise Forbidden("This is for mediators and coordinators.", code="forbidden_role")
    if principal.kind is not CallerKind.ACCOUNT:
        raise Unauthenticated("Sign in to do this.", headers={"WWW-Authenticate": "Bearer"})
    if principal.role not in rule.roles:
        raise Forbidden("Your role does not allow this.", code="forbidden_role")
    if rule.session_only and not principal.via_cookie:
        raise Forbidden("This needs a signed-in browser session.", code="session_required")
    if not principal.has_scope(rule.scope):
        raise Forbidden(f"This token lacks the scope {rule.scope!r}.", code="insufficient_scope")
    return principal


# --- Resource-level checks, called once the resource is loaded ---------------------------------


def ensure_visible(principal: Principal, territory_id: int) -> None:
    """404 unless the caller works in this territory (or runs the platform).

    Used for resources reached by id: a caller from elsewhere cannot tell them from missing ones.
    """
    if principal.is_platform_admin:
        return
    if principal.kind is CallerKind.ACCOUNT and principal.territory_id == territory_id:
        return
    raise NotFound("Nothing here.", code="not_found")


def ensure_territory_admin(principal: Principal, territory_id: int) -> None:
    """403 unless the caller coordinates this territory (territories themselves are public)."""
    if principal.is_platform_admin:
        return
    if principal.role is Role.TERRITORY_ADMIN and principal.territory_id == territory_id:
        return
    raise Forbidden("Only the territory's coordinators may do this.", code="not_territory_admin")


def ensure_structure_member(principal: Principal, territory_id: int, structure_id: int) -> None:
    """The caller works in this structure, or coordinates its territory."""
    ensure_visible(principal, territory_id)
    if principal.is_platform_admin or principal.role is Role.TERRITORY_ADMIN:
        return
    if structure_id not in principal.structure_ids:
        raise Forbidden("You are not a member of this structure.", code="not_structure_member")


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
