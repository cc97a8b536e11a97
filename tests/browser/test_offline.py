"""The mediator's page offline (docs/frontend.md, "Offline mediation"), in Chromium against the
real server: the network is cut the way the verifier's tests cut it (the context offline, and
every request that still leaves aborted), records wait in IndexedDB across a reload, and land
once, in order, with their dates, when the network comes back."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.conftest import check_axe, screenshot, sign_in_citizen, sign_in_mediator
from tests.factories import World, bearer, make_passport
from tests.servers import Server

ACCESS_CODE = "BCDF2345"  # world.passport's (tests/factories.py)
TODAY = date.today()
MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]

# Resolves once the mediator page's service worker controls it: from then on, it starts offline.
WAIT_FOR_WORKER = """async () => {
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) =>
      navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }));
  }
  return navigator.serviceWorker.controller !== null;
}"""

# Everything the browser keeps for this origin, as text: IndexedDB (every database, store and
# record), Cache Storage (every cached answer's body), localStorage and sessionStorage.
BROWSER_STORAGE = """async () => {
  const out = { indexedDB: [], caches: [], localStorage: {}, sessionStorage: {} };
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open(info.name);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    for (const name of Array.from(db.objectStoreNames)) {
      const records = await new Promise((resolve, reject) => {
        const request = db.transaction(name).objectStore(name).getAll();
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      out.indexedDB.push({ db: info.name, store: name, records: JSON.stringify(records) });
    }
    db.close();
  }
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      out.caches.push({ url: request.url, body: await response.text() });
    }
  }
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    out.localStorage[key] = localStorage.getItem(key);
  }
  for (let i = 0; i < sessionStorage.length; i++) {
    const key = sessionStorage.key(i);
    out.sessionStorage[key] = sessionStorage.getItem(key);
  }
  return out;
}"""


def _cut(context: BrowserContext) -> None:
    """No network: the context offline, and any request that still leaves aborted."""
    context.route("**/*", lambda route: route.abort("internetdisconnected"))
    context.set_offline(True)


def _restore(context: BrowserContext) -> None:
    context.unroute("**/*")
    context.set_offline(False)


def _open_passport_ready_for_offline(page: Page, world: World) -> None:
    sign_in_mediator(page, "med-a1@example.org")
    page.goto(f"/mediation#passport/{world.passport.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lucie Martin")
    assert page.evaluate(WAIT_FOR_WORKER)


def _record(page: Page, code: str, day: date, level: str | None = None) -> None:
    picker = page.get_by_role("combobox", name="Compétence")
    picker.fill(code.split(":")[1])
    page.get_by_role("option").filter(has_text=code).first.click()
    expect(page.locator("#picker-chosen")).to_contain_text(code)
    if level:
        page.get_by_label("Niveau observé").select_option(level)
    page.locator("#record-date").fill(day.isoformat())
    page.get_by_role("button", name="Valider", exact=True).click()
    expect(page.locator("#record-error")).to_contain_text("Validation gardée sur cet appareil")


def _rows(engine: sa.Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params).all())


@pytest.fixture
def citizen_page(browser: Browser, live_server: Server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def test_recorded_offline_survives_a_reload_and_lands_once_in_order(
    page: Page, context: BrowserContext, world: World, engine: sa.Engine, citizen_page: Page
) -> None:
    _open_passport_ready_for_offline(page, world)
    _cut(context)
    expect(page.locator("#offline-status")).to_be_visible()
    expect(page.locator("#offline-status")).to_contain_text("Hors ligne")

    # Three validations on the passport opened online, each on its own day.
    days = [TODAY - timedelta(days=3), TODAY - timedelta(days=2), TODAY - timedelta(days=1)]
    _record(page, "pp:PP-06", days[0])
    _record(page, "crcn:4.1", days[1], level="3")
    _record(page, "pp:PP-12", days[2])
    queue = page.locator("#offline-queue-list")
    expect(queue.locator('li[data-state="waiting"]')).to_have_count(3)
    check_axe(page, "mediation offline, passport with waiting records")
    screenshot(page, "mediation-offline-passport")
    # Reloaded offline on her passport: every module the page imports comes from the service
    # worker, so the page starts and shows the passport kept on the device and its queue.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lucie Martin")
    expect(page.locator("#offline-status")).to_be_visible()
    expect(queue.locator('li[data-state="waiting"]')).to_have_count(3)

    # A new passport, the consent step done on the device: a provisional reference.
    page.get_by_role("link", name="Retour à la recherche").click()
    expect(page.get_by_role("heading", name="Trouver ou ouvrir un passeport")).to_be_visible()
    page.get_by_label("Prénom *", exact=True).fill("Léa")
    page.get_by_label("Nom *", exact=True).fill("Hoarau")
    page.locator("#open-year").fill("1949")
    page.get_by_text("La personne a entendu ce texte et donne son accord").click()
    page.get_by_role("button", name="Ouvrir le passeport").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Léa Hoarau")
    expect(page).to_have_url(re.compile(r"#offline/PROV-[A-Z0-9]{6}$"))
    expect(page.locator("#passport-meta")).to_contain_text("Référence provisoire PROV-")
    expect(page.locator("#print-card")).to_be_hidden()
    # And one validation for her, waiting for her passport.
    _record(page, "pp:PP-01", TODAY)
    expect(queue.locator('li[data-state="waiting"]')).to_have_count(5)
    check_axe(page, "mediation offline, provisional passport")
    screenshot(page, "mediation-offline-provisional")

    # Reloaded offline: the service worker serves the page, the queue is still there.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Léa Hoarau")
    expect(page.locator("#offline-status")).to_be_visible()
    expect(queue.locator('li[data-state="waiting"]')).to_have_count(5)
    # The search says it needs the network, and offers the passports kept on this device.
    page.get_by_role("link", name="Retour à la recherche").click()
    page.get_by_label(re.compile("Nom, prénom ou numéro de passeport")).fill("martin")
    page.get_by_role("button", name="Rechercher").click()
    results = page.locator("#search-results")
    expect(results).to_contain_text("Hors ligne, la recherche ne fonctionne pas")
    expect(results.get_by_role("link", name=re.compile("Lucie Martin"))).to_be_visible()
    check_axe(page, "mediation offline, search")
    screenshot(page, "mediation-offline-search")
    assert _rows(engine, "SELECT id FROM validation") == []
    assert _rows(engine, "SELECT id FROM passport WHERE last_name = 'Hoarau'") == []

    # Back online: everything lands, once, in the order it was recorded.
    _restore(context)
    expect(queue.locator('li[data-state="sent"]')).to_have_count(5)
    expect(queue.locator('li[data-state="waiting"]')).to_have_count(0)
    expect(page.locator("#offline-status")).to_be_hidden()
    expect(page.locator("#offline-queue-summary")).to_contain_text("envoyés : 5")
    screenshot(page, "mediation-offline-synced")

    rows = _rows(
        engine,
        "SELECT skill_code, observed_on, recorded_offline_at, created_at FROM validation"
        " WHERE passport_id = :p ORDER BY id",
        p=world.passport.id,
    )
    assert [r.skill_code for r in rows] == ["pp:PP-06", "crcn:4.1", "pp:PP-12"]
    assert [str(r.observed_on)[:10] for r in rows] == [d.isoformat() for d in days]
    assert all(r.recorded_offline_at is not None for r in rows)
    recorded = [str(r.recorded_offline_at) for r in rows]
    assert recorded == sorted(recorded)
    assert all(str(r.created_at) > str(r.recorded_offline_at) for r in rows)
    opened = _rows(
        engine, "SELECT id, number, recorded_offline_at FROM passport WHERE last_name = 'Hoarau'"
    )
    assert len(opened) == 1 and opened[0].recorded_offline_at is not None
    assert re.fullmatch(r"P-[0-9A-Z]{8}", opened[0].number)
    hers = _rows(engine, "SELECT skill_code FROM validation WHERE passport_id = :p", p=opened[0].id)
    assert [r.skill_code for r in hers] == ["pp:PP-01"]
    journal = _rows(
        engine,
        "SELECT action FROM passport_access_log WHERE passport_id = :p ORDER BY id",
        p=world.passport.id,
    )
    assert [r.action for r in journal].count("validation.created_offline") == 3

    # The real number is in the list, and its passport opens with the card to print.
    page.get_by_role("link", name=f"Ouvrir le passeport {opened[0].number}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Léa Hoarau")
    expect(page.locator("#passport-meta")).to_contain_text(opened[0].number)
    expect(page.get_by_role("button", name="Imprimer la carte d'accès")).to_be_visible()
    expect(page.locator("#passport-history")).to_contain_text("Enregistrée hors ligne le")

    # The citizen sees them, dated as observed, marked as recorded offline.
    sign_in_citizen(citizen_page, world.passport.number, ACCESS_CODE)
    citizen_history = citizen_page.locator("table").filter(has_text="PP-06").first
    for code in ("PP-06", "4.1", "PP-12"):
        expect(citizen_page.get_by_text(code, exact=False).first).to_be_attached()
    expect(citizen_history).to_contain_text("Enregistrée hors ligne le")
    for day in days:
        expect(citizen_history).to_contain_text(f"{day.day} {MONTHS[day.month - 1]} {day.year}")


def test_a_lost_answer_is_replayed_and_stores_nothing_twice(
    page: Page, world: World, engine: sa.Engine
) -> None:
    _open_passport_ready_for_offline(page, world)

    # The request reaches the server; its answer is lost on the way back.
    def lose_the_answer(route: Route) -> None:
        route.fetch()
        route.abort("connectionreset")

    path = re.compile(rf"/api/v1/passports/{world.passport.id}/validations$")
    page.route(path, lose_the_answer)
    _record(page, "pp:PP-06", TODAY)
    assert len(_rows(engine, "SELECT id FROM validation")) == 1
    page.unroute(path)
    # Deleting it would not undo what may have landed: the confirmation says so (kept here).
    asked: list[str] = []

    def cancel(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", cancel)
    waiting = page.locator('#offline-queue-list li[data-state="waiting"]')
    waiting.get_by_role("button", name=re.compile("^Supprimer")).click()
    expect(waiting).to_have_count(1)
    assert asked and "peut-être déjà atteint le serveur" in asked[0]

    # The page starts again (a trigger, like coming back online): the same request, the same key.
    page.reload()
    queue = page.locator("#offline-queue-list")
    expect(queue.locator('li[data-state="sent"]')).to_have_count(1)
    expect(page.locator("#passport-history tbody tr")).to_have_count(1)
    assert len(_rows(engine, "SELECT id FROM validation")) == 1

    # The same for a new passport: it reaches the server, the answer does not reach the page.
    page.get_by_role("link", name="Retour à la recherche").click()
    page.route(re.compile(r"/api/v1/passports$"), lose_the_answer)
    page.get_by_label("Prénom *", exact=True).fill("Léa")
    page.get_by_label("Nom *", exact=True).fill("Hoarau")
    page.get_by_text("La personne a entendu ce texte et donne son accord").click()
    page.get_by_role("button", name="Ouvrir le passeport").click()
    expect(page).to_have_url(re.compile(r"#offline/PROV-"))
    assert len(_rows(engine, "SELECT id FROM passport WHERE last_name = 'Hoarau'")) == 1
    page.unroute(re.compile(r"/api/v1/passports$"))
    page.get_by_role("button", name="Envoyer maintenant").click()
    expect(queue.locator('li[data-state="sent"]')).to_have_count(2)
    # Sent, the page shows the real passport: the one the first request opened.
    expect(page).to_have_url(re.compile(r"#passport/\d+$"))
    assert len(_rows(engine, "SELECT id FROM passport WHERE last_name = 'Hoarau'")) == 1


def test_a_passport_erased_meanwhile_refuses_the_waiting_record(
    page: Page, context: BrowserContext, world: World, engine: sa.Engine, live_server: Server
) -> None:
    _open_passport_ready_for_offline(page, world)
    _cut(context)
    _record(page, "pp:PP-06", TODAY)

    # Meanwhile, at the coordination, the passport is erased at the citizen's request.
    erased = httpx.post(
        f"{live_server.url}/api/v1/passports/{world.passport.id}/erasure",
        json={"reason": "request"},
        headers=bearer(engine, world.admin_a),
    )
    assert erased.status_code == 200, erased.text

    _restore(context)
    item = page.locator('#offline-queue-list li[data-state="refused"]')
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Refusé")
    expect(item).to_contain_text("Motif du refus : Ce passeport est introuvable.")
    assert _rows(engine, "SELECT id FROM validation") == []
    check_axe(page, "mediation, refused record")
    screenshot(page, "mediation-offline-refused")

    # Dropped by the mediator: nothing left waiting, and still nothing written.
    item.get_by_role("button", name=re.compile("^Supprimer")).click()
    expect(page.locator("#offline-queue")).to_be_hidden()
    assert _rows(engine, "SELECT id FROM validation") == []


def test_a_passport_merged_meanwhile_refuses_the_record_which_can_follow_it(
    page: Page, context: BrowserContext, world: World, engine: sa.Engine, live_server: Server
) -> None:
    keep = make_passport(engine, world.a, world.a1, last_name="Martin-Durand")
    _open_passport_ready_for_offline(page, world)
    _cut(context)
    _record(page, "pp:PP-06", TODAY)

    # Meanwhile, the coordination folds this passport into the person's other one.
    merged = httpx.post(
        f"{live_server.url}/api/v1/passports/{keep.id}/merge",
        json={"absorb_id": world.passport.id},
        headers=bearer(engine, world.admin_a),
    )
    assert merged.status_code == 200, merged.text

    _restore(context)
    item = page.locator('#offline-queue-list li[data-state="refused"]')
    expect(item).to_contain_text(f"fusionné avec le passeport {keep.number}")
    assert _rows(engine, "SELECT id FROM validation") == []
    item.get_by_role("button", name=re.compile(f"L'envoyer au passeport {keep.number}")).click()
    expect(page.locator('#offline-queue-list li[data-state="sent"]')).to_have_count(1)
    rows = _rows(engine, "SELECT passport_id, skill_code FROM validation")
    assert [(r.passport_id, r.skill_code) for r in rows] == [(keep.id, "pp:PP-06")]


def _people(storage: dict[str, Any]) -> Callable[[str], list[str]]:
    def where(word: str) -> list[str]:
        found = [
            f"IndexedDB {s['db']}/{s['store']}"
            for s in storage["indexedDB"]
            if word in s["records"]
        ]
        found += [f"cache {c['url']}" for c in storage["caches"] if word in c["body"]]
        for area in ("localStorage", "sessionStorage"):
            found += [
                f"{area} {k}" for k, v in storage[area].items() if word in (v or "") or word in k
            ]
        return found

    return where


def test_signing_out_with_waiting_records_asks_and_leaves_nothing_about_people(
    page: Page, context: BrowserContext, world: World, engine: sa.Engine
) -> None:
    _open_passport_ready_for_offline(page, world)
    _cut(context)
    _record(page, "pp:PP-06", TODAY)
    page.get_by_role("link", name="Retour à la recherche").click()
    page.get_by_label("Prénom *", exact=True).fill("Léa")
    page.get_by_label("Nom *", exact=True).fill("Hoarau")
    page.get_by_text("La personne a entendu ce texte et donne son accord").click()
    page.get_by_role("button", name="Ouvrir le passeport").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Léa Hoarau")
    before = _people(page.evaluate(BROWSER_STORAGE))
    # The check below can fail: before sign-out, the device does hold these people.
    assert before("Hoarau") and before("Lucie")

    # Signing out asks first; staying keeps everything.
    page.get_by_role("button", name="Se déconnecter").click()
    ask = page.locator("#signout-ask")
    expect(ask).to_contain_text("Des enregistrements n'ont pas été envoyés (2)")
    expect(page.locator("#signout-stay")).to_be_focused()
    check_axe(page, "mediation offline, sign-out asks")
    screenshot(page, "mediation-offline-signout")
    ask.get_by_role("button", name="Rester connecté").click()
    expect(ask).to_be_hidden()
    expect(page.locator('#offline-queue-list li[data-state="waiting"]')).to_have_count(2)

    page.get_by_role("button", name="Se déconnecter").click()
    ask.get_by_role("button", name=re.compile("Se déconnecter et effacer")).click()
    expect(page.get_by_role("heading", name="Connexion de l'équipe de médiation")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("la connexion a besoin du réseau")
    # The records were erased: the page says so, not that they will be sent, nor to go on.
    expect(page.locator("#signin-error")).to_contain_text(
        "Les enregistrements non envoyés (2) ont été effacés de cet appareil"
    )
    expect(page.locator("#signin-error")).not_to_contain_text("seront envoyés")
    expect(page.locator("#offline-status")).to_contain_text("la connexion attendra son retour")
    expect(page.locator("#offline-status")).not_to_contain_text("Vous pouvez continuer")

    after = _people(page.evaluate(BROWSER_STORAGE))
    # ("Martin" is in the catalogues' examples: the first name and the number say it.)
    for word in ("Hoarau", "Lucie", world.passport.number):
        assert after(word) == [], f"{word!r} still in the browser: {after(word)}"
    assert _rows(engine, "SELECT id FROM validation") == []

    # Back online, the session that could not be ended offline is ended at the next start.
    _restore(context)
    page.reload()
    expect(page.get_by_role("heading", name="Connexion de l'équipe de médiation")).to_be_visible()
    expect(page.locator("#signin-error")).to_be_empty()
    assert page.request.get("/api/v1/auth/session").status == 401


def _new_passport_form_offline(
    page: Page, context: BrowserContext, world: World, first_name: str, last_name: str
) -> None:
    """The network cut once the page is ready, the new-passport form filled with a name and the
    consent given: what is left is the test's own."""
    _open_passport_ready_for_offline(page, world)
    _cut(context)
    page.get_by_role("link", name="Retour à la recherche").click()
    page.get_by_label("Prénom *", exact=True).fill(first_name)
    page.get_by_label("Nom *", exact=True).fill(last_name)
    page.get_by_text("La personne a entendu ce texte et donne son accord").click()


