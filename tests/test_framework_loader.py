"""`passeport framework load`: versioned data files, loaded whole or not at all, idempotent."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.framework.loader import DATA_DIR, FrameworkDataError, load_frameworks


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _edit(path: Path, change: Callable[[Any], object]) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def _label(engine: sa.Engine, code: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT label_fr FROM skill WHERE code = :c"), {"c": code}
            ).scalar_one()
        )


def test_reloading_the_shipped_files_changes_nothing(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        report = load_frameworks(conn)
    assert report.loaded == {}
    assert report.unchanged == {"digcomp": "2.2", "crcn": "2019", "pp": "1"}


def test_a_changed_file_is_upserted_and_a_forced_reload_restores(
    engine: sa.Engine, data_copy: Path
) -> None:
    def rename(doc: dict[str, Any]) -> None:
        doc["skills"][11]["label_fr"] = "Repérer une arnaque"
        doc["version"] = "1.1"

    _edit(data_copy / "premiers-pas.json", rename)
    try:
        with engine.begin() as conn:
            report = load_frameworks(conn, data_copy)
        assert report.loaded == {"pp": "1.1"}
        assert _label(engine, "pp:PP-12") == "Repérer une arnaque"
    finally:
        with engine.begin() as conn:
            load_frameworks(conn)  # back to the shipped files for the other tests
    assert _label(engine, "pp:PP-12") == "Repérer un message frauduleux (hameçonnage, arnaque)"


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "premiers-pas.json",
            lambda d: d["skills"][0].update(crcn="9.9"),
            "unknown skills crcn:9.9",
        ),
        ("premiers-pas.json", lambda d: d["skills"][0].update(level=9), "less than or equal to 8"),
        (
            "premiers-pas.json",
            lambda d: d["skills"][1].update(number="PP-01"),
            "duplicate skill number",
        ),
        (
            "crcn.json",
            lambda d: d["areas"][0]["competences"][0].update(digcomp=["7.7"]),
            "digcomp:7.7",
        ),
        ("crcn.json", lambda d: d.pop("version"), "version"),
    ],
)
def test_a_broken_file_is_refused_whole(
    engine: sa.Engine, data_copy: Path, file: str, change: Callable[[Any], object], message: str
) -> None:
    # Make the other files look new too, so a partial write would show.
    _edit(data_copy / "digcomp.json", lambda d: d["areas"][0].update(label_fr="Changé"))
    _edit(data_copy / file, change)
    with pytest.raises(FrameworkDataError, match=message), engine.begin() as conn:
        load_frameworks(conn, data_copy)
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT label_fr FROM framework_area WHERE code='digcomp:1'")
            ).scalar_one()
            == "Informations et données"
        )


def test_not_json_is_refused(engine: sa.Engine, data_copy: Path) -> None:
    (data_copy / "crcn.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(FrameworkDataError, match=r"crcn\.json"), engine.begin() as conn:
        load_frameworks(conn, data_copy)
