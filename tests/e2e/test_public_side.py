"""The public side in Chromium (issue 15): WCAG 2.2 AA by axe-core on every public page at
1280 px and 390 px, and what axe cannot see: the error summary takes the focus and links each
field, the focus ring's contrast, touch targets, no sideways scrolling at 320 px, the form
adapting in place, an access request's form on one laptop screen, the reference on one line.

axe-core comes from the axe-playwright-python package (its axe.min.js, from npm's axe-core).
Without it, or without Chromium, these tests skip on a developer machine and fail in CI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import RequestFactory as HttpRequests
from django.utils import timezone

from dsr.core.audit import Actor
from dsr.core.branding import contrast
from dsr.core.models import Status
from dsr.core.tokens import status_token
from dsr.intake import verification
from dsr.results import access, closing
from dsr.web.error_pages import server_error
from tests.e2e.test_journey import _unavailable, browser, new_page  # noqa: F401 - shared browser fixtures
from tests.factories import RequestFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 320, "height": 640}


@pytest.fixture(scope="module")
def axe():
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError as exc:
        _unavailable(f"the axe-playwright-python package is not installed ({exc})")
    return Axe()


@dataclass
class Public:
    """Every public page, as a path on the live server (the 500 page is served by a route)."""

    paths: dict[str, str]
    error_html: str


@pytest.fixture
def public(live_server) -> Public:
    awaiting = RequestFactory(status=Status.AWAITING_VERIFICATION)
    link = verification.issue_code(awaiting).link_token
    in_progress = RequestFactory(status=Status.IN_PROGRESS, verified_at=timezone.now())
    completed = RequestFactory(kind="access", status=Status.REVIEW, verified_at=timezone.now())
    access.release(completed, actor=Actor.scheduler())
    denied = RequestFactory(status=Status.VERIFIED, verified_at=timezone.now())
    closing.deny(denied, reason="We could not find you in our records.", actor=Actor.scheduler())

    def status(request) -> str:
        return f"/requests/{request.reference}/?t={status_token(request)}"

    paths = {
        "form": "/",
        **{f"form ({kind})": f"/?kind={kind}" for kind in ("access", "portability", "rectification", "erasure")},
        "verify": f"/requests/{awaiting.reference}/verify/",
        "verify by link": f"/requests/{awaiting.reference}/verify/{link}/",
        "verify done": f"/requests/{in_progress.reference}/verify/",
        "status: awaiting verification": status(awaiting),
        "status: in progress": status(in_progress),
        "status: completed, with a download": status(completed),
        "status: denied": status(denied),
        "status: link not valid": f"/requests/{completed.reference}/?t=not-a-token",
        "not found": "/no-such-page/",
        "privacy notice (demo)": "/demo/privacy-notice/",
    }
    error_html = server_error(HttpRequests().get("/")).content.decode()
    return Public(paths, error_html)


def open_page(page, live_server, public: Public, path: str) -> None:
    if path == "/server-error/":
        page.route(f"{live_server.url}/server-error/", lambda route: route.fulfill(
            status=500, body=public.error_html, content_type="text/html; charset=utf-8"))
    page.goto(f"{live_server.url}{path}")
    page.wait_for_load_state("load")


def assert_no_violations(axe, page, where: str) -> None:
    results = axe.run(page)
    assert results.violations_count == 0, f"{where}:\n{results.generate_report()}"


def failed_submit(page, live_server) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_label("Access").check()
    page.get_by_role("button", name="Send my request").click()
    page.wait_for_selector("#error-summary")
    page.wait_for_load_state("load")  # the answer's stylesheet too: the summary is there before it


def download_code_page(page, live_server, public: Public) -> None:
    page.goto(f"{live_server.url}{public.paths['status: completed, with a download']}")
    page.get_by_role("button", name="Email me a download code").click()
    page.wait_for_selector(".messages li")
    page.wait_for_load_state("load")


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280px", "390px"])
def test_axe_finds_no_violation_on_any_public_page(live_server, new_page, axe, public, viewport):  # noqa: F811
    page = new_page(viewport=viewport)
    for name, path in {**public.paths, "server error": "/server-error/"}.items():
        open_page(page, live_server, public, path)
        assert_no_violations(axe, page, name)
    failed_submit(page, live_server)
    assert_no_violations(axe, page, "form after a failed submit")
    download_code_page(page, live_server, public)
    assert_no_violations(axe, page, "download code sent")
    # axe is listening: an image without a text alternative is reported.
    page.evaluate("document.querySelector('main').append(Object.assign(document.createElement('img'),"
                  " {src: '/favicon.ico'}))")
    assert "image-alt" in axe.run(page).generate_snapshot()


def test_after_a_failed_submit_the_focus_is_on_the_error_summary(live_server, new_page):  # noqa: F811
    from playwright.sync_api import expect

    page = new_page(viewport=LAPTOP)
    page.goto(f"{live_server.url}/")
    page.get_by_label("Rectification").check()
    page.locator("#id_country").select_option(value="US")
    page.get_by_role("button", name="Send my request").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    expect(page).to_have_title(re.compile(r"^Error: "))
    links = summary.locator("a")
    targets = [href.lstrip("#") for href in links.evaluate_all("ls => ls.map(l => l.getAttribute('href'))")]
    assert targets == ["id_email", "id_state", "id_change_field_1"]
    # Each link takes the person to its field, with the focus in it.
    for target in targets:
        summary.locator(f"a[href='#{target}']").click()
        expect(page.locator(f"#{target}")).to_be_focused()
    # The kind's radio group carries its error by aria-describedby (the step taken without a script).
    page = new_page(viewport=LAPTOP, java_script_enabled=False)
    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Continue").click()
    group = page.get_by_role("group", name="What would you like us to do?")
    expect(group).to_have_attribute("aria-describedby", "id_kind_error")
    expect(page.locator("#id_kind_error")).to_have_text("Choose what you want us to do with your data.")
    expect(group).to_have_accessible_description("Choose what you want us to do with your data.")


def test_the_form_adapts_in_place_to_the_choices(live_server, new_page):  # noqa: F811
    from playwright.sync_api import expect

    page = new_page(viewport=LAPTOP)
    page.goto(f"{live_server.url}/")
    expect(page.locator("#rest")).to_be_hidden()
    expect(page.get_by_role("button", name="Continue")).to_be_hidden()  # the script shows the rest itself
    page.get_by_label("Rectification").check()
    expect(page.locator("#rest")).to_be_visible()
    expect(page.locator("#changes")).to_be_visible()
    page.get_by_label("Access").check()
    expect(page.locator("#changes")).to_be_hidden()
    state = page.locator("#id_state")
    expect(state).to_be_hidden()
    page.locator("#id_country").select_option(value="US")
    expect(state).to_be_visible()
    page.locator("#id_country").select_option(value="FR")
    expect(state).to_be_hidden()
    agent = page.locator("#id_agent_email")
    expect(agent).to_be_hidden()
    page.get_by_text("Filing for someone else?").click()
    expect(agent).to_be_hidden()
    page.get_by_label("I am an authorized agent acting for someone").check()
    expect(agent).to_be_visible()


def test_an_access_request_fits_on_one_laptop_screen(live_server, new_page):  # noqa: F811
    page = new_page(viewport=LAPTOP)
    page.goto(f"{live_server.url}/")
    page.get_by_label("Access").check()
    page.screenshot(path="/tmp/e2e-access-form.png")
    send = page.get_by_role("button", name="Send my request").bounding_box()
    assert send["y"] + send["height"] <= LAPTOP["height"], send
    assert page.evaluate("window.scrollY") == 0


def _rgb(css: str) -> tuple[str, float]:
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    alpha = numbers[3] if len(numbers) > 3 else 1.0
    return "#" + "".join(f"{round(n):02x}" for n in numbers[:3]), alpha


FOCUS_PROBE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  let back = el.parentElement, colour = 'rgba(0, 0, 0, 0)';
  while (back) {
    const bg = getComputedStyle(back).backgroundColor;
    if (!/rgba\\(.*, 0\\)$/.test(bg) && bg !== 'transparent') { colour = bg; break; }
    back = back.parentElement;
  }
  return {tag: el.tagName + (el.id ? '#' + el.id : ''), outline: style.outlineColor,
          width: parseFloat(style.outlineWidth), styleName: style.outlineStyle, behind: colour};
}"""


