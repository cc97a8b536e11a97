"""Signed QR credentials: the pure format (claims, JWS, QR text) and the token status list.

Nothing in this package touches HTTP or the database: issuance, key storage and routes build on
it. The public contract is written up in ``docs/credential-format.md``.
"""
