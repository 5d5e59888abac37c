"""The dashboard in a real headless Chromium: sign in, search, a memory's history with a diff, approving a
quarantined memory, the graph, the jobs; a PNG of each page goes to ``<basetemp>/screenshots``.

Skipped (with the reason) only when no Chromium binary is installed (``apt-get install chromium``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_KEY
from tests.dashboard.conftest import CHANGED, INJECTION, NURSE, Live, chromium_path

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary (apt-get install chromium; or set "
                                                          "MEMOS_CHROMIUM to one): the browser tests need it")

TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: the suite may run as root (CI containers), where Chromium's sandbox refuses to start.
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # An error page's own status is logged as "Failed to load resource"; anything else (a script blocked by
    # the Content-Security-Policy, a JavaScript error) must not happen.
    pg.on("console", lambda msg: errors.append(msg.text)
          if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    yield pg
    context.close()
    assert errors == [], errors


def shot(page: Any, screenshots: Path, name: str) -> None:
    path = screenshots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one


def sign_in(page: Any, live: Live, key: str) -> None:
    page.goto(f"{live.url}/dashboard/")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/dashboard/")


def test_sign_in_refuses_a_bad_key_with_a_message_then_shows_the_overview(page: Any, live: Live,
                                                                           screenshots: Path) -> None:
    page.goto(f"{live.url}/dashboard/")
    assert page.url.startswith(f"{live.url}/dashboard/login")
    page.fill("#api_key", "mk_not_a_real_key")
    page.click("button[type=submit]")
    assert "was not accepted" in page.inner_text("[data-testid=error]")
    shot(page, screenshots, "01-sign-in-bad-key")

    page.fill("#api_key", live.tenant_key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live.url}/dashboard/")
    assert page.inner_text("h1") == "Overview"
    body = page.inner_text("main")
    assert "family notes" in body
    assert "release notes" not in body  # the other tenant's cube
    assert "No payload has been served by this process yet." in page.inner_text("[data-testid=tiers]")
    cookie = next(c for c in page.context.cookies() if c["name"] == "memos_dashboard")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/dashboard")
    shot(page, screenshots, "02-overview-tenant")


def test_the_admin_sees_every_tenant(page: Any, live: Live, screenshots: Path) -> None:
    sign_in(page, live, ADMIN_KEY)
    body = page.inner_text("main")
    assert "family notes" in body
    assert "release notes" in body
    assert "admin (all tenants)" in page.inner_text("[data-testid=who]")
    assert "No payload has been served by this process yet." in page.inner_text("[data-testid=tiers]")
    shot(page, screenshots, "03-overview-admin")


def test_search_a_cube(page: Any, live: Live, screenshots: Path) -> None:
    sign_in(page, live, live.tenant_key)
    page.click("text=family notes")
    page.wait_for_url(f"{live.url}/dashboard/cubes/{live.cube_id}")
    assert page.locator("[data-testid=memories] tbody tr").count() == 9  # 8 active, 1 quarantined
    shot(page, screenshots, "04-cube")
    page.fill("[data-testid=search]", "Which pet does Mia have?")
    page.press("[data-testid=search]", "Enter")
    page.wait_for_selector("text=results for")
    first = page.locator("[data-testid=memories] tbody tr").first.inner_text()
    assert "Pixel" in first
    assert "q=Which" in page.url  # htmx pushed the search into the address bar
    shot(page, screenshots, "05-search")


def test_a_memory_history_shows_a_diff(page: Any, live: Live, screenshots: Path) -> None:
    sign_in(page, live, live.tenant_key)
    page.goto(f"{live.url}/dashboard/memories/{live.changed_id}")
    assert page.inner_text("[data-testid=content]") == CHANGED
    versions = page.locator("[data-testid=timeline] li")
    assert versions.count() >= 2  # created, promoted (and the linking job's note, when it evolved it)
    versions.filter(has_text="promoted").locator("text=diff with v1").click()
    page.wait_for_url("**a=1&b=2*")
    diff = page.locator("[data-testid=diff]")
    assert [t.strip() for t in diff.locator("ins").all_inner_texts()] == ["head"]
    assert diff.locator("del").count() == 0
    assert diff.inner_text() == CHANGED
    assert NURSE != CHANGED
    shot(page, screenshots, "06-memory-history-diff")


def test_approve_a_quarantined_memory(page: Any, live: Live, screenshots: Path) -> None:
    sign_in(page, live, live.tenant_key)
    page.goto(f"{live.url}/dashboard/cubes/{live.cube_id}/quarantine")
    rows = page.locator("[data-testid=quarantine] tbody tr")
    assert rows.count() == 1
    assert "Note to the assistant" in rows.first.inner_text()
    shot(page, screenshots, "07-quarantine")
    rows.first.locator("input[name=note]").fill("checked with the user")
    rows.first.locator("button[value=approve]").click()
    page.wait_for_selector("[data-testid=flash]")
    assert "was approved" in page.inner_text("[data-testid=flash]")
    assert page.locator("[data-testid=quarantine]").count() == 0
    assert "The quarantine queue is empty." in page.inner_text("main")
    shot(page, screenshots, "08-quarantine-approved")
    with live.api(live.tenant_key) as api:
        memory = api.get(f"/v1/memories/{live.quarantined_id}").json()
        versions = api.get(f"/v1/memories/{live.quarantined_id}/history").json()["versions"]
    assert memory["status"] == "active"
    assert memory["content"] == INJECTION
    assert versions[-1]["reason"] == "approved by review: checked with the user"


def test_the_graph_draws_the_linked_memories(page: Any, live: Live, screenshots: Path) -> None:
    sign_in(page, live, live.tenant_key)
    page.goto(f"{live.url}/dashboard/cubes/{live.cube_id}/graph")
    page.wait_for_selector("#graph[data-ready='1']")
    nodes = page.evaluate("window.memosGraph.nodes().length")
    edges = page.evaluate("window.memosGraph.edges().length")
    assert nodes >= 5
    assert edges >= nodes - 1  # hubs drawn with their neighbours: the linking jobs connected the related notes
    assert f"{nodes} nodes, {edges} links" in page.inner_text("[data-testid=graph-status]")
    page.evaluate("window.memosGraph.nodes().filter(n => n.data('label').includes('Pixel'))[0].emit('tap')")
    assert "Pixel" in page.inner_text("#graph-detail")
    shot(page, screenshots, "09-graph")
    page.click("#graph-detail >> text=Neighbourhood")
    page.wait_for_selector("#graph[data-ready='1']")
    assert page.evaluate("window.memosGraph.nodes().length") >= 1
    shot(page, screenshots, "10-graph-neighbourhood")


def test_jobs_show_their_errors(page: Any, live: Live, screenshots: Path) -> None:
    sign_in(page, live, live.tenant_key)
    page.goto(f"{live.url}/dashboard/jobs")
    table = page.inner_text("[data-testid=jobs]")
    assert "linking.link" in table
    assert "no handler for job type 'reports.weekly'" in table
    shot(page, screenshots, "11-jobs")
    page.goto(f"{live.url}/dashboard/cubes/{live.other_cube_id}")
    assert page.inner_text("[data-testid=error]") == "cube not found"  # another tenant's: as if missing
    shot(page, screenshots, "12-not-found")