def test_the_focus_ring_stands_out_at_least_3_to_1(live_server, new_page, public):  # noqa: F811
    page = new_page(viewport=LAPTOP)
    checked = 0
    for path in ("/?kind=rectification", public.paths["status: completed, with a download"]):
        page.goto(f"{live_server.url}{path}")
        for _ in range(40):
            page.keyboard.press("Tab")
            probe = page.evaluate(FOCUS_PROBE)
            if probe["tag"] == "BODY":
                break
            ring, _ = _rgb(probe["outline"])
            behind, alpha = _rgb(probe["behind"])
            behind = behind if alpha else "#ffffff"
            assert probe["styleName"] != "none" and probe["width"] >= 2, probe
            assert contrast(ring, behind) >= 3, probe
            checked += 1
    assert checked > 20


def test_touch_targets_are_at_least_24_px(live_server, new_page, public):  # noqa: F811
    page = new_page(viewport=PHONE)
    for name, path in public.paths.items():
        page.goto(f"{live_server.url}{path}")
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        small = page.evaluate("""() => [...document.querySelectorAll(
              'button, input:not([type=hidden]), select, textarea, summary, a')]
            .filter(el => el.offsetParent !== null)
            .filter(el => !(el.tagName === 'A' && el.closest('p')))  // a link in a sentence is exempt
            .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
            .filter(([, r]) => r.width < 24 || r.height < 24)
            .map(([html, r]) => `${html} ${Math.round(r.width)}x${Math.round(r.height)}`)""")
        assert small == [], name


