"""The trust store, the signed trust list and remote status lists, against real HTTP servers on
127.0.0.1 (tests/federation_fixtures.py): every hostile input is refused with a reason, journaled,
and leaves the store as it was."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from joserfc import jws
from joserfc.jwk import ECKey
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.core.db import transaction
from app.core.settings import ConfigurationError, Settings
from app.credentials import format as fmt
from app.credentials.statuslist import StatusList, status_list_jwt
from app.credentials.verifier import Verifier, describe
from app.federation import documents, hub, store
from app.federation.models import (
    MANUAL,
    TRUST_LIST,
    FederationMember,
    PublishedTrustList,
    StatusListCache,
    TrustedIssuer,
)
from app.federation.status_cache import RETRY_AFTER_SECONDS
from tests.conftest import make_settings
from tests.factories import World, make_world
from tests.federation_fixtures import Site, serving

ANCHOR = ECKey.generate_key("P-256", private=True)
ROGUE = ECKey.generate_key("P-256", private=True)


@pytest.fixture
def site() -> Iterator[Site]:
    with serving() as running:
        yield running


def _events(engine: sa.Engine, prefix: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return [
            e
            for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
            if e.action.startswith(prefix)
        ]


def _issuers(engine: sa.Engine) -> list[tuple[str, str, list[str]]]:
    with Session(engine) as session:
        return sorted(
            (r.iss, r.source, sorted(r.fingerprints))
            for r in session.exec(select(TrustedIssuer)).all()
        )


def _credential(key: ECKey, iss: str, status_uri: str, idx: int = 7) -> str:
    now = int(time.time())
    claims = fmt.build_claims(
        iss=iss,
        sub="holder-elsewhere",
        jti=f"jti{idx}{now}",
        iat=now,
        exp=now + 86400,
        skills=[
            fmt.SkillClaim(code="pp:PP-06", level=1, date=date.today(), structure="Médiathèque")
        ],
        fv={"pp": "1.0"},
        status_uri=status_uri,
        status_idx=idx,
    )
    return fmt.issue(claims, key)


def _status_token(key: ECKey, uri: str, revoked: tuple[int, ...] = (), ttl: int = 300) -> str:
    bits = StatusList(1024)
    for idx in revoked:
        bits.set(idx, 1)
    now = int(time.time())
    return status_list_jwt(bits, key=key, uri=uri, iat=now, exp=now + 3600, ttl=ttl)


# --- The trust store through the API ------------------------------------------------------------


def test_an_admin_previews_confirms_and_removes_an_issuer(
    client: TestClient, engine: sa.Engine, site: Site
) -> None:
    world = make_world(engine)
    admin = world.headers["admin_other_territory"]
    key = ECKey.generate_key("P-256", private=True)
    kids = site.put_keys("/t/973", key)
    iss = f"{site.url}/t/973"
    uri = f"{iss}/status/1"
    site.put("/t/973/status/1", _status_token(key, uri), content_type="application/statuslist+jwt")
    qr = _credential(key, iss, uri)
    assert client.post("/api/v1/verify", json={"qr_text": qr}).json()["result"] == (
        "untrusted_issuer"
    )

    seen = client.post("/api/v1/trust/issuers/preview", json={"iss": iss + "/"}, headers=admin)
    assert seen.status_code == 200, seen.text
    assert seen.json() == {
        "iss": iss,
        "jwks_uri": f"{iss}/.well-known/jwks.json",
        "fingerprints": kids,
        "status_uris": [uri],
    }
    assert _issuers(engine) == []  # a preview stores nothing

    added = client.post(
        "/api/v1/trust/issuers",
        json={"iss": iss, "fingerprints": kids, "name": "Guyane"},
        headers=admin,
    )
    assert added.status_code == 201, added.text
    assert added.json()["source"] == MANUAL and added.json()["name"] == "Guyane"
    assert added.json()["added_by_account_id"] == world.admin_b.id
    verdict = client.post("/api/v1/verify", json={"qr_text": qr}).json()
    assert verdict["result"] == "valid" and verdict["territory"] == "Guyane", verdict
    bundle = {i["iss"]: i for i in client.get("/api/v1/trust/bundle").json()["issuers"]}
    assert bundle[iss]["source"] == MANUAL and bundle[iss]["status_lists"][0]["uri"] == uri
    assert [k["kid"] for k in bundle[iss]["jwks"]["keys"]] == kids

    # The issuer revokes; the cached list is fresh for its ttl, so it is the list that decides:
    # fetched again only once the cache is gone (here: the issuer removed and added back).
    site.put("/t/973/status/1", _status_token(key, uri, revoked=(7,)))
    listed = client.get("/api/v1/trust/issuers", headers=world.headers["territory_admin"]).json()
    (row,) = listed["issuers"]
    assert listed["trust_list"] is None
    removed = client.delete(f"/api/v1/trust/issuers/{row['id']}", headers=admin)
    assert removed.status_code == 204
    assert client.post("/api/v1/verify", json={"qr_text": qr}).json()["result"] == (
        "untrusted_issuer"
    )
    client.post("/api/v1/trust/issuers", json={"iss": iss, "fingerprints": kids}, headers=admin)
    assert client.post("/api/v1/verify", json={"qr_text": qr}).json()["result"] == "revoked"

    journal = client.get("/api/v1/trust/journal", headers=world.headers["territory_admin"])
    assert [e["action"] for e in journal.json()] == [
        "trust.issuer_added",
        "trust.issuer_removed",
        "trust.issuer_added",
    ][::-1]
    assert journal.json()[-1]["details"]["fingerprints"] == kids


def _refusal(client: TestClient, world: World, iss: str, fingerprints: list[str]) -> Any:
    return client.post(
        "/api/v1/trust/issuers",
        json={"iss": iss, "fingerprints": fingerprints},
        headers=world.headers["territory_admin"],
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_hostile_or_absent_key_sets_are_refused_and_journaled(
    client: TestClient, engine: sa.Engine, site: Site
) -> None:
    world = make_world(engine)
    key, other = (
        ECKey.generate_key("P-256", private=True),
        ECKey.generate_key("P-256", private=True),
    )
    kids = site.put_keys("/t/ok", key)
    assert _refusal(client, world, f"{site.url}/t/ok", kids).status_code == 201
    before = _issuers(engine)

    # The key set changed between preview and confirmation.
    site.put_keys("/t/ok", other)
    changed = _refusal(client, world, f"{site.url}/t/ok", kids)
    assert changed.status_code == 422 and changed.json()["code"] == "fingerprint_mismatch"
    # Huge (a single answer larger than the cap), or not JSON at all, or not a key set.
    site.put("/t/huge/.well-known/jwks.json", b'{"keys": [' + b" " * 200_000 + b"]}")
    huge = _refusal(client, world, f"{site.url}/t/huge", kids)
    assert huge.status_code == 422 and huge.json()["code"] == "bad_key_set"
    assert "larger than" in huge.json()["detail"]
    site.put("/t/endless/.well-known/jwks.json", b" " * 3_000_000, declare_length=False)
    endless = _refusal(client, world, f"{site.url}/t/endless", kids)
    assert endless.status_code == 422 and "larger than" in endless.json()["detail"]
    site.put("/t/html/.well-known/jwks.json", "<html>Bienvenue</html>", content_type="text/html")
    html = _refusal(client, world, f"{site.url}/t/html", kids)
    assert html.status_code == 422 and "not JSON" in html.json()["detail"]
    private = {"keys": [{**json.loads(json.dumps(key.as_dict(private=True))), "kid": kids[0]}]}
    site.put("/t/private/.well-known/jwks.json", private)
    leaked = _refusal(client, world, f"{site.url}/t/private", kids)
    assert leaked.status_code == 422 and "private" in leaked.json()["detail"]
    # Not answering: a closed port, a 500, a redirect (never followed).
    closed = _refusal(client, world, f"http://127.0.0.1:{_closed_port()}/t/x", kids)
    assert closed.status_code == 502 and closed.json()["code"] == "issuer_unreachable"
    site.put("/t/down/.well-known/jwks.json", "oops", status=500)
    assert _refusal(client, world, f"{site.url}/t/down", kids).status_code == 502
    site.put(
        "/t/moved/.well-known/jwks.json",
        "",
        status=302,
        headers={"Location": f"{site.url}/t/ok/.well-known/jwks.json"},
    )
    moved = _refusal(client, world, f"{site.url}/t/moved", kids)
    assert moved.status_code == 502 and "redirect" in moved.json()["detail"]
    assert site.hits.count("/t/ok/.well-known/jwks.json") == 2  # the redirect was not followed
    # Not http(s); a territory of this very instance.
    bad_url = _refusal(client, world, "file:///etc/passwd", kids)
    assert bad_url.status_code == 422 and bad_url.json()["code"] == "invalid_issuer_url"
    local = _refusal(client, world, world.a.issuer_url, kids)
    assert local.status_code == 409 and local.json()["code"] == "issuer_is_local"

    assert _issuers(engine) == before
    refusals = _events(engine, "trust.issuer_add_refused")
    assert [e.details["reason"] for e in refusals] == [
        "fingerprint_mismatch",
        "bad_key_set",
        "bad_key_set",
        "bad_key_set",
        "bad_key_set",
        "issuer_unreachable",
        "issuer_unreachable",
        "issuer_unreachable",
        "invalid_issuer_url",
        "issuer_is_local",
    ]
    assert all(e.outcome == "failure" and e.territory_id == world.a.id for e in refusals)


# --- The signed trust list -------------------------------------------------------------------


def _entry(key: ECKey, iss: str, **over: Any) -> dict[str, Any]:
    jwk = fmt.public_jwk(key)
    entry = {
        "iss": iss,
        "name": "Guyane",
        "jwks": {"keys": [jwk]},
        "fingerprints": [jwk["kid"]],
        "status_uris": [f"{iss}/status/1"],
    }
    entry.update(over)
    return entry


def _signed(hub_url: str, sequence: int, issuers: list[dict[str, Any]], **over: Any) -> str:
    """A trust list signed by the anchor, written by hand so that it can be wrong on purpose."""
    signer: ECKey = over.pop("signer", ANCHOR)
    now = int(time.time())
    body: dict[str, Any] = {
        "hub": hub_url,
        "sequence": sequence,
        "issued_at": now,
        "fresh_until": now + 3600,
        "issuers": issuers,
    }
    body.update(over)
    header = {"alg": "ES256", "kid": fmt.key_id(signer), "typ": documents.TYP}
    return jws.serialize_compact(
        header, json.dumps(body).encode(), signer, registry=documents.REGISTRY
    )


def _member_settings(database_url: str, hub_url: str) -> Settings:
    return make_settings(
        database_url,
        federation_hub_url=hub_url,
        federation_anchor_public_key=json.dumps(fmt.public_jwk(ANCHOR)),
        federation_fetch_timeout_seconds=2,
    )


def test_a_member_imports_newer_lists_only_and_refuses_bad_ones(
    engine: sa.Engine, database_url: str, site: Site
) -> None:
    world = make_world(engine)
    settings = _member_settings(database_url, site.url)
    a_key, b_key = (
        ECKey.generate_key("P-256", private=True),
        ECKey.generate_key("P-256", private=True),
    )
    iss_a, iss_b = "https://a.test/t/973", "https://b.test/t/988"

    first = _signed(site.url, 1, [_entry(a_key, iss_a), _entry(b_key, iss_b)])
    site.put(store.TRUST_LIST_PATH, first, content_type="application/jose")
    report = store.import_trust_list(engine, settings)
    assert (report.outcome, report.sequence, sorted(report.added)) == (
        "imported",
        1,
        [iss_a, iss_b],
    )
    assert store.import_trust_list(engine, settings).outcome == "unchanged"
    held = _issuers(engine)
    assert [source for _, source, _ in held] == [TRUST_LIST, TRUST_LIST]

    def refused(document: str | None, code: str, words: str) -> None:
        with pytest.raises(store.TrustListRefused) as caught:
            store.import_trust_list(engine, settings, document)
        assert caught.value.code == code and words in caught.value.detail, caught.value.detail
        assert _issuers(engine) == held

    rogue = _signed(site.url, 2, [_entry(a_key, iss_a)], signer=ROGUE)
    refused(rogue, "trust_list_refused", "not signed by the pinned anchor")
    # A forged signature under the anchor's kid.
    forged = first.rsplit(".", 1)[0] + "." + rogue.rsplit(".", 1)[1]
    refused(forged, "trust_list_refused", "bad signature")
    refused(_signed(site.url, 1, [_entry(a_key, iss_a)]), "trust_list_not_newer", "not newer")
    refused(_signed(site.url, 0, [_entry(a_key, iss_a)]), "trust_list_not_newer", "not newer")
    refused(
        _signed(site.url, 2, [_entry(a_key, iss_a), _entry(b_key, iss_a)]),
        "trust_list_refused",
        "duplicate issuer",
    )
    refused(
        _signed(site.url, 2, [_entry(a_key, iss_a, fingerprints=[fmt.key_id(b_key)])]),
        "trust_list_refused",
        "does not match its fingerprints",
    )
    refused(_signed("https://other-hub.test", 2, []), "trust_list_refused", "not the hub")
    refused("not a list at all", "trust_list_refused", "compact JWS")
    site.put(store.TRUST_LIST_PATH, "down", status=503)
    refused(None, "hub_unreachable", "HTTP 503")
    journaled = _events(engine, "trust.list_refused")
    assert len(journaled) == 9 and all(e.outcome == "failure" for e in journaled)

    # A newer list: B dropped (its keys stop counting), A rotated (two keys), a local issuer
    # and a manual pin left alone.
    rotated = ECKey.generate_key("P-256", private=True)
    two = {"keys": [fmt.public_jwk(rotated), fmt.public_jwk(a_key)]}
    with transaction(engine) as session:
        session.add(
            TrustedIssuer(
                iss="https://c.test/t/1",
                name="Pinned",
                jwks={"keys": []},
                fingerprints=[],
                source=MANUAL,
            )
        )
    third = _signed(
        site.url,
        3,
        [
            _entry(a_key, iss_a, jwks=two, fingerprints=[k["kid"] for k in two["keys"]]),
            _entry(b_key, world.a.issuer_url),
            _entry(b_key, "https://c.test/t/1"),
        ],
    )
    report = store.import_trust_list(engine, settings, third)
    assert (report.updated, report.removed, report.added) == ([iss_a], [iss_b], [])
    assert _issuers(engine) == [
        (iss_a, TRUST_LIST, sorted([fmt.key_id(rotated), fmt.key_id(a_key)])),
        ("https://c.test/t/1", MANUAL, []),
    ]
    imported = _events(engine, "trust.list_imported")
    assert [e.target_id for e in imported] == ["1", "3"]


def test_a_stale_list_turns_valid_to_stale_trust_list(
    engine: sa.Engine, database_url: str, site: Site
) -> None:
    make_world(engine)
    settings = _member_settings(database_url, site.url)
    key = ECKey.generate_key("P-256", private=True)
    iss = f"{site.url}/t/973"
    uri = f"{iss}/status/1"
    site.put("/t/973/status/1", _status_token(key, uri))
    now = int(time.time())
    stale_list = _signed(
        site.url, 1, [_entry(key, iss)], issued_at=now - 7200, fresh_until=now - 60
    )
    store.import_trust_list(engine, settings, stale_list)
    verifier = Verifier(engine, settings)
    qr = _credential(key, iss, uri)
    verdict, snapshot = verifier.verify(qr)
    assert verdict.valid  # the format's pipeline knows nothing of trust lists
    described = describe(verdict, snapshot)
    assert described["result"] == "stale_trust_list", described
    assert "stale since" in described["reason"] and described["issuer"] == iss

    fresh_list = _signed(site.url, 2, [_entry(key, iss)])
    store.import_trust_list(engine, settings, fresh_list)
    assert describe(*verifier.verify(qr))["result"] == "valid"


# --- Remote status lists -----------------------------------------------------------------------


def _trust(engine: sa.Engine, key: ECKey, iss: str, uris: list[str]) -> None:
    jwk = fmt.public_jwk(key)
    with transaction(engine) as session:
        session.add(
            TrustedIssuer(
                iss=iss,
                name="Ailleurs",
                jwks={"keys": [jwk]},
                fingerprints=[jwk["kid"]],
                status_uris=uris,
                source=MANUAL,
            )
        )


def test_remote_status_is_unavailable_rather_than_guessed(
    engine: sa.Engine, database_url: str, site: Site
) -> None:
    key = ECKey.generate_key("P-256", private=True)
    iss = f"{site.url}/t/x"
    uri = f"{iss}/status/1"
    _trust(engine, key, iss, [uri])
    settings = make_settings(database_url, federation_fetch_timeout_seconds=2)
    verifier = Verifier(engine, settings)

    # Nothing served yet: unavailable, not valid.
    qr = _credential(key, iss, uri)
    assert verifier.verify(qr)[0].result is fmt.Result.STATUS_UNAVAILABLE
    # A list signed by someone else, or for another URI, does not count either.
    site.put("/t/x/status/1", _status_token(ROGUE, uri))
    cache = verifier.status_cache
    with pytest.raises(Exception, match="not signed with this key"):
        cache.refresh(iss, {fmt.key_id(key): key}, uri)
    site.put("/t/x/status/1", _status_token(key, f"{iss}/status/2"))
    with pytest.raises(Exception, match="sub is not the URI"):
        cache.refresh(iss, {fmt.key_id(key): key}, uri)

    # A URI the credential names but that is not registered for the issuer is never fetched.
    elsewhere = _credential(key, iss, f"{site.url}/somewhere/else")
    assert verifier.verify(elsewhere)[0].result is fmt.Result.STATUS_UNAVAILABLE
    assert not [h for h in site.hits if h.startswith("/somewhere")]

    # Served properly, with a 1-second ttl: valid, then revoked once the ttl has passed.
    site.put("/t/x/status/1", _status_token(key, uri, ttl=1))
    cache.forget([uri])
    assert verifier.verify(qr)[0].result is fmt.Result.VALID
    site.put("/t/x/status/1", _status_token(key, uri, revoked=(7,), ttl=1))
    assert verifier.verify(qr)[0].result is fmt.Result.VALID  # still the cached list
    time.sleep(1.1)
    assert verifier.verify(qr)[0].result is fmt.Result.REVOKED

    # The issuer goes down after its list expired: unavailable, unless the operator accepts a
    # list of that age.
    site.put("/t/x/status/1", "down", status=503)
    time.sleep(1.1)
    assert verifier.verify(qr)[0].result is fmt.Result.STATUS_UNAVAILABLE
    tolerant = Verifier(engine, make_settings(database_url, status_max_stale_seconds=3600))
    # A new process: it starts from the list kept in the database, refetches, fails, and uses
    # the kept one within the allowance.
    assert tolerant.verify(qr)[0].result is fmt.Result.REVOKED
    assert RETRY_AFTER_SECONDS > 1


# --- The hub -------------------------------------------------------------------------------


def test_the_hub_publishes_signed_lists_and_refuses_an_unreadable_member(
    client: TestClient, engine: sa.Engine, database_url: str, site: Site
) -> None:
    settings = make_settings(
        database_url,
        public_url="https://hub.test",
        federation_anchor_key=json.dumps(ANCHOR.as_dict(private=True)),
        federation_fresh_seconds=600,
    )
    key = ECKey.generate_key("P-256", private=True)
    kids = site.put_keys("/t/a", key)
    with transaction(engine) as session:
        hub.add_member(session, f"{site.url}/t/a/", name="Guyane")
        with pytest.raises(Exception, match="already a member"):
            hub.add_member(session, f"{site.url}/t/a")
    first = hub.publish(engine, settings)
    assert first.sequence == 1
    trust_list = documents.verify_trust_list(
        first.document, ECKey.import_key(fmt.public_jwk(ANCHOR))
    )
    assert trust_list.hub == "https://hub.test"
    (entry,) = trust_list.issuers
    assert (entry.iss, entry.name, entry.fingerprints) == (f"{site.url}/t/a", "Guyane", tuple(kids))
    assert entry.status_uris == (f"{site.url}/t/a/status/1",)
    assert trust_list.fresh_until - trust_list.issued_at == 600
    served = client.get("/api/v1/federation/trust-list")
    assert served.status_code == 200 and served.text == first.document
    # Never the private key: not in the document, not in the journal.
    private_d = ANCHOR.as_dict(private=True)["d"]
    assert isinstance(private_d, str)
    assert private_d not in first.document
    assert all(private_d not in json.dumps(e.details) for e in _events(engine, ""))

    with transaction(engine) as session:
        hub.add_member(session, f"{site.url}/t/broken")
    site.put("/t/broken/.well-known/jwks.json", "<html>", content_type="text/html")
    with pytest.raises(hub.PublishRefused, match="t/broken"):
        hub.publish(engine, settings)
    with Session(engine) as session:
        assert [r.sequence for r in session.exec(select(PublishedTrustList)).all()] == [1]
    assert [e.action for e in _events(engine, "federation.")] == [
        "federation.member_added",
        "federation.published",
        "federation.member_added",
        "federation.publish_refused",
    ]
    with transaction(engine) as session:
        hub.remove_member(session, f"{site.url}/t/broken")
        assert len(session.exec(select(FederationMember)).all()) == 1
    assert hub.publish(engine, settings).sequence == 2


def test_anchor_settings_are_checked_without_quoting_them(database_url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        documents.load_anchor_private(make_settings(database_url).federation_anchor_key)
    assert "not set" in str(caught.value)
    secret = '{"kty": "EC", "crv": "P-256", "d": "c2VjcmV0LXZhbHVl"}'
    with pytest.raises(ConfigurationError) as caught:
        documents.load_anchor_private(
            make_settings(database_url, federation_anchor_key=secret).federation_anchor_key
        )
    assert "c2VjcmV0" not in str(caught.value)
    with pytest.raises(ConfigurationError):
        documents.load_anchor_public('{"kty": "oct"}')
    with pytest.raises(ConfigurationError, match="not set"):
        store.import_trust_list(sa.create_engine("sqlite://"), make_settings(database_url))


def test_keys_a_pinned_issuer_stops_publishing_are_unpinned_never_added(
    engine: sa.Engine, database_url: str, site: Site
) -> None:
    old, new = ECKey.generate_key("P-256", private=True), ECKey.generate_key("P-256", private=True)
    iss = f"{site.url}/t/pinned"
    _trust(engine, old, iss, [f"{iss}/status/1"])
    with transaction(engine) as session:
        row = session.exec(select(TrustedIssuer)).one()
        row.jwks = {"keys": [fmt.public_jwk(old), fmt.public_jwk(new)]}
        row.fingerprints = [fmt.key_id(old), fmt.key_id(new)]
    down = make_settings(database_url, federation_fetch_timeout_seconds=1)
    # Unreachable: the pin stays as it is.
    assert store.prune_manual(engine, down) == []
    # The issuer retired `old` and publishes `new` and a third key nobody confirmed.
    third = ECKey.generate_key("P-256", private=True)
    site.put_keys("/t/pinned", new, third)
    assert store.prune_manual(engine, down) == [iss]
    assert _issuers(engine) == [(iss, MANUAL, [fmt.key_id(new)])]
    (event,) = _events(engine, "trust.issuer_keys_unpinned")
    assert event.details["unpinned"] == [fmt.key_id(old)]
    assert store.prune_manual(engine, down) == []


def test_verification_needs_one_pooled_connection_at_a_time(
    engine: sa.Engine, database_url: str, site: Site
) -> None:
    # Requests queued behind the snapshot's or a status list's lock may hold every pooled
    # connection: whoever holds the lock must not need a second one (with a pool of one
    # connection, a second checkout times out).
    key = ECKey.generate_key("P-256", private=True)
    iss = f"{site.url}/t/pool"
    uri = f"{iss}/status/1"
    _trust(engine, key, iss, [uri])
    site.put("/t/pool/status/1", _status_token(key, uri))
    one = sa.create_engine(
        make_settings(database_url).database_url, pool_size=1, max_overflow=0, pool_timeout=2
    )
    try:
        verifier = Verifier(one, make_settings(database_url))
        verdict, snapshot = verifier.verify(_credential(key, iss, uri))
        assert verdict.result is fmt.Result.VALID and iss in snapshot.issuers
        # The list fetched on the way was kept, once the request's connection was released.
        with Session(engine) as session:
            assert session.get(StatusListCache, uri) is not None
        # A new process starts from the kept list, on its one connection, without fetching.
        hits = len(site.hits)
        again = Verifier(one, make_settings(database_url))
        assert again.verify(_credential(key, iss, uri, idx=8))[0].result is fmt.Result.VALID
        assert len(site.hits) == hits
    finally:
        one.dispose()
