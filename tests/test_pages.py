"""The pages as served: each file holds its own lines, the server puts in the parts they share."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import web


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines()]


PARTS = {tag.decode(): _lines(part.read_text(encoding="utf-8")) for tag, part in web.PARTS}
FRAME = _lines(web.FRAME.read_text(encoding="utf-8"))


def _inside(html: str, element: str) -> list[str]:
    return _lines(html.split(f"<{element}>", 1)[1].split(f"</{element}>", 1)[0])


@pytest.mark.parametrize("url", sorted(web.PAGES))
def test_every_page_starts_with_the_shared_parts(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    # The doctype and the <html> element around the page's file.
    served = _lines(response.text)
    assert served[: len(FRAME) - 1] == FRAME[:-1] and served[-1] == FRAME[-1] == "</html>"
    assert served[0] == "<!doctype html>" and served[len(FRAME) - 1] == "<head>"
    head, body = _inside(response.text, "head"), _inside(response.text, "body")
    assert head[0] == '<meta charset="utf-8">'
    assert head[: len(PARTS["<head>"])] == PARTS["<head>"]
    stylesheets = [line for line in head if 'rel="stylesheet"' in line]
    assert stylesheets[:3] == [
        '<link rel="stylesheet" href="/static/dsfr/dsfr.min.css">',
        '<link rel="stylesheet" href="/static/icons.css">',
        '<link rel="stylesheet" href="/static/app.css">',
    ]
    assert len(set(head)) == len(head), "a line of the head twice"
    own = head[len(PARTS["<head>"]) :]
    assert [line for line in own if line.startswith("<title data-i18n=")], own
    # The skip link first, then the header's place, then the page's own <main>.
    assert body[: len(PARTS["<body>"])] == PARTS["<body>"]
    assert body[0] == '<div class="fr-skiplinks">'
    assert body[len(PARTS["<body>"])].startswith('<main id="contenu"')
    # One place: the page's file repeats none of the shared lines.
    text = (web.FRONTEND_DIR / web.PAGES[url]).read_text(encoding="utf-8")
    shared = [line for lines in [*PARTS.values(), FRAME] for line in lines if len(line) > 8]
    assert [line for line in shared if line in text] == []


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


def test_an_edited_page_or_part_is_served_at_once(tmp_path: Path) -> None:
    head, body, page = tmp_path / "head.html", tmp_path / "body.html", tmp_path / "page.html"
    frame = tmp_path / "document.html"
    head.write_text('  <meta charset="utf-8">\n', encoding="utf-8")
    body.write_text('  <header id="header"></header>\n', encoding="utf-8")
    frame.write_text("<!doctype html>\n<html>\n</html>\n", encoding="utf-8")
    page.write_text("<head>\n  <title>A</title>\n</head>\n<body>\n  <main></main>\n</body>\n")
    pages = web.Pages(((b"<head>", head), (b"<body>", body)), frame=frame)
    first = pages.get(page)
    assert first is not None
    assert first.body == (
        b"<!doctype html>\n<html>\n"
        b'<head>\n  <meta charset="utf-8">\n  <title>A</title>\n</head>\n'
        b'<body>\n  <header id="header"></header>\n  <main></main>\n</body>\n'
        b"</html>\n"
    )
    assert pages.get(page) is first
    # Each write changes the file's size: a second write within the clock's tick still shows.
    head.write_text('  <meta charset="utf-8">\n  <link rel="stylesheet" href="/x.css">\n')
    second = pages.get(page)
    assert second is not None and b'href="/x.css">\n  <title>A</title>' in second.body
    assert second.etag != first.etag
    page.write_text("<head>\n  <title>Page B</title>\n</head>\n<body>\n  <main></main>\n</body>\n")
    third = pages.get(page)
    assert third is not None and b"<title>Page B</title>" in third.body
    assert b"/x.css" in third.body and b'<header id="header"></header>' in third.body
    frame.write_text('<!doctype html>\n<html lang="fr">\n</html>\n', encoding="utf-8")
    fourth = pages.get(page)
    assert fourth is not None
    assert fourth.body.startswith(b'<!doctype html>\n<html lang="fr">\n<head>')
    assert fourth.body.endswith(b"</body>\n</html>\n") and fourth.etag != third.etag
    page.unlink()
    assert pages.get(page) is None
