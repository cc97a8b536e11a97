"""Signing keys per territory: first use, encryption at rest, rotation, retirement, the JWKS."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from joserfc.jwk import ECKey
from sqlmodel import col, select

from app.audit.models import AuditEvent
from app.core.db import pk, transaction
from app.core.errors import Conflict, NotFound
from app.core.settings import Settings
from app.core.time import utcnow
from app.credentials import format as fmt
from app.credentials import keys
from app.credentials.keys import KeyDecryptionFailed, SigningKey
from app.territory.models import Territory
from tests.conftest import make_settings
from tests.factories import make_territory
from tests.servers import passeport_env, run_cli


def _sign_for(engine: sa.Engine, settings: Settings, territory: Territory) -> tuple[str, ECKey]:
    with transaction(engine) as session:
        return keys.signing_key(session, territory, settings)


def _rotate(engine: sa.Engine, settings: Settings, territory: Territory) -> str:
    with transaction(engine) as session:
        return keys.rotate(session, territory, settings)


def _rows(engine: sa.Engine, territory: Territory) -> list[SigningKey]:
    with transaction(engine, write=False) as session:
        return list(
            session.exec(
                select(SigningKey)
                .where(SigningKey.territory_id == territory.id)
                .order_by(col(SigningKey.id))
            ).all()
        )


def _jwks(client: TestClient, territory: Territory) -> dict[str, Any]:
    response = client.get(f"/t/{territory.code}/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _d(key: ECKey) -> str:
    d = key.as_dict(private=True)["d"]
    assert isinstance(d, str)
    return d


def _credential(territory: Territory, key: ECKey, now: int) -> str:
    claims = fmt.build_claims(
        iss=territory.issuer_url,
        sub="holder-1",
        jti="cred-1",
        iat=now,
        exp=now + 365 * 86400,
        skills=[fmt.SkillClaim("crcn:1.1", 2, date(2026, 11, 1), "Médiathèque")],
        fv={"crcn": "2019"},
        status_uri=f"{territory.issuer_url}/status/1",
        status_idx=0,
    )
    return fmt.issue(claims, key)


def test_first_use_creates_one_key_and_then_reuses_it(
    engine: sa.Engine, settings: Settings
) -> None:
    territory = make_territory(engine)
    kid, key = _sign_for(engine, settings, territory)
    again, same = _sign_for(engine, settings, territory)
    assert kid == again == fmt.key_id(key)
    assert _d(same) == _d(key)
    rows = _rows(engine, territory)
    assert len(rows) == 1 and rows[0].kid == kid and rows[0].rotated_at is None
    with transaction(engine, write=False) as session:
        actions = session.exec(
            select(AuditEvent.action).where(AuditEvent.territory_id == territory.id)
        ).all()
    assert actions == ["key.created"]


def test_a_territory_has_at_most_one_active_key(engine: sa.Engine, settings: Settings) -> None:
    """The partial unique index that makes concurrent first uses safe."""
    territory = make_territory(engine)
    kid, _ = _sign_for(engine, settings, territory)
    other = ECKey.generate_key("P-256", private=True)
    with pytest.raises(sa.exc.IntegrityError), transaction(engine) as session:
        session.add(
            SigningKey(
                territory_id=pk(territory),
                kid=fmt.key_id(other),
                public_jwk=fmt.public_jwk(other),
                private_encrypted=b"\x01" + b"0" * 40,
            )
        )
    # A losing first use (the winner's row already there) answers the winner's key.
    with transaction(engine) as session:
        assert keys._create(session, territory, settings, reason="first_use") is None
        assert keys.signing_key(session, territory, settings)[0] == kid


def test_jwks_has_only_public_members_and_no_private_material(
    client: TestClient, engine: sa.Engine, settings: Settings
) -> None:
    territory = make_territory(engine)
    assert _jwks(client, territory) == {"keys": []}  # read-only: nothing until the first use
    kid, key = _sign_for(engine, settings, territory)
    response = client.get(f"/t/{territory.code}/.well-known/jwks.json")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-type"].startswith("application/json")
    [jwk] = response.json()["keys"]
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert jwk["kid"] == kid and jwk["alg"] == "ES256" and jwk["use"] == "sig"
    assert '"d"' not in response.text
    assert _d(key) not in response.text
    # Nor in the database in clear: neither the base64url text nor the raw scalar.
    raw_d = fmt.b64url_decode(_d(key))
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM signing_key WHERE kid = :k"), {"k": kid}).one()
    for value in row:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        assert _d(key) not in text
        if isinstance(value, bytes | memoryview):
            assert raw_d not in bytes(value)
            assert _d(key).encode() not in bytes(value)


def test_unknown_territory_is_a_problem_with_cors(client: TestClient) -> None:
    response = client.get("/t/nowhere/.well-known/jwks.json")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unknown_territory"
    assert response.headers["access-control-allow-origin"] == "*"


def test_rotation_publishes_both_and_signs_with_the_new_key(
    client: TestClient, engine: sa.Engine, settings: Settings
) -> None:
    territory = make_territory(engine)
    old_kid, old_key = _sign_for(engine, settings, territory)
    before = utcnow()
    new_kid = _rotate(engine, settings, territory)
    assert new_kid != old_kid
    assert _sign_for(engine, settings, territory)[0] == new_kid
    assert [k["kid"] for k in _jwks(client, territory)["keys"]] == [new_kid, old_kid]
    old = next(r for r in _rows(engine, territory) if r.kid == old_kid)
    assert old.rotated_at is not None and old.publish_until is not None
    published = old.publish_until.replace(tzinfo=None) - before.replace(tzinfo=None)
    assert timedelta(days=366) <= published < timedelta(days=366, minutes=5)
    with transaction(engine, write=False) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "key.rotated")).one()
    assert event.target_id == new_kid and event.details["previous_kid"] == old_kid
    # What the old key signed still verifies against the published set.
    now = int(utcnow().timestamp())
    trust = {territory.issuer_url: keys.trust_keys(_jwks(client, territory))}
    verdict = fmt.verify(_credential(territory, old_key, now), keys=trust, now=now, status=_ok)
    assert verdict.result is fmt.Result.VALID


def test_rotated_key_disappears_after_publish_until(engine: sa.Engine, settings: Settings) -> None:
    territory = make_territory(engine)
    old_kid, _ = _sign_for(engine, settings, territory)
    new_kid = _rotate(engine, settings, territory)
    with transaction(engine, write=False) as session:
        now = utcnow()
        assert [k["kid"] for k in keys.published_keys(session, territory, now)] == [
            new_kid,
            old_kid,
        ]
        later = now + timedelta(days=settings.credential_max_days, minutes=1)
        assert [k["kid"] for k in keys.published_keys(session, territory, later)] == [new_kid]
        states = {i.kid: i.state for i in keys.list_keys(session, territory, later)}
    assert states == {new_kid: "active", old_kid: "expired"}


def test_publish_until_follows_the_setting(engine: sa.Engine, database_url: str) -> None:
    short = make_settings(database_url, credential_max_days=30)
    territory = make_territory(engine)
    old_kid, _ = _sign_for(engine, short, territory)
    _rotate(engine, short, territory)
    old = next(r for r in _rows(engine, territory) if r.kid == old_kid)
    assert old.rotated_at is not None and old.publish_until is not None
    assert old.publish_until - old.rotated_at == timedelta(days=30)


def _ok(uri: str, idx: int) -> bool:
    return False


def test_signed_credential_verifies_and_fails_with_unknown_key_once_retired(
    client: TestClient, engine: sa.Engine, settings: Settings
) -> None:
    territory = make_territory(engine)
    kid, key = _sign_for(engine, settings, territory)
    now = int(utcnow().timestamp())
    text = _credential(territory, key, now)
    trust = {territory.issuer_url: keys.trust_keys(_jwks(client, territory))}
    assert fmt.verify(text, keys=trust, now=now, status=_ok).result is fmt.Result.VALID

    with transaction(engine) as session:
        keys.retire(session, None, kid)
    assert _jwks(client, territory) == {"keys": []}
    trust = {territory.issuer_url: keys.trust_keys(_jwks(client, territory))}
    verdict = fmt.verify(text, keys=trust, now=now, status=_ok)
    assert verdict.result is fmt.Result.UNKNOWN_KEY
    assert kid in verdict.reason
    # The territory signs again with a fresh key (first use again), never the retired one.
    new_kid, _ = _sign_for(engine, settings, territory)
    assert new_kid != kid
    assert [k["kid"] for k in _jwks(client, territory)["keys"]] == [new_kid]


def test_a_retired_rotated_key_leaves_the_set(
    client: TestClient, engine: sa.Engine, settings: Settings
) -> None:
    territory = make_territory(engine)
    old_kid, _ = _sign_for(engine, settings, territory)
    new_kid = _rotate(engine, settings, territory)
    with transaction(engine) as session:
        keys.retire(session, territory, old_kid)
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "key.retired")).one()
        assert event.target_id == old_kid
    assert [k["kid"] for k in _jwks(client, territory)["keys"]] == [new_kid]


def test_retire_refuses_unknown_and_foreign_and_twice(
    engine: sa.Engine, settings: Settings
) -> None:
    a, b = make_territory(engine), make_territory(engine)
    kid, _ = _sign_for(engine, settings, a)
    with transaction(engine) as session:
        with pytest.raises(NotFound) as unknown:
            keys.retire(session, None, "no-such-kid")
        assert unknown.value.code == "unknown_key"
        with pytest.raises(NotFound):
            keys.retire(session, b, kid)
        keys.retire(session, a, kid)
        with pytest.raises(Conflict) as twice:
            keys.retire(session, a, kid)
        assert twice.value.code == "key_already_retired"


def test_wrong_key_encryption_key_fails_clearly(
    engine: sa.Engine, settings: Settings, database_url: str
) -> None:
    territory = make_territory(engine)
    _kid, key = _sign_for(engine, settings, territory)
    other = make_settings(database_url, key_encryption_key="another-kek-" + "z" * 32)
    with pytest.raises(KeyDecryptionFailed) as failure, transaction(engine) as session:
        keys.signing_key(session, territory, other)
    assert failure.value.code == "key_decryption_failed"
    assert failure.value.status == 500
    assert "PASSEPORT_KEY_ENCRYPTION_KEY" in failure.value.detail
    assert _d(key) not in failure.value.detail
    assert "another-kek" not in failure.value.detail


def test_ciphertext_moved_to_another_row_fails(engine: sa.Engine, settings: Settings) -> None:
    a, b = make_territory(engine), make_territory(engine)
    _sign_for(engine, settings, a)
    _sign_for(engine, settings, b)
    row_a, row_b = _rows(engine, a)[0], _rows(engine, b)[0]
    with transaction(engine) as session:
        session.execute(
            sa.text("UPDATE signing_key SET private_encrypted = :blob WHERE id = :id"),
            {"blob": row_b.private_encrypted, "id": row_a.id},
        )
    with pytest.raises(KeyDecryptionFailed), transaction(engine) as session:
        keys.signing_key(session, a, settings)
    # The same blob under the same kid but another territory code fails too (associated data).
    with pytest.raises(KeyDecryptionFailed):
        keys.decrypt_private_key(
            row_b.private_encrypted,
            kid=row_b.kid,
            territory_code=a.code,
            secret=settings.key_encryption_key,
        )


def test_encryption_round_trip_and_fresh_nonces(settings: Settings) -> None:
    key = ECKey.generate_key("P-256", private=True)
    kid = fmt.key_id(key)
    secret = settings.key_encryption_key
    one = keys.encrypt_private_key(key, kid=kid, territory_code="t", secret=secret)
    two = keys.encrypt_private_key(key, kid=kid, territory_code="t", secret=secret)
    assert one != two  # a random 96-bit nonce each time
    plaintext = json.dumps(key.as_dict(private=True), separators=(",", ":"))
    assert len(one) == 1 + 12 + len(plaintext) + 16  # version, nonce, ciphertext, GCM tag
    back = keys.decrypt_private_key(one, kid=kid, territory_code="t", secret=secret)
    assert _d(back) == _d(key)
    tampered = one[:-1] + bytes([one[-1] ^ 1])
    with pytest.raises(KeyDecryptionFailed):
        keys.decrypt_private_key(tampered, kid=kid, territory_code="t", secret=secret)


def test_trust_keys_refuses_private_members_and_wrong_kids() -> None:
    key = ECKey.generate_key("P-256", private=True)
    good = fmt.public_jwk(key)
    assert set(keys.trust_keys({"keys": [good]})) == {good["kid"]}
    with pytest.raises(ValueError, match="public"):
        keys.trust_keys({"keys": [{**good, "d": _d(key)}]})
    with pytest.raises(ValueError, match="thumbprint"):
        keys.trust_keys({"keys": [{**good, "kid": "x" * 43}]})


def test_cli_list_rotate_retire(engine: sa.Engine, settings: Settings, database_url: str) -> None:
    territory = make_territory(engine)
    env = passeport_env(database_url)

    empty = run_cli("keys", "list", "--territory", territory.code, env=env)
    assert empty.returncode == 0, empty.stderr
    assert "no signing key yet" in empty.stdout

    first_kid, key = _sign_for(engine, settings, territory)
    rotated = run_cli("keys", "rotate", "--territory", territory.code, env=env)
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.strip().rsplit(" ", 1)[-1]
    assert new_kid != first_kid and len(new_kid) == 43

    listed = run_cli("keys", "list", "--territory", territory.code, env=env)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:]}
    assert lines == {new_kid: "active", first_kid: "rotated"}

    retired = run_cli("keys", "retire", first_kid, env=env)
    assert retired.returncode == 0, retired.stderr
    listed = run_cli("keys", "list", "--territory", territory.code, env=env)
    assert f"{first_kid} retired" in " ".join(listed.stdout.split())

    again = run_cli("keys", "retire", first_kid, env=env)
    assert again.returncode == 2 and "already retired" in again.stderr
    unknown = run_cli("keys", "retire", "nope", env=env)
    assert unknown.returncode == 2 and "No signing key" in unknown.stderr
    # One kid in 64 begins with "-": it is a kid, not an option (this failed once in CI).
    dashed = run_cli("keys", "retire", "-I7D1Pi-_yCq4IZPQm8adgW0sjN2dGEu-1", env=env)
    assert dashed.returncode == 2 and "No signing key has the kid '-I7D1Pi" in dashed.stderr
    nowhere = run_cli("keys", "rotate", "--territory", "nowhere", env=env)
    assert nowhere.returncode == 2 and "nowhere" in nowhere.stderr

    # Nothing private on any output, and the journal has the CLI's actions.
    for result in (empty, rotated, listed, retired, again, unknown, nowhere):
        assert _d(key) not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    with transaction(engine, write=False) as session:
        actions = session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.territory_id == territory.id)
            .order_by(col(AuditEvent.id))
        ).all()
    assert actions == ["key.created", "key.created", "key.rotated", "key.retired"]
