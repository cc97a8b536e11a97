"""Federation: which issuers this instance trusts, and what it gives verifiers.

See docs/federation.md.
"""