def test_the_duplicate_warning_runs_at_sync_and_asks_the_mediator(
    page: Page, context: BrowserContext, world: World, engine: sa.Engine
) -> None:
    # Offline, the page cannot know that Lucie Martin, born in 1958, already has a passport.
    _new_passport_form_offline(page, context, world, "Lucie", "Martin")
    page.locator("#open-year").fill("1958")
    page.get_by_role("button", name="Ouvrir le passeport").click()
    expect(page).to_have_url(re.compile(r"#offline/PROV-"))
    _record(page, "pp:PP-06", TODAY)

    expect(page.locator("#passport-message")).to_contain_text("viendront du serveur")

    _restore(context)
    refused = page.locator('#offline-queue-list li[data-state="refused"]')
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("Un passeport existe peut-être déjà pour cette personne")
    # Refused, no number will come: the provisional passport's box says so instead.
    expect(page.locator("#passport-message")).to_contain_text("Ouverture refusée")
    expect(page.locator("#passport-message")).not_to_contain_text("viendront du serveur")
    # Her validation waits for the mediator's answer.
    expect(page.locator('#offline-queue-list li[data-state="waiting"]')).to_have_count(1)
    check_axe(page, "mediation, duplicate at sync")

    refused.get_by_role(
        "button", name=re.compile(f"C'est la même personne : passeport {world.passport.number}")
    ).click()
    expect(page.locator('#offline-queue-list li[data-state="sent"]')).to_have_count(1)
    expect(page.locator("#offline-queue-list li:not([data-state=sent])")).to_have_count(0)
    assert len(_rows(engine, "SELECT id FROM passport WHERE last_name = 'Martin'")) == 1
    rows = _rows(engine, "SELECT passport_id, skill_code FROM validation")
    assert [(r.passport_id, r.skill_code) for r in rows] == [(world.passport.id, "pp:PP-06")]


