"""The pages as served: each file holds its own lines, the server puts in the head they share."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import web

SHARED = [line.strip() for line in web.HEAD_PART.read_text(encoding="utf-8").strip().splitlines()]


def _head(html: str) -> list[str]:
    inside = html.split("<head>", 1)[1].split("</head>", 1)[0]
    return [line.strip() for line in inside.strip().splitlines()]


@pytest.mark.parametrize("url", sorted(web.PAGES))
def test_every_page_starts_its_head_with_the_shared_part(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    head = _head(response.text)
    assert head[0] == '<meta charset="utf-8">'
    assert head[: len(SHARED)] == SHARED
    stylesheets = [line for line in head if 'rel="stylesheet"' in line]
    assert stylesheets[:3] == [
        '<link rel="stylesheet" href="/static/dsfr/dsfr.min.css">',
        '<link rel="stylesheet" href="/static/icons.css">',
        '<link rel="stylesheet" href="/static/app.css">',
    ]
    assert len(set(head)) == len(head), "a line of the head twice"
    own = head[len(SHARED) :]
    assert [line for line in own if line.startswith("<title data-i18n=")], own
    # One place: the page's file repeats none of the shared lines.
    text = (web.FRONTEND_DIR / web.PAGES[url]).read_text(encoding="utf-8")
    assert [line for line in SHARED if line in text] == []


def test_an_unchanged_page_is_revalidated_without_its_body(client: TestClient) -> None:
    first = client.get("/mediation")
    etag = first.headers["etag"]
    again = client.get("/mediation", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["content-security-policy"] == first.headers["content-security-policy"]
    assert again.headers["cache-control"] == "no-cache"
    other = client.get("/citizen", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_an_edited_page_or_head_is_served_at_once(tmp_path: Path) -> None:
    head, page = tmp_path / "head.html", tmp_path / "page.html"
    head.write_text('  <meta charset="utf-8">\n', encoding="utf-8")
    page.write_text("<!doctype html>\n<head>\n  <title>A</title>\n</head>\n", encoding="utf-8")
    pages = web.Pages(head)
    first = pages.get(page)
    assert first is not None
    assert (
        first.body
        == b'<!doctype html>\n<head>\n  <meta charset="utf-8">\n  <title>A</title>\n</head>\n'
    )
    assert pages.get(page) is first
    # Each write changes the file's size: a second write within the clock's tick still shows.
    head.write_text('  <meta charset="utf-8">\n  <link rel="stylesheet" href="/x.css">\n')
    second = pages.get(page)
    assert second is not None and b'href="/x.css">\n  <title>A</title>' in second.body
    assert second.etag != first.etag
    page.write_text("<!doctype html>\n<head>\n  <title>Page B</title>\n</head>\n", encoding="utf-8")
    third = pages.get(page)
    assert third is not None and b"<title>Page B</title>" in third.body
    assert b"/x.css" in third.body
    page.unlink()
    assert pages.get(page) is None
