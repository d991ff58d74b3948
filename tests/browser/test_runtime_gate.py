"""The run-time gate in a real Chromium: loads the page's own scripts start are held, then
released once, in order, in the same page view.

The site's first-party bundle (`/static/corpus.js`) reaches a tracker host of the default
catalogue (Hotjar's `hotjar.io`, analytics) through every path the gate covers. Each load has its
own URL, so the recorder's log tells which went out and how often. The host is put together at
run time, as a bundler's output would, so no server-side rule sees it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from consent_gate import ConsentGate

if TYPE_CHECKING:  # fixture factory types; tests/ is not a package
    from conftest import LiveServer, Visitor, VisitorFactory

SECRET = "runtime-gate-browser-test-secret"
SNIPPETS = Path(__file__).resolve().parents[1] / "data" / "snippets"
HOST = "rt.hotjar.io"
T = f"https://{HOST}"

# Held in the gate's queue and released by it, in this order (scripts run in it).
QUEUED = [
    "s1.js",  # createElement + src + appendChild(...).onload
    "s2.js",  # setAttribute("src") + insertBefore
    "i3.gif",  # new Image().src, never inserted
    "i4.gif",  # img.srcset + append
    "f5.html",  # iframe.src + append
    "c6.css",  # link.href + prepend
    "x7",  # fetch(string)
    "x8",  # fetch(Request)
    "x9",  # XMLHttpRequest
    "b10",  # navigator.sendBeacon
    "i11.gif",  # a DOMParser image, appended
    "p12.gif",  # video.poster
    "s13.js",  # setAttributeNS(null, "src")
    "f14.html",  # Range.insertNode of a DOMParser frame
    "i15.gif",  # replaceChildren with a DOMParser image
    "i16.gif",  # insertAdjacentElement of a DOMParser image
    "a17.mp3",  # new Audio(url): the constructor sets the source
    "l18.gif",  # link.imageSrcset (a preloaded image)
    "x19",  # fetchLater, sent at once when released
    "m26",  # CSS.paintWorklet.addModule
    "i27.gif",  # an SVG image's href.baseVal
]
# Rewritten to the server's held form and released by the banner with the server's elements.
REWRITTEN = [
    "i20.gif",  # innerHTML
    "f21.html",  # insertAdjacentHTML
    "i22.gif",  # outerHTML
    "s23.js",  # createContextualFragment (its scripts run)
    "i24.gif",  # document.write while parsing
    "s25.js",  # document.write of an external script while parsing
]
# Start in their constructor: sent to the gate's refusing path instead, never released.
UNHOLDABLE = ["w30", "e31", "w32.js"]
SCRIPTS = ["s1.js", "s2.js", "s13.js"]

CORPUS_JS = """\
(() => {
  const T = "https://rt." + "hotjar" + ".io/";
  const log = (window.__log = []);
  const c = (window.__contracts = {});
  const head = document.head, body = document.body;
  const parsed = (markup) => new DOMParser().parseFromString(markup, "text/html").body.firstChild;

  const s1 = document.createElement("script");
  s1.src = T + "s1.js";
  c.appendChildReturns = head.appendChild(s1) === s1;
  s1.onload = () => log.push("onload s1");
  c.srcReadsBack = s1.src === T + "s1.js";
  const s2 = document.createElement("script");
  s2.setAttribute("src", T + "s2.js");
  c.getAttributeReadsBack = s2.getAttribute("src") === T + "s2.js";
  head.insertBefore(s2, null);
  const image = new Image();
  c.imageIsImage = image instanceof HTMLImageElement;
  image.src = T + "i3.gif";
  const i4 = document.createElement("img");
  i4.srcset = T + "i4.gif 1x";
  body.append(i4);
  const f5 = document.createElement("iframe");
  f5.src = T + "f5.html";
  body.appendChild(f5);
  const c6 = document.createElement("link");
  c6.rel = "stylesheet";
  c6.href = T + "c6.css";
  head.prepend(c6);
  c.fetchIsNative = String(fetch).includes("[native code]");
  window.__x7 = "pending";
  fetch(T + "x7").then(
    () => { window.__x7 = "resolved"; },
    (e) => { window.__x7 = "rejected " + e.name; },
  );
  fetch(new Request(T + "x8")).catch(() => {});
  const xhr = new XMLHttpRequest();
  xhr.open("GET", T + "x9");
  window.__x9 = "pending";
  xhr.onerror = () => { window.__x9 = "error"; };
  xhr.onload = () => { window.__x9 = "load"; };
  xhr.send();
  c.beaconSaysQueued = navigator.sendBeacon(T + "b10", "data") === true;
  body.append(parsed('<img src="' + T + 'i11.gif">'));
  const video = document.createElement("video");
  video.poster = T + "p12.gif";
  body.append(video);
  const s13 = document.createElement("script");
  s13.setAttributeNS(null, "src", T + "s13.js");
  head.append(s13);
  const range = document.createRange();
  range.selectNodeContents(body);
  range.collapse(false);
  range.insertNode(parsed('<iframe src="' + T + 'f14.html"></iframe>'));
  const box = document.createElement("div");
  body.append(box);
  box.replaceChildren(parsed('<img src="' + T + 'i15.gif">'));
  box.insertAdjacentElement("afterend", parsed('<img src="' + T + 'i16.gif">'));
  const audio = new Audio(T + "a17.mp3");
  c.audioReadsBack = audio instanceof Audio && audio.src === T + "a17.mp3";
  const l18 = document.createElement("link");
  l18.rel = "preload";
  l18.as = "image";
  l18.imageSrcset = T + "l18.gif 1x";
  head.append(l18);
  c.fetchLaterWaits = fetchLater(T + "x19", { activateAfter: 0 }).activated === false;
  window.__m26 = "pending";
  CSS.paintWorklet.addModule(T + "m26").then(
    () => { window.__m26 = "resolved"; },
    (e) => { window.__m26 = "rejected " + e.name; },
  );
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  body.append(svg);
  const i27 = document.createElementNS("http://www.w3.org/2000/svg", "image");
  svg.append(i27);
  i27.href.baseVal = T + "i27.gif";
  c.baseValReadsBack = i27.href.baseVal === T + "i27.gif";

  const holder = document.createElement("div");
  body.append(holder);
  holder.innerHTML = '<p>text</p><img src="' + T + 'i20.gif">';
  holder.insertAdjacentHTML("beforeend", '<iframe src="' + T + 'f21.html"></iframe>');
  const old = document.createElement("span");
  holder.append(old);
  old.outerHTML = '<img src="' + T + 'i22.gif">';
  const markup = '<script src="' + T + 's23.js"></scr' + 'ipt>';
  body.append(document.createRange().createContextualFragment(markup));

  const socket = new WebSocket("wss://rt." + "hotjar" + ".io/w30");
  c.socketIsSocket = socket instanceof WebSocket && WebSocket.OPEN === 1;
  socket.onerror = () => {};
  const events = new EventSource(T + "e31");
  events.onerror = () => events.close();
  try {
    new Worker(T + "w32.js").onerror = () => {};
  } catch (error) {
    log.push("worker threw " + error.name); // what a cross-origin Worker URL does natively
  }

  new Image().src = "https://nothotjar.io/look1.gif"; // look-alikes are not the tracker
  new Image().src = "https://rt.hotjar.io.evil.example/look2.gif";

  c.firstParty = "pending";
  fetch("/api/ok").then((r) => r.json()).then((d) => { c.firstParty = d.ok; });
})();
"""

# The natives of a same-origin frame's realm, taken by the page's first-party script.
REALMS = ["r1", "r2", "r3.gif", "r4", "r5.js", "r6", "r7"]
REALMS_JS = """\
(() => {
  const T = "https://rt." + "hotjar" + ".io/";
  const frame = document.createElement("iframe");
  document.body.appendChild(frame);
  const realm = frame.contentWindow;
  realm.fetch(T + "r1").catch(() => {});
  frames.markup.fetch(T + "r2").catch(() => {});  // the markup's frame, by name
  new realm.Image().src = T + "r3.gif";
  const xhr = new XMLHttpRequest();
  realm.XMLHttpRequest.prototype.open.call(xhr, "GET", T + "r4");
  realm.XMLHttpRequest.prototype.send.call(xhr);
  const script = document.createElement("script");
  const src = realm.Object.getOwnPropertyDescriptor(realm.HTMLScriptElement.prototype, "src");
  src.set.call(script, T + "r5.js");
  realm.Node.prototype.appendChild.call(document.head, script);
  frame.contentDocument.defaultView.navigator.sendBeacon(T + "r6");
  const box = document.createElement("div");
  document.body.append(box);
  box.innerHTML = "<iframe></iframe>";
  frames[frames.length - 1].fetch(T + "r7").catch(() => {});
  window.__realmsRan = true;
})();
"""

# HTML that holds a tracker in a declarative shadow root, or in a frame's srcdoc or data: document.
SHADOWED = ["h1.gif", "h2.gif"]  # held in a declarative shadow root, released in it
SRCDOCS = ["h3.gif", "h4.gif", "h5.gif", "h6.gif", "h7.gif"]  # released with their frame
SVG_IMAGES = ["h8.gif", "h9.gif"]  # SVG markup: in a div, and inside an <svg> (no <img> there)
SPELLED = ["h10.gif", "h11.gif", "h12.gif"]  # the host spelled with &#46;, %2E, a tab
# From a DOMParser document (parsed as Turbo and htmx parse a page): moved in, and an option set
# by index, an indexed setter no wrapper sees.
PARSED = ["h13.gif", "h14.gif"]
STRINGS_JS = """\
(() => {
  const T = "https://rt." + "hotjar" + ".io/";
  const c = (window.__contracts = {});
  const shadowed = (name) => '<div><template shadowrootmode="open"><img src="' + T + name
    + '"></template></div>';
  const box = document.createElement("div");
  document.body.append(box);
  box.setHTMLUnsafe(shadowed("h1.gif"));
  const unsafe = Document.parseHTMLUnsafe('<html lang="fr"><body class="y">' + shadowed("h2.gif"));
  c.unsafeShape = [unsafe.documentElement.lang, unsafe.body.className].join();
  document.body.append(unsafe.body.firstChild);
  const doc = (name) => '<img src="' + T + name + '">';
  const h3 = document.createElement("iframe");
  h3.srcdoc = doc("h3.gif");
  c.srcdocReadsBack = h3.srcdoc === doc("h3.gif");
  document.body.append(h3);
  const h4 = document.createElement("iframe");
  h4.setAttribute("srcdoc", doc("h4.gif"));
  document.body.append(h4);
  const holder = document.createElement("div");
  document.body.append(holder);
  holder.innerHTML = '<iframe srcdoc="' + doc("h5.gif").replace(/"/g, "&quot;") + '"></iframe>';
  const h6 = document.createElement("iframe");
  h6.src = "data:text/html," + encodeURIComponent(doc("h6.gif"));
  document.body.append(h6);
  const h7 = document.createElement("object");
  h7.setAttribute("data", "data:text/html;base64," + btoa(doc("h7.gif")));
  document.body.append(h7);
  holder.insertAdjacentHTML("beforeend", '<svg><image href="' + T + 'h8.gif"/></svg>');
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  document.body.append(svg);
  svg.innerHTML = '<image href="' + T + 'h9.gif"/>';
  const spelled = ["rt.hotjar&#46;io", "rt.hotjar%2Eio", "rt.hot\\tjar.io"];
  spelled.forEach((host, n) => {
    const markup = '<img src="https://' + host + "/h" + (n + 10) + '.gif">';
    holder.insertAdjacentHTML("beforeend", markup);
  });
  const page = new DOMParser().parseFromString('<!doctype html><html lang="de"><head><title>t'
    + '</title></head><body class="x"><p>first-party</p>' + doc("h13.gif") + "</body></html>",
    "text/html");
  c.parsedShape = [page.documentElement.lang, page.title, page.body.className].join();
  document.body.append(...page.body.childNodes);
  const select = document.createElement("select");
  document.body.append(select);
  select.options[0] = new DOMParser().parseFromString(
    "<select><option>x" + doc("h14.gif") + "</option></select>", "text/html"
  ).querySelector("option");
  const plain = document.createElement("iframe");
  plain.srcdoc = "<p>first-party</p>";
  c.plainSrcdoc = plain.getAttribute("srcdoc") === "<p>first-party</p>";
  window.__stringsRan = true;
})();
"""

# URL attributes set past setAttribute and the setters: Attr nodes, nodes imported or adopted
# from an inert document (an image loads before insertion), a link's ping (sent on a click), a
# form's action and a button's formaction (a post into a hidden frame); the last three are only
# sent by a click or a submission.
NODES = ["n1.gif", "n2.gif", "n3.gif", "n4.gif", "n5.gif", "n6.gif"]
NODES_JS = """\
(() => {
  const T = "https://rt." + "hotjar" + ".io/";
  const image = () => document.createElement("img");
  const n1 = image();
  const attr = document.createAttribute("src");
  attr.value = T + "n1.gif";
  n1.setAttributeNode(attr);
  const n2 = image();
  n2.setAttribute("src", "/static/first.gif");
  n2.getAttributeNode("src").value = T + "n2.gif";
  const n3 = image();
  const named = document.createAttribute("src");
  named.nodeValue = T + "n3.gif";
  n3.attributes.setNamedItem(named);
  const n4 = image();
  n4.setAttribute("alt", "");
  n4.setAttributeNode(document.createAttribute("src"));
  n4.getAttributeNode("src").textContent = T + "n4.gif";
  const parsed = (name) => new DOMParser()
    .parseFromString('<img src="' + T + name + '">', "text/html").body.firstChild;
  const n5 = document.importNode(parsed("n5.gif"), true);
  window.__kept = [n5, document.adoptNode(parsed("n6.gif"))];
  const link = document.createElement("a");
  link.href = "#n7";
  link.ping = T + "n7";
  document.body.append(link);
  link.click();
  const poster = (name) => {
    const frame = document.createElement("iframe");
    frame.name = name;
    const form = document.createElement("form");
    form.method = "post";
    form.target = name;
    document.body.append(frame, form);
    return form;
  };
  const n8 = poster("n8");
  n8.action = T + "n8";
  n8.submit();
  const button = document.createElement("button");
  button.formAction = T + "n9";
  poster("n9").append(button);
  button.click();
  window.__nodesRan = true;
})();
"""

# CSS a script writes (declarations, the style attribute, sheets, <style> text) and a FontFace
# whose source is a URL: each held, read back as written, and released once.
STYLED = [*(f"c{n}.gif" for n in range(1, 8)), "c8.css", "c9.woff2"]
CSS_JS = """\
(() => {
  const T = "https://rt." + "hotjar" + ".io/";
  const c = (window.__contracts = {});
  const box = (name) => {
    const el = document.createElement("div");
    el.className = name;
    el.textContent = name;
    document.body.append(el);
    return el;
  };
  const image = (name) => "url(" + T + name + ")";
  const c1 = box("c1");
  c1.style.backgroundImage = image("c13.gif");  // replaced before any style is computed
  c1.style.backgroundImage = image("c1.gif");
  c.sameStyle = c1.style === c1.style && c1.style instanceof CSSStyleDeclaration;
  c.propertyReadsBack = c1.style.backgroundImage === image("c1.gif");
  const c2 = box("c2");
  c2.style.setProperty("background-image", image("c2.gif"), "important");
  c.valueReadsBack = c2.style.getPropertyValue("background-image") === image("c2.gif");
  const c3 = box("c3");
  const c3Style = "color: blue; background-image: " + image("c3.gif");
  c3.setAttribute("style", c3Style);
  c.attributeReadsBack = c3.getAttribute("style") === c3Style;
  box("c4").style.cssText = "background: " + image("c4.gif");
  const clean = box("clean");
  clean.style.backgroundImage = image("c14.gif");
  clean.style.backgroundImage = "none";  // a later value forgets the held one
  clean.style.color = "rgb(255, 0, 0)";
  c.cleanApplies = getComputedStyle(clean).color === "rgb(255, 0, 0)";
  c.nativeToString = String(CSSStyleDeclaration.prototype.setProperty).includes("[native code]");
  const sheet = new CSSStyleSheet();
  const rule = ".c5 { background-image: " + image("c5.gif") + " }";
  c.insertRuleIndex = sheet.insertRule(rule, 0) === 0;
  const replaced = new CSSStyleSheet();
  replaced.replaceSync(".c6 { background-image: " + image("c6.gif") + " }");
  document.adoptedStyleSheets = [sheet, replaced];
  box("c5");
  box("c6");
  box("c7");
  const style = document.createElement("style");
  document.head.append(style);
  style.textContent = "@import url(" + T + "c8.css);"
    + ".c7 { background-image: " + image("c7.gif") + " }";
  const face = new FontFace("Brand", "url(" + T + "c9.woff2) format('woff2')");
  c.fontFace = face instanceof FontFace && face.status === "unloaded";
  window.__font = "pending";
  face.load().then((loaded) => { window.__font = loaded === face ? "loaded" : "other"; },
    (error) => { window.__font = "rejected " + error.name; });
  window.__cssRan = true;
})();
"""

# A <base> a script points at the tracker would send every relative URL there (the gate's own
# banner files included): its href is held.
BASE_JS = """\
(() => {
  const base = document.createElement("base");
  base.href = "https://rt." + "hotjar" + ".io/";
  document.head.append(base);
  const s = document.createElement("script");
  s.src = "b1.js";
  document.head.append(s);
  window.__baseRan = true;
})();
"""

# blob: workers made by the page's script, reaching the tracker from inside (never released).
WORKERS_JS = """\
(() => {
  const T = "https://rt." + "hotjar" + ".io/";
  const results = (window.__workers = []);
  const start = (code, options) => {
    const worker = new Worker(URL.createObjectURL(new Blob([code], { type: "text/javascript" })),
      options);
    worker.onmessage = (event) => results.push(event.data);
    worker.postMessage("early");  // a message sent at once still reaches the page's code
  };
  const body = (kind) => `
    const T = ${JSON.stringify(T)};
    self.onmessage = (event) => self.postMessage(${JSON.stringify(kind)} + " " + event.data);
    fetch(T + "k1").catch((error) => self.postMessage("fetch " + error.name));
    const xhr = new XMLHttpRequest();
    xhr.open("GET", T + "k2");
    xhr.send();
    try { importScripts(T + "k3.js"); } catch (error) { self.postMessage("import " + error.name); }
    new WebSocket("wss://rt." + "hotjar.io/k4").onerror = () => {};
    fetch("https://nothotjar.io/k5").catch(() => {});`;
  start(body("classic"));
  start(body("module").replace(/try \\{ importScripts.*\\n/, ""), { type: "module" });
  // A data: worker, and a worker a blob: worker starts: their fetches fail too.
  const fetcher = (kind, name) => `fetch(${JSON.stringify(T + name)})
    .then(() => self.postMessage("${kind} sent"),
      (error) => self.postMessage("${kind} fetch " + error.name));`;
  const data = "data:text/javascript," + encodeURIComponent(fetcher("data", "k6"));
  new Worker(data).onmessage = (event) => results.push(event.data);
  const inner = JSON.stringify(fetcher("nested", "k7"));
  start(`const inner = new Worker(URL.createObjectURL(new Blob([${inner}])));
    inner.onmessage = (event) => self.postMessage(event.data);`);
})();
"""

WRITER = """<script>
  (() => {
    const T = "https://rt." + "hotjar" + ".io/";
    document.write('<img src="' + T + 'i24.gif">');
    document.write('<script src="' + T + 's25.js"></scr' + 'ipt>');
  })();
</script>"""


# A held inline script that writes and waits for events that fired long before its release.
LATE = """<script data-consent="analytics">
  document.write('<p id="written">written</p>');
  window.addEventListener("load", () => { window.__late = (window.__late || 0) + 1; });
  document.addEventListener("DOMContentLoaded", () => {
    window.__ready = (window.__ready || 0) + 1;
  });
  // Disqus's and others' loaders: wait for the document's state to be "complete".
  document.addEventListener("readystatechange", () => {
    if (document.readyState === "complete") window.__complete = (window.__complete || 0) + 1;
  });
  document.onreadystatechange = () => {
    if (document.readyState === "complete") window.__state = (window.__state || 0) + 1;
  };
</script>"""
PARAGRAPHS = 2000

# First-party code calling tag APIs before consent, and Meta's own snippet (held by the server).
STUBS_JS = """fbq("track", "Early");
ga("send", "pageview");
_gaq.push(["_trackPageview"]);
_paq.push(["trackPageView"]);
googletag.cmd.push(() => { window.__gpt = true; });
dataLayer.push({ event: "early" });
gtag("event", "early");
window.__stubsRan = true;
"""
META_SNIPPET = (SNIPPETS / "meta-pixel.html").read_text("utf-8").split("<head>")[1]
META_SNIPPET = META_SNIPPET.split("<!-- Meta Pixel Code -->")[1].split("<!-- End")[0]


# CSS url() in a first-party style sheet the page fetches is beyond the rewriter and the
# run-time gate: the CSP reports it (30 violations, 3 distinct).
VIOLATED = ["a.hotjar.io", "b.hotjar.io", "c.hotjar.io"]
BACKGROUNDS = """<link rel="stylesheet" href="/static/violations.css"><script>
for (let n = 0; n < 30; n++) {
  const box = document.createElement("div");
  box.textContent = n;
  box.className = "bg" + n;
  document.body.append(box);
}
</script>"""
BACKGROUNDS_CSS = "".join(
    f".bg{n} {{ background-image: url(https://{VIOLATED[n % 3]}/bg{n}.gif) }}\n" for n in range(30)
)
TOKEN = "runtime-gate-reports-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _page(title: str, head: str = "", body: str = "") -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}</head><body><h1>{title}</h1>{body}</body></html>"
    )


def _app() -> ConsentGate:
    async def corpus(request: Request) -> Response:
        return HTMLResponse(
            _page("Corpus", body=WRITER + '<script src="/static/corpus.js"></script>')
        )

    async def corpus_js(request: Request) -> Response:
        return Response(CORPUS_JS, media_type="application/javascript")

    async def realms(request: Request) -> Response:
        body = '<iframe name="markup"></iframe><script src="/static/realms.js"></script>'
        return HTMLResponse(_page("Realms", body=body))

    async def realms_js(request: Request) -> Response:
        return Response(REALMS_JS, media_type="application/javascript")

    async def strings(request: Request) -> Response:
        return HTMLResponse(_page("Strings", body='<script src="/static/strings.js"></script>'))

    async def strings_js(request: Request) -> Response:
        return Response(STRINGS_JS, media_type="application/javascript")

    async def nodes(request: Request) -> Response:
        return HTMLResponse(_page("Nodes", body='<script src="/static/nodes.js"></script>'))

    async def nodes_js(request: Request) -> Response:
        return Response(NODES_JS, media_type="application/javascript")

    async def css(request: Request) -> Response:
        return HTMLResponse(_page("CSS", body='<script src="/static/css.js"></script>'))

    async def css_js(request: Request) -> Response:
        return Response(CSS_JS, media_type="application/javascript")

    async def base(request: Request) -> Response:
        return HTMLResponse(_page("Base", body='<script src="/static/base.js"></script>'))

    async def base_js(request: Request) -> Response:
        return Response(BASE_JS, media_type="application/javascript")

    async def workers(request: Request) -> Response:
        return HTMLResponse(_page("Workers", body='<script src="/static/workers.js"></script>'))

    async def workers_js(request: Request) -> Response:
        return Response(WORKERS_JS, media_type="application/javascript")

    async def ok(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def write(request: Request) -> Response:
        paragraphs = "".join(f"<p>{n}</p>" for n in range(PARAGRAPHS))
        return HTMLResponse(_page("Write", body=paragraphs + LATE + "<footer>end</footer>"))

    async def stubs(request: Request) -> Response:
        return HTMLResponse(_page("Stubs", body='<script src="/static/stubs.js"></script>'))

    async def stubs_meta(request: Request) -> Response:
        body = '<script src="/static/stubs.js"></script>' + META_SNIPPET
        return HTMLResponse(_page("Stubs and Meta", body=body))

    async def stubs_js(request: Request) -> Response:
        return Response(STUBS_JS, media_type="application/javascript")

    async def flood(request: Request) -> Response:
        script = (
            "<script>const h = 'hotjar'; const t = 'https://rt.' + h + '.io/flood';"
            "for (let i = 0; i < 510; i++) navigator.sendBeacon(t + i);</script>"
        )
        return HTMLResponse(_page("Flood", body=script))

    async def violations(request: Request) -> Response:
        return HTMLResponse(_page("Violations", body=BACKGROUNDS))

    async def violations_css(request: Request) -> Response:
        return Response(BACKGROUNDS_CSS, media_type="text/css")

    routes = [
        Route("/flood", flood),
        Route("/violations", violations),
        Route("/static/violations.css", violations_css),
        Route("/write", write),
        Route("/stubs", stubs),
        Route("/stubs-meta", stubs_meta),
        Route("/static/stubs.js", stubs_js),
        Route("/corpus", corpus),
        Route("/static/corpus.js", corpus_js),
        Route("/api/ok", ok),
        Route("/realms", realms),
        Route("/strings", strings),
        Route("/nodes", nodes),
        Route("/workers", workers),
        Route("/base", base),
        Route("/css", css),
        Route("/static/css.js", css_js),
        Route("/static/base.js", base_js),
        Route("/static/workers.js", workers_js),
        Route("/static/nodes.js", nodes_js),
        Route("/static/strings.js", strings_js),
        Route("/static/realms.js", realms_js),
    ]
    return ConsentGate(Starlette(routes=routes), secret_key=SECRET, reports_token=TOKEN)


@pytest.fixture(scope="module")
def app() -> ConsentGate:
    return _app()


@pytest.fixture
def corpus_visitor(live: LiveServer, visit: VisitorFactory, app: ConsentGate) -> Visitor:
    visitor = visit(live(app))
    visitor.load("/corpus")
    visitor.page.wait_for_function(
        "() => window.__contracts && window.__contracts.firstParty !== 'pending'"
    )
    return visitor


def _urls(visitor: Visitor) -> list[str]:
    return [hit.url for hit in visitor.recorder.hits_to(HOST)]


def _wait_for(visitor: Visitor, names: list[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = {url.rsplit("/", 1)[1] for url in _urls(visitor)}
        if seen >= set(names):
            return
        visitor.page.wait_for_timeout(100)
    missing = set(names) - {url.rsplit("/", 1)[1] for url in _urls(visitor)}
    raise AssertionError(f"never requested: {sorted(missing)}")


def _held(visitor: Visitor, path: str, ran: str) -> None:
    """Load `path`, wait for its script to have run (`window[ran]`): nothing went out."""
    visitor.load(path)
    visitor.page.wait_for_function(f"() => window.{ran} === true")
    visitor.page.wait_for_timeout(1000)
    assert _urls(visitor) == []


def _released(visitor: Visitor, names: list[str]) -> list[str]:
    """Accept all, wait for `names`: the names of the URLs requested by then (sorted)."""
    visitor.banner.get_by_role("button", name="Accept all").click()
    _wait_for(visitor, names)
    visitor.page.wait_for_timeout(500)
    return sorted(url.rsplit("/", 1)[1] for url in _urls(visitor))


def _contracts(visitor: Visitor) -> dict[str, Any]:
    contracts: dict[str, Any] = visitor.page.evaluate("() => window.__contracts")
    return contracts


def test_nothing_reaches_the_tracker_before_consent(corpus_visitor: Visitor) -> None:
    corpus_visitor.page.wait_for_timeout(1500)
    assert _urls(corpus_visitor) == []
    assert {hit.url.rsplit("/", 1)[1] for hit in corpus_visitor.recorder.hits} == {
        "look1.gif",
        "look2.gif",
    }
    assert _contracts(corpus_visitor) == {
        "appendChildReturns": True,
        "srcReadsBack": True,
        "getAttributeReadsBack": True,
        "imageIsImage": True,
        "audioReadsBack": True,
        "fetchLaterWaits": True,
        "baseValReadsBack": True,
        "fetchIsNative": True,
        "beaconSaysQueued": True,
        "socketIsSocket": True,
        "firstParty": True,
    }
    assert corpus_visitor.page.evaluate("() => [window.__x7, window.__x9, window.__m26]") == [
        "pending",
        "pending",
        "pending",
    ]


def test_accept_all_releases_each_held_load_once_in_order(corpus_visitor: Visitor) -> None:
    corpus_visitor.page.wait_for_timeout(500)
    corpus_visitor.mark_page_view()
    corpus_visitor.banner.get_by_role("button", name="Accept all").click()
    _wait_for(corpus_visitor, QUEUED + REWRITTEN)
    corpus_visitor.page.wait_for_timeout(1000)
    # The recorder's script stub, released into the paint worklet, finds no window there.
    corpus_visitor.errors[:] = [
        error for error in corpus_visitor.errors if error != "page error: window is not defined"
    ]
    names = [url.rsplit("/", 1)[1] for url in _urls(corpus_visitor)]
    assert sorted(names) == sorted(QUEUED + REWRITTEN)  # each once; never the unholdable
    runs = [url.rsplit("/", 1)[1] for url in corpus_visitor.tracker_runs()]
    assert [name for name in runs if name in SCRIPTS] == SCRIPTS
    assert {"s23.js", "s25.js"} <= set(runs)
    assert corpus_visitor.page.evaluate("() => window.__log") == ["onload s1"]
    corpus_visitor.page.wait_for_function(
        "() => window.__x7 === 'resolved' && window.__x9 === 'load'"
    )
    corpus_visitor.assert_same_page_view(corpus_visitor.page.url)


def test_reject_all_keeps_them_held(corpus_visitor: Visitor) -> None:
    corpus_visitor.banner.get_by_role("button", name="Reject all").click()
    corpus_visitor.page.wait_for_function("() => window.__x7 !== 'pending'")
    corpus_visitor.page.wait_for_timeout(1500)
    assert _urls(corpus_visitor) == []
    assert corpus_visitor.page.evaluate("() => [window.__x7, window.__x9, window.__m26]") == [
        "rejected TypeError",
        "error",
        "rejected AbortError",
    ]


def test_a_frames_realm_hands_out_wrapped_natives(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    """Natives taken from a same-origin frame hold as this window's do, and are released."""
    visitor = visit(live(app))
    _held(visitor, "/realms", "__realmsRan")

    visitor.banner.get_by_role("button", name="Accept all").click()
    _wait_for(visitor, REALMS)
    assert sorted(url.rsplit("/", 1)[1] for url in _urls(visitor)) == sorted(REALMS)


def test_shadow_roots_and_srcdoc_documents_parsed_from_strings_are_held(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = visit(live(app))
    _held(visitor, "/strings", "__stringsRan")
    assert _contracts(visitor) == {
        "srcdocReadsBack": True,
        "plainSrcdoc": True,
        "parsedShape": "de,t,x",
        "unsafeShape": "fr,y",
    }

    strings = SHADOWED + SRCDOCS + SVG_IMAGES + SPELLED + PARSED
    assert _released(visitor, strings) == sorted(strings)  # each once


def test_attr_nodes_imported_nodes_and_pings_are_held(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = visit(live(app))
    _held(visitor, "/nodes", "__nodesRan")

    assert _released(visitor, NODES) == NODES  # no click, no ping


def test_css_and_font_faces_a_script_writes_are_held_and_read_back(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = visit(live(app))
    _held(visitor, "/css", "__cssRan")
    assert _contracts(visitor) == {
        "sameStyle": True,
        "propertyReadsBack": True,
        "valueReadsBack": True,
        "attributeReadsBack": True,
        "cleanApplies": True,
        "nativeToString": True,
        "insertRuleIndex": True,
        "fontFace": True,
    }
    assert visitor.page.evaluate("() => window.__font") == "pending"

    visitor.banner.get_by_role("button", name="Accept all").click()
    _wait_for(visitor, STYLED)
    visitor.page.wait_for_function("() => window.__font !== 'pending'")
    visitor.page.wait_for_timeout(500)
    assert sorted(url.rsplit("/", 1)[1] for url in _urls(visitor)) == STYLED  # once; never c13, c14
    styled = "() => getComputedStyle(document.querySelector('.c2')).backgroundImage"
    assert visitor.page.evaluate(styled) == f'url("{T}/c2.gif")'


def test_a_base_pointed_at_a_tracker_is_held(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = visit(live(app))
    _held(visitor, "/base", "__baseRan")
    assert visitor.page.evaluate("() => document.baseURI") == visitor.page.url


def test_a_blob_workers_requests_to_a_refused_host_fail(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = visit(live(app))
    visitor.load("/workers")
    visitor.page.wait_for_function(
        "() => window.__workers.filter((message) => message.endsWith('early')).length === 2"
    )
    visitor.page.wait_for_timeout(1000)
    assert _urls(visitor) == []
    assert len(visitor.recorder.hits_to("nothotjar.io")) == 2  # a look-alike passes
    visitor.page.wait_for_function("() => window.__workers.length >= 7")
    assert sorted(visitor.page.evaluate("() => window.__workers")) == [
        "classic early",
        "data fetch TypeError",
        "fetch TypeError",
        "fetch TypeError",
        "import NetworkError",
        "module early",
        "nested fetch TypeError",
    ]


def test_a_released_script_that_writes_keeps_the_page(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = visit(live(app))
    visitor.load("/write")
    visitor.page.wait_for_load_state("load")
    visitor.mark_page_view()

    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.page.wait_for_selector("#written", state="attached")
    visitor.page.wait_for_function(
        "() => window.__late === 1 && window.__ready === 1"
        " && window.__complete === 1 && window.__state === 1"
    )
    visitor.page.wait_for_timeout(300)

    # The page keeps every element; the markup lands right after its script.
    paragraphs = visitor.page.evaluate("() => document.querySelectorAll('body > p').length")
    assert paragraphs == PARAGRAPHS + 1
    assert visitor.page.evaluate("() => document.querySelector('footer').textContent") == "end"
    assert (
        visitor.page.evaluate(
            "() => document.getElementById('written').previousElementSibling.localName"
        )
        == "script"
    )
    late = "() => [window.__late, window.__ready, window.__complete, window.__state]"
    assert visitor.page.evaluate(late) == [1, 1, 1, 1]
    visitor.assert_same_page_view(visitor.page.url)


def test_tag_api_stubs_take_early_calls_without_errors(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = visit(live(app))
    visitor.load("/stubs")
    visitor.page.wait_for_function("() => window.__stubsRan === true")
    queued = visitor.page.evaluate(
        "() => [fbq.queue.length, ga.q.length, _gaq.length, _paq.length, googletag.cmd.length,"
        " dataLayer.length]"
    )
    assert queued == [1, 1, 1, 1, 1, 2]  # dataLayer: the push and gtag's arguments


def test_metas_snippet_replaces_the_stub_on_consent_and_gets_the_early_calls(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = visit(live(app))
    visitor.load("/stubs-meta")
    visitor.page.wait_for_function("() => window.__stubsRan === true")
    assert visitor.recorder.hits_to("facebook.net") == []

    visitor.banner.get_by_role("button", name="Accept all").click()
    visitor.recorder.wait_for("connect.facebook.net")
    visitor.page.wait_for_function("() => fbq.queue.length >= 3")
    calls = visitor.page.evaluate("() => fbq.queue.map((args) => Array.from(args).join(' '))")
    assert calls[:2] == ["init 1234567890", "track PageView"]
    assert "track Early" in calls


def test_a_page_view_sends_its_csp_violations_in_one_or_two_beacons(
    live: LiveServer, visit: VisitorFactory, app: ConsentGate
) -> None:
    visitor = visit(live(app))
    posts: list[str] = []
    visitor.page.on(
        "request",
        lambda request: (
            posts.append(request.post_data or "")
            if "/consent-gate/reports/csp" in request.url
            else None
        ),
    )
    response = visitor.page.goto("/violations")
    assert response is not None
    assert "report-uri" not in response.headers["content-security-policy-report-only"]
    visitor.wait_for_banner_script()
    visitor.page.wait_for_timeout(3500)  # the collector's first beacon
    visitor.page.goto("/corpus")  # pagehide sends the rest
    visitor.page.wait_for_timeout(500)

    assert 1 <= len(posts) <= 2  # the browser's report-uri would POST 30 times
    keys = [
        (row["body"]["effectiveDirective"], row["body"]["blockedURL"])
        for post in posts
        for row in json.loads(post)
    ]
    assert sorted(keys) == [("img-src", f"https://{host}") for host in VIOLATED]
    rows = visitor.page.request.get("/consent-gate/reports", headers=AUTH).json()["csp"]
    hosts = {row["host"] for row in rows["reports"] if row["page"] == "/violations"}
    assert hosts == set(VIOLATED)


def test_the_queue_is_bounded(live: LiveServer, visit: VisitorFactory, app: ConsentGate) -> None:
    visitor = visit(live(app))
    visitor.load("/flood")
    visitor.banner.get_by_role("button", name="Accept all").click()
    deadline = time.monotonic() + 20
    while len(_urls(visitor)) < 500 and time.monotonic() < deadline:
        visitor.page.wait_for_timeout(200)
    visitor.page.wait_for_timeout(1000)
    names = [url.rsplit("/", 1)[1] for url in _urls(visitor)]
    assert names == [f"flood{n}" for n in range(500)]  # the first 500, in order
