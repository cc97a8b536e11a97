"""The passport a route works on, loaded by a dependency together with its caller.

A route names the access it needs as a parameter type (``ReadPassport``, ``HeldPassport``,
``CitizenPassport``...) and receives a :class:`PassportAccess`: the caller and the passport
that caller may act on, already loaded and checked, the way polar's ``authz/dependencies.py``
hands a route an ``AuthzContext``. A route body therefore never loads its passport, never
checks that its territory holds it, and a citizen route never reads ``principal.passport_id``.

Each dependency declares the route's rule: its first parameter is ``authorize(RULE)``, so the
caller is refused (401/403) before any session opens, and ``check_routes`` and the permission
matrix still see exactly one rule per route (a route taking one of these must not declare
another). The passport is loaded in the route's own session: the dependency asks for the same
``SessionDep`` (or ``WriteSessionDep``) as the route, which FastAPI resolves once per request.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the loaders' annotations, which
# name their closure's rule and session, so they must be evaluated where they are written.
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlmodel import Session

from app.accounts.models import Role
from app.accounts.principal import Principal
from app.api.deps import get_session, get_write_session, in_transaction
from app.authz import CITIZEN, PASSPORT_READ, PASSPORT_WRITE, TERRITORY_ADMIN, Rule, authorize
from app.core.errors import Forbidden, Unauthenticated
from app.core.validation import Id
from app.passports import service
from app.passports.models import Passport

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PassportAccess:
    """Who calls, and the live passport they may act on (see the dependency that made it)."""

    principal: Principal
    passport: Passport

    @property
    def passport_id(self) -> int:
        assert self.passport.id is not None
        return self.passport.id


def _session_param(write_session: bool) -> object:
    # The very dependency the route's SessionDep / WriteSessionDep names, so both share one.
    return Depends(get_write_session if write_session else get_session, scope="function")


def _staff_loader(
    rule: Rule,
    *,
    holder: bool = False,
    lock: bool = False,
    write_session: bool = False,
    only: Role | None = None,
) -> Callable[..., PassportAccess]:
    """A dependency loading ``{passport_id}`` for a mediator or coordinator under ``rule``.

    ``holder``: only the territory holding the passport (its code, sharing, credentials, file).
    ``lock``: read the row FOR UPDATE, for a write that must not race an erasure.
    ``only``: a narrower role than the rule's, refused before anything is loaded, so the
    refusal says nothing of the passport.
    """

    def load_passport(
        principal: Annotated[Principal, authorize(rule)],
        passport_id: Id,
        session: Annotated[Session, _session_param(write_session)],
    ) -> PassportAccess:
        if only is not None and principal.role is not only:
            raise Forbidden("Your role does not allow this.", code="forbidden_role")
        passport = service.load(session, principal, passport_id, lock=lock)
        if holder:
            service.ensure_holder(principal, passport)
        return PassportAccess(principal, passport)

    return load_passport


def _citizen_loader(*, write_session: bool = False) -> Callable[..., PassportAccess]:
    """A dependency loading the signed-in citizen's own passport: the narrowing of a citizen
    principal to its passport happens here, once."""

    def load_own_passport(
        principal: Annotated[Principal, authorize(CITIZEN)],
        session: Annotated[Session, _session_param(write_session)],
    ) -> PassportAccess:
        if principal.passport_id is None:  # the CITIZEN rule admits only citizen sessions
            raise Unauthenticated("Sign in with your passport number and access code.")
        return PassportAccess(principal, service.load(session, principal, principal.passport_id))

    return load_own_passport


# Mediators and coordinators who may see the passport.
ReadPassport = Annotated[PassportAccess, Depends(_staff_loader(PASSPORT_READ))]
# ... and the holding territory's only (its credentials, its whole file).
HeldReadPassport = Annotated[PassportAccess, Depends(_staff_loader(PASSPORT_READ, holder=True))]
# The same, for a read that is journaled (a writing session).
HeldExportPassport = Annotated[
    PassportAccess, Depends(_staff_loader(PASSPORT_READ, holder=True, write_session=True))
]
# Mediators and coordinators who may write in the passport.
WritePassport = Annotated[PassportAccess, Depends(_staff_loader(PASSPORT_WRITE))]
# ... its row locked for the transaction (a validation: ordered with an erasure).
LockedPassport = Annotated[PassportAccess, Depends(_staff_loader(PASSPORT_WRITE, lock=True))]
# ... in the holding territory only (access code, card, sharing, credentials).
HeldPassport = Annotated[PassportAccess, Depends(_staff_loader(PASSPORT_WRITE, holder=True))]
# Coordinators of the passport's territory (and platform admins, who see none).
AdminPassport = Annotated[PassportAccess, Depends(_staff_loader(TERRITORY_ADMIN))]
# The holding territory's coordinators only: erasure.
ErasablePassport = Annotated[
    PassportAccess,
    Depends(_staff_loader(TERRITORY_ADMIN, holder=True, only=Role.TERRITORY_ADMIN)),
]
# The signed-in citizen's own passport.
CitizenPassport = Annotated[PassportAccess, Depends(_citizen_loader())]
# ... for a read that is journaled (a writing session).
CitizenExportPassport = Annotated[PassportAccess, Depends(_citizen_loader(write_session=True))]


async def in_passport_transaction(
    request: Request,
    principal: Principal,
    passport_id: int,
    work: Callable[[Session, PassportAccess], T],
    *,
    write: bool,
    lock: bool = False,
) -> T:
    """The hot routes' loading (a passport's view, recording a validation): the same load and
    checks as the dependencies above, inside the one threadpool hop of
    :func:`app.api.deps.in_transaction` (a dependency's session costs two more hops, measured
    as half of a recording's time). The route declares its rule with ``authorize(RULE)``.
    """

    def run(session: Session) -> T:
        passport = service.load(session, principal, passport_id, lock=lock)
        return work(session, PassportAccess(principal, passport))

    return await in_transaction(request, run, write=write)


async def in_passport_row_transaction(
    request: Request,
    principal: Principal,
    passport_id: int,
    structure_id: int,
    work: Callable[[Session, service.RecordingRow], T],
) -> T:
    """:func:`in_passport_transaction` for a recording, which needs the passport as a plain row
    only: the same checks by :func:`service.load_for_recording`, the row locked FOR UPDATE (an
    erasure waits for the write, or the write sees the erasure) and the structure the recording
    names read in the same statement, no entity built; on the event loop, no threadpool hop
    (``in_transaction``'s ``on_loop``).
    """

    def run(session: Session) -> T:
        return work(
            session, service.load_for_recording(session, principal, passport_id, structure_id)
        )

    return await in_transaction(request, run, write=True, on_loop=True)
