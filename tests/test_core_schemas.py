"""core.schemas.from_entity: a public schema read off a row by name, plus what it computes."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.core.db import transaction
from app.core.schemas import from_entity
from app.credentials.schemas import CredentialPublic
from app.territory.models import Territory
from app.territory.schemas import TerritoryPublic


def test_an_expired_row_is_read_not_taken_as_empty(engine: sa.Engine) -> None:
    with transaction(engine) as session:
        territory = Territory(code="t-exp", name="Expiré", issuer_url="https://t.example/t-exp")
        session.add(territory)
        session.flush()
        session.expire(territory)  # as after a rollback to a savepoint: model_dump() gives {}
        public = from_entity(TerritoryPublic, territory, time_zone="Europe/Paris")
    assert (public.code, public.name, public.issuer_url, public.contact_email) == (
        "t-exp",
        "Expiré",
        "https://t.example/t-exp",
        None,
    )
    assert public.created_at.tzinfo is not None
    assert public.time_zone == "Europe/Paris"


def test_an_attribute_the_entity_lacks_is_an_error_not_the_schema_default() -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    shown = {
        "id": 1,
        "jti": "j",
        "code": "C",
        "skills": ["crcn:1.1"],
        "with_name": False,
        "issued_at": when,
        "expires_at": when,
        "revoked_at": None,
        "qr_text": None,
    }
    # CredentialPublic.format defaults to "pn1": a row without it must not pass for a QR.
    with pytest.raises(AttributeError, match="format"):
        from_entity(CredentialPublic, SimpleNamespace(**shown))
    given = from_entity(CredentialPublic, SimpleNamespace(**shown), format="dc+sd-jwt")
    assert given.format == "dc+sd-jwt"
    renamed = from_entity(
        CredentialPublic, SimpleNamespace(**shown, format="pn1"), skills=["crcn:2.1"]
    )
    assert renamed.skills == ["crcn:2.1"]
