"""The wallet: offers (mediators, the citizen), the territory's OpenID4VCI issuer, the verifier's
nonce. HTTP only; the rules are in app/wallet/service.py.

``issuer_router`` is mounted at the root: a territory's credential issuer is
``{PUBLIC_URL}/wallet/{code}``, its metadata at the well-known paths RFC 8414 and OpenID4VCI 1.0
derive from it (the well-known segment inserted before the path). Errors of the token and
credential endpoints are problem documents that also carry the OAuth ``error`` member.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from app.accounts.authn import client_address
from app.accounts.principal import Principal
from app.api.deps import EngineDep, SessionDep, SettingsDep, WriteSessionDep
from app.authz import PUBLIC, authorize
from app.core.db import transaction
from app.core.errors import AppError, OAuthError
from app.core.settings import Settings
from app.core.time import utcnow
from app.core.validation import TEXT_POLICY, TEXT_POLICY_KEY, NoNul
from app.credentials import keys
from app.passports.deps import CitizenPassport, HeldPassport
from app.passports.models import Passport
from app.territory import service as territories
from app.wallet import metadata, service
from app.wallet.schemas import CredentialRequest, NonceResponse, OfferPublic, OfferRequest


class OAuthRoute(APIRoute):
    """A request the OAuth endpoints cannot read (a body of the wrong shape, a path too long) is
    refused as OAuth says, 400 ``invalid_request`` (``invalid_credential_request`` at the
    credential endpoint) in application/json, rather than as a 422 problem a wallet ignores."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        error = (
            "invalid_credential_request"
            if self.path.endswith("/credential")
            else ("invalid_request")
        )

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                where = [
                    ".".join(str(p) for p in e.get("loc", ())[1:]) or "body" for e in exc.errors()
                ]
                raise OAuthError(
                    f"This request cannot be read: check {', '.join(sorted(set(where))[:5])}.",
                    code="wallet_invalid_request",
                    error=error,
                ) from None

        return route


router = APIRouter(tags=["wallet"])
issuer_router = APIRouter(tags=["wallet"])
# The token, nonce and credential endpoints: their refusals are OAuth's.
oauth_router = APIRouter(tags=["wallet"], route_class=OAuthRoute)

TerritoryCode = Annotated[str, NoNul, Path(min_length=1, max_length=40)]
# Public documents, read by wallets in browsers too.
PUBLIC_HEADERS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"}
# OAuth: token and credential responses are never cached (RFC 6749 5.1).
NO_STORE = {"Cache-Control": "no-store"}
MAX_FORM_VALUE = 4000
Endpoint = Callable[..., Any]


def _offer(
    session: SessionDep,
    settings: Settings,
    principal: Principal,
    passport: Passport,
    data: OfferRequest,
) -> OfferPublic:
    made = service.create_offer(
        session, settings, principal, passport, skill_codes=data.skills, with_name=data.include_name
    )
    return OfferPublic(
        id=made.offer.id or 0,
        offer_uri=made.offer_uri,
        qr_svg=service.offer_qr_svg(made.offer_uri),
        credential_offer=made.credential_offer,
        tx_code=made.tx_code,
        expires_at=made.offer.expires_at,
        skills=list(made.offer.skill_codes),
        with_name=made.offer.with_name,
    )


@router.post(
    "/passports/{passport_id}/wallet-offers",
    response_model=OfferPublic,
    status_code=status.HTTP_201_CREATED,
)
def offer_for_citizen(
    data: OfferRequest, access: HeldPassport, session: SessionDep, settings: SettingsDep
) -> OfferPublic:
    """Offer chosen skills to the citizen's wallet: a QR (the offer URI) and a PIN shown apart."""
    return _offer(session, settings, access.principal, access.passport, data)


@router.post("/citizen/wallet-offers", response_model=OfferPublic, status_code=201)
def citizen_offer(
    data: OfferRequest, access: CitizenPassport, session: SessionDep, settings: SettingsDep
) -> OfferPublic:
    """Add chosen skills of my passport to my wallet."""
    return _offer(session, settings, access.principal, access.passport, data)


@router.get("/verify/nonce", dependencies=[authorize(PUBLIC)], response_model=NonceResponse)
def verify_nonce(session: WriteSessionDep, settings: SettingsDep) -> JSONResponse:
    """A single-use nonce for a wallet's key-binding JWT, and the audience it must name."""
    nonce, expires = service.new_nonce(session, service.PRESENTATION)
    body = NonceResponse(nonce=nonce, audience=settings.public_url, expires_at=expires)
    return JSONResponse(body.model_dump(mode="json"), headers=NO_STORE)


# --- The issuer, at the root ------------------------------------------------------------------


@contextmanager
def _oauth_errors(error: str) -> Iterator[None]:
    """Any other refusal (rate limited, unknown territory, a skill withdrawn since the offer) in
    the shape OAuth clients read, with ``error`` set to ``error``."""
    try:
        yield
    except OAuthError:
        raise
    except AppError as exc:
        extra = {k: v for k, v in exc.extra.items() if k not in ("error", "error_description")}
        # A refusal of the request's content (422 elsewhere in the API) is OAuth's 400.
        status = 400 if exc.status == 422 else exc.status
        raise OAuthError(
            exc.detail, error=error, code=exc.code, status=status, headers=exc.headers, **extra
        ) from None


def _document(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers=PUBLIC_HEADERS)


