"""What a verifier downloads to check credentials on its own, offline once fetched.

Services know nothing of HTTP (see app/federation/router.py).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.core.settings import Settings
from app.core.time import aware, utcnow
from app.credentials import service as credentials
from app.credentials.verifier import Snapshot
from app.federation.models import StatusListCache
from app.territory.models import Territory


def _epoch(value: Any) -> int:
    return int(aware(value).timestamp())


def bundle(session: Session, settings: Settings, snapshot: Snapshot) -> dict[str, Any]:
    """Every trusted issuer with its published keys and its current, signed status lists.

    The status lists are the issuers' own signed tokens, so a browser checks them with the same
    keys instead of trusting this instance's word; the bundle itself needs no signature. For an
    issuer of another instance they are the tokens last fetched from its registered URIs (the
    browser checks their ``exp``); ``source`` says where its trust comes from, and when it is
    ``trust_list`` the verdict turns ``stale_trust_list`` after ``trust_list.fresh_until``.
    """
    remote_uris = [
        u for i in snapshot.issuers.values() if i.territory_id is None for u in i.status_uris
    ]
    cached = (
        {
            row.uri: row
            for row in session.exec(
                select(StatusListCache).where(col(StatusListCache.uri).in_(remote_uris))
            ).all()
        }
        if remote_uris
        else {}
    )
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
        else:
            for uri in issuer.status_uris:
                row = cached.get(uri)
                if row is not None and row.iss == issuer.iss:
                    lists.append({"uri": uri, "token": row.token})
        issuers.append(
            {
                "iss": issuer.iss,
                "name": issuer.name,
                "jwks": {"keys": issuer.jwks},
                "status_lists": lists,
                "source": issuer.source,
            }
        )
    held = snapshot.trust_list
    return {
        "generated_at": int(utcnow().timestamp()),
        "max_age": settings.status_ttl_seconds,
        "trust_list": None
        if held is None
        else {
            "sequence": held.sequence,
            "issued_at": _epoch(held.issued_at),
            "fresh_until": _epoch(held.fresh_until),
            "hub": held.hub,
        },
        "issuers": issuers,
    }
