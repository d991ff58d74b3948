"""Cookies a page's own script writes, in a real Chromium: a name only refused categories claim
is held (document.cookie, cookieStore.set, also from a same-origin frame's realm, and web
storage items of such names) and written in the same page view once its category is allowed,
in order; deletions and other names go through untouched; a withdrawal clears them.

The writes are first-party code the server cannot see: inline scripts with no tracker host in
them, as a bundle's would be. `_ga` is claimed by two analytics services of the catalogue,
`_fbp` by Meta's pixel (marketing); Mixpanel's queue `__mpq_<token>_ev` by a glob, and the
site's necessary `AMP_csrf` also by Amplitude's `AMP_*`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate, CookieSpec, Policy, Service

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LiveServer, Visitor, VisitorFactory

SECRET = "script-cookies-browser-test-secret"

# Two writes of _ga (the second must win on release), one of _fbp, one the policy does not know.
DOCUMENT_COOKIE = """
document.cookie = "_ga=GA1.1.1.1; path=/; max-age=3600";
document.cookie = "_ga=GA1.1.2.2; path=/; max-age=3600";
document.cookie = "_fbp=fb.1.123; path=/";
document.cookie = "plain=1; path=/";
"""
# The options object changed after the call: the write made on release is the one asked for.
COOKIE_STORE = """
const init = {name: "_fbp", value: "fb.1.456", path: "/"};
window.__stored = Promise.all([
  cookieStore.set("_ga", "GA1.1.3.3"),
  cookieStore.set(init),
  cookieStore.set("plain", "2"),
]).then(() => "resolved", (error) => "rejected " + error.name);
init.value = "changed";
"""
# The frame's own natives: its document's cookie setter, one taken from its Document.prototype
# and applied to this document, its cookieStore.
FRAME = """
const frame = document.createElement("iframe");
document.body.append(frame);
const win = frame.contentWindow;
win.document.cookie = "_ga=GA1.1.4.4; path=/";
const setter = Object.getOwnPropertyDescriptor(win.Document.prototype, "cookie").set;
setter.call(document, "_fbp=fb.1.789; path=/");
win.cookieStore.set("_gid", "GA1.1.5.5");
win.document.cookie = "plain=3; path=/";
"""
# Web storage under the same names (a bundled SDK keeps its visitor id there); the read right
# after the writes sees none of the held ones.
STORAGE = """
localStorage.setItem("_ga", "GA1.1.6.6");
localStorage.setItem("_ga", "GA1.1.7.7");
sessionStorage.setItem("_fbp", "fb.1.321");
localStorage.setItem("plain", "4");
window.__read = localStorage.getItem("_ga");
document.cookie = "plain=4; path=/";
"""
HELD = {"_ga", "_fbp"}
# Mixpanel's queues (the project token in the middle of the name) and tab id.
QUEUE = """
localStorage.setItem("__mpq_0123456789abcdef_ev", '[{"id":"a"}]');
localStorage.setItem("__mpq_0123456789abcdef_ev", '[{"id":"a"},{"id":"b"}]');
localStorage.setItem("__mpq_0123456789abcdef_pp", "[]");
sessionStorage.setItem("mp_tab_id_mixpanel_0123456789abcdef", "$tab-1");
document.cookie = "plain=5; path=/";
"""
QUEUED = {
    "__mpq_0123456789abcdef_ev": '[{"id":"a"},{"id":"b"}]',
    "__mpq_0123456789abcdef_pp": "[]",
    "session:mp_tab_id_mixpanel_0123456789abcdef": "$tab-1",
}
# The site's own necessary cookie, whose name Amplitude's AMP_* matches too.
SITE = Service(
    id="site-security",
    name="Site security",
    category="necessary",
    cookies=(CookieSpec(name="AMP_csrf", purpose="Protects the site's forms."),),
)


def _page(script: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cookies</title>'
        f"</head><body><h1>Cookies</h1><script>{script}\nwindow.__ran = true;</script>"
        "</body></html>"
    )


def _app() -> ConsentGate:
    pages = {
        "/document": DOCUMENT_COOKIE,
        "/store": COOKIE_STORE,
        "/frame": FRAME,
        "/storage": STORAGE,
        "/queue": QUEUE,
        "/": 'document.cookie = "plain=0; path=/";',
    }

    async def show(request: Request) -> Response:
        return HTMLResponse(_page(pages[request.url.path]))

    routes = [Route(path, show) for path in pages]
    default = Policy.default()
    policy = dataclasses.replace(default, services=(*default.services, SITE))
    return ConsentGate(Starlette(routes=routes), secret_key=SECRET, policy=policy)


@pytest.fixture(scope="module")
def app() -> ConsentGate:
    return _app()


def _visit(visit: VisitorFactory, live: LiveServer, app: ConsentGate, path: str) -> Visitor:
    """A visitor on `path` once its script has run, and a moment more for the cookie store."""
    visitor = visit(live(app))
    visitor.load(path)
    visitor.page.wait_for_function("() => window.__ran === true")
    visitor.wait_for_cookies({"plain"})
    return visitor


def _script_cookies(visitor: Visitor) -> dict[str, str]:
    pairs = visitor.page.evaluate("() => document.cookie").split("; ")
    return dict(pair.split("=", 1) for pair in pairs if pair)


def _values(visitor: Visitor) -> dict[str, str]:
    """The context's cookies for the site, name -> value, but the gate's own."""
    return {name: c["value"] for name, c in visitor.cookies().items() if name != "consent_gate"}


@pytest.mark.parametrize(
    ("path", "released"),
    [
        ("/document", {"_ga": "GA1.1.2.2", "_fbp": "fb.1.123", "plain": "1"}),
        ("/store", {"_ga": "GA1.1.3.3", "_fbp": "fb.1.456", "plain": "2"}),
        ("/frame", {"_ga": "GA1.1.4.4", "_fbp": "fb.1.789", "_gid": "GA1.1.5.5", "plain": "3"}),
    ],
)
def test_held_until_accept_all_then_written_in_order(
    live: LiveServer,
    visit: VisitorFactory,
    app: ConsentGate,
    path: str,
    released: dict[str, str],
) -> None:
    visitor = _visit(visit, live, app, path)
    visitor.page.wait_for_timeout(300)
    plain = {"plain": released["plain"]}
    assert _values(visitor) == plain
    assert _script_cookies(visitor) == plain
    if path == "/store":  # the page's promises settle as if written
        assert visitor.page.evaluate("() => window.__stored") == "resolved"

    visitor.mark_page_view()
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.wait_for_cookies(released)
    assert _values(visitor) == released  # the last write of _ga wins: replayed in order
    assert _script_cookies(visitor) == released
    visitor.assert_same_page_view(visitor.page.url)


SCRIPTS = [("/document", DOCUMENT_COOKIE), ("/store", COOKIE_STORE), ("/frame", FRAME)]


@pytest.mark.parametrize(("path", "script"), SCRIPTS)
def test_reject_all_never_writes_them(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate, path: str, script: str
) -> None:
    visitor = _visit(visit, live, app, path)
    visitor.banner.get_by_role("button", name="Reject all").click()
    visitor.page.wait_for_timeout(1500)  # past the gate's fallback release (1 s)
    # The server expired what the decision's request carried; the page writes them again.
    visitor.page.evaluate(f"() => {{ {script} }}")
    visitor.page.wait_for_timeout(500)
    assert not visitor.cookie_names() & (HELD | {"_gid"})
    assert not set(_script_cookies(visitor)) & HELD


def test_a_category_allowed_alone_releases_only_its_cookies(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = _visit(visit, live, app, "/document")
    visitor.page.evaluate("() => window.consentGate.accept(['analytics'])")
    visitor.wait_for_cookies({"_ga"})
    visitor.page.wait_for_timeout(1200)
    assert _values(visitor) == {"_ga": "GA1.1.2.2", "plain": "1"}
    # Marketing's stays held, not dropped: allowed too in the same page view, it is written.
    visitor.mark_page_view()
    visitor.page.evaluate("() => window.consentGate.accept(['analytics', 'marketing'])")
    visitor.wait_for_cookies({"_fbp"})
    assert _values(visitor) == {"_ga": "GA1.1.2.2", "_fbp": "fb.1.123", "plain": "1"}
    visitor.assert_same_page_view(visitor.page.url)


def test_deletions_go_through_and_a_line_that_only_looks_like_one_sets_nothing(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = _visit(visit, live, app, "/")
    # Cookies that are there already (set past the page, as a tracker's earlier visit would).
    visitor.context.add_cookies(
        [
            {"name": name, "value": "old", "url": visitor.base_url}
            for name in ("_ga", "_fbp", "_gid", "_gcl_au")
        ]
    )
    visitor.page.evaluate(
        """async () => {
          document.cookie = "_ga=; Max-Age=0; path=/";
          document.cookie = "_fbp=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/";
          await cookieStore.delete("_gid");
          await cookieStore.set({name: "_gcl_au", value: "", expires: Date.now() - 1000});
          // An Expires that cookie parsers ignore (a year alone) but Date.parse reads: taken
          // for the deletion it looks like, and made one (not a session cookie).
          document.cookie = "_gat_x=1; expires=1970; path=/";
        }"""
    )
    visitor.page.wait_for_timeout(300)
    assert _values(visitor) == {"plain": "0"}
    assert _script_cookies(visitor) == {"plain": "0"}


def test_a_service_allowed_apart_releases_a_name_it_shares(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    """`_ga` is claimed by Google Analytics and Universal Analytics: allowing the first alone
    leaves no refused claim only, so the write is made; Meta's `_fbp` stays held."""
    visitor = _visit(visit, live, app, "/document")
    visitor.mark_page_view()
    visitor.page.evaluate(
        """() => fetch("/consent-gate/consent", {
          method: "POST", headers: {"Content-Type": "application/json"},
          body: JSON.stringify({action: "allow", services: ["google-analytics"]}),
        })"""
    )
    visitor.wait_for_cookies({"_ga"})
    visitor.page.wait_for_timeout(1200)
    assert _values(visitor) == {"_ga": "GA1.1.2.2", "plain": "1"}
    visitor.assert_same_page_view(visitor.page.url)


