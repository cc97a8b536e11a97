"""The token status list: draft test vectors, bit packing, bounded inflation, the signed token."""

from __future__ import annotations

import base64
import json
import zlib

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

from app.credentials.format import b64url_encode, key_id
from app.credentials.statuslist import (
    MAX_LIST_BYTES,
    StatusList,
    StatusListError,
    status_checker,
    status_list_jwt,
    verify_status_list_jwt,
)

URI = "https://passeport.nouvelle-caledonie.example/api/v1/status/1"
IAT = 1_795_012_345


def _key(d: int) -> ECKey:
    return ECKey.import_key(ec.derive_private_key(d, ec.SECP256R1()))


KEY = _key(0x5EED_0001)
OTHER = _key(0x5EED_0002)

# draft-ietf-oauth-status-list, "Status List" section: the 1-bit and 2-bit examples.
ONE_BIT = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
TWO_BIT = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


def test_draft_one_bit_vector() -> None:
    sl = StatusList(len(ONE_BIT), bits=1)
    for idx, value in enumerate(ONE_BIT):
        sl.set(idx, value)
    assert sl.to_bytes() == bytes([0xB9, 0xA3])
    assert sl.encode() == "eNrbuRgAAhcBXQ"
    back = StatusList.decode("eNrbuRgAAhcBXQ", 1)
    assert [back.get(i) for i in range(16)] == ONE_BIT


def test_draft_two_bit_vector() -> None:
    sl = StatusList(len(TWO_BIT), bits=2)
    for idx, value in enumerate(TWO_BIT):
        sl.set(idx, value)
    assert sl.to_bytes() == bytes([0xC9, 0x44, 0xF9])
    assert sl.encode() == "eNo76fITAAPfAgc"
    back = StatusList.decode("eNo76fITAAPfAgc", 2)
    assert [back.get(i) for i in range(12)] == TWO_BIT


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_round_trip_every_width(bits: int) -> None:
    sl = StatusList(1000, bits=bits)
    top = (1 << bits) - 1
    for idx in range(0, 1000, 7):
        sl.set(idx, idx % (top + 1))
    back = StatusList.decode(sl.encode(), bits)
    assert back.size >= 1000
    assert all(back.get(i) == (i % (top + 1) if i % 7 == 0 else 0) for i in range(1000))
    sl.set(7, 0)
    assert sl.get(7) == 0 and sl.get(14) == 14 % (top + 1)


def test_lst_is_zlib_format_not_raw_deflate() -> None:
    lst = StatusList(64).encode()
    data = base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4))
    assert data[0] == 0x78  # the RFC 1950 header: CM 8, window 32K
    assert zlib.decompress(data) == bytes(8)
    assert "=" not in lst


def test_bounds() -> None:
    sl = StatusList(10)
    with pytest.raises(IndexError):
        sl.get(10)
    with pytest.raises(IndexError):
        sl.set(-1, 1)
    with pytest.raises(ValueError):
        sl.set(0, 2)
    with pytest.raises(StatusListError):
        StatusList(10, bits=3)
    with pytest.raises(StatusListError):
        StatusList(0)


def test_decode_refuses_a_bomb_and_broken_input() -> None:
    bomb = b64url_encode(zlib.compress(bytes(MAX_LIST_BYTES + 1), 9))
    assert len(bomb) < 3000
    with pytest.raises(StatusListError, match="larger than"):
        StatusList.decode(bomb, 1)
    with pytest.raises(StatusListError, match="larger than"):
        StatusList.decode(StatusList(8 * 100).encode(), 1, cap=99)
    good = zlib.compress(bytes(16), 9)
    for bad in (
        b64url_encode(good[:-3]),  # truncated
        b64url_encode(good + b"x"),  # trailing bytes
        b64url_encode(zlib.compressobj(9, wbits=-15).compress(bytes(16))),  # raw DEFLATE
        "not+base64/",
    ):
        with pytest.raises(StatusListError):
            StatusList.decode(bad, 1)


def _token(sl: StatusList, **kw: object) -> str:
    args: dict[str, object] = {"key": KEY, "uri": URI, "iat": IAT, "exp": IAT + 86400, "ttl": 3600}
    args.update(kw)
    return status_list_jwt(sl, **args)  # type: ignore[arg-type]


def test_status_list_jwt_round_trip_and_shape() -> None:
    sl = StatusList(1024)
    sl.set(5, 1)
    token = _token(sl, iss="https://passeport.nouvelle-caledonie.example")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "kid": key_id(KEY), "typ": "statuslist+jwt"}
    back = verify_status_list_jwt(token, KEY, uri=URI, now=IAT + 10)
    assert back.get(5) == 1 and back.get(4) == 0

    # Two independent JOSE implementations read the same token.
    pub = ECKey.import_key(KEY.as_dict(private=False))
    claims = jwt.decode(token, pub.public_key, algorithms=["ES256"], options={"verify_exp": False})
    assert claims["sub"] == URI and claims["status_list"]["bits"] == 1
    assert claims["ttl"] == 3600 and claims["exp"] == IAT + 86400
    jc = jc_jws.JWS()
    jc.deserialize(token)
    jc.verify(jc_jwk.JWK(**KEY.as_dict(private=False)), alg="ES256")
    assert json.loads(jc.payload)["status_list"]["lst"] == sl.encode()


def test_status_list_jwt_refusals() -> None:
    sl = StatusList(16)
    token = _token(sl)
    with pytest.raises(StatusListError, match="not signed with this key"):
        verify_status_list_jwt(token, OTHER)
    assert verify_status_list_jwt(token, {key_id(OTHER): OTHER, key_id(KEY): KEY}).size == 16
    with pytest.raises(StatusListError, match="not signed with this key"):
        verify_status_list_jwt(token, {key_id(OTHER): OTHER})
    with pytest.raises(StatusListError, match="sub"):
        verify_status_list_jwt(token, KEY, uri=URI + "2")
    with pytest.raises(StatusListError, match="expired"):
        verify_status_list_jwt(token, KEY, now=IAT + 86400)
    h, p, s = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=="))
    claims["status_list"]["lst"] = "eNrbuRgAAhcBXQ"
    forged = f"{h}.{b64url_encode(json.dumps(claims).encode())}.{s}"
    with pytest.raises(StatusListError, match="signature"):
        verify_status_list_jwt(forged, KEY)
    with pytest.raises(StatusListError):
        verify_status_list_jwt("a.b", KEY)
    with pytest.raises(StatusListError, match="too large"):
        verify_status_list_jwt("a" * 1_000_001, KEY)
    with pytest.raises(ValueError):
        _token(sl, exp=IAT)


def test_status_list_jwt_other_typ_refused() -> None:
    from joserfc import jws

    body = json.dumps({"sub": URI, "iat": IAT, "exp": IAT + 9, "ttl": 9, "status_list": {}})
    header = {"alg": "ES256", "kid": key_id(KEY), "typ": "JWT"}
    token = jws.serialize_compact(header, body, KEY)
    with pytest.raises(StatusListError, match="typ"):
        verify_status_list_jwt(token, KEY)


def test_status_checker() -> None:
    sl = StatusList(16)
    sl.set(3, 1)
    check = status_checker({URI: sl})
    assert check(URI, 3) is True
    assert check(URI, 4) is False
    assert check(URI, 16) is None
    assert check(URI + "x", 3) is None