def test_the_new_passport_form_refuses_offline_what_the_server_would(
    page: Page, context: BrowserContext, world: World
) -> None:
    _new_passport_form_offline(page, context, world, "Léa", "Hoarau")
    error = page.locator("#open-error")
    year, phone, email = (
        page.locator("#open-year"),
        page.locator("#open-phone"),
        page.locator("#open-email"),
    )
    next_year = str(TODAY.year + 1)
    for field, value, message in [
        (year, "19", "L'année de naissance doit être un nombre entier de 1900 à"),
        (year, next_year, f"de 1900 à {TODAY.year}"),
        (phone, "appelez-moi", "Ce numéro de téléphone n'est pas valable"),
        (email, "lea.hoarau", "Cette adresse électronique n'est pas valable"),
    ]:
        field.fill(value)
        page.get_by_role("button", name="Ouvrir le passeport").click()
        expect(error).to_contain_text(message)
        expect(field).to_be_focused()
        expect(page.locator("#offline-queue-list li")).to_have_count(0)
        field.fill("")
    year.fill("1949")
    phone.fill("+262 692 12 34 56")
    page.get_by_role("button", name="Ouvrir le passeport").click()
    expect(page).to_have_url(re.compile(r"#offline/PROV-[A-Z0-9]{6}$"))
    expect(page.locator('#offline-queue-list li[data-state="waiting"]')).to_have_count(1)