def test_after_a_withdrawal_the_pages_writes_are_held_again(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = _visit(visit, live, app, "/document")
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.wait_for_cookies(HELD)
    with visitor.page.expect_navigation():  # the withdrawal reloads; the page writes again
        visitor.page.evaluate("() => window.consentGate.withdraw()")
    visitor.page.wait_for_function("() => window.__ran === true")
    visitor.page.wait_for_timeout(500)
    assert _values(visitor) == {"plain": "1"}
    assert _script_cookies(visitor) == {"plain": "1"}


def _stored(visitor: Visitor) -> dict[str, str]:
    """localStorage and sessionStorage items (the latter's names prefixed "session:")."""
    stored: dict[str, str] = visitor.page.evaluate(
        """() => ({...localStorage, ...Object.fromEntries(
          Object.entries(sessionStorage).map(([name, value]) => ["session:" + name, value]))})"""
    )
    return stored


def test_web_storage_items_are_held_until_accept_all_then_written_in_order(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = _visit(visit, live, app, "/storage")
    assert _stored(visitor) == {"plain": "4"}
    assert visitor.page.evaluate("() => window.__read") is None

    visitor.mark_page_view()
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_function("() => localStorage.getItem('_ga') !== null")
    assert _stored(visitor) == {"plain": "4", "_ga": "GA1.1.7.7", "session:_fbp": "fb.1.321"}
    visitor.assert_same_page_view(visitor.page.url)


def test_web_storage_items_are_never_written_after_reject_all(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = _visit(visit, live, app, "/storage")
    visitor.banner.get_by_role("button", name="Reject all").click()
    visitor.page.wait_for_timeout(1500)  # past the gate's fallback release (1 s)
    visitor.page.evaluate(f"() => {{ {STORAGE} }}")
    visitor.page.wait_for_timeout(300)
    assert _stored(visitor) == {"plain": "4"}


def test_a_withdrawal_clears_the_web_storage_items_of_its_categories(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = _visit(visit, live, app, "/storage")
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_function("() => localStorage.getItem('_ga') !== null")
    with visitor.page.expect_navigation():  # the withdrawal reloads; the page writes again
        visitor.page.evaluate("() => window.consentGate.withdraw()")
    visitor.page.wait_for_function("() => window.__ran === true")
    visitor.page.wait_for_timeout(500)
    # Written before the withdrawal, cleared by it; written again after it, held.
    assert _stored(visitor) == {"plain": "4"}


def test_a_deletion_before_consent_drops_the_held_writes_it_undoes(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    """A library that checks cookies or storage by writing a name and deleting it at once
    leaves nothing behind once released (Amplitude's AMP_TEST)."""
    visitor = _visit(visit, live, app, "/")
    visitor.page.evaluate(
        """async () => {
          document.cookie = "_ga=probe; path=/";
          document.cookie = "_ga=; Max-Age=0; path=/";
          await cookieStore.set("_fbp", "probe");
          await cookieStore.delete("_fbp");
          document.cookie = "_gid=kept; path=/";
          localStorage.setItem("_ga", "probe");
          localStorage.removeItem("_ga");
          sessionStorage.setItem("_fbp", "probe");
          sessionStorage.clear();
          localStorage.setItem("_gid", "kept");
        }"""
    )
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.wait_for_cookies({"_gid"})
    visitor.page.wait_for_function("() => localStorage.getItem('_gid') === 'kept'")
    assert _values(visitor) == {"plain": "0", "_gid": "kept"}
    assert _stored(visitor) == {"_gid": "kept"}


def test_mixpanels_queue_is_held_until_accept_all_then_written_in_order(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    """Names with the project token in the middle, matched by the catalogue's globs."""
    visitor = _visit(visit, live, app, "/queue")
    visitor.page.wait_for_timeout(300)
    assert _stored(visitor) == {}

    visitor.mark_page_view()
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_function("() => localStorage.getItem('__mpq_0123456789abcdef_pp')")
    assert _stored(visitor) == QUEUED  # the last write of the queue wins: replayed in order
    visitor.assert_same_page_view(visitor.page.url)


def test_a_withdrawal_clears_mixpanels_queue_and_keeps_a_necessary_name_its_globs_match(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = _visit(visit, live, app, "/queue")
    visitor.page.evaluate(
        """() => {
          localStorage.setItem("AMP_csrf", "site");
          document.cookie = "AMP_csrf=site; path=/";
        }"""
    )
    assert _stored(visitor) == {"AMP_csrf": "site"}  # necessary: never held
    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_function("() => localStorage.getItem('__mpq_0123456789abcdef_pp')")
    with visitor.page.expect_navigation():  # the withdrawal reloads; the page writes again
        visitor.page.evaluate("() => window.consentGate.withdraw()")
    visitor.page.wait_for_function("() => window.__ran === true")
    visitor.page.wait_for_timeout(500)
    # Written before the withdrawal, cleared by it; written again after it, held.
    assert _stored(visitor) == {"AMP_csrf": "site"}
    assert _script_cookies(visitor) == {"plain": "5", "AMP_csrf": "site"}
