"""Every kind of journal event has a label in both languages: the coordinator's journal and the
citizen's "who looked at my passport" never show a raw kind such as ``citizen.login_failed``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Kinds are "namespace.event" literals in app/; these namespaces are the journals' own.
NAMESPACES = {
    "access",
    "access_code",
    "access_log",
    "account",
    "auth",
    "card",
    "citizen",
    "credential",
    "federation",
    "invitation",
    "key",
    "passport",
    "password_reset",
    "self_assessment",
    "stats",
    "structure",
    "structures",
    "territory",
    "token",
    "trust",
    "validation",
    "wallet",
}
# "passport.id", "structure.code", "citizen.html"…: columns and files, not events.
NOT_EVENTS = {"id", "code", "html", "json", "png", "svg", "txt", "pdf", "start", "end"}
LITERAL = re.compile(r'"([a-z_]+)\.([a-z_]+)"')
# The citizen's access journal: passports.service.journal(session, principal, passport, "kind"),
# and the reads coalesced in memory: READS.record(engine, principal, passport_id, "kind"), with
# keyword arguments after the kind if any (journal(..., "validation.created", written=row)).
ACCESS = re.compile(
    r'(?:journal|READS\.record)\(\s*(?:[\w.]+,\s*)+"([a-z_.]+)"\s*(?:,\s*\w+=[\w.]+\s*)*,?\s*\)'
)


def journal_kinds() -> tuple[set[str], set[str]]:
    """(the audit journal's kinds, the citizen's access journal's kinds) recorded in app/."""
    audit: set[str] = set()
    access: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        in_access = {match.start(1) - 1 for match in ACCESS.finditer(text)}
        for match in LITERAL.finditer(text):
            namespace, event = match.groups()
            if namespace not in NAMESPACES or event in NOT_EVENTS:
                continue
            if text[match.end() : match.end() + 1] == ":":
                continue  # a key of a label table (the readable export's), not a record
            kind = f"{namespace}.{event}"
            (access if match.start() in in_access else audit).add(kind)
    # A kind recorded in the access journal and named elsewhere too (a set of kinds) is the
    # access journal's.
    return audit - access, access


def _catalogue(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (ROOT / "frontend" / "i18n" / f"{lang}.json").read_text("utf-8")
    )
    return data


def test_the_scan_finds_both_journals() -> None:
    audit, access = journal_kinds()
    assert {"auth.login_failed", "citizen.login_failed", "territory.created"} <= audit
    assert {"federation.stats_refused", "credential.imported", "trust.list_refused"} <= audit
    assert {"passport.read", "validation.created", "citizen.signed_in"} <= access


def test_every_audit_event_kind_has_a_label_in_both_languages() -> None:
    audit, _ = journal_kinds()
    for lang in ("fr", "en"):
        labels = _catalogue(lang)["coordination"]["actions"]
        missing = sorted(k for k in audit if k.replace(".", "_") not in labels)
        assert missing == [], f"{lang}.json coordination.actions lacks {missing}"
        raw = sorted(k for k, label in labels.items() if "." in label or "_" in label)
        assert raw == [], f"{lang}.json: labels that look like raw kinds: {raw}"


def test_every_access_journal_kind_has_a_label_in_both_languages() -> None:
    _, access = journal_kinds()
    for lang in ("fr", "en"):
        citizen = _catalogue(lang)["citizen"]
        missing = sorted(k for k in access if "action_" + k.replace(".", "_") not in citizen)
        assert missing == [], f"{lang}.json citizen.action_* lacks {missing}"
