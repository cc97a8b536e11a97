"""Every table model, imported in one place so that Alembic and the tests see the whole schema."""

from app.accounts.models import (
    Account,
    ApiToken,
    Invitation,
    PasswordReset,
    StructureMembership,
    WebSession,
)
from app.accounts.oidc_models import OidcLogin
from app.audit.models import AuditEvent
from app.core.changes import ChangeCounter
from app.core.ratelimit import RateLimitBucket
from app.credentials.keys import SigningKey
from app.credentials.models import Credential, StatusListRow
from app.federation.models import (
    FederationMember,
    HeldTrustList,
    PublishedTrustList,
    StatusListCache,
    TrustedIssuer,
)
from app.federation.places import FederatedPlaces
from app.federation.stats import MemberStats
from app.framework.models import Framework, FrameworkArea, FrameworkLevel, Skill, SkillMapping
from app.observatory.models import StatsPublication, StatsRelease, VerificationTally
from app.passports.models import (
    AccessGrant,
    AccessLog,
    CitizenLink,
    CitizenSession,
    Passport,
    Validation,
)
from app.structures.models import Structure
from app.territory.models import Territory
from app.wallet.models import WalletNonce, WalletOffer

__all__ = [
    "AccessGrant",
    "AccessLog",
    "Account",
    "ApiToken",
    "AuditEvent",
    "ChangeCounter",
    "CitizenLink",
    "CitizenSession",
    "Credential",
    "FederatedPlaces",
    "FederationMember",
    "Framework",
    "FrameworkArea",
    "FrameworkLevel",
    "HeldTrustList",
    "Invitation",
    "MemberStats",
    "OidcLogin",
    "Passport",
    "PasswordReset",
    "PublishedTrustList",
    "RateLimitBucket",
    "SigningKey",
    "Skill",
    "SkillMapping",
    "StatsPublication",
    "StatsRelease",
    "StatusListCache",
    "StatusListRow",
    "Structure",
    "StructureMembership",
    "Territory",
    "TrustedIssuer",
    "Validation",
    "VerificationTally",
    "WalletNonce",
    "WalletOffer",
    "WebSession",
]
