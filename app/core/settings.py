"""Settings from the environment, every name prefixed ``PASSEPORT_``.

Read once per process through :func:`get_settings`; tests build their own :class:`Settings` and hand
it to the app factory instead of patching the environment.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults: good enough to run the demo, refused anywhere else (see check_secrets).
DEFAULT_SECRET_KEY = "dev-secret-key-change-me"  # noqa: S105 (refused outside development)
DEFAULT_KEY_ENCRYPTION_KEY = "dev-key-encryption-key-change-me"
DEFAULT_MAX_BODY_BYTES = 2_000_000

# A tile URL template is written into the page's Content-Security-Policy (its origin) and read by
# the page: only the characters a URL template needs, nothing that could end a CSP directive.
_TILE_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?&=%{}]+")
# A plain http:// tile server is accepted on this machine only (development, the browser tests).
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ConfigurationError(Exception):
    """A setting makes it unsafe or impossible to start; the message is one line for operators."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PASSEPORT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///./var/passeport.db"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    key_encryption_key: SecretStr = SecretStr(DEFAULT_KEY_ENCRYPTION_KEY)

    log_level: str = "INFO"
    log_format: Annotated[str, Field(pattern="^(json|text)$")] = "json"

    # Hostile input costs bounded work: every request body is refused past this size.
    max_body_bytes: Annotated[int, Field(ge=1024)] = DEFAULT_MAX_BODY_BYTES
    # How long clients and proxies may keep the (rarely changing) framework tree.
    framework_cache_seconds: Annotated[int, Field(ge=0)] = 3600
    # How often a process rechecks that its in-memory framework tree is still the loaded one.
    framework_recheck_seconds: Annotated[float, Field(ge=0)] = 30.0

    # Database pool, for PostgreSQL; SQLite ignores it.
    db_pool_size: Annotated[int, Field(ge=1)] = 10
    db_max_overflow: Annotated[int, Field(ge=0)] = 10

    demo_territory_code: str = "demo"

    # Statistical secrecy: a published count below this is suppressed (docs/open-data.md).
    stats_threshold: Annotated[int, Field(ge=1, le=1000)] = 5
    # A fixed period's public figures are released (computed once, stored, never recomputed) this
    # many days after it ends: late records of the period land first (docs/open-data.md).
    stats_release_days: Annotated[int, Field(ge=0, le=366)] = 7

    # Accounts and sessions. Mediation happens on shared computers: sessions end after a short
    # idle time, and after a working day at most.
    session_idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    session_max_hours: Annotated[int, Field(ge=1, le=24 * 7)] = 12
    api_token_max_days: Annotated[int, Field(ge=1, le=3650)] = 365
    invitation_days: Annotated[int, Field(ge=1, le=90)] = 7
    password_reset_minutes: Annotated[int, Field(ge=5, le=7 * 24 * 60)] = 120
    # Password guessing: an account locks after this many failures in a row, for this long; one
    # client address is refused after ip_max_failures failures within the same window.
    login_max_failures: Annotated[int, Field(ge=1)] = 5
    login_lockout_minutes: Annotated[int, Field(ge=1)] = 15
    ip_max_failures: Annotated[int, Field(ge=1)] = 30
    # console: messages (invitation and reset links) are printed on the server's terminal, for
    # development; none: they are only shown to the admin who made them.
    mail_backend: Annotated[str, Field(pattern="^(console|none)$")] = "console"

    # Single sign-on (OpenID Connect), e.g. ProConnect; off while the discovery URL is empty.
    oidc_discovery_url: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_provider_name: str = "ProConnect"
    oidc_scopes: str = "openid email profile"
    # Accounts are linked by e-mail, so by default the provider must say it verified it
    # (email_verified). Turn off only for a federation that vouches for every address it sends.
    oidc_require_email_verified: bool = True

    # The audit journal (docs/deployment.md, "Journal retention"): security events, every row
    # naming an account or a passport, are kept this many days; refusals naming nobody (a
    # made-up cookie or token, an unknown e-mail or code), which anyone can provoke, only
    # audit_noise_retention_days. Applied hourly by the server and by `passeport audit prune`.
    audit_retention_days: Annotated[int, Field(ge=1, le=3650)] = 365
    audit_noise_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30

    # Passports nobody has read or written for this many years are erased by
    # `passeport retention run` (personal data gone, anonymous skills kept; docs/privacy.md).
    retention_years: Annotated[int, Field(ge=1, le=100)] = 3

    # The longest validity a credential may be issued with, in days. A rotated signing key stays
    # published this long after its rotation, so that everything it signed keeps verifying.
    credential_max_days: Annotated[int, Field(ge=1, le=3660)] = 366

    # The wallet (docs/wallet.md): how long a credential offer (its QR and PIN) can be redeemed,
    # and how long an SD-JWT VC issued to a wallet is valid (at most credential_max_days).
    wallet_offer_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 10
    wallet_credential_days: Annotated[int, Field(ge=1, le=3660)] = 365

    # Federation (docs/federation.md). How long a verifier may keep an issuer's status list: the
    # `ttl` of the lists this instance signs.
    status_ttl_seconds: Annotated[int, Field(ge=1, le=7 * 86400)] = 300
    # A remote issuer's status list past its ttl that cannot be refetched is still used up to
    # this age (seconds since it was fetched); 0: the verdict is status_unavailable.
    status_max_stale_seconds: Annotated[int, Field(ge=0)] = 0
    # Bound on every fetch from another instance (key sets, status lists, trust lists).
    federation_fetch_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0
    # Member side: the hub's base URL and the federation anchor's public JWK (JSON, or a path to
    # a file holding it); both empty: no trust list is imported.
    federation_hub_url: str = ""
    federation_anchor_public_key: str = ""
    # Hub side: the anchor's private JWK (JSON, or a path to a file), to sign trust lists.
    federation_anchor_key: SecretStr = SecretStr("")
    # Hub side: how long a published trust list counts as fresh at its members.
    federation_fresh_seconds: Annotated[int, Field(ge=1)] = 3 * 86400
    # How often the server's background refresher imports the trust list and refetches status
    # lists (seconds; 0: never). Unset: every hour, and off in the test environment.
    trust_refresh_seconds: Annotated[float | None, Field(ge=0)] = None

    # The directory's optional tile layer (docs/directory.md, "The map"): a tile server's URL
    # template, https://…/{z}/{x}/{y}.png, and the attribution its licence asks for (plain text).
    # Empty (the default): the map is the departments' outlines shipped with the app, and no
    # request leaves the server; set, the page's CSP allows images from that origin only.
    directory_tile_url: Annotated[str, Field(max_length=500)] = ""
    directory_tile_attribution: Annotated[str, Field(max_length=300)] = ""

    @field_validator("public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("directory_tile_url")
    @classmethod
    def _tile_url_template(cls, value: str) -> str:
        if not value:
            return value
        if not _TILE_URL_CHARACTERS.fullmatch(value):
            raise ValueError("has a character a tile URL template does not need")
        parts = urlsplit(value)
        loopback = parts.hostname in _LOOPBACK_HOSTS
        if not parts.hostname or parts.username or parts.password:
            raise ValueError("must name a tile server's host (and no user or password)")
        if "{" in parts.netloc:
            raise ValueError(
                "must name one host (no {s} subdomains): the CSP allows that origin only"
            )
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("must start with https:// (http:// only on 127.0.0.1 or localhost)")
        if any(f"{{{name}}}" not in parts.path for name in "zxy"):
            raise ValueError("must hold {z}, {x} and {y} in its path")
        return value

    @field_validator("directory_tile_attribution")
    @classmethod
    def _plain_attribution(cls, value: str) -> str:
        if any(ord(character) < 32 for character in value):
            raise ValueError("must be one line of plain text")
        return value.strip()

    @model_validator(mode="after")
    def _tiles_attributed(self) -> Self:
        # Every tile licence (OpenStreetMap's, IGN's) asks for its attribution beside the map.
        if self.directory_tile_url and not self.directory_tile_attribution:
            raise ValueError("PASSEPORT_DIRECTORY_TILE_ATTRIBUTION is required with a tile URL")
        return self

    @property
    def directory_tile_origin(self) -> str:
        """The tile server's origin (scheme://host[:port]), or "" when there is no tile layer."""
        if not self.directory_tile_url:
            return ""
        parts = urlsplit(self.directory_tile_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def is_development(self) -> bool:
        return self.env is Environment.DEVELOPMENT

    @property
    def cookie_secure(self) -> bool:
        # Production is always behind TLS; a plain-http development or test server needs the
        # cookie sent over http.
        return self.env is Environment.PRODUCTION or self.public_url.startswith("https://")

    @property
    def trust_refresh_interval(self) -> float:
        if self.trust_refresh_seconds is not None:
            return self.trust_refresh_seconds
        return 0.0 if self.env is Environment.TEST else 3600.0

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_discovery_url and self.oidc_client_id)

    def check_secrets(self) -> None:
        """Refuse to start outside development while a secret still has its published default."""
        if self.is_development:
            return
        defaults = {
            "PASSEPORT_SECRET_KEY": (self.secret_key, DEFAULT_SECRET_KEY),
            "PASSEPORT_KEY_ENCRYPTION_KEY": (self.key_encryption_key, DEFAULT_KEY_ENCRYPTION_KEY),
        }
        for name, (value, default) in defaults.items():
            secret = value.get_secret_value()
            if secret == default:
                raise ConfigurationError(
                    f"{name} is left at its development default; set a random value "
                    f"(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))') "
                    f"or set PASSEPORT_ENV=development"
                )
            if len(secret) < 32:
                raise ConfigurationError(f"{name} must be at least 32 characters long")


@lru_cache
def get_settings() -> Settings:
    return Settings()
