"""The citizen's wallet: OpenID4VCI 1.0 issuance of an SD-JWT VC, and verification of its
presentations (docs/wallet.md)."""
