"""The fingerprinting guard in a real Chromium: every guarded API before consent, after accepting
in the same page view, and after withdrawal; reports, the allowlist and same-origin frames.

The probes live in first-party scripts (`/static/probe.js`, and the allowlisted
`/static/draw.js`) so reports can name them. Chromium gets fake media devices here, so
`enumerateDevices` has something to hide, and a CDP override makes `hardwareConcurrency` 7
(the guard answers 4). WebGL runs on SwiftShader, which this Chromium has even with --disable-gpu.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate, Policy
from consent_gate.fingerprint import API_NAMES
from consent_gate.qa import serve
from consent_gate.qa.browser import launch_chromium

SECRET = "fingerprint-guard-test-secret"
TOKEN = "fingerprint-reports-token"
PREFIX = "/consent-gate"
HARDWARE_CONCURRENCY = 7  # the CDP override; the guard answers 4

# window[name][api]() -> a reading. Booleans say "the answer is blank/silent".
PROBE_JS = """\
window.%(name)s = (() => {
  "use strict";
  const fresh = () => Object.assign(document.createElement("canvas"), { width: 64, height: 32 });
  const draw = (canvas) => {
    const context = canvas.getContext("2d");
    context.fillStyle = "#f60";
    context.fillRect(2, 2, 40, 20);
    context.fillStyle = "#069";
    context.font = "14px serif";
    context.fillText("Cwm fjordbank", 4, 16);
    return context;
  };
  const bytes = async (blob) => Array.from(new Uint8Array(await blob.arrayBuffer())).join();
  const sum = (data) => data.reduce((total, value) => total + value, 0);
  const blob = (canvas) => new Promise((resolve) => canvas.toBlob(resolve));
  const webgl = () => Object.assign(document.createElement("canvas"), { width: 4, height: 4 })
    .getContext("webgl");
  const tone = (analyser) => {
    const context = new OfflineAudioContext(1, 5000, 44100);
    const oscillator = context.createOscillator();
    oscillator.type = "triangle";
    oscillator.frequency.value = 1000;
    const node = analyser ? context.createAnalyser() : context.createDynamicsCompressor();
    oscillator.connect(node);
    node.connect(context.destination);
    oscillator.start(0);
    return [context, node];
  };
  const silent = (buffer) => buffer.getChannelData(0).every((sample) => sample === 0);
  const analysed = async (Type, read, quiet) => {
    const [context, analyser] = tone(true);
    await context.startRendering();
    const data = new Type(analyser.fftSize);
    analyser[read](data);
    return data.every((value) => value === quiet);
  };
  return {
    "canvas.toDataURL": () => {
      const c = fresh();
      draw(c);
      return c.toDataURL() === fresh().toDataURL();
    },
    "canvas.toBlob": async () => {
      const c = fresh();
      draw(c);
      return (await bytes(await blob(c))) === (await bytes(await blob(fresh())));
    },
    "canvas.getImageData": () => sum(draw(fresh()).getImageData(0, 0, 64, 32).data) === 0,
    "offscreen.convertToBlob": async () => {
      const c = new OffscreenCanvas(64, 32);
      draw(c);
      const empty = new OffscreenCanvas(64, 32);
      empty.getContext("2d");
      const [drawn, blank] = [await c.convertToBlob(), await empty.convertToBlob()];
      return (await bytes(drawn)) === (await bytes(blank));
    },
    "offscreen.getImageData": () =>
      sum(draw(new OffscreenCanvas(64, 32)).getImageData(0, 0, 64, 32).data) === 0,
    "webgl.getParameter": () => {
      const gl = webgl();
      return gl.getParameter(gl.getExtension("WEBGL_debug_renderer_info").UNMASKED_RENDERER_WEBGL);
    },
    "webgl.readPixels": () => {
      const gl = webgl();
      gl.clearColor(1, 0.5, 0, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
      const pixels = new Uint8Array(4);
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
      return sum(pixels) === 0;
    },
    "webgl.getSupportedExtensions": () => webgl().getSupportedExtensions().length,
    "audio.startRendering": () => new Promise((resolve) => {
      const [context] = tone(false);
      let byEvent = null;
      context.oncomplete = (event) => { byEvent = silent(event.renderedBuffer); };
      context.startRendering().then((buffer) => resolve([byEvent, silent(buffer)]));
    }),
    "audio.getFloatFrequencyData": () => analysed(Float32Array, "getFloatFrequencyData", -Infinity),
    "audio.getByteFrequencyData": () => analysed(Uint8Array, "getByteFrequencyData", 0),
    "audio.getFloatTimeDomainData": () => analysed(Float32Array, "getFloatTimeDomainData", 0),
    "audio.getByteTimeDomainData": () => analysed(Uint8Array, "getByteTimeDomainData", 128),
    "navigator.hardwareConcurrency": () => navigator.hardwareConcurrency,
    "navigator.deviceMemory": () => navigator.deviceMemory,
    "navigator.getHighEntropyValues": async () => {
      const hints = ["architecture", "bitness", "model", "platformVersion", "fullVersionList"];
      return Object.keys(await navigator.userAgentData.getHighEntropyValues(hints)).sort().join();
    },
    "navigator.enumerateDevices": async () =>
      (await navigator.mediaDevices.enumerateDevices()).length,
  };
})();
"""

# A marketing script the gate holds back until consent: what it reads when banner.js runs it.
RELEASED_JS = """\
window.releasedReadings = [
  window.probe["canvas.toDataURL"](),
  window.probe["webgl.getParameter"](),
  navigator.hardwareConcurrency,
];
"""

# What each probe reads while the guard is on.
GUARDED: dict[str, Any] = {
    "canvas.toDataURL": True,
    "canvas.toBlob": True,
    "canvas.getImageData": True,
    "offscreen.convertToBlob": True,
    "offscreen.getImageData": True,
    "webgl.getParameter": "WebKit WebGL",
    "webgl.readPixels": True,
    "webgl.getSupportedExtensions": 0,
    "audio.startRendering": [True, True],
    "audio.getFloatFrequencyData": True,
    "audio.getByteFrequencyData": True,
    "audio.getFloatTimeDomainData": True,
    "audio.getByteTimeDomainData": True,
    "navigator.hardwareConcurrency": 4,
    "navigator.deviceMemory": 8,
    "navigator.getHighEntropyValues": "brands,mobile,platform",
    "navigator.enumerateDevices": 0,
}

PAGE = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Probe</title>
<script src="/static/probe.js"></script>
<script src="/static/draw.js"></script>
<script data-consent="marketing" src="/static/released.js"></script>
</head><body><h1>Probe</h1><canvas id="art" width="64" height="32"></canvas></body></html>
"""


def create_app() -> ConsentGate:
    async def index(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def probe(request: Request) -> Response:
        name = "drawProbe" if request.url.path.endswith("draw.js") else "probe"
        return Response(PROBE_JS % {"name": name}, media_type="text/javascript")

    async def released(request: Request) -> Response:
        return Response(RELEASED_JS, media_type="text/javascript")

    async def blank(request: Request) -> Response:
        return HTMLResponse("<!doctype html><title>Frame</title><p>frame</p>")

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/static/probe.js", probe),
            Route("/static/draw.js", probe),
            Route("/static/released.js", released),
            Route("/frame", blank),
        ]
    )
    policy = Policy.from_dict(
        {"log": {"enabled": False}, "fingerprinting": {"allow_scripts": ["/static/draw.js"]}}
    )
    return ConsentGate(app, SECRET, policy, reports_token=TOKEN)


