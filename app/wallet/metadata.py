"""The public documents of a territory's credential issuer: OpenID4VCI 1.0 credential issuer
metadata, RFC 8414 authorization server metadata, the SD-JWT VC issuer metadata (its keys), and
the type metadata the ``vct`` resolves to. Pure functions of the names (docs/wallet.md)."""

from __future__ import annotations

from typing import Any

from app.territory.models import Territory
from app.wallet import sdjwt
from app.wallet.service import CONFIGURATION_ID, PRE_AUTHORIZED_GRANT, issuer_id, vct

# Each claim of the credential, with its labels: the type metadata and the issuer metadata
# say the same.
CLAIMS: list[tuple[list[Any], str, str, str]] = [
    (["territoire"], "Territoire qui délivre", "Issuing territory", "never"),
    (["competences"], "Compétences numériques", "Digital skills", "never"),
    (["competences", None], "Compétence", "Skill", "always"),
    (["competences", None, "code"], "Code de la compétence", "Skill code", "never"),
    (["competences", None, "libelle"], "Compétence", "Skill", "never"),
    (["competences", None, "niveau"], "Niveau", "Level", "never"),
    (["competences", None, "date"], "Date de validation", "Date validated", "never"),
    (["competences", None, "lieu"], "Lieu de médiation", "Place of mediation", "never"),
    (["given_name"], "Prénom", "Given name", "always"),
    (["family_name"], "Nom", "Family name", "always"),
]

NAME = {"fr": "Passeport numérique : compétences numériques", "en": "Digital skills passport"}
DESCRIPTION = {
    "fr": "Compétences numériques observées et validées par un médiateur numérique.",
    "en": "Digital skills observed and validated by a digital mediator.",
}
COLOURS = {"background_color": "#000091", "text_color": "#FFFFFF"}


def credential_issuer(public_url: str, territory: Territory) -> dict[str, Any]:
    issuer = issuer_id(public_url, territory.code)
    display = [
        {"name": f"{territory.name} — Passeport numérique", "locale": "fr"},
        {"name": f"{territory.name} — Digital skills passport", "locale": "en"},
    ]
    return {
        "credential_issuer": issuer,
        "authorization_servers": [issuer],
        "credential_endpoint": f"{issuer}/credential",
        "nonce_endpoint": f"{issuer}/nonce",
        "display": display,
        "credential_configurations_supported": {
            CONFIGURATION_ID: {
                "format": sdjwt.TYP,
                "vct": vct(public_url),
                "scope": CONFIGURATION_ID,
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": [sdjwt.ALG],
                "proof_types_supported": {
                    "jwt": {"proof_signing_alg_values_supported": [sdjwt.ALG]}
                },
                "credential_metadata": {
                    "display": [
                        {
                            "name": NAME[lang],
                            "locale": lang,
                            "description": DESCRIPTION[lang],
                            **COLOURS,
                        }
                        for lang in ("fr", "en")
                    ],
                    "claims": [
                        {
                            "path": path,
                            "display": [
                                {"name": fr, "locale": "fr"},
                                {"name": en, "locale": "en"},
                            ],
                        }
                        for path, fr, en, _sd in CLAIMS
                    ],
                },
            }
        },
    }


def authorization_server(public_url: str, territory: Territory) -> dict[str, Any]:
    issuer = issuer_id(public_url, territory.code)
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "pre-authorized_grant_anonymous_access_supported": True,
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
    }


def jwt_vc_issuer(
    public_url: str, territory: Territory, jwks: list[dict[str, Any]]
) -> dict[str, Any]:
    """SD-JWT VC issuer metadata: the territory's own key set, the one its JWKS publishes."""
    return {"issuer": issuer_id(public_url, territory.code), "jwks": {"keys": jwks}}


def type_metadata(public_url: str) -> dict[str, Any]:
    """SD-JWT VC type metadata: what the ``vct`` resolves to."""
    return {
        "vct": vct(public_url),
        "name": NAME["fr"],
        "description": DESCRIPTION["fr"],
        "display": [
            {
                "locale": lang,
                "lang": lang,
                "name": NAME[lang],
                "description": DESCRIPTION[lang],
                "rendering": {"simple": COLOURS},
            }
            for lang in ("fr", "en")
        ],
        "claims": [
            {
                "path": path,
                "display": [
                    {"locale": "fr", "lang": "fr", "label": fr},
                    {"locale": "en", "lang": "en", "label": en},
                ],
                "sd": sd,
            }
            for path, fr, en, sd in CLAIMS
        ],
    }
