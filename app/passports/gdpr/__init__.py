"""The citizen's rights over their data: a copy of everything held, erasure, and retention.

What erasure keeps is anonymous by construction: the passport row stays (so that the skills
validated in it still count in a territory's figures) but loses every personal field, its number
and its pseudonymous holder id, so that neither an old card nor an old credential leads back to
it. docs/privacy.md explains each choice.

One module a job: ``schemas`` (the export's JSON), ``export`` (gathering it), ``pdf`` (the readable
copy), ``erasure``, ``retention``. Callers use this package's names.
"""

from app.passports.gdpr.erasure import (
    PERSONAL_FIELDS,
    Erasure,
    ErasureReason,
    erase,
    tombstone_number,
)
from app.passports.gdpr.export import export
from app.passports.gdpr.pdf import action_label, render_export_pdf
from app.passports.gdpr.retention import purge_inactive, retention_cutoff
from app.passports.gdpr.schemas import EXPORT_FORMAT, PassportExport

__all__ = [
    "EXPORT_FORMAT",
    "PERSONAL_FIELDS",
    "Erasure",
    "ErasureReason",
    "PassportExport",
    "action_label",
    "erase",
    "export",
    "purge_inactive",
    "render_export_pdf",
    "retention_cutoff",
    "tombstone_number",
]