@pytest.fixture(scope="module")
def media_browser(consent_gate_playwright: Playwright) -> Iterator[Browser]:
    """Chromium with fake cameras and microphones: enumerateDevices has devices to hide."""
    browser = launch_chromium(
        consent_gate_playwright,
        args=["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(create_app()) as url:
        yield url


@pytest.fixture
def page(media_browser: Browser, base_url: str) -> Iterator[Page]:
    context = media_browser.new_context(base_url=base_url)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send(
        "Emulation.setHardwareConcurrencyOverride", {"hardwareConcurrency": HARDWARE_CONCURRENCY}
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def load(page: Page, path: str = "/") -> None:
    page.goto(path)
    page.wait_for_function("() => window.consentGate !== undefined && window.probe !== undefined")


def read(page: Page, api: str, probe: str = "probe") -> Any:
    return page.evaluate("([probe, api]) => window[probe][api]()", [probe, api])


def accept(page: Page) -> None:
    """Accept everything, then wait until the guard has checked with the gate and stepped down."""
    page.evaluate("() => window.consentGate.accept()")
    page.wait_for_function(f"() => navigator.hardwareConcurrency === {HARDWARE_CONCURRENCY}")


def withdraw(page: Page) -> None:
    with page.expect_navigation():
        page.evaluate("() => { window.consentGate.withdraw(); }")
    page.wait_for_function("() => window.consentGate !== undefined && window.probe !== undefined")


def reports(base_url: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base_url}{PREFIX}/reports", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    rows: list[dict[str, Any]] = response.json()["fingerprint"]["reports"]
    return rows


def wait_for_reports(base_url: str, wanted: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """The (script, api, page) keys reported so far, once all `wanted` are in (or 10 s passed)."""
    deadline = time.monotonic() + 10
    while True:
        found = {(r["script"], r["api"], r["page"]) for r in reports(base_url)}
        if wanted <= found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_the_probes_cover_every_guarded_api() -> None:
    assert set(GUARDED) == API_NAMES


@pytest.mark.parametrize("api", sorted(GUARDED))
def test_guarded_before_consent_real_after_accept_guarded_again_after_withdrawal(
    page: Page, api: str
) -> None:
    load(page)
    assert read(page, api) == GUARDED[api]
    page.evaluate("() => { window.__samePageView = true; }")

    accept(page)
    real = read(page, api)
    assert real != GUARDED[api]
    assert page.evaluate("() => window.__samePageView === true")  # no reload was needed
    if api == "navigator.hardwareConcurrency":
        assert real == HARDWARE_CONCURRENCY

    withdraw(page)
    assert read(page, api) == GUARDED[api]


def test_attempts_are_reported_with_the_calling_script_and_page(page: Page, base_url: str) -> None:
    load(page)
    for api in sorted(GUARDED):
        read(page, api)
    script = f"{base_url}/static/probe.js"
    wanted = {(script, api, "/") for api in GUARDED}
    found = wait_for_reports(base_url, wanted)
    assert wanted <= found
    assert not any(key[0].endswith("/static/draw.js") for key in found)


def test_inline_page_code_is_reported_as_the_page(page: Page, base_url: str) -> None:
    load(page)
    page.add_script_tag(content="window.__inline = navigator.hardwareConcurrency;")
    assert page.evaluate("() => window.__inline") == 4
    wanted = {(f"{base_url}/", "navigator.hardwareConcurrency", "/")}
    assert wanted <= wait_for_reports(base_url, wanted)


@pytest.mark.parametrize("api", sorted(GUARDED))
def test_an_allowlisted_first_party_script_reads_real_values(page: Page, api: str) -> None:
    load(page)
    assert read(page, api, "drawProbe") != GUARDED[api]
    assert read(page, api) == GUARDED[api]  # the guard is still on for everyone else


def test_wrapped_functions_look_native(page: Page) -> None:
    load(page)
    looks = page.evaluate(
        """() => {
          const toDataURL = HTMLCanvasElement.prototype.toDataURL;
          const getter = Object.getOwnPropertyDescriptor(Navigator.prototype, "hardwareConcurrency")
            .get;
          return [toDataURL.name, toDataURL.length, String(toDataURL),
                  Function.prototype.toString.call(getter), getter.name, "prototype" in toDataURL,
                  String(Function.prototype.toString)];
        }"""
    )
    assert looks == [
        "toDataURL",
        0,
        "function toDataURL() { [native code] }",
        "function get hardwareConcurrency() { [native code] }",
        "get hardwareConcurrency",
        False,
        "function toString() { [native code] }",
    ]


def test_scripts_released_by_accepting_read_real_values(page: Page) -> None:
    load(page)
    assert page.evaluate("() => window.releasedReadings") is None
    page.evaluate("() => window.consentGate.accept()")
    page.wait_for_function("() => window.releasedReadings !== undefined")
    canvas_blank, renderer, cores = page.evaluate("() => window.releasedReadings")
    assert (canvas_blank, cores) == (False, HARDWARE_CONCURRENCY)
    assert renderer != GUARDED["webgl.getParameter"]


def test_a_forged_change_event_does_not_lift_the_guard(page: Page) -> None:
    load(page)
    page.evaluate(
        """() => document.dispatchEvent(new CustomEvent("consentgate:change", {
          detail: { choices: { preferences: true, analytics: true, marketing: true },
                    decided: true },
        }))"""
    )
    page.wait_for_timeout(1000)
    assert read(page, "canvas.toDataURL") is True
    accept(page)
    assert read(page, "canvas.toDataURL") is False


def test_no_guard_once_the_visitor_allowed_its_categories(page: Page) -> None:
    load(page)
    accept(page)
    load(page)
    assert "consent-gate.fingerprint-guard" not in page.content()
    assert read(page, "canvas.toDataURL") is False


def test_a_same_origin_frame_added_at_run_time_cannot_read_the_real_canvas(page: Page) -> None:
    load(page)
    readings = page.evaluate(
        """async () => {
          const blank = (win) =>
            Object.assign(win.document.createElement("canvas"), { width: 64, height: 32 });
          const drawn = (win) => {
            const canvas = blank(win);
            canvas.getContext("2d").fillRect(0, 0, 30, 30);
            return canvas;
          };
          const art = document.getElementById("art");
          art.getContext("2d").fillRect(0, 0, 30, 30);
          const expected = blank(window).toDataURL();
          const frame = document.createElement("iframe");
          document.body.appendChild(frame);
          const win = frame.contentWindow;  // through the getter
          const viaGetter = [
            win.HTMLCanvasElement.prototype.toDataURL.call(drawn(win)) === expected,
            win.HTMLCanvasElement.prototype.toDataURL.call(art) === expected,
            win.navigator.hardwareConcurrency,
          ];
          const other = document.createElement("iframe");
          document.body.appendChild(other);
          await new Promise((resolve) => setTimeout(resolve, 0));
          const late = window[1];  // no getter: the MutationObserver got there first
          const viaObserver =
            late.HTMLCanvasElement.prototype.toDataURL.call(drawn(late)) === expected;
          return [...viaGetter, viaObserver];
        }"""
    )
    assert readings == [True, True, 4, True]


def test_a_same_origin_frame_page_is_guarded_too(page: Page) -> None:
    load(page)
    page.evaluate(
        """() => new Promise((resolve) => {
          const frame = Object.assign(document.createElement("iframe"), { src: "/frame" });
          frame.onload = resolve;
          document.body.appendChild(frame);
        })"""
    )
    assert page.frames[1].evaluate("() => navigator.hardwareConcurrency") == 4


def test_limits_cross_origin_frames_and_workers_are_not_covered(page: Page, base_url: str) -> None:
    """README "honest limits": the guard cannot reach into other origins or workers, and
    touching a cross-origin frame must not break the page."""
    other_origin = base_url.replace("127.0.0.1", "localhost")
    load(page)
    outcome = page.evaluate(
        """async (src) => {
          const frame = Object.assign(document.createElement("iframe"), { src });
          await new Promise((resolve) => {
            frame.onload = resolve;
            document.body.appendChild(frame);
          });
          let crossOrigin = "readable";
          try { frame.contentWindow.HTMLCanvasElement; } catch (error) { crossOrigin = error.name; }
          const worker = new Worker(URL.createObjectURL(new Blob(
            ["postMessage(navigator.deviceMemory)"], { type: "text/javascript" })));
          const inWorker = await new Promise((resolve) => {
            worker.onmessage = (event) => resolve(event.data);
          });
          return [crossOrigin, frame.contentDocument, inWorker, navigator.deviceMemory];
        }""",
        f"{other_origin}/frame",
    )
    cross_origin, document, in_worker, in_page = outcome
    assert (cross_origin, document, in_page) == ("SecurityError", None, 8)
    accept(page)
    assert in_worker == page.evaluate("() => navigator.deviceMemory")  # the real value leaked
