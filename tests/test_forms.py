"""The pages' forms say what the API accepts: ``maxlength``, ``required``, ``min``/``max``.

A form that lets someone type 300 characters the API refuses, or submit without a field the API
requires, turns into an error after the fact. Each form that sends something declares the API
operation it feeds (``data-api="POST /api/v1/passports"``); each of its named fields is compared
with that operation's OpenAPI schema (request body, or query parameters for a GET):

- the schema's ``maxLength`` is the field's ``maxlength``;
- a property the schema requires has ``required``, and only those do;
- a number's ``minimum``/``maximum`` are the field's ``min``/``max``.

Every form with a field one types in must declare its operation, and every name must be a
property of it: a renamed API field fails here rather than in a citizen's hands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from fastapi import FastAPI

from app.web import FRONTEND_DIR

TYPED = {"text", "email", "tel", "password", "search", "number", "date", "url", ""}
UNCHECKED = {"radio", "checkbox", "hidden", "file", "submit", "button"}


@dataclass
class Form:
    page: str
    id: str
    api: str | None
    fields: list[dict[str, str | None]] = field(default_factory=list)


class _Forms(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self.current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.current = Form(self.page, found.get("id") or "?", found.get("data-api"))
            self.forms.append(self.current)
        elif tag in ("input", "select", "textarea") and self.current is not None:
            kind = (found.get("type") or "text") if tag == "input" else tag
            if kind not in UNCHECKED:
                self.current.fields.append({"tag": tag, "kind": kind, **found})

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None


def page_forms() -> list[Form]:
    forms = []
    for page in sorted(FRONTEND_DIR.glob("*.html")):
        parser = _Forms(page.name)
        parser.feed(page.read_text(encoding="utf-8"))
        forms.extend(parser.forms)
    return forms


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        resolved: dict[str, Any] = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return resolved
    return schema


def _plain(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema without its null branch."""
    schema = _resolve(spec, schema)
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    return _resolve(spec, branches[0]) if len(branches) == 1 else schema


def operation_fields(spec: dict[str, Any], api: str) -> tuple[dict[str, Any], set[str]]:
    """The operation's fields (name -> schema) and the names it requires."""
    method, path = api.split(" ", 1)
    operation = spec["paths"][path][method.lower()]
    if method == "GET":
        params = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        return (
            {p["name"]: _plain(spec, p["schema"]) for p in params},
            {p["name"] for p in params if p.get("required")},
        )
    body = _resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
    return (
        {name: _plain(spec, s) for name, s in body["properties"].items()},
        set(body.get("required", [])),
    )


def _number(value: str | None) -> float | None:
    return None if value is None else float(value)


def problems_of(forms: list[Form], spec: dict[str, Any]) -> tuple[list[str], int]:
    """What is out of step with the API, and how many fields were compared."""
    problems: list[str] = []
    checked = 0
    for form in forms:
        where = f"{form.page} #{form.id}"
        typed = [f for f in form.fields if f["kind"] in TYPED or f["tag"] == "textarea"]
        if form.api is None:
            if typed:
                problems.append(f"{where}: fields to type in, but no data-api")
            continue
        properties, required = operation_fields(spec, form.api)
        for found in form.fields:
            name = found.get("name")
            if not name:
                continue
            label = f"{where} [{name}]"
            if name not in properties:
                problems.append(f"{label}: not a field of {form.api}")
                continue
            schema = properties[name]
            checked += 1
            if "maxLength" in schema and _number(found.get("maxlength")) != schema["maxLength"]:
                problems.append(
                    f"{label}: maxlength={found.get('maxlength')}, API {schema['maxLength']}"
                )
            if (name in required) != ("required" in found):
                problems.append(f"{label}: required={'required' in found}, API {name in required}")
            if found["kind"] == "number":
                for attr, key in (("min", "minimum"), ("max", "maximum")):
                    if _number(found.get(attr)) != schema.get(key):
                        problems.append(f"{label}: {attr}={found.get(attr)}, API {schema.get(key)}")
    return problems, checked


def test_forms_carry_the_apis_limits(app: FastAPI) -> None:
    problems, checked = problems_of(page_forms(), app.openapi())
    assert not problems, "\n".join(problems)
    assert checked >= 25, checked  # the walk found the forms' fields


def test_a_field_out_of_step_with_the_api_is_caught(app: FastAPI) -> None:
    parser = _Forms("made-up.html")
    parser.feed(
        '<form id="f" data-api="POST /api/v1/passports">'
        '<input name="first_name" maxlength="500" required>'
        '<input name="last_name" maxlength="100">'
        '<input name="email" maxlength="320" required>'
        '<input name="birth_year" type="number" min="1900">'
        '<input name="nickname">'
        "</form>"
        '<form id="g"><input name="q"></form>'
    )
    problems, _ = problems_of(parser.forms, app.openapi())
    assert problems == [
        "made-up.html #f [first_name]: maxlength=500, API 100",
        "made-up.html #f [last_name]: required=False, API True",
        "made-up.html #f [email]: required=True, API False",
        "made-up.html #f [birth_year]: max=None, API 2100.0",
        "made-up.html #f [nickname]: not a field of POST /api/v1/passports",
        "made-up.html #g: fields to type in, but no data-api",
    ]