def test_a_waiting_record_can_be_dropped_after_a_confirmation_and_is_never_sent(
    page: Page, context: BrowserContext, world: World, engine: sa.Engine
) -> None:
    _open_passport_ready_for_offline(page, world)
    _cut(context)
    _record(page, "pp:PP-06", TODAY)
    _record(page, "pp:PP-12", TODAY)
    waiting = page.locator('#offline-queue-list li[data-state="waiting"]')
    first = waiting.filter(has_text="pp:PP-06")
    asked: list[str] = []

    # Asked first: cancelled, it stays.
    def cancel(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", cancel)
    first.get_by_role("button", name=re.compile("^Supprimer")).click()
    expect(waiting).to_have_count(2)
    assert asked and "Il ne sera jamais envoyé" in asked[0] and "pp:PP-06" in asked[0]
    assert "peut-être déjà atteint le serveur" not in asked[0]

    page.once("dialog", lambda dialog: dialog.accept())
    first.get_by_role("button", name=re.compile("^Supprimer")).click()
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text("pp:PP-12")
    check_axe(page, "mediation offline, a waiting record with its delete button")

    # Back online: only the one kept is sent.
    _restore(context)
    expect(page.locator('#offline-queue-list li[data-state="sent"]')).to_have_count(1)
    rows = _rows(engine, "SELECT skill_code FROM validation")
    assert [r.skill_code for r in rows] == ["pp:PP-12"]
