"""The interface's texts: both catalogues have the same keys, and every key used exists.

No browser needed; it lives here with the rest of the interface's tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
LANGS = ("fr", "en")
# t("section.key"...) in scripts (a literal first argument; keys built at run time, like
# `common.errors.${code}`, fall back to the server's text and are not checked here), and
# data-i18n="key" / data-i18n-attr="attr:key;attr:key" in pages.
T_CALL = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")
DATA_I18N = re.compile(r"""data-i18n=["']([a-z0-9_.]+)["']""")
DATA_I18N_ATTR = re.compile(r"""data-i18n-attr=["']([^"']+)["']""")


def _flatten(node: object, prefix: str = "") -> dict[str, str]:
    assert isinstance(node, dict), f"{prefix or 'root'} must be an object"
    flat: dict[str, str] = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flatten(value, path))
        else:
            assert isinstance(value, str), f"{path} must be a string"
            flat[path] = value
    return flat


def _catalogue(lang: str) -> dict[str, str]:
    return _flatten(json.loads((FRONTEND / "i18n" / f"{lang}.json").read_text(encoding="utf-8")))


def _sources() -> list[Path]:
    static = FRONTEND / "static"
    pages = [*FRONTEND.glob("*.html"), *FRONTEND.glob("parts/*.html")]
    return sorted([*pages, *static.glob("*.js"), *static.glob("js/*.js")])


def _used_keys() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        keys = set(T_CALL.findall(text)) | set(DATA_I18N.findall(text))
        for spec in DATA_I18N_ATTR.findall(text):
            keys |= {pair.split(":", 1)[1].strip() for pair in spec.split(";") if ":" in pair}
        for key in keys:
            used.setdefault(key, set()).add(path.name)
    return used


def test_both_catalogues_have_the_same_keys() -> None:
    fr, en = _catalogue("fr"), _catalogue("en")
    assert sorted(set(fr) - set(en)) == [], "keys missing in en.json"
    assert sorted(set(en) - set(fr)) == [], "keys missing in fr.json"
    assert all(value.strip() for value in [*fr.values(), *en.values()]), "an empty text"


def test_placeholders_match_between_languages() -> None:
    fr, en = _catalogue("fr"), _catalogue("en")
    placeholder = re.compile(r"\{(\w+)\}")
    for key in fr.keys() & en.keys():
        assert set(placeholder.findall(fr[key])) == set(placeholder.findall(en[key])), key


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_used_exists(lang: str) -> None:
    catalogue = _catalogue(lang)
    used = _used_keys()
    assert used, "no key found: the patterns above no longer match the sources"
    missing = {key: sorted(files) for key, files in used.items() if key not in catalogue}
    assert missing == {}


def test_every_icon_used_is_defined() -> None:
    # Pages load the small static/icons.css, not the design system's 356 KB icon sheet.
    defined = (FRONTEND / "static" / "icons.css").read_text(encoding="utf-8")
    design_system = (FRONTEND / "node_modules/@gouvfr/dsfr/dist/dsfr.min.css").read_text(
        encoding="utf-8"
    )
    used: set[str] = set()
    for path in _sources():
        used |= set(re.findall(r"fr-icon-[a-z0-9-]+", path.read_text(encoding="utf-8")))
    assert used, "no icon found: the pattern no longer matches the sources"
    missing = sorted(
        name
        for name in used
        if f".{name}:before" not in defined and f".{name}:before" not in design_system
    )
    assert missing == [], "add them to frontend/static/icons.css"
    for match in re.findall(r"url\(([^)]+)\)", defined):
        assert (
            FRONTEND / "node_modules/@gouvfr/dsfr/dist" / match.removeprefix("/static/dsfr/")
        ).is_file(), match


# Every script must run on older browsers still common on second-hand phones and shared
# computers (Safari 12 on iOS 12, Chrome 70): ES modules, async functions and Array.flat are
# fine; optional chaining, nullish operators and top-level await are not.
OLD_BROWSER_SCRIPTS = sorted(
    str(path.relative_to(FRONTEND / "static")) for path in (FRONTEND / "static").rglob("*.js")
)
TOO_NEW = re.compile(r"\?\.(?![0-9])|\?\?|^await\b", re.MULTILINE)


@pytest.mark.parametrize("name", OLD_BROWSER_SCRIPTS)
def test_scripts_avoid_syntax_older_browsers_lack(name: str) -> None:
    text = (FRONTEND / "static" / name).read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    assert TOO_NEW.findall(code) == []
