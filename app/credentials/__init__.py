"""Signed QR credentials: the pure format (claims, JWS, QR text) and the token status list
(``format``, ``statuslist``: no HTTP, no database); issuance, key storage, the verifier and the
routes build on them. The public contract is written up in ``docs/credential-format.md``.
"""

# How long a credential is valid when its issuer does not say (the API, the CLI, the demo): the
# one definition, here so that the command line reads it without importing the services.
DEFAULT_VALIDITY_DAYS = 365
