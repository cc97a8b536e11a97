"""Each service worker keeps every module its pages import (docs/frontend.md, "Offline
mediation"): a page whose script imports one module the worker did not keep starts blank
offline. The pages, the workers and the modules are read as the server serves them, and the ES
`import` graph is followed from each page's module scripts."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app import web

WORKERS = ["/mediation-sw.js", "/verify-sw.js"]

_REQUIRED = re.compile(r"const REQUIRED = \[(.*?)\];", re.S)
_STRING = re.compile(r'"([^"]+)"')
_IMPORT_SCRIPTS = re.compile(r'^importScripts\("([^"]+)"\);', re.M)
_MODULE_SCRIPT = re.compile(r'<script type="module" src="([^"]+)"')
# `import {a, b} from "x"`, `import * as x from "x"`, `export {a} from "x"`, `import "x"`,
# and `import("x")`; comments (JSDoc's `import("x").Type`) are removed first.
_STATIC = re.compile(r'^\s*(?:import|export)\b[^;"]*?\bfrom\s*"([^"]+)"', re.M | re.S)
_BARE = re.compile(r'^\s*import\s*"([^"]+)"', re.M)
_DYNAMIC = re.compile(r'\bimport\(\s*"([^"]+)"\s*\)')
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.M)


def imports(source: str) -> set[str]:
    """The modules one ES module imports, statically or dynamically."""
    code = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", source))
    return {*_STATIC.findall(code), *_BARE.findall(code), *_DYNAMIC.findall(code)}


def required(client: TestClient, worker: str) -> list[str]:
    response = client.get(worker)
    assert response.status_code == 200
    found = _REQUIRED.search(response.text)
    assert found, f"{worker} has no REQUIRED list"
    return _STRING.findall(found.group(1))


def module_graph(client: TestClient, page: str) -> dict[str, str]:
    """Every module a page loads, each with the module (or the page) that imports it."""
    response = client.get(page)
    assert response.status_code == 200
    seen = dict.fromkeys(_MODULE_SCRIPT.findall(response.text), page)
    todo = list(seen)
    while todo:
        module = todo.pop()
        answer = client.get(module)
        assert answer.status_code == 200, f"{module} (imported by {seen[module]}) is not served"
        for imported in imports(answer.text):
            assert imported.startswith("/"), f"{module} imports {imported!r}: a relative path"
            if imported not in seen:
                seen[imported] = module
                todo.append(imported)
    return seen


def test_the_import_reader_sees_every_form() -> None:
    source = """
import { a,
  b } from "/one.js";
import * as two from "/two.js";
export { c } from "/three.js";
import "/four.js";
/** @typedef {import("/not-a-module.js").Item} Item */
// import { x } from "/commented.js";
const later = await import("/five.js");
"""
    assert imports(source) == {"/one.js", "/two.js", "/three.js", "/four.js", "/five.js"}


@pytest.mark.parametrize("worker", WORKERS)
def test_a_service_worker_keeps_every_module_its_pages_import(
    client: TestClient, worker: str
) -> None:
    kept = required(client, worker)
    pages = [url for url in kept if url in web.PAGES]
    assert pages, f"{worker} keeps no page"
    for page in pages:
        for module, importer in module_graph(client, page).items():
            missing = f"{page}: {importer} imports {module}, not in {worker}'s REQUIRED"
            assert module in kept, missing


@pytest.mark.parametrize("worker", WORKERS)
def test_a_service_worker_loads_the_shared_rules(client: TestClient, worker: str) -> None:
    """A script a worker imports that is not served, or not as JavaScript, fails its installation:
    the page then never starts offline."""
    source = client.get(worker).text
    assert _IMPORT_SCRIPTS.findall(source) == ["/static/js/offline-sw.js"]
    assert "self.keepOffline(" in source
    shared = client.get("/static/js/offline-sw.js")
    assert shared.status_code == 200
    assert shared.headers["content-type"].startswith("text/javascript")
    assert "self.keepOffline = " in shared.text
