"""Passeport numérique: digital-skills passports, validations and signed QR credentials."""

__version__ = "0.1.0"
