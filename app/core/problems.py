"""The one registry of error codes: each code once, with its HTTP status and what a person reads.

A service raises ``AppError(detail, code=…)`` (app/core/errors.py); the status comes from here, so a
code means one status wherever it is raised. The problem document the API returns carries the
message in the caller's language (``Accept-Language``; the web UI sends its own, French by
default): ``title`` is the sentence below, ``detail`` the same in French, or the service's own,
more specific, English sentence. Validation errors (422 ``validation_error``) become one plain
sentence per field, built from the field's label and pydantic's error type
(:func:`validation_message`). Every code here has its line in docs/api.md; tests/test_problems.py
scans app/ and fails on a code raised without an entry, or an entry without both languages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")


@dataclass(frozen=True)
class Problem:
    status: int
    fr: str
    en: str
    # The French detail, more precise, from the problem's extra members ({columns}, {max_days}…);
    # in English the service's own detail says as much.
    fr_detail: str | None = None

    def text(self, lang: Lang) -> str:
        return self.fr if lang == "fr" else self.en


P = Problem

PROBLEMS: dict[str, Problem] = {
    # --- generic, and Starlette's own -------------------------------------------------------------
    "bad_request": P(400, "Cette demande n'est pas valable.", "This request is not valid."),
    "unauthenticated": P(401, "Vous devez vous connecter.", "You need to sign in."),
    "forbidden": P(
        403, "Vous n'avez pas le droit de faire cela.", "You are not allowed to do this."
    ),
    "not_found": P(404, "Introuvable.", "Not found."),
    "method_not_allowed": P(
        405, "Cette action n'existe pas à cette adresse.", "This action does not exist here."
    ),
    "not_acceptable": P(
        406,
        "Le serveur ne peut pas répondre dans le format demandé.",
        "The server cannot answer in the format asked for.",
    ),
    "conflict": P(
        409,
        "Cette action entre en conflit avec l'état actuel.",
        "This conflicts with the current state.",
    ),
    "payload_too_large": P(413, "Envoi trop volumineux.", "What you sent is too large."),
    "unsupported_media_type": P(
        415,
        "Ce type de fichier n'est pas accepté ici.",
        "This kind of file is not accepted here.",
    ),
    "invalid_input": P(
        422, "Certaines informations ne sont pas valables.", "Some information is not valid."
    ),
    "validation_error": P(
        422, "Certaines informations ne sont pas valables.", "Some information is not valid."
    ),
    "too_many_requests": P(
        429,
        "Trop d'essais. Patientez un peu avant de réessayer.",
        "Too many attempts. Wait a little before trying again.",
        fr_detail="Trop d'essais. Réessayez dans {retry_after_minutes} min.",
    ),
    "database_unavailable": P(
        503,
        "Le service est momentanément indisponible. Réessayez dans quelques secondes.",
        "The service is unavailable for a moment. Try again in a few seconds.",
    ),
    "http_error": P(400, "La demande a échoué.", "The request failed."),
    "internal_error": P(
        500, "Erreur du serveur. Réessayez dans un instant.", "Server error. Try again in a moment."
    ),
    "not_ready": P(
        503,
        "Le service n'est pas prêt : base de données injoignable ou pas à jour.",
        "The service is not ready: database unreachable or not migrated.",
    ),
    # --- accounts, sign-in, permissions -----------------------------------------------------------
    "invalid_credentials": P(
        401,
        "Adresse électronique ou mot de passe incorrect.",
        "Wrong e-mail address or password.",
    ),
    "invalid_token": P(
        401,
        "Ce jeton d'accès est inconnu, expiré ou révoqué.",
        "This access token is unknown, expired or revoked.",
    ),
    "forbidden_role": P(
        403, "Votre rôle ne permet pas cette action.", "Your role does not allow this."
    ),
    "insufficient_scope": P(
        403,
        "Ce jeton d'accès ne donne pas droit à cette action.",
        "This access token does not allow this.",
    ),
    "session_required": P(403, "Connectez-vous depuis le navigateur.", "Sign in from the browser."),
    "csrf_failed": P(
        403,
        "Votre session n'est plus valide : rechargez la page.",
        "Your session is no longer valid: reload the page.",
    ),
    "not_territory_admin": P(
        403,
        "Seule la coordination du territoire peut faire cela.",
        "Only the territory's coordinators can do this.",
    ),
    "not_structure_member": P(
        403, "Vous ne travaillez pas dans cette structure.", "You do not work in this structure."
    ),
    "self_change": P(
        403,
        "Vous ne pouvez ni changer votre propre rôle ni désactiver votre compte.",
        "You cannot change your own role or disable yourself.",
    ),
    "citizen_only": P(
        403,
        "Cet espace est celui de la personne titulaire du passeport.",
        "This is the passport holder's own space.",
    ),
    "account_locked": P(
        429,
        "Ce compte est bloqué pour un moment après trop d'essais.",
        "This account is locked for a while after too many attempts.",
        fr_detail=(
            "Ce compte est bloqué après trop d'essais : réessayez dans {retry_after_minutes} min."
        ),
    ),
    "rate_limited": P(
        429,
        "Trop d'essais. Patientez un peu avant de réessayer.",
        "Too many attempts. Wait a little before trying again.",
        fr_detail="Trop d'essais. Réessayez dans {retry_after_minutes} min.",
    ),
    "invalid_code": P(
        404,
        "Ce code est faux, déjà utilisé ou expiré.",
        "This code is wrong, already used or expired.",
    ),
    "email_taken": P(
        409,
        "Un compte utilise déjà cette adresse électronique.",
        "An account already uses this e-mail address.",
    ),
    "invitation_pending": P(
        409,
        "Une invitation pour cette adresse est encore ouverte : retirez-la d'abord.",
        "An invitation for this address is still open; withdraw it first.",
    ),
    "invitation_accepted": P(
        409, "Cette invitation a déjà été acceptée.", "This invitation was already accepted."
    ),
    "invalid_scope": P(
        422,
        "Votre rôle ne permet pas de donner ce droit à un jeton.",
        "Your role cannot give this scope to a token.",
    ),
    "invalid_role": P(
        422,
        "Ce rôle ne se donne pas ici (administration : `passeport admin create`).",
        "This role is not given here (platform admins: `passeport admin create`).",
    ),
    "territory_required": P(
        422, "Ce rôle appartient à un territoire.", "This role belongs to a territory."
    ),
    "token_too_long": P(
        422,
        "Durée de validité du jeton trop longue.",
        "The token's lifetime is too long.",
        "Un jeton d'accès dure au plus {max_days} jours.",
    ),
    "unknown_account": P(404, "Ce compte est introuvable.", "This account cannot be found."),
    "unknown_token": P(404, "Ce jeton est introuvable.", "This token cannot be found."),
    "unknown_invitation": P(
        404, "Cette invitation est introuvable.", "This invitation cannot be found."
    ),
    "sso_disabled": P(
        404,
        "La connexion unique (SSO) n'est pas configurée sur ce serveur.",
        "Single sign-on is not configured on this server.",
    ),
    # Single sign-on's refusals (app/accounts/oidc.py, REFUSALS, which journals them).
    "oidc_state_invalid": P(
        400,
        "Cette connexion est inconnue, déjà utilisée, expirée ou commencée dans un autre "
        "navigateur. Recommencez.",
        "This sign-in is unknown, already used or expired, or was started in another browser. "
        "Start again.",
    ),
    "oidc_provider_error": P(
        401,
        "Le fournisseur d'identité ne vous a pas connecté·e.",
        "The identity provider did not sign you in.",
    ),
    "oidc_code_rejected": P(
        401,
        "Le fournisseur d'identité a refusé le code de connexion (expiré ou déjà utilisé). "
        "Recommencez.",
        "The identity provider refused the sign-in code (expired or already used). Start again.",
    ),
    "oidc_token_invalid": P(
        401,
        "La réponse du fournisseur d'identité n'a pas pu être vérifiée.",
        "The identity provider's answer could not be verified.",
    ),
    "oidc_nonce_mismatch": P(
        401,
        "La réponse du fournisseur d'identité n'appartient pas à cette connexion.",
        "The identity provider's answer does not belong to this sign-in.",
    ),
    "email_not_verified": P(
        403,
        "Le fournisseur d'identité ne garantit pas votre adresse électronique.",
        "The identity provider does not vouch for your e-mail address.",
    ),
    "not_preauthorised": P(
        403,
        "Aucun compte ni aucune invitation ne correspond à cette adresse électronique : demandez "
        "une invitation à la coordination de votre territoire.",
        "No account or invitation matches this e-mail address; ask your territory's "
        "coordinator for an invitation.",
    ),
    "account_disabled": P(403, "Ce compte est désactivé.", "This account is disabled."),
    "sso_role_refused": P(
        403,
        "L'administration de la plateforme se connecte avec son mot de passe, pas par la "
        "connexion unique.",
        "Platform admins sign in with their password, not through the SSO.",
    ),
    "oidc_unavailable": P(
        502,
        "Le fournisseur d'identité est injoignable ou répond mal : réessayez plus tard.",
        "The identity provider cannot be reached or misbehaves; try again later.",
    ),
    # --- territories and structures ---------------------------------------------------------------
    "unknown_territory": P(
        404, "Ce territoire est introuvable.", "This territory cannot be found."
    ),
    "territory_exists": P(
        409,
        "Un territoire a déjà ce code ou cette adresse d'émetteur.",
        "A territory already has this code or issuer URL.",
    ),
    "unknown_structure": P(
        404, "Cette structure est introuvable.", "This structure cannot be found."
    ),
    "structure_exists": P(
        409,
        "Une structure de ce territoire a déjà cet identifiant.",
        "A structure of this territory already has this id.",
    ),
    "import_encoding": P(
        422,
        "Le fichier n'est pas un texte UTF-8 : enregistrez-le de nouveau en UTF-8.",
        "The file is not UTF-8 text: save it again as UTF-8.",
        "Le fichier n'est pas un texte UTF-8 (ligne {line}) : enregistrez-le de nouveau en UTF-8.",
    ),
    "import_empty": P(422, "Le fichier est vide.", "The file is empty."),
    "import_too_many_rows": P(
        422,
        "Le fichier a trop de lignes : découpez-le.",
        "The file has too many rows: split it.",
        "Le fichier a plus de {max_rows} lignes : découpez-le.",
    ),
    "import_unreadable": P(
        422,
        "Le fichier ne peut pas être lu (JSON ou CSV mal formé).",
        "The file cannot be read (malformed JSON or CSV).",
    ),
    "import_not_structures": P(
        422,
        "Ce fichier ne contient pas une liste de structures.",
        "This file does not hold a list of structures.",
    ),
    "import_bad_header": P(
        422,
        "L'en-tête du fichier répète des colonnes.",
        "The file's header repeats columns.",
        "L'en-tête du fichier répète ces colonnes : {columns}.",
    ),
    "import_missing_columns": P(
        422,
        "Il manque des colonnes obligatoires dans l'en-tête du fichier.",
        "The file's header lacks required columns.",
        "Il manque ces colonnes dans l'en-tête du fichier : {columns}.",
    ),
    # --- passports and validations ----------------------------------------------------------------
    "unknown_passport": P(404, "Ce passeport est introuvable.", "This passport cannot be found."),
    "passport_merged": P(
        404,
        "Ce passeport a été fusionné avec un autre.",
        "This passport was merged into another one.",
        "Ce passeport a été fusionné avec le passeport {merged_into}.",
    ),
    "consent_required": P(
        422,
        "La personne doit d'abord donner son accord : lisez-lui le texte et cochez la case.",
        "The person must agree first: read them the text and tick the box.",
    ),
    "likely_duplicate": P(
        409,
        "Un passeport existe peut-être déjà pour cette personne.",
        "A passport may already exist for this person.",
    ),
    "number_exhausted": P(
        409,
        "Aucun numéro de passeport libre n'a été trouvé : réessayez.",
        "Could not allocate a passport number: try again.",
    ),
    "unknown_skill": P(404, "Compétence inconnue.", "Unknown skill."),
    "level_required": P(422, "Indiquez le niveau observé.", "Give the level observed."),
    "level_mismatch": P(
        422, "Ce niveau ne correspond pas à la compétence.", "This level does not match the skill."
    ),
    "unknown_validation": P(
        404,
        "Cette validation est introuvable dans ce passeport.",
        "This validation is not in this passport.",
    ),
    "unknown_grant": P(
        404, "Cet accès est introuvable dans ce passeport.", "This access is not in this passport."
    ),
    "already_withdrawn": P(
        409, "Cette validation est déjà retirée.", "This validation is already withdrawn."
    ),
    "not_withdrawable": P(
        403,
        "Une auto-évaluation appartient à la personne : elle seule peut la retirer.",
        "A self-assessment belongs to the citizen: only they can withdraw it.",
    ),
    "too_many": P(
        409,
        "Ce passeport a déjà trop d'auto-évaluations.",
        "This passport has too many self-assessments.",
    ),
    "idempotency_key_reused": P(
        409,
        "Cette clé d'idempotence a déjà servi pour une autre demande.",
        "This Idempotency-Key was used for another request.",
    ),
    "not_holder": P(
        403,
        "Seul le territoire qui détient ce passeport peut faire cela.",
        "Only the territory holding this passport can do this.",
    ),
    "grant_not_needed": P(
        422,
        "Les structures du territoire voient déjà ce passeport.",
        "The territory's own structures already see this passport.",
    ),
    "same_passport": P(
        422,
        "Un passeport ne peut pas être fusionné avec lui-même.",
        "A passport cannot be merged into itself.",
    ),
    "other_territory": P(
        422,
        "Seuls des passeports d'un même territoire peuvent être fusionnés.",
        "Only passports of one territory can be merged.",
    ),
    "confirmation_required": P(
        422,
        "L'effacement est définitif : confirmez d'abord.",
        "Erasure cannot be undone: confirm first.",
    ),
    "already_erased": P(409, "Ce passeport est déjà effacé.", "This passport is already erased."),
    "invalid_access_code": P(
        401,
        "Numéro de passeport ou code d'accès incorrect.",
        "Wrong passport number or access code.",
    ),
    "invalid_link": P(
        401,
        "Ce lien de connexion est inconnu, déjà utilisé ou expiré.",
        "This sign-in link is unknown, already used or expired.",
    ),
    # --- credentials and keys ---------------------------------------------------------------------
    "no_skills": P(422, "Choisissez au moins une compétence.", "Choose at least one skill."),
    "skill_not_validated": P(
        422,
        "Une des compétences choisies n'est pas validée dans ce passeport.",
        "One of the chosen skills is not validated in this passport.",
        "Ces compétences ne sont pas validées dans ce passeport : {skills}.",
    ),
    "validity_too_long": P(
        422,
        "Durée de validité trop longue.",
        "Validity too long.",
        "Une attestation vaut au plus {max_days} jours.",
    ),
    "credential_too_large": P(
        422,
        "Trop de compétences pour un seul QR code : choisissez-en moins.",
        "Too many skills for one QR code: choose fewer.",
    ),
    "credential_not_valid": P(
        422,
        "Cette attestation n'est pas valable : elle ne peut pas être importée.",
        "This credential is not valid: it cannot be imported.",
    ),
    "own_credential": P(
        422,
        "Cette attestation a été délivrée depuis ce même passeport.",
        "This credential was issued from this very passport.",
    ),
    "unknown_credential": P(
        404, "Cette attestation est introuvable.", "This credential cannot be found."
    ),
    "unknown_code": P(
        404,
        "Aucune attestation n'a ce code ici.",
        "No credential has this code here.",
    ),
    "already_revoked": P(
        409, "Cette attestation est déjà révoquée.", "This credential is already revoked."
    ),
    "status_list_full": P(
        409,
        "La liste de statuts est pleine : passez à une nouvelle liste.",
        "The status list is full: rotate to a new list.",
    ),
    "code_exhausted": P(
        409,
        "Aucun code de vérification libre n'a été trouvé : réessayez.",
        "Could not allocate a verification code: try again.",
    ),
    "unknown_key": P(
        404, "Cette clé de signature est introuvable.", "This signing key is unknown."
    ),
    "key_already_retired": P(
        409, "Cette clé de signature est déjà retirée.", "This signing key is already retired."
    ),
    "key_rotation_conflict": P(
        409,
        "Une autre rotation de clé est en cours : réessayez.",
        "Another key rotation is under way: try again.",
    ),
    "key_decryption_failed": P(
        500,
        "La clé de signature est indisponible (clé de chiffrement du serveur).",
        "The signing key is unavailable (the server's key encryption key).",
    ),
    # --- figures ----------------------------------------------------------------------------------
    "unknown_format": P(422, "Le format est json ou csv.", "The format is json or csv."),
    "invalid_period": P(
        422,
        "Cette période n'est pas valable.",
        "This period is not valid.",
    ),
    "period_not_public": P(
        422,
        "Seuls les mois, trimestres et années terminés sont publics.",
        "Only calendar months, quarters and years that are over are public.",
    ),
    "period_not_released": P(
        404,
        "Les chiffres de cette période ne sont pas encore publiés.",
        "The figures of this period are not released yet.",
    ),
    "unknown_table": P(404, "Ce tableau n'existe pas.", "No table has this name."),
    "stats_not_published": P(
        404,
        "Ce territoire ne publie pas ses chiffres.",
        "This territory does not publish its figures.",
    ),
    "no_signing_key": P(
        404,
        "Ce territoire n'a pas encore de clé de signature.",
        "This territory has no signing key yet.",
    ),
    # --- federation -------------------------------------------------------------------------------
    "invalid_issuer_url": P(
        422,
        "L'adresse de l'émetteur doit être une adresse http(s) complète.",
        "The issuer URL must be an absolute http(s) URL.",
    ),
    "issuer_unreachable": P(
        502,
        "Les clés de cet émetteur n'ont pas pu être lues.",
        "The issuer's key set could not be fetched.",
    ),
    "bad_key_set": P(
        422,
        "Les clés publiées par cet émetteur ne sont pas utilisables.",
        "The issuer's key set cannot be used.",
    ),
    "fingerprint_mismatch": P(
        422,
        "Les clés de cet émetteur ont changé depuis leur vérification : vérifiez-les de nouveau.",
        "The issuer's keys changed since they were checked: check them again.",
    ),
    "issuer_is_local": P(
        409,
        "Cet émetteur est un territoire de ce serveur, déjà reconnu.",
        "This issuer is a territory of this instance, trusted already.",
    ),
    "unknown_issuer": P(
        404,
        "Cet émetteur n'est pas dans la liste de confiance.",
        "This issuer is not trusted here.",
    ),
    "no_trust_list": P(
        404,
        "Ce serveur ne publie pas de liste de confiance.",
        "This instance publishes no trust list.",
    ),
    "trust_list_refused": P(
        422, "La liste de confiance est refusée.", "The trust list is refused."
    ),
    "trust_list_not_newer": P(
        422,
        "La liste de confiance reçue n'est pas plus récente que celle déjà tenue.",
        "The trust list received is not newer than the one held.",
    ),
    "hub_unreachable": P(
        422,
        "Le point central de la fédération ne répond pas.",
        "The federation hub does not answer.",
    ),
    "publish_refused": P(
        422,
        "La liste de confiance n'est pas publiée.",
        "The trust list is not published.",
    ),
    "already_member": P(
        409, "Ce territoire est déjà membre.", "This territory is already a member."
    ),
    "unknown_member": P(404, "Ce territoire n'est pas membre.", "This territory is not a member."),
    # --- the wallet (OpenID4VCI issuer; the body also carries the OAuth ``error``) -------------
    "wallet_invalid_request": P(
        400,
        "Cette demande du portefeuille n'est pas valable.",
        "This wallet request is not valid.",
    ),
    "wallet_unsupported_grant": P(
        400,
        "Ce portefeuille demande un mode d'accès que ce service ne connaît pas.",
        "This wallet asks for a grant type this service does not know.",
    ),
    "wallet_offer_unknown": P(
        400,
        "Cette offre n'existe pas. Demandez un nouveau QR code.",
        "This offer does not exist. Ask for a new QR code.",
    ),
    "wallet_wrong_pin": P(
        400,
        "Ce code à 6 chiffres n'est pas le bon. Vérifiez-le et réessayez.",
        "This 6-digit code is not the right one. Check it and try again.",
    ),
    "wallet_offer_used": P(
        400,
        "Cette offre a déjà servi. Demandez un nouveau QR code.",
        "This offer was already used. Ask for a new QR code.",
    ),
    "wallet_offer_expired": P(
        400,
        "Cette offre a expiré. Demandez un nouveau QR code.",
        "This offer has expired. Ask for a new QR code.",
    ),
    "wallet_invalid_token": P(
        401,
        "Le portefeuille n'a pas (ou plus) le droit de recevoir cette attestation.",
        "The wallet may not (or may no longer) receive this credential.",
    ),
    "wallet_invalid_proof": P(
        400,
        "Le portefeuille n'a pas prouvé qu'il détient sa clé.",
        "The wallet did not prove that it holds its key.",
    ),
    "wallet_invalid_nonce": P(
        400,
        "La preuve du portefeuille est périmée ou a déjà servi.",
        "The wallet's proof is stale or was already used.",
    ),
    "wallet_unknown_configuration": P(
        400,
        "Ce service ne délivre pas ce type d'attestation.",
        "This service does not issue this kind of credential.",
    ),
}


def status_of(code: str) -> int | None:
    problem = PROBLEMS.get(code)
    return problem.status if problem else None


def french_detail(code: str, extra: Mapping[str, Any]) -> str | None:
    """The code's precise French detail, filled from the problem's extra members; None when the
    code has none or a member it needs is missing."""
    problem = PROBLEMS.get(code)
    if problem is None or problem.fr_detail is None:
        return None
    values = {
        key: ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        for key, value in extra.items()
        if value is not None
    }
    try:
        return problem.fr_detail.format_map(values)
    except (KeyError, IndexError, ValueError):
        return None


def message(code: str, lang: Lang) -> str:
    problem = PROBLEMS.get(code)
    if problem is None:
        return PROBLEMS["http_error"].text(lang)
    return problem.text(lang)


# --- the caller's language --------------------------------------------------------------------

_LANG_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}|\*)(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?"
)


def negotiate(accept_language: str | None, default: Lang = "en") -> Lang:
    """The best of French and English for an ``Accept-Language`` header; ``default`` without one.

    The web UI sends its own language on every call; an API client that says nothing reads English.
    """
    if not accept_language:
        return default
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate(accept_language[:256].split(",")):
        match = _LANG_RANGE.match(part)
        if not match:
            continue
        tag = match.group(1).lower()
        try:
            weight = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if tag == "*":
            lang: Lang = default
        elif tag in LANGS:
            lang = "fr" if tag == "fr" else "en"
        else:
            continue
        if weight <= 0:
            continue
        candidate = (weight, -position, lang)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else default


# --- validation errors: one plain sentence per field -------------------------------------------

# What a person calls each field, with its article, as the sentence begins with it; always in the
# singular ("La liste des compétences"), so that one sentence fits every field.
FIELDS: dict[str, tuple[str, str]] = {
    "first_name": ("Le prénom", "The first name"),
    "last_name": ("Le nom", "The last name"),
    "birth_year": ("L'année de naissance", "The year of birth"),
    "email": ("L'adresse électronique", "The e-mail address"),
    "contact_email": ("L'adresse électronique de contact", "The contact e-mail address"),
    "phone": ("Le numéro de téléphone", "The phone number"),
    "password": ("Le mot de passe", "The password"),
    "display_name": ("Le nom affiché", "The display name"),
    "name": ("Le nom", "The name"),
    "number": ("Le numéro de passeport", "The passport number"),
    "access_code": ("Le code d'accès", "The access code"),
    "code": ("Le code", "The code"),
    "observed_on": ("La date d'observation", "The date observed"),
    "level": ("Le niveau", "The level"),
    "skill_code": ("La compétence", "The skill"),
    "skills": ("La liste des compétences", "The list of skills"),
    "method": ("La méthode", "The method"),
    "evidence": ("La preuve", "The evidence"),
    "structure_id": ("La structure", "The structure"),
    "structure_ids": ("La liste des structures", "The list of structures"),
    "consent": ("L'accord de la personne", "The person's consent"),
    "consent_version": ("La version du texte d'accord", "The consent text's version"),
    "confirm": ("La confirmation", "The confirmation"),
    "confirm_not_duplicate": ("La confirmation", "The confirmation"),
    "reason": ("Le motif", "The reason"),
    "role": ("Le rôle", "The role"),
    "scopes": ("La liste des droits", "The list of scopes"),
    "is_active": ("L'état du compte", "The account's state"),
    "expires_in_days": ("La durée de validité", "The lifetime"),
    "validity_days": ("La durée de validité", "The validity"),
    "include_name": ("Le choix d'imprimer le nom", "The choice to print the name"),
    "qr_text": ("Le texte du QR code", "The QR code's text"),
    "image": ("L'image", "The image"),
    "q": ("La recherche", "The search"),
    "limit": ("Le nombre de lignes", "The number of rows"),
    "offset": ("Le décalage", "The offset"),
    "since": ("La date de début", "The start date"),
    "start": ("Le début de la période", "The start of the period"),
    "end": ("La fin de la période", "The end of the period"),
    "period": ("La période", "The period"),
    "format": ("Le format", "The format"),
    "size": ("La taille", "The size"),
    "public": ("Le choix de publier", "The choice to publish"),
    "issuer_url": ("L'adresse de l'émetteur", "The issuer URL"),
    "iss": ("L'émetteur", "The issuer"),
    "fingerprints": ("La liste des empreintes", "The list of fingerprints"),
    "external_id": ("L'identifiant", "The id"),
    "pivot": ("Le SIRET", "The SIRET"),
    "nom": ("Le nom de la structure", "The structure's name"),
    "adresse": ("L'adresse", "The address"),
    "complement_adresse": ("Le complément d'adresse", "The address complement"),
    "commune": ("La commune", "The town"),
    "code_postal": ("Le code postal", "The postcode"),
    "code_insee": ("Le code INSEE", "The INSEE code"),
    "commune_insee": ("Le code INSEE", "The INSEE code"),
    "latitude": ("La latitude", "The latitude"),
    "longitude": ("La longitude", "The longitude"),
    "telephone": ("Le numéro de téléphone", "The phone number"),
    "courriels": ("La liste des adresses électroniques", "The list of e-mail addresses"),
    "site_web": ("Le site web", "The website"),
    "horaires": ("Le champ des horaires", "The opening hours field"),
    "typologie": ("La typologie", "The type"),
    "services": ("La liste des services", "The list of services"),
    "source": ("La source", "The source"),
    "date_maj": ("La date de mise à jour", "The update date"),
    "token": ("Le jeton", "The token"),
    "Idempotency-Key": ("La clé d'idempotence", "The Idempotency-Key"),
    "body": ("Le contenu envoyé", "What was sent"),
}

# Sentences by pydantic error type (and the custom types of app/core/validation.py), completed
# from the error's context: {label} and, say, {max_length}.
_SENTENCES: dict[str, tuple[str, str]] = {
    "missing": ("{label} est obligatoire.", "{label} is required."),
    "string_too_long": (
        "{label} doit faire au plus {max_length} caractères.",
        "{label} must be at most {max_length} characters long.",
    ),
    "string_too_short": (
        "{label} doit faire au moins {min_length} caractères.",
        "{label} must be at least {min_length} characters long.",
    ),
    "string_empty": ("{label} ne peut pas être vide.", "{label} cannot be empty."),
    "too_long": (
        "{label} compte trop d'éléments (au plus {max_length}).",
        "{label} has too many items (at most {max_length}).",
    ),
    "too_short": (
        "{label} compte trop peu d'éléments (au moins {min_length}).",
        "{label} has too few items (at least {min_length}).",
    ),
    "greater_than_equal": ("{label} doit valoir au moins {ge}.", "{label} must be at least {ge}."),
    "greater_than": ("{label} doit valoir plus de {gt}.", "{label} must be more than {gt}."),
    "less_than_equal": ("{label} doit valoir au plus {le}.", "{label} must be at most {le}."),
    "less_than": ("{label} doit valoir moins de {lt}.", "{label} must be less than {lt}."),
    "int_parsing": ("{label} doit être un nombre entier.", "{label} must be a whole number."),
    "int_type": ("{label} doit être un nombre entier.", "{label} must be a whole number."),
    "int_from_float": ("{label} doit être un nombre entier.", "{label} must be a whole number."),
    "float_parsing": ("{label} doit être un nombre.", "{label} must be a number."),
    "float_type": ("{label} doit être un nombre.", "{label} must be a number."),
    "finite_number": ("{label} doit être un nombre.", "{label} must be a number."),
    "bool_parsing": ("{label} doit valoir oui ou non.", "{label} must be yes or no."),
    "bool_type": ("{label} doit valoir oui ou non.", "{label} must be yes or no."),
    "string_type": ("{label} doit être un texte.", "{label} must be text."),
    "string_pattern_mismatch": (
        "{label} n'a pas la forme attendue.",
        "{label} is not in the expected form.",
    ),
    "date_parsing": (
        "{label} doit être une date, par exemple 2026-12-31.",
        "{label} must be a date, for example 2026-12-31.",
    ),
    "date_from_datetime_parsing": (
        "{label} doit être une date, par exemple 2026-12-31.",
        "{label} must be a date, for example 2026-12-31.",
    ),
    "date_type": (
        "{label} doit être une date, par exemple 2026-12-31.",
        "{label} must be a date, for example 2026-12-31.",
    ),
    "datetime_parsing": (
        "{label} doit être une date et une heure.",
        "{label} must be a date and time.",
    ),
    "datetime_from_date_parsing": (
        "{label} doit être une date et une heure.",
        "{label} must be a date and time.",
    ),
    "datetime_type": (
        "{label} doit être une date et une heure.",
        "{label} must be a date and time.",
    ),
    "date_too_early": (
        "{label} ne peut pas être avant le {earliest}.",
        "{label} cannot be before {earliest}.",
    ),
    "date_too_late": (
        "{label} ne peut pas être après le {latest}.",
        "{label} cannot be after {latest}.",
    ),
    "literal_error": (
        "{label} doit valoir : {expected}.",
        "{label} must be one of: {expected}.",
    ),
    "enum": ("{label} doit valoir : {expected}.", "{label} must be one of: {expected}."),
    "list_type": ("{label} doit être une liste.", "{label} must be a list."),
    "dict_type": ("{label} doit être un objet JSON.", "{label} must be a JSON object."),
    "model_type": ("{label} doit être un objet JSON.", "{label} must be a JSON object."),
    "model_attributes_type": ("{label} doit être un objet JSON.", "{label} must be a JSON object."),
    "json_invalid": (
        "Le contenu envoyé n'est pas du JSON valable.",
        "What was sent is not valid JSON.",
    ),
    "json_type": ("Le contenu envoyé doit être du JSON.", "What was sent must be JSON."),
    "extra_forbidden": ("{label} n'est pas un champ attendu.", "{label} is not an expected field."),
    "url_parsing": ("{label} doit être une adresse web.", "{label} must be a web address."),
    "url_scheme": ("{label} doit être une adresse http(s).", "{label} must be an http(s) address."),
    "uuid_parsing": ("{label} n'a pas la forme attendue.", "{label} is not in the expected form."),
    "string_nul_character": (
        "{label} ne peut pas contenir le caractère nul.",
        "{label} cannot hold the NUL character.",
    ),
    "string_lone_surrogate": (
        "{label} contient un caractère qui n'existe pas.",
        "{label} holds a character that does not exist.",
    ),
    "email": (
        "{label} n'est pas une adresse électronique valable (nom@exemple.fr).",
        "{label} is not a valid e-mail address (name@example.org).",
    ),
    "value_error": ("{label} n'est pas valable.", "{label} is not valid."),
    # The structures' own checks (app/structures/schemas.py), whose English reason is precise
    # already: {msg} is that reason ("must be 5 digits, not '7300' (…)").
    "text_type": ("{label} doit être un texte.", "{label} {msg}."),
    "control_characters": (
        "{label} contient des caractères de contrôle.",
        "{label} {msg}.",
    ),
    "invalid_code_postal": ("{label} doit faire 5 chiffres.", "{label} {msg}."),
    "invalid_code_insee": (
        "{label} doit faire 5 chiffres (ou 2A ou 2B et 3 chiffres).",
        "{label} {msg}.",
    ),
    "invalid_pivot": (
        "{label} doit être un SIRET (14 chiffres) ou un numéro RNA (W et 9 chiffres).",
        "{label} {msg}.",
    ),
    "invalid_telephone": (
        "{label} doit être un numéro français (01 23 45 67 89) ou international (+687 …).",
        "{label} {msg}.",
    ),
    "invalid_url": ("{label} doit être une adresse http:// ou https://.", "{label} {msg}."),
    "invalid_email": (
        "{label} contient une adresse électronique qui n'est pas valable.",
        "{label} {msg}.",
    ),
    "invalid_date": (
        "{label} doit être une date, par exemple 2026-12-31.",
        "{label} {msg}.",
    ),
    "date_in_future": ("{label} ne peut pas être dans le futur.", "{label} {msg}."),
    "invalid_number": ("{label} doit être un nombre.", "{label} {msg}."),
    "out_of_range": ("{label} doit être entre -{bound} et {bound}.", "{label} {msg}."),
    "too_many_items": ("{label} compte plus de {limit} éléments.", "{label} {msg}."),
    "invalid_item": (
        "L'élément {index} de {label_lower} contient « | » ou des caractères de contrôle.",
        "{label} {msg}.",
    ),
    "coordinates_pair": (
        "La latitude et la longitude vont ensemble : indiquez les deux.",
        "The latitude and the longitude go together: give both.",
    ),
}
_FALLBACK = ("{label} n'est pas valable.", "{label} is not valid.")
_EMAIL_FIELDS = {"email", "contact_email", "courriels"}
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def field_name(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """The name of the field at a location: its last named part (body.first_name → first_name)."""
    names = [str(part) for part in loc if isinstance(part, str)]
    while names and names[-1] in _LOCATIONS and len(names) > 1:
        names.pop()
    meaningful = [n for n in names if n not in _LOCATIONS]
    return meaningful[-1] if meaningful else (names[-1] if names else None)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def field_label(name: str | None, lang: Lang) -> str:
    if name is None or name == "body":
        return FIELDS["body"][0 if lang == "fr" else 1]
    known = FIELDS.get(name)
    if known:
        return known[0 if lang == "fr" else 1]
    return f"Le champ « {name} »" if lang == "fr" else f"The field “{name}”"


def _context_value(value: Any, lang: Lang) -> str:
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        # A window's bound travels as ISO text in pydantic's context; a French reader gets
        # day/month/year like every other date on the page.
        value = date.fromisoformat(value)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y") if lang == "fr" else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if lang == "fr":
        text = text.replace(" or ", " ou ")
    return text


def validation_message(error: Mapping[str, Any], lang: Lang) -> str:
    """One plain sentence for one pydantic error, in ``lang``: never the input, never English in
    French. ``error`` is an item of ``ValidationError.errors()`` (``loc``, ``type``, ``ctx``)."""
    kind = str(error.get("type", ""))
    name = field_name(tuple(error.get("loc", ())))
    if kind == "value_error" and name in _EMAIL_FIELDS:
        kind = "email"
    context = error.get("ctx") or {}
    if kind == "string_too_short" and context.get("min_length") == 1:
        kind = "string_empty"
    if kind == "too_long" and "length" in context:  # the structures' own "too long", for text
        kind = "string_too_long"
    fr, en = _SENTENCES.get(kind, _FALLBACK)
    template = fr if lang == "fr" else en
    values = {k: _context_value(v, lang) for k, v in context.items()}
    values["label"] = field_label(name, lang)
    values["label_lower"] = values["label"][:1].lower() + values["label"][1:]
    values["msg"] = str(error.get("msg", "")).rstrip(".")
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError):
        return _FALLBACK[0 if lang == "fr" else 1].format(label=values["label"])