def _well_known(name: str) -> Callable[[Endpoint], Endpoint]:
    """Serve a territory's issuer document ``name`` at both the places wallets look for it: the
    well-known segment inserted before the issuer's path (RFC 8414, OpenID4VCI 1.0), and after
    it."""

    def register(endpoint: Endpoint) -> Endpoint:
        for path in (
            f"/wallet/{{code}}/.well-known/{name}",
            f"/.well-known/{name}/wallet/{{code}}",
        ):
            issuer_router.get(path, dependencies=[authorize(PUBLIC)])(endpoint)
        return endpoint

    return register


@_well_known("openid-credential-issuer")
def credential_issuer_metadata(
    code: TerritoryCode, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """OpenID4VCI 1.0 credential issuer metadata of the territory."""
    territory = territories.get_by_code(session, code)
    return _document(metadata.credential_issuer(settings.public_url, territory))


@_well_known("oauth-authorization-server")
def authorization_server_metadata(
    code: TerritoryCode, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """RFC 8414 metadata: the issuer is its own authorization server (pre-authorized code)."""
    territory = territories.get_by_code(session, code)
    return _document(metadata.authorization_server(settings.public_url, territory))


@issuer_router.get("/.well-known/jwt-vc-issuer/wallet/{code}", dependencies=[authorize(PUBLIC)])
def jwt_vc_issuer_metadata(
    code: TerritoryCode, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """SD-JWT VC issuer metadata: the territory's published keys (the same as its JWKS)."""
    territory = territories.get_by_code(session, code)
    jwks = keys.published_keys(session, territory, utcnow())
    return _document(metadata.jwt_vc_issuer(settings.public_url, territory, jwks))


@issuer_router.get(service.VCT_PATH, dependencies=[authorize(PUBLIC)])
async def type_metadata(settings: SettingsDep) -> JSONResponse:
    """SD-JWT VC type metadata of the credential: display and claim labels, French and English."""
    return _document(metadata.type_metadata(settings.public_url))


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        raise OAuthError(
            "The token request is application/x-www-form-urlencoded.",
            code="wallet_invalid_request",
            error="invalid_request",
        )
    try:
        text = (await request.body()).decode("utf-8")
        fields = parse_qs(text, strict_parsing=False, max_num_fields=20, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(
            "The form cannot be read.", code="wallet_invalid_request", error="invalid_request"
        ) from None
    form: dict[str, str] = {}
    for name, values in fields.items():
        value = values[0]
        if len(values) > 1 or len(value) > MAX_FORM_VALUE or "\x00" in value:
            raise OAuthError(
                f"The form field {name[:40]!r} is repeated, too long or holds a NUL.",
                code="wallet_invalid_request",
                error="invalid_request",
            )
        form[name] = value
    return form


@oauth_router.post(
    "/wallet/{code}/token",
    dependencies=[authorize(PUBLIC)],
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            name: {
                                "type": "string",
                                "maxLength": MAX_FORM_VALUE,
                                # Checked by _form: no NUL; UTF-8 decoding refuses surrogates.
                                TEXT_POLICY_KEY: TEXT_POLICY,
                            }
                            for name in ("grant_type", "pre-authorized_code", "tx_code")
                        },
                    }
                }
            }
        }
    },
)
async def token(
    code: TerritoryCode,
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
) -> JSONResponse:
    """The token endpoint: the offer's pre-authorized code and PIN for an access token."""
    form = await _form(request)
    if form.get("grant_type") != service.PRE_AUTHORIZED_GRANT:
        raise OAuthError(
            f"The only grant type is {service.PRE_AUTHORIZED_GRANT}.",
            code="wallet_unsupported_grant",
            error="unsupported_grant_type",
        )
    pre_authorized = form.get("pre-authorized_code")
    if not pre_authorized:
        raise OAuthError(
            "pre-authorized_code is missing.",
            code="wallet_invalid_request",
            error="invalid_request",
        )
    address = client_address(request)

    def run() -> service.TokenIssued:
        offer_id = service.check_pin(
            engine, settings, code, pre_authorized, form.get("tx_code"), address
        )
        with transaction(engine) as session:
            return service.redeem(session, offer_id)

    with _oauth_errors("invalid_grant"):
        issued = await run_in_threadpool(run)
    return JSONResponse(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        },
        headers=NO_STORE,
    )


@oauth_router.post("/wallet/{code}/nonce", dependencies=[authorize(PUBLIC)])
def issuer_nonce(code: TerritoryCode, session: SessionDep) -> JSONResponse:
    """The nonce endpoint: a fresh ``c_nonce`` for the next key proof."""
    with _oauth_errors("invalid_request"):
        territories.get_by_code(session, code)
    nonce, _ = service.new_nonce(session, service.PROOF)
    return JSONResponse({"c_nonce": nonce}, headers=NO_STORE)


@oauth_router.post("/wallet/{code}/credential", dependencies=[authorize(PUBLIC)])
def credential(
    code: TerritoryCode,
    data: CredentialRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> JSONResponse:
    """The credential endpoint: the SD-JWT VC, bound to the key the proof shows."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "dpop") or not token.strip():
        raise OAuthError(
            "Send the access token as Authorization: Bearer.",
            code="wallet_invalid_token",
            error="invalid_token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if data.proofs is not None:
        proof = data.proofs.jwt[0]
    elif data.proof is not None and data.proof.proof_type == "jwt":
        proof = data.proof.jwt
    else:
        raise OAuthError(
            "A jwt key proof is required (proofs.jwt).",
            code="wallet_invalid_proof",
            error="invalid_proof",
        )
    with _oauth_errors("invalid_credential_request"):
        issued = service.issue_credential(
            session,
            settings,
            code,
            token.strip(),
            configuration_id=data.credential_configuration_id,
            proof_jwt=proof,
        )
    return JSONResponse({"credentials": [{"credential": issued}]}, headers=NO_STORE)
