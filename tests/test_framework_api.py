"""GET /api/v1/framework and /api/v1/framework/skills/{code}."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def _competences(tree: dict[str, Any], code: str) -> list[dict[str, Any]]:
    fw = next(f for f in tree["frameworks"] if f["code"] == code)
    skills: list[dict[str, Any]] = fw["skills"]
    return [c for area in fw["areas"] for c in area["competences"]] + skills


def test_tree_lists_the_three_frameworks_with_their_counts(client: TestClient) -> None:
    response = client.get("/api/v1/framework")
    assert response.status_code == 200
    tree = response.json()
    assert tree["version"] == "crcn-2019+digcomp-2.2+pp-1"
    assert [f["code"] for f in tree["frameworks"]] == ["crcn", "digcomp", "pp"]
    crcn, digcomp, pp = (_competences(tree, c) for c in ("crcn", "digcomp", "pp"))
    assert len(crcn) == 16
    assert len(digcomp) == 21
    assert len(pp) == 20
    crcn_fw = tree["frameworks"][0]
    assert len(crcn_fw["areas"]) == 5
    assert [lv["level"] for lv in crcn_fw["levels"]] == list(range(1, 9))
    assert [lv["band_fr"] for lv in crcn_fw["levels"]][::2] == [
        "Novice",
        "Indépendant",
        "Avancé",
        "Expert",
    ]
    assert len(tree["frameworks"][1]["areas"]) == 5


def test_every_code_is_unique_and_namespaced(client: TestClient) -> None:
    tree = client.get("/api/v1/framework").json()
    codes = [s["code"] for fw in ("crcn", "digcomp", "pp") for s in _competences(tree, fw)]
    assert len(codes) == len(set(codes)) == 57
    assert "crcn:4.1" in codes and "pp:PP-12" in codes and "digcomp:2.6" in codes


def test_crcn_to_digcomp_mapping_is_published_both_ways(client: TestClient) -> None:
    tree = client.get("/api/v1/framework").json()
    crcn = {c["code"]: c for c in _competences(tree, "crcn")}
    digcomp = {c["code"]: c for c in _competences(tree, "digcomp")}
    assert crcn["crcn:1.1"]["digcomp"] == ["digcomp:1.1", "digcomp:1.2"]
    assert crcn["crcn:5.2"]["digcomp"] == ["digcomp:5.2", "digcomp:5.3", "digcomp:5.4"]
    assert crcn["crcn:4.3"]["digcomp"] == ["digcomp:4.3", "digcomp:4.4"]
    assert sum(len(c["digcomp"]) for c in crcn.values()) == 24
    # Every CRCN competence maps somewhere, and every DigComp competence is reached.
    assert all(c["digcomp"] for c in crcn.values())
    assert all(d["crcn_sources"] for d in digcomp.values())
    assert digcomp["digcomp:1.3"]["crcn_sources"] == ["crcn:1.2", "crcn:1.3"]


def test_premiers_pas_are_attached_to_a_crcn_competence_and_level(client: TestClient) -> None:
    tree = client.get("/api/v1/framework").json()
    crcn_codes = {c["code"] for c in _competences(tree, "crcn")}
    pp = {s["code"]: s for s in _competences(tree, "pp")}
    assert list(pp) == [f"pp:PP-{n:02d}" for n in range(1, 21)]
    for skill in pp.values():
        assert skill["crcn"] in crcn_codes
        assert 1 <= skill["level"] <= 8
        assert skill["label_fr"] and skill["label_en"]
    assert (pp["pp:PP-12"]["crcn"], pp["pp:PP-12"]["level"]) == ("crcn:4.1", 1)
    assert (pp["pp:PP-06"]["crcn"], pp["pp:PP-06"]["level"]) == ("crcn:2.1", 2)
    assert "arnaque" in pp["pp:PP-12"]["keywords"]
    assert "caf" in pp["pp:PP-10"]["keywords"]


def test_tree_has_etag_and_cache_headers_and_answers_304(client: TestClient) -> None:
    first = client.get("/api/v1/framework")
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and etag.endswith('"')
    assert "max-age=" in first.headers["cache-control"]
    assert "public" in first.headers["cache-control"]

    again = client.get("/api/v1/framework", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    strong_form = etag.removeprefix("W/")
    listed = client.get("/api/v1/framework", headers={"If-None-Match": f'"other", {strong_form}'})
    assert listed.status_code == 304

    stale = client.get("/api/v1/framework", headers={"If-None-Match": '"not-it"'})
    assert stale.status_code == 200
    assert stale.json()["version"]


def test_tree_is_served_gzipped_to_clients_that_accept_it(client: TestClient) -> None:
    plain = client.get("/api/v1/framework", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = client.get("/api/v1/framework", headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < int(plain.headers["content-length"]) / 3
    assert zipped.json() == plain.json()  # httpx inflates it
    assert zipped.headers["etag"] == plain.headers["etag"]


def test_skill_detail_for_each_kind_of_code(client: TestClient) -> None:
    crcn = client.get("/api/v1/framework/skills/crcn:4.1").json()
    assert crcn["label_fr"] == "Sécuriser l'environnement numérique"
    assert crcn["area"] == "crcn:4"
    assert crcn["area_label_fr"] == "Protection et sécurité"
    assert crcn["framework_version"] == "2019"
    assert crcn["premiers_pas"] == ["pp:PP-12", "pp:PP-19"]
    assert len(crcn["levels"]) == 8

    pp = client.get("/api/v1/framework/skills/pp:PP-12").json()
    assert pp["crcn"] == "crcn:4.1"
    assert pp["level"] == 1
    # A Premiers pas skill is read on the CRCN scale.
    assert pp["levels"][0]["band_fr"] == "Novice"

    dc = client.get("/api/v1/framework/skills/digcomp:2.6").json()
    assert dc["label_en"] == "Managing digital identity"
    assert dc["crcn_sources"] == ["crcn:2.4"]
    assert dc["levels"][7]["band_en"] == "Highly specialised"


def test_unknown_skill_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/framework/skills/crcn:9.9")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "unknown_skill"
    assert body["status"] == 404
    assert body["type"].endswith("unknown_skill")
    assert "crcn:9.9" in body["detail"]


def test_malformed_skill_code_is_a_422_problem(client: TestClient) -> None:
    for bad in ("nocolon", "crcn:" + "1" * 40, "crcn:%20drop", "CRCN:4.1"):
        response = client.get(f"/api/v1/framework/skills/{bad}")
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "validation_error"
