"""What a verifier downloads to check credentials on its own, offline once fetched.

Services know nothing of HTTP (see app/federation/router.py).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.core.settings import Settings
from app.core.time import utcnow
from app.credentials import service as credentials
from app.credentials.verifier import Snapshot
from app.territory.models import Territory


def bundle(session: Session, settings: Settings, snapshot: Snapshot) -> dict[str, Any]:
    """Every trusted issuer with its published keys and its current, signed status lists.

    The status lists are the issuers' own signed tokens, so a browser checks them with the same
    keys instead of trusting this instance's word; the bundle itself needs no signature.
    """
    issuers: list[dict[str, Any]] = []
    for issuer in sorted(snapshot.issuers.values(), key=lambda i: i.iss):
        lists: list[dict[str, str]] = []
        if issuer.territory_id is not None:
            territory = session.get(Territory, issuer.territory_id)
            token = (
                credentials.published_status_token(session, settings, territory)
                if territory is not None
                else None
            )
            if territory is not None and token is not None:
                lists.append({"uri": credentials.status_uri(territory), "token": token})
        issuers.append(
            {
                "iss": issuer.iss,
                "name": issuer.name,
                "jwks": {"keys": issuer.jwks},
                "status_lists": lists,
            }
        )
    return {
        "generated_at": int(utcnow().timestamp()),
        "max_age": credentials.STATUS_TTL_SECONDS,
        "trust_list": None,
        "issuers": issuers,
    }