def test_nothing_scrolls_sideways_at_320_px(live_server, new_page, public):  # noqa: F811
    page = new_page(viewport=NARROW)
    for name, path in {**public.paths, "server error": "/server-error/"}.items():
        open_page(page, live_server, public, path)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert wide <= 0, f"{name}: {wide}px wider than the screen"
    failed_submit(page, live_server)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_the_reference_stays_on_one_line_on_a_phone(live_server, new_page, public):  # noqa: F811
    page = new_page(viewport={"width": 320, "height": 640})
    page.goto(f"{live_server.url}{public.paths['status: in progress']}")
    reference = page.locator("h1 .reference")
    assert re.fullmatch(r"DSR-[0-9A-Z]{4}-[0-9A-Z]{4}", reference.inner_text())
    assert reference.evaluate("el => el.getClientRects().length") == 1


def test_chromium_knows_every_feature_the_permissions_policy_names(live_server, new_page, settings):  # noqa: F811
    def warnings_on_load() -> list[str]:
        page = new_page()
        seen: list[str] = []
        page.on("console", lambda m: seen.append(m.text) if "Permissions-Policy" in m.text else None)
        page.goto(f"{live_server.url}/")
        page.wait_for_timeout(300)  # console events arrive asynchronously
        return seen

    assert warnings_on_load() == []
    # The listener hears Chromium's warning when a name it does not know is in the header.
    settings.PERMISSIONS_POLICY = {**settings.PERMISSIONS_POLICY, "bluetooth": []}
    assert any("bluetooth" in text for text in warnings_on_load())


def test_the_favicon_is_an_icon(live_server, new_page):  # noqa: F811
    page = new_page()
    response = page.goto(f"{live_server.url}/favicon.ico")
    assert response.status == 200 and response.headers["content-type"] == "image/x-icon"
    assert page.evaluate("document.querySelector('img').naturalWidth") == 32
