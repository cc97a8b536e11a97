"""Demo data, so that a newcomer sees something real at once. Idempotent: a second run adds nothing.

Each later feature adds its own demo records here (structures, mediators, passports, …) and reports
them, since `passeport demo --json` is how scripts and the browser tests find them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session

from app.core.settings import Settings
from app.territory import service as territories
from app.territory.models import issuer_url_for


@dataclass
class DemoReport:
    created: bool
    territory: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed(session: Session, settings: Settings) -> DemoReport:
    code = settings.demo_territory_code
    territory, created = territories.ensure(
        session,
        code=code,
        name="Territoire de démonstration",
        issuer_url=issuer_url_for(settings.public_url, code),
        contact_email="coordination@demo.passeport.invalid",
    )
    return DemoReport(
        created=created,
        territory={
            "id": territory.id,
            "code": territory.code,
            "name": territory.name,
            "issuer_url": territory.issuer_url,
        },
    )
