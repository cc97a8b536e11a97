"""The observatory: territory figures with no personal data, under statistical secrecy."""
