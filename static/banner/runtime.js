// @ts-check
/*
 * consent_gate run-time gate, loaded right after the gate's inline head script, before any script
 * of the page (a static file, cached for good under its version, checked by its integrity).
 * The server holds back trackers in the markup; this holds back the ones the page's own scripts
 * start later: elements created or inserted by script, URL setters, setAttribute and Attr nodes
 * and their values, nodes imported or adopted, HTML parsed from strings (execCommand, declarative
 * shadow roots, srcdoc and data: documents too), document.write, fetch, fetchLater, XHR,
 * sendBeacon, link pings, form actions, worklet modules, new Audio(url), SVG href.baseVal and
 * animations,
 * CSS a script writes (declarations, style attributes, inserted rules, constructed sheets,
 * <style> text, the Typed OM, Web Animations keyframes, registered properties), new
 * FontFace(url), the Cache API, WebSocket, EventSource, workers, frames' javascript: URLs, and
 * cookies (document.cookie, cookieStore.set) and web storage (setItem) of names only refused
 * categories claim, also when called from a same-origin frame's realm (about:blank, srcdoc
 * frames and popups get these wrappers). A held load is queued and, when the gate answers a
 * choice that allows its category, released in the same page view in the order it was made,
 * on the same element (handlers kept). Each patch
 * keeps the native's return values, exceptions, toString (Proxy) and sits in its own try/catch.
 * Requests from inside a blob: or data: worker (and the workers it starts from such URLs) to a
 * refused host fail (a prelude run before its code).
 * Not interceptable here (the CSP is the backstop): import(), loads inside URL workers, CSS in
 * sheets the page fetches, navigations, and scripts that run inside a frame before a script of
 * this page can reach it.
 * It also stubs common tag APIs so site code calling them does not throw, and keeps scripts
 * released after load faithful (document.write lands after the script; late load and
 * DOMContentLoaded listeners still run).
 * Its configuration is what the inline head script left under Symbol.for("consent-gate.runtime-
 * config"), { r: [refused category], g: [service granted apart], d: [service refused apart] },
 * joined by the policy's part the gate puts ahead of this file:
 * { c: [key], h: {host: rule}, u: [[host, glob, rule]], p: [[glob, rule]],
 * e: consent path, b: held path, s: {stub: key}, k: {key: [cookie name glob]}, o: [own cookie] },
 * where rule = 2 * index in c + 1 if the service reads consent itself (scripts then load), and a
 * key is a category, or "category/service" for a service the visitor may choose on its own.
 */
/**
 * @typedef {object} RuntimeConfig
 * @property {string[]} r  refused categories
 * @property {string[]} [g]  services granted apart
 * @property {string[]} [d]  services refused apart
 * @property {string[]} c  keys
 * @property {Record<string, number>} h  host -> rule
 * @property {[string, string, number][]} u  [host, path glob, rule]
 * @property {[string, number][]} p  [first-party path glob, rule]
 * @property {string} e  the consent endpoint's path
 * @property {string} b  the held path
 * @property {Record<string, string>} s  stub name -> key
 * @property {Record<string, string[]>} k  key -> the name globs of the cookies it claims
 * @property {string[]} o  the gate's own cookies
 * @typedef {{ category: string, aware: boolean }} Rule
 * @typedef {{ category: string, run: () => void, drop?: () => void, done: boolean }} Held  a held load
 * @typedef {{ value: string, item: Held }} HeldAttr  a URL attribute's value, held
 * @typedef {(this: unknown, ...args: any[]) => any} NativeFunction  a browser function the gate patches
 * @typedef {(native: NativeFunction, receiver: any, args: any[]) => any} Handler
 * @typedef {{ choices?: Record<string, unknown>, services?: Record<string, unknown> }} RuntimeAnswer
 * @typedef {{ (): void, q: IArguments[], l?: number }} QueueStub  a tag API's stub, as its snippet makes it
 * @typedef {{ (): void, callMethod?: Function, queue: IArguments[] }} FbqStub
 *   the consent endpoint's answer to a choice
 */
((/** @type {RuntimeConfig | undefined} */ config) => {
  "use strict";

  const KEY = Symbol.for("consent-gate.runtime");
  if (!config || window[KEY]) return;
  const { apply, construct, defineProperty: define, getOwnPropertyDescriptor: describe } = Reflect;
  const doc = document;
  const NativeURL = URL;
  const setTimer = window.setTimeout;
  const listen = EventTarget.prototype.addEventListener;
  const { getAttribute: getAttr, setAttribute: setAttr, removeAttribute: removeAttr, matches } = Element.prototype;
  const getAttrNode = Element.prototype.getAttributeNode;
  const { setAttributeNS: setAttrNS, removeAttributeNS: removeAttrNS } = Element.prototype;
  const XLINK = "http://www.w3.org/1999/xlink";
  const { after: nodeAfter } = Element.prototype;
  const nodeInsertBefore = Node.prototype.insertBefore;
  const elementQuery = Element.prototype.querySelectorAll;
  const fragmentQuery = DocumentFragment.prototype.querySelectorAll;
  const createElement = Document.prototype.createElement;
  const html = /** @type {{ get(this: Element): string, set(this: Element, markup: string): void }} */ (
    describe(Element.prototype, "innerHTML"));
  const getter = (/** @type {object} */ proto, /** @type {string} */ key) => /** @type {(this: any) => any} */ (
    /** @type {PropertyDescriptor} */ (describe(proto, key)).get);
  const [parentOf, childrenOf, typeOf] = ["parentNode", "childNodes", "nodeType"].map((key) => getter(Node.prototype, key));
  const dataOf = getter(CharacterData.prototype, "data");
  const NativeXHR = XMLHttpRequest;
  const { open: xhrOpen, send: xhrSend, setRequestHeader: xhrHeader } = XMLHttpRequest.prototype;
  const xhrText = getter(XMLHttpRequest.prototype, "responseText");
  const [bodyOf, rootOf, viewOf] = ["body", "documentElement", "defaultView"].map((key) => getter(Document.prototype, key));
  const parseDocument = DOMParser.prototype.parseFromString;
  const NativeDOMParser = DOMParser;
  const templateContent = /** @type {(this: HTMLTemplateElement) => DocumentFragment} */ (
    /** @type {PropertyDescriptor} */ (describe(HTMLTemplateElement.prototype, "content")).get);
  const { clone, json } = Response.prototype;
  const currentScript = /** @type {(this: Document) => HTMLOrSVGScriptElement | null} */ (
    /** @type {PropertyDescriptor} */ (describe(Document.prototype, "currentScript")).get);
  // The page's globals by name (tag APIs, constructors), whatever their shape.
  const globals = /** @type {Record<string, any>} */ (/** @type {unknown} */ (window));
  const SVG = "http://www.w3.org/2000/svg";
  const HTML_NS = "http://www.w3.org/1999/xhtml";
  const MATH_NS = "http://www.w3.org/1998/Math/MathML";

  /* ---- which URLs are held: the server's rules, shipped once per policy ------------- */

  const glob = (/** @type {string} */ pattern) => new RegExp(`^${pattern.split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "s");
  /** @type {(n: number) => Rule} */
  const rule = (n) => ({ category: config.c[n >> 1], aware: (n & 1) === 1 });
  const hosts = new Map(Object.entries(config.h).map(([host, n]) => [host, rule(n)]));
  /** @type {Map<string, [RegExp, Rule][]>} */
  const urls = new Map();
  for (const [host, pattern, n] of config.u) {
    if (!urls.has(host)) urls.set(host, []);
    /** @type {[RegExp, Rule][]} */ (urls.get(host)).push([glob(pattern), rule(n)]);
  }
  /** @type {[RegExp, Rule, string][]} */
  const paths = config.p.map(([pattern, n]) => [glob(pattern), rule(n), pattern.split("*")[0]]);
  const refused = new Set(config.r);
  const granted = new Set(config.g || []);
  const denied = new Set(config.d || []);
  // Whether a rule's key is held: its service's own choice, if any, else its category's.
  /** @param {string} key */
  function isHeld(key) {
    if (key.includes(" ")) return key.split(" ").every(isHeld); // a cookie several keys claim
    const [category, service] = key.split("/");
    if (service !== undefined && denied.has(service)) return true;
    return refused.has(category) && !(service !== undefined && granted.has(service));
  }
  const holding = () => refused.size > 0 || denied.size > 0;
  /** @type {string[]} */
  let needles = [];

  // Lower-cased host names (and first-party path prefixes) of refused rules: markup that
  // contains none of them is passed on untouched, without being parsed.
  function updateNeedles() {
    /** @type {Set<string>} */
    const found = new Set();
    for (const [host, r] of hosts) if (isHeld(r.category)) found.add(host);
    for (const [host, list] of urls) if (list.some(([, r]) => isHeld(r.category))) found.add(host);
    for (const [, r, prefix] of paths) if (isHeld(r.category)) found.add(prefix);
    needles = [...found];
  }
  updateNeedles();
  // Character references, percent-escapes, tabs or newlines (which URLs drop), CSS escapes and
  // characters a host name maps to ASCII (a fullwidth letter, U+3002 as a dot, a soft hyphen
  // dropped) can spell a host that no needle finds: such markup is always parsed.
  const mentions = (/** @type {string} */ text) => {
    const low = text.toLowerCase();
    return needles.some((needle) => low.includes(needle)) || (needles.length > 0 && /[&%\t\n\r\\]|[^\0-\x7f]/.test(text));
  };

  /**
   * @param {string} name
   * @param {string} path
   * @returns {Rule | null}
   */
  function lookup(name, path) {
    const found = hosts.get(name);
    if (found) return found;
    for (const [pattern, r] of urls.get(name) || []) if (pattern.test(path)) return r;
    return null;
  }

  // What a Request or a Trusted Types value holds (natives read that, not its toString), else
  // null: each getter checks its receiver's brand, so no look-alike object passes.
  const OWN = [describe(Request.prototype, "url"), ...["TrustedHTML", "TrustedScript", "TrustedScriptURL"]
    .map((name) => globals[name] && describe(globals[name].prototype, "toString"))]
    .map((d) => d && (d.get || d.value)).filter(Boolean);
  /** @type {(value: unknown) => string | null} */
  const ownText = (value) => {
    if (value === null || (typeof value !== "object" && typeof value !== "function")) return null;
    for (const own of OWN) {
      try { return apply(own, value, []); } catch (error) { /* not of this kind */ }
    }
    return null;
  };
  // A value a native reads as a string (a URL, CSS, markup), made one here, before both the
  // check and the native: an object's toString may answer the check with a first-party URL and
  // the native with a tracker's. Requests, Trusted Types' values and binary data stay as they are.
  /** @type {(value: unknown) => unknown} */
  const pin = (value) => ((value !== null && typeof value === "object") || typeof value === "function")
    && ownText(value) === null && !(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value) ? String(value) : value;
  /** @type {(args: any[], ...indices: number[]) => any[]} */
  const pinned = (args, ...indices) => {
    for (const index of indices) if (index < args.length) args[index] = pin(args[index]);
    return args;
  };

  // The rule of a URL (string, URL, Request, TrustedScriptURL), by host and its parent
  // domains, as the server's classifier reads it; null for the unparseable and the unknown.
  // What fetch() and the URL setters load: a Request's (or any object's) url, else the string.
  /** @param {unknown} value */
  const urlOf = (value) => {
    const own = ownText(value);
    return own === null ? String(value) : own;
  };

  /**
   * @param {unknown} value
   * @returns {Rule | null}
   */
  function classify(value) {
    const text = urlText(urlOf(value)); // tabs and newlines dropped: "/<TAB>/host" is "//host"
    // Relative: first-party, unless a <base> points elsewhere.
    if (!paths.length && !/[/\\]{2}|:/.test(text) && doc.baseURI.startsWith(`${location.origin}/`)) return null;
    let url;
    try { url = new NativeURL(text, doc.baseURI); } catch (error) { return null; }
    const path = (url.pathname + url.search + url.hash).toLowerCase();
    if (url.origin === location.origin) {
      for (const [pattern, r] of paths) if (pattern.test(path)) return r;
    }
    if (!/^(https?|wss?):$/.test(url.protocol)) return null;
    let name = url.hostname.replace(/\.$/, "");
    for (;;) {
      const found = lookup(name, path);
      if (found) return found;
      const dot = name.indexOf(".");
      if (dot === -1) return null;
      name = name.slice(dot + 1);
    }
  }

  // The refused category holding `value` back, or "". `loader`: a script or a request, which
  // services that read consent themselves (Consent Mode advanced) may make.
  /**
   * @param {unknown} value
   * @param {boolean} loader
   * @returns {string}
   */
  function heldBy(value, loader) {
    if (!holding() || value === null || value === undefined) return "";
    try {
      const found = classify(value);
      return found && isHeld(found.category) && !(loader && found.aware) ? found.category : "";
    } catch (error) {
      return "";
    }
  }

  // A data: URL's script or sheet runs or applies and loads what it names (a module's
  // import, a sheet's @import): the URLs in its text, read as CSS and as script (an image's,
  // a sound's or a font's bytes are no code). Each nested data: URL is shorter than the one
  // holding it, so the reading ends.
  const CODE_DATA = /^[\0-\x20]*data:(?![\t\n\f\r ]*(?:image|audio|video|font)\/)/i;
  // A URL as a browser reads it: tabs and newlines dropped anywhere ("d\tata:", "java\tscript:").
  const urlText = (/** @type {unknown} */ value) => String(value).replace(/[\t\n\r]/g, "");
  // A URL's percent-escapes undone as a browser undoes them: each run of valid ones (as UTF-8,
  // else byte by byte), a stray "%" left as it is (decodeURIComponent throws on the whole).
  // A URL's bytes (its text as UTF-8) with each valid percent-escape undone.
  /** @type {(text: string) => Uint8Array} */
  const percentBytes = (text) => {
    const raw = new TextEncoder().encode(text);
    const out = new Uint8Array(raw.length);
    const hex = (/** @type {number} */ c) => (c >= 48 && c <= 57 ? c - 48 : (c | 32) >= 97 && (c | 32) <= 102 ? (c | 32) - 87 : -1);
    let size = 0;
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === 37 && i + 2 < raw.length && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
        out[size++] = hex(raw[i + 1]) * 16 + hex(raw[i + 2]);
        i += 2;
      } else {
        out[size++] = raw[i];
      }
    }
    return out.subarray(0, size);
  };
  const percentDecoded = (/** @type {string} */ text) => text.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
    try { return decodeURIComponent(run); } catch (error) {
      return run.replace(/%([0-9a-f]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
    }
  });
  /**
   * @param {unknown} value
   * @param {boolean} [sheet]  a style sheet's URL: applied whatever its type in quirks mode
   * @returns {string}
   */
  function dataHeld(value, sheet = false) {
    const url = urlText(value);
    return (sheet ? /^[\0-\x20]*data:/i : CODE_DATA).test(url) ? codeHeld(dataDocument(url)) : "";
  }
  /**
   * The refused category code loads from: the URLs in its text, read as script and as CSS.
   * @param {string} text
   * @returns {string}
   */
  function codeHeld(text, depth = 0) {
    if (!text) return "";
    // A blob: module or sheet it imports is read too (a few deep: each is a page's own object).
    for (const [url] of depth < 3 ? text.matchAll(/blob:[^\s"'`<>()\\]+/gi) : []) {
      const category = codeHeld(blobText(url) || "", depth + 1);
      if (category) return category;
    }
    if (!mentions(text)) return "";
    for (const [url] of text.matchAll(/(?:[a-z][a-z\d+.-]*:)?[/\\]{2}[^\s"'`<>()\\]+/gi)) {
      const category = heldBy(url, false);
      if (category) return category;
    }
    return cssHeld(text);
  }
  // The category a frame's own document (srcdoc, a data: or blob: URL's) loads from, or "": no
  // gate runs in there, so its elements, its code and what only a whole document shows (a
  // <body background>, a frameset's frames, a refresh, an XML style sheet, prefixed names) are
  // read here, as the server reads them: as markup, as code (any URL its text names), and as a
  // document. An XML document that can spell a URL no reading shows (an entity) is held.
  /** @type {(markup: string) => string} */
  function documentHeld(markup) {
    if (/<!ENTITY/i.test(markup) && holding()) return [...refused, ...denied].sort()[0] || "";
    const plain = markup.includes(":") ? markup.replace(/(<\/?|[\t\n\r ])[A-Za-z_][\w.-]*:(?=[A-Za-z_])/g, "$1")
      : markup;
    const category = held(plain, true)[1] || codeHeld(plain);
    if (category || !mentions(plain)) return category;
    const root = apply(rootOf, apply(parseDocument, new NativeDOMParser(), [plain, "text/html"]), []);
    return root ? holdAll([root, ...apply(elementQuery, root, [SELECTOR])], true) : "";
  }

  // A blob: URL's text, read at once (a synchronous request for the page's own object: a
  // script, a sheet or a frame's document on a blob: URL names what it loads only there), or ""
  // for any other URL and a blob that is gone.
  // `head`: only its first bytes (a media element's blob may be a whole video).
  /** @type {(value: unknown, head?: number) => string} */
  function blobText(value, head = 0) {
    const url = urlText(value).trim();
    if (!/^blob:/i.test(url)) return "";
    try {
      const xhr = new NativeXHR();
      apply(xhrOpen, xhr, ["GET", url, false]);
      if (head) apply(xhrHeader, xhr, ["Range", `bytes=0-${head - 1}`]);
      apply(xhrSend, xhr, []);
      return apply(xhrText, xhr, []);
    } catch (error) {
      return "";
    }
  }
  // A frame's javascript: URL runs its code in the frame, and the string it returns is the
  // frame's document: its code is read as markup and as code.
  /** @param {unknown} value */
  function scriptDocument(value) {
    const found = /^[\0-\x20]*javascript:(.*)$/is.exec(urlText(value));
    if (!found) return "";
    return percentDecoded(found[1]);
  }

  // The URLs CSS text names, read as the server's stylesheets.py reads them: unquoted url()s
  // and every string (`@import "x"`, `image-set("x" 1x)`), comments skipped, escapes undone.
  const unescapeCss = (/** @type {string} */ text) => text.replace(/\\(?:([0-9a-f]{1,6})[ \t\n]?|\n|([^]))/gi,
    (_, /** @type {string} */ hex, /** @type {string} */ char) => {
      if (!hex) return char || "";
      const code = parseInt(hex, 16);
      return code && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : "\ufffd";
    });
  // An unquoted url() (its "url(" spelled with escapes or not) is one token up to its ")": a
  // "/*" or a quote in it opens nothing ("url(x/*)" would hide every load up to a "*/").
  const CSS_TOKENS = new RegExp([
    String.raw`(?:u|\\0{0,4}[57]5[ \t\n]?|\\u)(?:r|\\0{0,4}[57]2[ \t\n]?|\\r)(?:l|\\0{0,4}[46]c[ \t\n]?|\\l)\(`
      + String.raw`[ \t\n]*(?:(?=["'])|((?:[^)\\\s"']|\\(?:[0-9a-f]{1,6}[ \t\n]?|[^]))*)(?:[^)\\]|\\[^])*\)?)`,
    String.raw`\/\*[^]*?(?:\*\/|$)`,
    String.raw`\\[^]`,
    String.raw`"((?:[^"\\\n]|\\[^])*)"?`,
    String.raw`'((?:[^'\\\n]|\\[^])*)'?`,
  ].join("|"), "gi");
  /** @param {string} css */
  function cssUrls(css) {
    /** @type {string[]} */
    const urls = [];
    /** @type {string[]} */
    const strings = [];
    for (const [token, url, double, single] of css.replace(/\r\n?|\f/g, "\n").matchAll(CSS_TOKENS)) {
      if (url !== undefined) urls.push(unescapeCss(url));
      else if (token[0] === '"' || token[0] === "'") strings.push(unescapeCss(double || single || ""));
    }
    return [...urls, ...strings].filter(Boolean);
  }

  // The refused category CSS text would load from, or "": only a function or a string loads.
  /**
   * @param {unknown} css
   * @returns {string}
   */
  function cssHeld(css) {
    if (!holding() || css === null || css === undefined) return "";
    const text = String(css);
    if (!/[("'\\]/.test(text)) return "";
    for (const url of cssUrls(text)) {
      const category = heldBy(url, false) || dataHeld(url);
      if (category) return category;
    }
    return "";
  }

  /* ---- one queue, released in order --------------------------------------------------- */

  const MAX_HELD = 500;
  /** @type {Held[]} */
  const queue = [];
  let due = false;

  // `run` makes the load; `drop` settles a request the visitor refused (elements stay held).
  // A page that keeps trying (a beacon per scroll event) fills the queue: past MAX_HELD, new
  // loads are refused outright instead of growing it.
  /**
   * @param {string} category
   * @param {() => void} run
   * @param {() => void} [drop]
   * @returns {Held}
   */
  function hold(category, run, drop) {
    /** @type {Held} */
    const item = { category, run, drop, done: false };
    if (queue.length < MAX_HELD) queue.push(item);
    else if (drop) apply(setTimer, window, [() => { item.done = true; drop(); }, 0]);
    else item.done = true;
    return item;
  }

  function release() {
    due = false;
    const ready = queue.filter((item) => !isHeld(item.category));
    queue.splice(0, queue.length, ...queue.filter((item) => isHeld(item.category)));
    for (const item of ready) {
      if (item.done) continue;
      item.done = true;
      try { item.run(); } catch (error) { /* the load itself failed, as it would have */ }
    }
  }

  // The gate's answer to a choice, read before the banner sees it (so the banner's own
  // releases pass): what it allows is released after the banner's activation, which ends
  // with its "consentgate:change" event. The event only triggers: what to release comes from
  // the answer, so no other script can release anything by dispatching it.
  /** @param {RuntimeAnswer | null | undefined} answer */
  function onAnswer(answer) {
    const choices = (answer && answer.choices) || {};
    const services = (answer && answer.services) || {};
    // A "category/service" key follows the service's own choice, if any, else its category's.
    const allows = (/** @type {string} */ id) => {
      const [category, service] = id.split("/");
      return typeof services[service] === "boolean" ? services[service] : choices[category];
    };
    let allowed = false;
    for (const id of [...refused]) {
      if (choices[id] === true) {
        refused.delete(id);
        allowed = true;
      }
    }
    for (const [id, ok] of Object.entries(services)) {
      if (ok === false) { // refused apart from a category the same answer may allow
        denied.add(id);
        granted.delete(id);
      } else if (ok === true && !granted.has(id)) {
        granted.add(id);
        denied.delete(id);
        allowed = true;
      }
    }
    if (allowed) handOver();
    for (const item of queue) {
      if (allows(item.category) === false && item.drop && !item.done) {
        item.done = true;
        try { item.drop(); } catch (error) { /* settled as far as possible */ }
      }
    }
    if (!allowed) return;
    updateNeedles();
    due = true;
    apply(setTimer, window, [() => due && release(), 1000]); // no banner on the page
  }
  apply(listen, doc, ["consentgate:change", () => due && release()]);

  /** @param {unknown} input  what fetch() was called with */
  function isConsentEndpoint(input) {
    try {
      const text = urlOf(input);
      const url = new NativeURL(text, location.href);
      return url.origin === location.origin && url.pathname === /** @type {RuntimeConfig} */ (config).e;
    } catch (error) {
      return false;
    }
  }

  /* ---- patching ---------------------------------------------------------------------- */

  const patch = (/** @type {() => void} */ change) => {
    try { change(); } catch (error) { /* a frozen or missing property stays native */ }
  };
  /** @type {(target: NativeFunction, handler: Handler) => NativeFunction} */
  const proxy = (target, handler) => new Proxy(target, { apply: handler });

  // Every patch, by where it sits ("" the window, "Document" a static, "Node.prototype"), so a
  // same-origin frame's realm can be given the same wrappers (see adopt).
  /** @type {[string, string, PropertyDescriptor][]} */
  const installed = [];
  /**
   * @param {any} owner  the window, an interface or its prototype
   * @param {string} key
   * @param {PropertyDescriptor} descriptor
   */
  function install(owner, key, descriptor) {
    const native = owner === window ? describe(owner, key) : undefined;
    define(owner, key, descriptor);
    // An interface's prototype names its constructor: the wrapper now, so that
    // `new X.prototype.constructor(url)` does not go round it (and instances' constructor is X).
    const made = native && native.value;
    const named = typeof made === "function" && made.prototype ? describe(made.prototype, "constructor") : undefined;
    if (named && named.value === made) define(made.prototype, "constructor", { ...named, value: descriptor.value });
    const path = owner === window ? "" : typeof owner === "function" ? owner.name : `${owner.constructor.name}.prototype`;
    installed.push([path, key, descriptor]);
  }

  /**
   * proto[key]() through `handler(native, receiver, args)`.
   * @param {object | undefined} proto  missing when this browser lacks the API
   * @param {string} key
   * @param {Handler} handler
   */
  function method(proto, key, handler) {
    patch(() => {
      const descriptor = describe(/** @type {object} */ (proto), key); // undefined throws: kept native
      if (!descriptor || typeof descriptor.value !== "function") return;
      install(proto, key, { ...descriptor, value: proxy(descriptor.value, handler) });
    });
  }

  /**
   * Calls the native with `args` unless `check(receiver, args)` took the call over (true).
   * @param {object} proto
   * @param {string} key
   * @param {(receiver: any, args: any[], native: NativeFunction) => unknown} check
   */
  function guard(proto, key, check) {
    method(proto, key, (native, self, args) => {
      let taken = false;
      try { taken = holding() && check(self, args, native) === true; } catch (error) { taken = false; }
      return taken ? undefined : apply(native, self, args);
    });
  }

  /* ---- elements: URL attributes and their setters --------------------------------- */

  /** @type {Record<string, string[]>} */
  const ATTRS = {
    script: ["src"], img: ["src", "srcset"], source: ["src", "srcset"], iframe: ["src", "srcdoc"], frame: ["src"],
    embed: ["src"], object: ["data"], link: ["href", "imagesrcset"], video: ["src", "poster"], audio: ["src"],
    track: ["src"], input: ["src", "formaction"], body: ["background"], a: ["ping"], area: ["ping"],
    form: ["action"], button: ["formaction"], base: ["href"],
    // A table's and its parts' background attribute is an image too (a presentational hint).
    table: ["background"], thead: ["background"], tbody: ["background"], tfoot: ["background"],
    tr: ["background"], td: ["background"], th: ["background"], colgroup: ["background"], col: ["background"],
  };
  // SVG presentation attributes that take a CSS url() (fill="url(https://...)" loads it).
  const PRESENTATION = ["clip-path", "cursor", "fill", "filter", "marker-end", "marker-mid", "marker-start", "mask",
    "stroke"];
  // Attributes read as CSS: a style, a presentation attribute.
  const CSS_ATTRS = new Set(["style", ...PRESENTATION]);
  const NAMES = new Set(["src", "srcset", "imagesrcset", "href", "data", "poster", "xlink:href", "background",
    "ping", "srcdoc", "action", "formaction", "values", "to", "from", "by", ...CSS_ATTRS]);
  // SVG elements that load from href (or xlink:href): scripts, images, filters' images, uses.
  const SVG_LOADERS = new Set(["script", "image", "feImage", "use"]);
  // SVG animations: what they set an attribute or property to (an <image>'s href, a url())
  // loads as if it were written there. `values` is a ";"-separated list.
  const SVG_ANIMATIONS = new Set(["animate", "set"]);
  const ANIMATED = ["values", "to", "from", "by"];
  const SELECTOR = [...Object.entries(ATTRS).flatMap(([tag, names]) => names.map((name) => `${tag}[${name}]`)),
    ...[...SVG_LOADERS].map((tag) => `${tag}[*|href]`),
    ...[...SVG_ANIMATIONS].flatMap((tag) => ANIMATED.map((name) => `${tag}[${name}]`)),
    ...[...CSS_ATTRS].map((name) => `[${name}]`), "style"].join(",");
  /** @type {WeakMap<object, Map<string, HeldAttr>>} */
  const heldAttrs = new WeakMap(); // element (or CSS declaration, sheet) -> Map(attribute -> { value, item })

  // Every element's style attribute may load (a background's url()): last, after the URLs.
  const STYLED = Object.fromEntries(Object.entries(ATTRS).map(([tag, names]) => [tag, [...names, "style"]]));
  const STYLE_ONLY = ["style"];
  const SVG_STYLED = ["href", "xlink:href", ...CSS_ATTRS];
  const SVG_ANIMATED = [...ANIMATED, ...CSS_ATTRS];
  const SVG_PRESENTED = [...CSS_ATTRS];
  // A <style> (HTML or SVG) is applied as a sheet: its text loads its url()s and @imports.
  const isSheet = (/** @type {any} */ node) => Boolean(node) && node.nodeType === 1 && node.localName === "style"
    && (node.namespaceURI === HTML_NS || node.namespaceURI === SVG);
  const isScript = (/** @type {Element} */ el) => el.localName === "script";
  /**
   * @param {Element} el
   * @returns {string[] | null} the attributes it loads from
   */
  function attrsOf(el) {
    const ns = el.namespaceURI;
    if (ns === HTML_NS) return STYLED[el.localName] || STYLE_ONLY;
    if (ns === SVG) {
      return SVG_LOADERS.has(el.localName) ? SVG_STYLED : SVG_ANIMATIONS.has(el.localName) ? SVG_ANIMATED : SVG_PRESENTED;
    }
    return ns === MATH_NS ? STYLE_ONLY : null;
  }
  /** @type {(attr: string, value: unknown) => unknown[]} */
  const urlsIn = (attr, value) => (attr.endsWith("srcset")
    ? String(value).split(",").map((part) => part.trim().split(/\s+/)[0]).filter(Boolean)
    : attr === "ping" ? String(value).split(/\s+/).filter(Boolean)
      : attr === "values" ? String(value).split(";").map((part) => part.trim()) : [value]);
  // Attributes whose property reads back the text as set, not a resolved URL.
  const RAW = new Set(["srcset", "imagesrcset", "ping", "srcdoc", "background"]);

  // A frame's or object's data: URL is a document (of an opaque origin, past these wrappers)
  // that loads what its markup says: its markup, decoded, or "".
  const DOCUMENTS = new Set(["iframe", "frame", "object", "embed"]);
  // A script's or link's data: URL is a script or style sheet (or module preload) that runs.
  const CODE = new Set(["script", "link"]);
  const MEDIA = new Set(["video", "audio", "source"]);
  /** @param {unknown} value */
  function dataDocument(value) {
    // C0 and spaces around it too; its fragment (after "#") is no part of its body.
    const found = /^[\0-\x20]*data:([^,]*),([^#]*)/is.exec(urlText(value));
    if (!found) return "";
    const base64 = /;\s*base64\s*$/i.test(found[1]);
    const charset = /;\s*charset\s*=\s*"?([^;"\s]+)/i.exec(found[1]);
    try {
      if (!charset) return base64 ? atob(percentDecoded(found[2])) : percentDecoded(found[2]);
      // Its bytes read as its charset says: UTF-16 or ISO-2022-JP markup is no ASCII.
      const bytes = base64 ? Uint8Array.from(atob(percentDecoded(found[2])), (c) => c.charCodeAt(0))
        : percentBytes(found[2]);
      let decoder;
      try { decoder = new TextDecoder(charset[1]); } catch (error) { decoder = new TextDecoder(); }
      return decoder.decode(bytes);
    } catch (error) {
      return "";
    }
  }

  /**
   * @param {Element} el
   * @param {string} attr
   * @param {unknown} value
   * @returns {string} the category it is held for, "" if none
   */
  function heldAttr(el, attr, value) {
    if (attr === "srcdoc") return documentHeld(String(value)); // a document whose loads all start
    if (CSS_ATTRS.has(attr)) return cssHeld(value);
    if (ANIMATED.includes(attr)) {
      const category = cssHeld(value); // an animated property's url()
      if (category) return category;
    }
    const frame = (attr === "src" || attr === "data") && DOCUMENTS.has(el.localName);
    const markup = frame && (dataDocument(value) || blobText(value));
    if (markup) return documentHeld(markup);
    const code = frame && scriptDocument(value);
    if (code) return held(code, true)[1] || codeHeld(code);
    // An SVG <use> of an element in a blob: document loads what that element names.
    if (el.localName === "use" && el.namespaceURI === SVG) {
      const document = blobText(value);
      const category = document && documentHeld(document);
      if (category) return category;
    }
    // A media element plays an HLS playlist (Chromium's own player): the URLs it lists load.
    if (attr === "src" && MEDIA.has(el.localName)) {
      const playlist = blobText(value, 65536);
      const category = /^\s*#EXTM3U/.test(playlist) ? codeHeld(playlist) : "";
      if (category) return category;
    }
    if (CODE.has(el.localName) && attr !== "imagesrcset") {
      // A quirks-mode page applies a sheet whatever its type (data:font/woff,@import ...).
      const category = dataHeld(value, el.localName === "link") || codeHeld(blobText(value));
      if (category) return category;
    }
    for (const url of urlsIn(attr, value)) {
      const category = heldBy(url, isScript(el));
      if (category) return category;
    }
    return "";
  }

  // Keeps `value` for el's `attr`; `set` applies it natively on release. A held script gets
  // async = false first: released scripts run in release order, none waits for a failed one.
  /**
   * @param {Element} el
   * @param {string} attr
   * @param {unknown} value
   * @param {string} category
   * @param {() => void} set
   */
  function holdAttr(el, attr, value, category, set) {
    let map = heldAttrs.get(el);
    if (!map) heldAttrs.set(el, (map = new Map()));
    forget(el, attr);
    const held = map;
    const entry = /** @type {HeldAttr} */ ({ value: String(value) }); // its item right below
    entry.item = hold(category, () => {
      if (held.get(attr) !== entry) return;
      held.delete(attr);
      if (isScript(el)) {
        released.add(el);
        if (el.namespaceURI === HTML_NS) /** @type {HTMLScriptElement} */ (el).async = false;
      }
      set();
      // An SVG animation whose interval has passed keeps its old value: started again, it
      // applies the released one.
      if (el.namespaceURI === SVG && SVG_ANIMATIONS.has(el.localName)) {
        try { /** @type {SVGAnimationElement} */ (el).beginElement(); } catch (error) { /* not in a document yet */ }
      }
      // A link already in the document does not preload again on an imagesrcset change alone
      // (Chromium): put back in its place, it does.
      const parent = attr === "imagesrcset" && el.parentNode;
      if (parent) apply(nodeInsertBefore, parent, [el, el.nextSibling]);
    });
    map.set(attr, entry);
  }

  /**
   * @param {Element} el
   * @param {string} attr
   */
  function forget(el, attr) {
    const map = heldAttrs.get(el);
    const entry = map && map.get(attr);
    if (!entry) return;
    entry.item.done = true;
    map.delete(attr);
  }

  /** @type {(el: Element, attr: string) => HeldAttr | undefined} */
  const heldValue = (el, attr) => {
    const map = heldAttrs.get(el);
    return map && map.get(attr);
  };

  // setAttribute-like calls: held when the element loads from `attr` and the URL is refused.
  /**
   * @param {Element} el
   * @param {string} attr
   * @param {unknown} value
   * @param {() => void} set
   */
  function intercept(el, attr, value, set) {
    const attrs = attrsOf(el);
    if (!attrs || !attrs.includes(attr)) return false;
    const category = heldAttr(el, attr, value);
    if (!category) {
      forget(el, attr);
      return false;
    }
    holdAttr(el, attr, value, category, set);
    return true;
  }

  const absolute = (/** @type {string} */ value) => {
    try { return new NativeURL(value, doc.baseURI).href; } catch (error) { return value; }
  };

  // [interface, property, the attribute it reflects if not the same name]
  /** @type {[string, string, string?][]} */
  const reflected = [["HTMLScriptElement", "src"], ["HTMLImageElement", "src"],
    ["HTMLImageElement", "srcset"], ["HTMLSourceElement", "src"], ["HTMLSourceElement", "srcset"],
    ["HTMLIFrameElement", "src"], ["HTMLFrameElement", "src"], ["HTMLEmbedElement", "src"],
    ["HTMLObjectElement", "data"], ["HTMLLinkElement", "href"], ["HTMLMediaElement", "src"],
    ["HTMLVideoElement", "poster"], ["HTMLTrackElement", "src"], ["HTMLInputElement", "src"],
    ["HTMLLinkElement", "imageSrcset", "imagesrcset"], ["HTMLBodyElement", "background"],
    ["HTMLIFrameElement", "srcdoc"], ["HTMLAnchorElement", "ping"], ["HTMLAreaElement", "ping"],
    ["HTMLFormElement", "action"], ["HTMLButtonElement", "formAction", "formaction"],
    ["HTMLInputElement", "formAction", "formaction"], ["HTMLBaseElement", "href"]];
  for (const [name, property, attr = property] of reflected) {
    patch(() => {
      const proto = globals[name] && globals[name].prototype;
      const descriptor = describe(proto, property);
      if (!descriptor || !descriptor.set) return;
      const { get, set } = descriptor;
      install(proto, property, {
        ...descriptor,
        get: proxy(/** @type {NativeFunction} */ (get), (native, self, args) => {
          const entry = heldAttrs.has(self) && heldValue(self, attr);
          if (!entry) return apply(native, self, args);
          return RAW.has(attr) ? entry.value : absolute(entry.value);
        }),
        set: proxy(set, (native, self, args) => {
          let taken = false;
          try {
            taken = holding() && intercept(self, attr, pinned(args, 0)[0], () => apply(native, self, args));
          } catch (error) { taken = false; }
          return taken ? undefined : apply(native, self, args);
        }),
      });
    });
  }

  // new Audio(url) sets its source inside the constructor, where no setter sees it: a refused
  // URL is left out of the construction and given through the src setter, which holds it.
  patch(() => {
    const descriptor = describe(window, "Audio");
    if (!descriptor || typeof descriptor.value !== "function") return;
    install(window, "Audio", {
      ...descriptor,
      value: new Proxy(descriptor.value, {
        construct(target, args, newTarget) {
          if (args[0] === undefined || !heldBy(pinned(args, 0)[0], false)) return construct(target, args, newTarget);
          const audio = /** @type {HTMLAudioElement} */ (construct(target, [], newTarget));
          audio.src = args[0];
          return audio;
        },
      }),
    });
  });

  // An SVG element's href is an SVGAnimatedString whose baseVal setter writes the attribute
  // past setAttribute. It is the same object on every read of el.href, so that read ties it
  // to its element; then baseVal is held (and read back) as the attribute is.
  /** @type {WeakMap<object, Element>} */
  const owners = new WeakMap(); // SVGAnimatedString -> the element whose href it is
  for (const name of ["SVGScriptElement", "SVGImageElement", "SVGFEImageElement", "SVGUseElement"]) {
    patch(() => {
      const proto = globals[name] && globals[name].prototype;
      const descriptor = describe(proto, "href");
      if (!descriptor || !descriptor.get) return;
      install(proto, "href", {
        ...descriptor,
        get: proxy(descriptor.get, (native, self, args) => {
          const animated = apply(native, self, args);
          try { owners.set(animated, self); } catch (error) { /* read natively either way */ }
          return animated;
        }),
      });
    });
  }
  patch(() => {
    const proto = SVGAnimatedString.prototype;
    const descriptor = describe(proto, "baseVal");
    if (!descriptor || !descriptor.get || !descriptor.set) return;
    install(proto, "baseVal", {
      ...descriptor,
      get: proxy(descriptor.get, (native, self, args) => {
        const el = owners.get(self);
        const entry = el && heldAttrs.has(el) && heldValue(el, "href");
        return entry ? entry.value : apply(native, self, args);
      }),
      set: proxy(descriptor.set, (native, self, args) => {
        let taken = false;
        try {
          const el = owners.get(self);
          taken = Boolean(el) && holding() && intercept(/** @type {Element} */ (el), "href", pinned(args, 0)[0],
            () => apply(native, self, args));
        } catch (error) { taken = false; }
        return taken ? undefined : apply(native, self, args);
      }),
    });
  });

  const lower = (/** @type {unknown} */ name) => (typeof name === "string" ? name.toLowerCase() : "");
  // A held <script> or <style> (type "text/plain", its own in data-cg-type): the page's
  // changes of its type go to data-cg-type, so that none runs or applies it before release.
  /** @type {(el: any, attr: unknown) => boolean} */
  const typeHeld = (el, attr) => lower(attr) === "type" && Boolean(el) && el.nodeType === 1
    && (isSheet(el) || isScript(el)) && apply(getAttr, el, ["data-cg-category"]) !== null;
  /** @type {(el: Element, value: unknown) => true} */
  const retype = (el, value) => {
    if (value === null) apply(removeAttr, el, ["data-cg-type"]);
    else apply(setAttr, el, ["data-cg-type", value]);
    return true;
  };
  guard(Element.prototype, "setAttribute", (el, args, native) => {
    const attr = lower(pinned(args, 1)[0]);
    if (typeHeld(el, attr)) return retype(el, String(args[1]));
    return NAMES.has(attr) && intercept(el, attr, args[1], () => apply(native, el, args));
  });
  guard(Element.prototype, "setAttributeNS", (el, args, native) => {
    const attr = /** @type {string} */ (lower(pinned(args, 2)[1]).split(":").pop());
    if (!args[0] && typeHeld(el, attr)) return retype(el, String(args[2]));
    return NAMES.has(attr) && intercept(el, attr, args[2], () => apply(native, el, args));
  });
  guard(Element.prototype, "removeAttribute", (el, args) => typeHeld(el, args[0]) && retype(el, null));
  guard(Element.prototype, "removeAttributeNS", (el, args) => !args[0] && typeHeld(el, args[1]) && retype(el, null));
  method(Element.prototype, "toggleAttribute", (native, el, args) => {
    if (!holding() || !typeHeld(el, args[0])) return apply(native, el, args);
    const on = args.length > 1 ? Boolean(args[1]) : apply(getAttr, el, ["data-cg-type"]) === null;
    retype(el, on ? apply(getAttr, el, ["data-cg-type"]) || "" : null);
    return on;
  });
  for (const name of ["HTMLScriptElement", "HTMLStyleElement", "SVGScriptElement", "SVGStyleElement"]) {
    patch(() => {
      const proto = globals[name] && globals[name].prototype;
      const descriptor = describe(proto, "type");
      if (!descriptor || !descriptor.set) return;
      const { set } = descriptor;
      install(proto, "type", {
        ...descriptor,
        set: proxy(set, (native, el, args) => (holding() && typeHeld(el, "type") ? retype(el, String(args[0]))
          && undefined : apply(native, el, args))),
      });
    });
  }
  // An Attr node: its value written through the node (attr.value, nodeValue, textContent), or
  // the node set as a whole (setAttributeNode, attributes.setNamedItem), held as setAttribute.
  /** @type {(el: Element | null, node: Attr, set: () => void, value?: unknown) => boolean} */
  const attrNode = (el, node, set, value = node.value) => {
    const attr = lower(node.localName);
    if (!node.namespaceURI && typeHeld(el, attr)) return retype(/** @type {Element} */ (el), String(value));
    return Boolean(el) && NAMES.has(attr) && intercept(/** @type {Element} */ (el), attr, value, set);
  };
  const isAttr = (/** @type {any} */ node) => Boolean(node) && node.nodeType === 2; // from any realm
  // The same setters write a <style>'s text, or a text node's in it (held as a sheet).
  /** @type {[object, string][]} */
  const values = [[Attr.prototype, "value"], [Node.prototype, "nodeValue"], [Node.prototype, "textContent"],
    [CharacterData.prototype, "data"], [HTMLElement.prototype, "innerText"], [HTMLElement.prototype, "outerText"]];
  for (const [proto, key] of values) {
    patch(() => {
      const descriptor = /** @type {PropertyDescriptor} */ (describe(proto, key)); // else kept native
      install(proto, key, {
        ...descriptor,
        set: proxy(/** @type {NativeFunction} */ (descriptor.set), (native, self, args) => {
          let taken = false;
          try {
            if (holding()) pinned(args, 0);
            taken = holding() && self.nodeType === 2
              && attrNode(self.ownerElement, self, () => apply(native, self, args), args[0]);
          } catch (error) { taken = false; }
          // outerText puts its text where the element was: beside it.
          return taken ? undefined : sheetChange(sheetsAt(self, key === "outerText"), () => apply(native, self, args));
        }),
      });
    });
  }
  // A text node's own edits (and its removal) change the text of the <style> it is in.
  for (const key of ["appendData", "insertData", "replaceData", "deleteData", "remove"]) {
    method(CharacterData.prototype, key, (native, self, args) => sheetChange(sheetsAt(self), () => apply(native, self, args)));
  }
  method(Element.prototype, "insertAdjacentText", (native, self, args) => sheetChange(sheetsAt(self, true),
    () => apply(native, self, args)));
  method(Node.prototype, "removeChild", (native, self, args) => sheetChange(sheetsAt(self), () => apply(native, self, args)));
  method(globals.Selection && Selection.prototype, "deleteFromDocument", (native, selection, args) => {
    /** @type {Element[]} */
    let sheets = [];
    try {
      for (let i = 0; i < selection.rangeCount; i++) sheets = [...sheets, ...rangeSheets(selection.getRangeAt(i))];
    } catch (error) { sheets = []; }
    return sheetChange(sheets, () => apply(native, selection, args));
  });
  for (const key of ["deleteContents", "extractContents", "surroundContents"]) {
    method(Range.prototype, key, (native, range, args) => {
      if (key === "surroundContents" && holding()) scan(args[0]); // the new parent goes in
      return sheetChange(rangeSheets(range), () => apply(native, range, args));
    });
  }
  for (const key of ["setAttributeNode", "setAttributeNodeNS"]) {
    guard(Element.prototype, key, (el, args, native) => isAttr(args[0])
      && attrNode(el, args[0], () => apply(native, el, args)));
  }
  /** @type {WeakMap<NamedNodeMap, Element>} */
  const maps = new WeakMap(); // el.attributes -> el
  patch(() => {
    const descriptor = /** @type {PropertyDescriptor} */ (describe(Element.prototype, "attributes"));
    install(Element.prototype, "attributes", {
      ...descriptor,
      get: proxy(/** @type {NativeFunction} */ (descriptor.get), (native, el, args) => {
        const map = apply(native, el, args);
        try { maps.set(map, el); } catch (error) { /* read natively either way */ }
        return map;
      }),
    });
  });
  for (const key of ["setNamedItem", "setNamedItemNS"]) {
    guard(NamedNodeMap.prototype, key, (map, args, native) => isAttr(args[0])
      && attrNode(maps.get(map) || null, args[0], () => apply(native, map, args)));
  }
  // Removing a held element's type attribute node: its own type goes instead (the node stays).
  method(Element.prototype, "removeAttributeNode", (native, el, args) => (holding() && isAttr(args[0])
    && !args[0].namespaceURI && typeHeld(el, args[0].localName) && retype(el, null) ? args[0] : apply(native, el, args)));
  for (const key of ["removeNamedItem", "removeNamedItemNS"]) {
    method(NamedNodeMap.prototype, key, (native, map, args) => {
      const el = maps.get(map);
      const name = key === "removeNamedItem" ? args[0] : args[0] ? "" : args[1];
      if (!holding() || !el || !typeHeld(el, name)) return apply(native, map, args);
      const node = apply(getAttrNode, el, ["type"]);
      retype(el, null);
      return node;
    });
  }
  method(Element.prototype, "getAttribute", (native, el, args) => {
    if (heldAttrs.has(el)) {
      const entry = heldValue(el, lower(args[0]));
      if (entry) return entry.value;
    }
    return apply(native, el, args);
  });

  /* ---- elements: insertion of nodes whose attributes were set natively ---------------- */

  // Holds what a node (and its descendants) would load once inserted: nodes from a template,
  // DOMParser, importNode, cloneNode. The attribute is removed and put back on release.
  /** @param {Element} el */
  function neutralise(el) {
    if (isSheet(el)) holdSheet(el, sheetText(el));
    const attrs = attrsOf(el);
    if (!attrs) return;
    for (const attr of attrs) {
      const value = apply(getAttr, el, [attr]);
      if (value === null) continue;
      const category = heldAttr(el, attr, value);
      if (!category) continue;
      apply(removeAttr, el, [attr]);
      holdAttr(el, attr, value, category, () => apply(setAttr, el, [attr, value]));
    }
    // An XLink href under another prefix (an XML document's `l:href`) is the same href.
    if (el.namespaceURI !== SVG || !SVG_LOADERS.has(el.localName)) return;
    for (const node of [...el.attributes]) {
      if (node.localName !== "href" || node.namespaceURI !== XLINK || node.name === "xlink:href") continue;
      const { name, value } = node;
      const category = heldAttr(el, "href", value);
      if (!category) continue;
      apply(removeAttrNS, el, [XLINK, "href"]);
      holdAttr(el, name, value, category, () => apply(setAttrNS, el, [XLINK, name, value]));
    }
  }

  // A text node or a CDATA section (which an XML document makes): text to a sheet.
  const isText = (/** @type {Node} */ node) => [3, 4].includes(apply(typeOf, node, []));
  // The text a <style>'s sheet is made of: its text nodes' (an element in it adds none).
  /** @type {(el: Node) => string} */
  const sheetText = (el) => [...apply(childrenOf, el, [])]
    .map((node) => (isText(node) ? apply(dataOf, node, []) : "")).join("");

  // A <style> whose text would load a refused URL takes the server's held form: type
  // "text/plain" (its own kept in data-cg-type, where the page's changes of its type go:
  // see typeHeld), which the banner releases as the server's. `type`: its own type, if the
  // element's now is the gate's.
  /**
   * @param {Element} el
   * @param {string} text  its text, as it is
   * @param {string | null} [type]
   * @param {string} [category]  what holds it already (a change to a held sheet keeps it held)
   * @returns {string} the category it is held for, "" if none (or held already)
   */
  function holdSheet(el, text, type = apply(getAttr, el, ["type"]), category = "") {
    if (!category && apply(getAttr, el, ["data-cg-category"]) !== null) return "";
    const holds = cssHeld(text) || category;
    if (!holds) return "";
    if (type !== null) apply(setAttr, el, ["data-cg-type", type]);
    else apply(removeAttr, el, ["data-cg-type"]);
    apply(setAttr, el, ["type", "text/plain"]);
    apply(setAttr, el, ["data-cg-category", holds]);
    return holds;
  }

  // The <style>s whose text a change at `node` may change: the node, if it is one; the one it
  // is in, if it is a text node (with `beside`, any node: text goes in next to it).
  /** @type {(node: any, beside?: boolean) => Element[]} */
  const sheetsAt = (node, beside = false) => {
    if (!holding() || !node || typeof node !== "object") return [];
    if (isSheet(node)) return [node];
    const parent = (beside || isText(node)) && apply(parentOf, node, []);
    return isSheet(parent) ? [parent] : [];
  };
  /** @type {(range: Range) => Element[]} */
  const rangeSheets = (range) => {
    try {
      return [...sheetsAt(range.startContainer, true), ...sheetsAt(range.endContainer, true)];
    } catch (error) { return []; }
  };

  // Runs `change`, which may change the text of `sheets`, with each sheet off (type
  // "text/plain"): nothing its text names loads meanwhile. Its text as it then is decides:
  // held, or its own type back, applied. A held one stays held.
  /**
   * @template T
   * @param {Element[]} sheets
   * @param {() => T} change
   * @returns {T}
   */
  function sheetChange(sheets, change) {
    /** @type {[Element, string | null, string][]} */
    const off = [];
    try {
      for (const el of new Set(sheets)) {
        const category = apply(getAttr, el, ["data-cg-category"]) || "";
        const type = category ? apply(getAttr, el, ["data-cg-type"]) : apply(getAttr, el, ["type"]);
        apply(setAttr, el, ["type", "text/plain"]);
        off.push([el, type, category]);
      }
    } catch (error) { /* changed as it comes */ }
    try {
      return change();
    } finally {
      for (const [el, type, category] of off) {
        try {
          if (holdSheet(el, sheetText(el), type, category)) continue;
          if (type === null) apply(removeAttr, el, ["type"]);
          else apply(setAttr, el, ["type", type]);
        } catch (error) { /* left off: held */ }
      }
    }
  }

  /** @param {Node | null | undefined} node  what a page's script inserts (a non-node: the native throws) */
  // `shadows`: into the open shadow roots of the node's elements too (a node from another
  // document, whose shadow roots come with it: looked for only then, as every element is read).
  /** @type {(node: any, shadows?: boolean) => void} */
  function scan(node, shadows = false) {
    if (!node || typeof node !== "object") return;
    const type = node.nodeType;
    if (type !== 1 && type !== 11) return;
    const query = type === 1 ? elementQuery : fragmentQuery;
    if (type === 1) neutralise(node);
    if (type === 11 || node.firstElementChild) for (const el of apply(query, node, [SELECTOR])) neutralise(el);
    if (!shadows) return;
    for (const el of [node, ...apply(query, node, ["*"])]) {
      const root = el.nodeType === 1 && el.shadowRoot;
      if (root) scan(root, true);
    }
  }

  // The nodes at `which` are scanned before they go in; frames they bring are adopted after.
  /** @type {(which: number | "all") => Handler} */
  // A <style> changes when text goes in (the receiver's, or next to it), or out of it (a text
  // node moved elsewhere): see sheetChange.
  const inserting = (which) => (native, self, args) => {
    if (!holding()) return apply(native, self, args);
    /** @type {Element[]} */
    let sheets = [];
    try {
      const indices = which === "all" ? [...args.keys()] : [which];
      // Into a document that loads nothing (DOMParser's, a template's) nothing is scanned: what
      // is adopted or inserted from there into this one is.
      const home = self && (self.nodeType === 9 ? self : self.ownerDocument);
      const live = !home || apply(viewOf, home, []) !== null;
      for (const index of live ? indices : []) {
        scan(args[index], Boolean(args[index]) && args[index].ownerDocument !== home);
      }
      sheets = [...sheetsAt(self, true), ...args.flatMap((arg) => sheetsAt(arg))];
    } catch (error) { /* inserted as it came */ }
    const result = sheetChange(sheets, () => apply(native, self, args));
    adoptFrames(window);
    return result;
  };
  for (const key of ["appendChild", "insertBefore", "replaceChild"]) method(Node.prototype, key, inserting(0));
  for (const proto of [Element.prototype, Document.prototype, DocumentFragment.prototype, CharacterData.prototype]) {
    for (const key of ["append", "prepend", "before", "after", "replaceWith", "replaceChildren"]) {
      if (Object.prototype.hasOwnProperty.call(proto, key)) method(proto, key, inserting("all"));
    }
  }
  method(Element.prototype, "insertAdjacentElement", inserting(1));
  // An image imported or adopted into this document starts loading before any insertion,
  // once its task runs (after this call): the copy this document now owns is scanned first.
  for (const key of ["importNode", "adoptNode"]) {
    method(Document.prototype, key, (native, self, args) => {
      // Adopted, a node leaves its parent: a text node, its <style>.
      const node = key === "adoptNode" ? sheetChange(sheetsAt(args[0]), () => apply(native, self, args))
        : apply(native, self, args);
      try {
        if (holding()) {
          scan(node, true);
          releaseOutside(node);
        }
      } catch (error) { /* returned as it came */ }
      return node;
    });
  }
  // An element in the held form (from a DOMParser document: see parseFromString) may load
  // where the banner does not look for it, out of the document (an image imported, never
  // inserted): it is released with the queue too, unless the banner released it first.
  /** @param {Node} node */
  function releaseOutside(node) {
    const type = node && node.nodeType;
    if (type !== 1 && type !== 11) return;
    const query = type === 1 ? elementQuery : fragmentQuery;
    const all = apply(query, node, ["*"]);
    for (const el of type === 1 ? [/** @type {Element} */ (node), ...all] : all) {
      const category = apply(getAttr, el, ["data-cg-category"]);
      if (category) hold(category, () => unhold(el));
      if (el.shadowRoot) releaseOutside(el.shadowRoot); // an imported clonable one
    }
  }
  // holdAll undone on one element (its attributes back), if it is still held.
  /** @param {Element} el */
  function unhold(el) {
    if (apply(getAttr, el, ["data-cg-category"]) === null) return;
    for (const attr of [...(attrsOf(el) || []), "type"]) {
      const value = apply(getAttr, el, [`data-cg-${attr}`]);
      if (value === null) continue;
      apply(setAttr, el, [attr, value]);
      apply(removeAttr, el, [`data-cg-${attr}`]);
    }
    apply(removeAttr, el, ["data-cg-category"]);
    apply(removeAttr, el, ["data-cg-service"]);
  }
  method(Range.prototype, "insertNode", inserting(0));
  // Other ways a node goes in: a select's option (add), a table's caption and sections, the
  // document's body, a node moved with its state (moveBefore: a text node out of a <style>).
  method(globals.HTMLSelectElement && HTMLSelectElement.prototype, "add", inserting(0));
  method(globals.HTMLOptionsCollection && HTMLOptionsCollection.prototype, "add", inserting(0));
  for (const proto of [Element.prototype, Document.prototype, DocumentFragment.prototype]) {
    if (Object.prototype.hasOwnProperty.call(proto, "moveBefore")) method(proto, "moveBefore", inserting(0));
  }
  /** @type {[object, string][]} */
  const placed = [[HTMLTableElement.prototype, "caption"], [HTMLTableElement.prototype, "tHead"],
    [HTMLTableElement.prototype, "tFoot"], [Document.prototype, "body"]];
  for (const [proto, key] of placed) {
    patch(() => {
      const descriptor = /** @type {PropertyDescriptor} */ (describe(proto, key));
      install(proto, key, { ...descriptor, set: proxy(/** @type {NativeFunction} */ (descriptor.set), inserting(0)) });
    });
  }

  // An XSLT transform's fragment for a document that loads (the page's) is made in an inert one,
  // its loads held, then adopted: made in the page's, its images would start loading at once.
  const adoptNative = Document.prototype.adoptNode;
  method(globals.XSLTProcessor && XSLTProcessor.prototype, "transformToFragment", (native, processor, args) => {
    const output = args[1];
    let inert = null;
    try {
      if (holding() && output && apply(viewOf, output, []) && output.contentType === "text/html") {
        inert = doc.implementation.createHTMLDocument("");
      }
    } catch (error) { inert = null; }
    if (!inert) return apply(native, processor, args);
    const fragment = apply(native, processor, [args[0], inert, ...args.slice(2)]);
    if (!fragment) return fragment;
    scan(fragment);
    return apply(adoptNative, output, [fragment]);
  });

  /* ---- CSS a script writes: declarations and sheets ------------------------------------ */

  // A declaration (el.style, a rule's style) takes its properties through named properties
  // that no prototype holds (el.style.backgroundImage = ...): the style getters hand out one
  // Proxy per declaration, whose property sets that would load a refused URL are held (and read
  // back); its methods and accessors, called on the Proxy, work on the declaration itself.
  /** @type {WeakMap<object, object>} */
  const styleProxies = new WeakMap(); // declaration -> its Proxy
  /** @type {WeakMap<object, object>} */
  const declarations = new WeakMap(); // Proxy -> its declaration
  /** @type {WeakMap<object, Element>} */
  const styleOwners = new WeakMap(); // an element's declaration -> the element
  const declProto = CSSStyleDeclaration.prototype;
  const removeProperty = declProto.removeProperty;
  const unwrap = (/** @type {any} */ value) => declarations.get(value) || value;
  // The property a name sets: backgroundImage, webkitMaskImage and cssFloat as CSS spells them.
  const dashed = (/** @type {string} */ name) => (name === "cssFloat" ? "float" : name.startsWith("--") ? name
    : name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/^webkit-/, "-webkit-"));

  // `decl`'s property `name` set to `value`: held if it loads a refused URL (the property is
  // cleared meanwhile, as the set would have replaced it); any other set forgets a held one.
  /**
   * @param {object} decl
   * @param {string} name
   * @param {unknown} value
   * @param {() => void} set
   */
  function declare(decl, name, value, set) {
    if (!holding()) return false;
    const category = cssHeld(value);
    if (!category) {
      forget(/** @type {Element} */ (decl), name);
      return false;
    }
    if (name) apply(removeProperty, decl, [name]);
    holdAttr(/** @type {Element} */ (decl), name, value, category, set);
    return true;
  }

  /** @type {ProxyHandler<any>} */
  const declared = {
    get(decl, key) {
      const entry = typeof key === "string" && heldAttrs.has(decl) && !(key in declProto) && heldValue(decl, dashed(key));
      return entry ? entry.value : Reflect.get(decl, key, decl);
    },
    set(decl, key, value) {
      if (holding()) value = pin(value);
      return declaredBy(decl, key, value, () => Reflect.set(decl, key, value, decl))
        || Reflect.set(decl, key, value, decl);
    },
    // Object.defineProperty with a value runs the named property's setter, as a set does.
    defineProperty(decl, key, descriptor) {
      if (!("value" in descriptor) || !holding()) return Reflect.defineProperty(decl, key, descriptor);
      const defined = { ...descriptor, value: pin(descriptor.value) };
      return declaredBy(decl, key, defined.value, () => Reflect.defineProperty(decl, key, defined))
        || Reflect.defineProperty(decl, key, defined);
    },
  };
  // Whether a named property's value was held (made by `make` on release).
  /** @type {(decl: any, key: string | symbol, value: unknown, make: () => unknown) => boolean} */
  function declaredBy(decl, key, value, make) {
    try { // a value with no function or string loads nothing, unless it replaces a held one
      return typeof key === "string" && holding() && (heldAttrs.has(decl) || /[("'\\]/.test(String(value)))
        && !(key in declProto) && !/^\d+$/.test(key) && declare(decl, dashed(key), value, make);
    } catch (error) { return false; }
  }
  /** @type {(decl: any, owner: any) => any} */
  function styleProxy(decl, owner) {
    if (!decl || typeof decl !== "object") return decl;
    const wrapped = new Proxy(decl, declared);
    styleProxies.set(decl, wrapped);
    declarations.set(wrapped, decl);
    if (owner && owner.nodeType === 1) styleOwners.set(decl, owner);
    return wrapped;
  }
  // The style attribute's text, however written (el.style = text, cssText), is held as
  // setAttribute("style") holds it; a rule's as one value.
  /** @type {(decl: object, text: unknown, set: () => void) => boolean} */
  const restyle = (decl, text, set) => {
    const owner = styleOwners.get(decl);
    return holding() && (owner ? intercept(owner, "style", text, set) : declare(decl, "", text, set));
  };
  for (const name of ["HTMLElement", "SVGElement", "MathMLElement", "CSSStyleRule", "CSSPageRule", "CSSFontFaceRule",
    "CSSKeyframeRule", "CSSNestedDeclarations"]) {
    patch(() => {
      const proto = globals[name] && globals[name].prototype;
      const descriptor = describe(proto, "style");
      if (!descriptor || !descriptor.get) return;
      const { set } = descriptor;
      install(proto, "style", {
        ...descriptor,
        get: proxy(descriptor.get, (native, self, args) => {
          const decl = apply(native, self, args);
          return styleProxies.get(decl) || (holding() ? styleProxy(decl, self) : decl);
        }),
        set: set && proxy(set, (native, self, args) => {
          let taken = false;
          try {
            const decl = apply(/** @type {NativeFunction} */ (descriptor.get), self, []);
            if (self.nodeType === 1) styleOwners.set(decl, self);
            taken = restyle(decl, pinned(args, 0)[0], () => apply(native, self, args));
          } catch (error) { taken = false; }
          return taken ? undefined : apply(native, self, args);
        }),
      });
    });
  }
  // The declaration's own methods and accessors, called on its Proxy, run on it.
  for (const key of Object.getOwnPropertyNames(declProto)) {
    patch(() => {
      const descriptor = /** @type {PropertyDescriptor} */ (describe(declProto, key));
      if (typeof descriptor.value === "function" && key !== "constructor") {
        method(declProto, key, (native, self, args) => {
          const decl = unwrap(self);
          if (key === "setProperty") {
            const name = String(pinned(args, 1, 2)[0]);
            const set = () => apply(native, decl, args);
            return declare(decl, name.startsWith("--") ? name : name.toLowerCase(), args[1], set) ? undefined : set();
          }
          const entry = key === "getPropertyValue" && heldAttrs.has(decl) && heldValue(decl, lower(args[0]));
          if (entry) return entry.value;
          if (key === "removeProperty") forget(decl, lower(args[0]));
          return apply(native, decl, args);
        });
      } else if (descriptor.get) {
        install(declProto, key, {
          ...descriptor,
          get: proxy(descriptor.get, (native, self, args) => apply(native, unwrap(self), args)),
          set: descriptor.set && proxy(descriptor.set, (native, self, args) => {
            const decl = unwrap(self);
            let taken = false;
            try {
              taken = key === "cssText" && restyle(decl, pinned(args, 0)[0], () => apply(native, decl, args));
            } catch (error) { taken = false; }
            return taken ? undefined : apply(native, decl, args);
          }),
        });
      }
    });
  }

  // Rules a script inserts into a sheet (a page's, a constructed one, an @media rule), and a
  // constructed sheet's whole text (replace, replaceSync): held as they are, made on release.
  for (const proto of [CSSStyleSheet.prototype, globals.CSSGroupingRule && globals.CSSGroupingRule.prototype,
    globals.CSSStyleRule && globals.CSSStyleRule.prototype]) { // a style rule nests rules too
    const rules = /** @type {PropertyDescriptor | undefined} */ (proto && describe(proto, "cssRules"));
    method(proto, "insertRule", (native, sheet, args) => {
      const category = cssHeld(pinned(args, 0)[0]);
      if (!category) return apply(native, sheet, args);
      const index = args.length > 1 ? Number(args[1]) >>> 0 : 0;
      hold(category, () => {
        const count = rules && rules.get ? apply(rules.get, sheet, []).length : index;
        apply(native, sheet, [args[0], Math.min(index, count), ...args.slice(2)]);
      });
      return index;
    });
  }
  // A keyframe a script appends to @keyframes: held as an inserted rule is.
  method(globals.CSSKeyframesRule && CSSKeyframesRule.prototype, "appendRule", (native, rule, args) => {
    const category = cssHeld(pinned(args, 0)[0]);
    if (!category) return apply(native, rule, args);
    hold(category, () => apply(native, rule, args));
    return undefined;
  });
  method(CSSStyleSheet.prototype, "addRule", (native, sheet, args) => {
    const category = cssHeld(`${pinned(args, 0, 1)[0]}{${args[1]}}`);
    if (!category) return apply(native, sheet, args);
    hold(category, () => apply(native, sheet, [args[0], args[1]]));
    return -1;
  });
  for (const key of ["replace", "replaceSync"]) {
    method(CSSStyleSheet.prototype, key, (native, sheet, args) => {
      const category = cssHeld(pinned(args, 0)[0]);
      forget(sheet, "replace");
      if (!category) return apply(native, sheet, args);
      if (key === "replaceSync") {
        holdAttr(sheet, "replace", args[0], category, () => apply(native, sheet, args));
        return undefined;
      }
      return new Promise((resolve, reject) => {
        holdAttr(sheet, "replace", args[0], category, () => apply(native, sheet, args).then(resolve, reject));
      });
    });
  }

  // The Typed OM (el.attributeStyleMap, a rule's styleMap): set() or append() of values that
  // load from a refused host (a url() string, a parsed CSSImageValue) is made on release.
  for (const key of ["set", "append"]) {
    method(globals.StylePropertyMap && globals.StylePropertyMap.prototype, key, (native, map, args) => {
      let category = "";
      try { category = cssHeld(pinned(args, ...args.keys()).slice(1).map(String).join(" ")); } catch (error) { category = ""; }
      if (!category) return apply(native, map, args);
      hold(category, () => apply(native, map, args));
      return undefined;
    });
  }

  /* ---- HTML strings ------------------------------------------------------------------ */

  // Where markup parsed in `el` (its fragment's context) starts: "svg" or "math" in foreign
  // content (where <iframe> or <textarea> is no HTML element, and <img> breaks out),
  // "frameset" in one (where a <frame> is one), "" in HTML, as inside an integration point
  // (SVG <foreignObject>, <desc>, <title>; MathML <mi>, <mo>, <mn>, <ms>, <mtext>, and
  // <annotation-xml> whose encoding is HTML).
  /** @type {(el: any) => string} */
  const foreignRoot = (el) => {
    if (!el || el.nodeType !== 1) return "";
    const name = el.localName;
    if (el.namespaceURI === HTML_NS && name === "frameset") return "frameset";
    if (el.namespaceURI === SVG) return ["foreignObject", "desc", "title"].includes(name) ? "" : "svg";
    if (el.namespaceURI !== MATH_NS || ["mi", "mo", "mn", "ms", "mtext"].includes(name)) return "";
    const encoding = name === "annotation-xml" ? lower(apply(getAttr, el, ["encoding"])) : "";
    return encoding === "text/html" || encoding === "application/xhtml+xml" ? "" : "math";
  };

  // The elements that load in `root`, and in the declarative shadow roots it declares
  // (<template shadowrootmode>: setHTMLUnsafe and parseHTMLUnsafe attach them).
  /** @type {(root: DocumentFragment) => Element[]} */
  const loaders = (root) => [...apply(fragmentQuery, root, [SELECTOR]),
    ...[...apply(fragmentQuery, root, ["template[shadowrootmode]"])]
      .flatMap((inner) => loaders(apply(templateContent, inner, [])))];

  // Holds each element of `elements` that loads from a refused URL in the server's form: its
  // loading attributes as data-cg-<attr> (and a script's type "text/plain"; a sheet's text in
  // data-cg-text). The first category held, "" if none. `runs`: its scripts would run.
  /**
   * @param {Iterable<Element>} elements
   * @param {boolean} runs
   * @returns {string}
   */
  function holdAll(elements, runs) {
    let first = "";
    for (const el of elements) {
      if (isScript(el) && !runs) continue; // never runs, never loads
      if (isSheet(el)) {
        first = first || holdSheet(el, sheetText(el));
        continue;
      }
      const attrs = attrsOf(el) || [];
      const categories = attrs.map((attr) => {
        const value = apply(getAttr, el, [attr]);
        return value === null ? "" : heldAttr(el, attr, value);
      });
      const category = categories.find(Boolean);
      if (!category) continue;
      first = first || category;
      // The URLs go together (an image's srcset with its src); CSS only if it loads.
      for (const attr of [...attrs, ...(isScript(el) ? ["type"] : [])]) {
        const value = apply(getAttr, el, [attr]);
        if (value === null || (CSS_ATTRS.has(attr) && !categories[attrs.indexOf(attr)])) continue;
        apply(setAttr, el, [`data-cg-${attr}`, value]);
        apply(removeAttr, el, [attr]);
      }
      if (isScript(el)) apply(setAttr, el, ["type", "text/plain"]);
      apply(setAttr, el, ["data-cg-category", category]);
    }
    return first;
  }

  // [the markup with refused elements in the server's held form (data-cg-<attr>, and
  // type="text/plain" for scripts when `runs`: scripts parsed there execute), which the banner
  // releases in document order with the server's; the first category held in it ("": none)].
  // Untouched markup comes back as is.
  /**
   * @param {string} markup
   * @param {boolean} runs
   * @param {string} [root]  the element it is parsed in, if not HTML's body: see foreignRoot
   * @returns {[string, string]}
   */
  function held(markup, runs, root = "") {
    if (!mentions(markup)) return [markup, ""];
    if (root === "frameset") { // a template drops <frame>: read in a frameset document
      const parsed = apply(parseDocument, new NativeDOMParser(), [`<frameset>${markup}`, "text/html"]);
      const frameset = apply(bodyOf, parsed, []);
      const first = frameset ? holdAll(apply(elementQuery, frameset, [SELECTOR]), runs) : "";
      return first ? [apply(html.get, frameset, []), first] : [markup, ""];
    }
    const template = apply(createElement, doc, ["template"]);
    apply(html.set, template, [root ? `<${root}>${markup}</${root}>` : markup]);
    const content = apply(templateContent, template, []);
    const first = holdAll(loaders(content), runs);
    if (!first) return [markup, ""];
    const whole = apply(html.get, template, []);
    if (!root) return [whole, first];
    // The root's content, then what broke out of it (an <img> in foreign content ends it), as
    // parsing in the context element puts both in it.
    const inner = apply(html.get, /** @type {Element} */ (content.firstChild), []);
    const wrapped = `<${root}>${inner}</${root}>`;
    return [whole.startsWith(wrapped) ? inner + whole.slice(wrapped.length) : whole, first];
  }

  // `context`: the element the markup is parsed in (by default the receiver's own).
  // `whole`: the call may be held whole (it returns nothing); `sanitized`: it is, when it holds
  // anything (a Sanitizer drops the held form's data-cg-* attributes, which nothing would release).
  /** @type {(index: number, runs: boolean, context?: (self: any, args: any[]) => unknown, whole?: boolean, sanitized?: boolean) => Handler} */
  const strings = (index, runs, context = (self) => self, whole = true, sanitized = false) => (native, self, args) => {
    /** @type {Element[]} */
    let sheets = [];
    try {
      if (holding() && typeof pinned(args, index)[index] === "string") {
        sheets = sheetsAt(self, true); // a <style>'s markup is its text
        const where = context(self, args);
        const [rewritten, first] = held(args[index], runs, foreignRoot(where));
        // What the held form still loads where it is parsed: the call waits whole.
        const category = (sanitized && first) || (whole ? shapedHeld(rewritten, where, runs) : "");
        if (category) {
          hold(category, () => apply(native, self, args));
          return undefined;
        }
        if (rewritten !== args[index]) {
          args = [...args];
          args[index] = rewritten;
        }
      }
    } catch (error) { /* passed on as it came */ }
    const result = sheetChange(sheets, () => apply(native, self, args));
    if (holding()) adoptFrames(window);
    return result;
  };
  // Where a template reads markup otherwise than its context does (a row's cells after a <b>,
  // which a template's body drops; the <body> tag in <html>), the (held) markup is read again
  // in a document shaped as that context: the category it would still load from there, "" if
  // none. Such a call is held whole (nothing of it goes in until the category is allowed).
  /** @type {Record<string, string>} */
  const SHAPES = { table: "<table>", thead: "<table><thead>", tbody: "<table><tbody>", tfoot: "<table><tfoot>",
    tr: "<table><tbody><tr>", colgroup: "<table><colgroup>", html: "", head: "" };
  /** @type {(markup: string, el: any, runs: boolean) => string} */
  function shapedHeld(markup, el, runs) {
    if (!el || el.nodeType !== 1 || el.namespaceURI !== HTML_NS || !mentions(markup)) return "";
    const shape = SHAPES[el.localName];
    if (shape === undefined) return "";
    const parsed = apply(parseDocument, new NativeDOMParser(), [shape + markup, "text/html"]);
    const root = apply(rootOf, parsed, []);
    return root ? holdAll([root, ...apply(elementQuery, root, [SELECTOR])], runs) : "";
  }
  /** @type {[object, string][]} */
  const setters = [[Element.prototype, "innerHTML"], [Element.prototype, "outerHTML"],
    [window.ShadowRoot && ShadowRoot.prototype, "innerHTML"]];
  for (const [proto, key] of setters) {
    patch(() => { // a missing prototype or setter throws: kept native
      const descriptor = /** @type {PropertyDescriptor} */ (describe(proto, key));
      const outer = key === "outerHTML" ? (/** @type {Node} */ self) => apply(parentOf, self, []) : undefined;
      install(proto, key, { ...descriptor, set: proxy(/** @type {NativeFunction} */ (descriptor.set), strings(0, false, outer)) });
    });
  }
  method(Element.prototype, "insertAdjacentHTML", strings(1, false, (self, args) => (
    /^(beforebegin|afterend)$/i.test(String(args[0])) ? apply(parentOf, self, []) : self)));
  method(Element.prototype, "setHTMLUnsafe", strings(0, false));
  // setHTML's Sanitizer may keep an <img src>: a call that would load a refused URL waits whole.
  method(Element.prototype, "setHTML", strings(0, false, undefined, true, true));
  method(window.ShadowRoot && ShadowRoot.prototype, "setHTML", strings(0, false, undefined, true, true));
  method(window.ShadowRoot && ShadowRoot.prototype, "setHTMLUnsafe", strings(0, false));
  method(Document, "parseHTMLUnsafe", (native, self, args) => {
    const call = pinned([...args], 0); // read once: the native gets what was judged
    const parsed = apply(native, self, call);
    holdInert(parsed, typeof call[0] === "string" ? call[0] : undefined);
    return parsed;
  });
  // A DOMParser document loads nothing, but its nodes load once adopted, by any way in, some
  // of which no wrapper sees (an option set by index): its HTML's refused elements are put in
  // the held form where they are, its structure (<html>, <head>, <body>) as parsed. So are an
  // HTML document's an XMLHttpRequest returns, once.
  const inertHeld = new WeakSet();
  /** @type {(value: unknown, markup?: string) => void} */
  const holdInert = (value, markup) => {
    try {
      if (!holding() || !(value instanceof Document) || inertHeld.has(value)) return;
      inertHeld.add(value);
      const root = value.contentType === "text/html" && apply(rootOf, value, []);
      if (root && mentions(markup === undefined ? apply(html.get, root, []) : markup)) {
        holdTree(root);
      }
    } catch (error) { /* left as parsed */ }
  };
  // An inert tree's refused elements held, in the open shadow roots it declared too.
  /** @param {Element | ShadowRoot} root */
  const holdTree = (root) => {
    const all = root.nodeType === 1 ? [/** @type {Element} */ (root), ...apply(elementQuery, root, ["*"])]
      : [...apply(fragmentQuery, root, ["*"])];
    holdAll(all.filter((el) => apply(matches, el, [SELECTOR])), false);
    for (const el of all) if (el.shadowRoot) holdTree(el.shadowRoot);
  };
  method(DOMParser.prototype, "parseFromString", (native, self, args) => {
    const call = pinned([...args], 0, 1); // read once: the native gets what was judged
    const parsed = apply(native, self, call);
    holdInert(parsed, typeof call[0] === "string" ? call[0] : undefined);
    return parsed;
  });
  for (const key of ["response", "responseXML"]) {
    patch(() => {
      const descriptor = /** @type {PropertyDescriptor} */ (describe(XMLHttpRequest.prototype, key));
      install(XMLHttpRequest.prototype, key, {
        ...descriptor,
        get: proxy(/** @type {NativeFunction} */ (descriptor.get), (native, self, args) => {
          const value = apply(native, self, args);
          holdInert(value);
          return value;
        }),
      });
    });
  }
  method(Range.prototype, "createContextualFragment", strings(0, true, (range) => {
    const node = range.startContainer;
    return apply(typeOf, node, []) === 1 ? node : apply(parentOf, node, []);
  }, false));
  const insertHTML = strings(2, false);
  // insertImage makes an <img src> at the selection: a held one goes in as that markup, held.
  const quote = (/** @type {unknown} */ value) => String(value).replace(/&/g, "&amp;").replace(/"/g, "&quot;");
  method(Document.prototype, "execCommand", (native, self, args) => {
    const command = lower(args[0]);
    if (command === "insertimage" && args.length > 2 && heldBy(pinned(args, 2)[2], false)) {
      return insertHTML(native, self, ["insertHTML", args[1], `<img src="${quote(args[2])}">`]);
    }
    return command === "inserthtml" ? insertHTML(native, self, args) : apply(native, self, args);
  });

  /* ---- scripts released after the page loaded ---------------------------------------- */

  /** @type {WeakSet<Element>} */
  const released = new WeakSet(); // scripts the banner or this gate started late
  /** @type {WeakMap<Element, ChildNode>} */
  const cursors = new WeakMap(); // script -> the last node its document.write inserted
  let contentLoaded = doc.readyState !== "loading";
  let loaded = doc.readyState === "complete";
  apply(listen, doc, ["DOMContentLoaded", () => { contentLoaded = true; }]);
  apply(listen, window, ["load", () => { loaded = true; }]);

  // document.write from a released script: parsed after the script (and after what it wrote
  // before), instead of blanking the page (inline) or being dropped (external).
  /** @param {string} markup */
  function writeAfter(markup) {
    const script = apply(currentScript, doc, []);
    if (!script || !released.has(script)) return false;
    const anchor = cursors.get(script) || script;
    if (!anchor.parentNode) return true;
    const range = doc.createRange();
    range.setStartAfter(anchor);
    const fragment = range.createContextualFragment(markup);
    for (const written of apply(fragmentQuery, fragment, ["script"])) {
      released.add(written);
      if (written.hasAttribute("src")) written.async = false;
    }
    const last = fragment.lastChild;
    apply(nodeAfter, anchor, [fragment]);
    if (last) cursors.set(script, last);
    return true;
  }

  const Observer = MutationObserver;
  const written = new Observer(() => {}); // what a document.write adds, read at its end
  const { observe, takeRecords, disconnect } = MutationObserver.prototype;
  let writing = 0; // document.write calls under way (a written script writes too)
  for (const [key, end] of [["write", ""], ["writeln", "\n"]]) {
    method(Document.prototype, key, (native, self, args) => {
      try {
        args = [args.map(pin).join("")]; // as the native joins them, once
        if (self === doc && writeAfter(args.join("") + end)) return undefined;
        if (holding() && args.length) {
          const text = args.join("");
          let [markup] = held(text, true);
          if (markup === text && /<frame/i.test(text)) { // a template drops them: read as a frameset's
            const [framed, category] = held(text, true, "frameset");
            if (category) markup = framed;
          }
          if (!writing++) apply(observe, written, [self, { childList: true, subtree: true }]);
          let result;
          try {
            result = apply(native, self, [markup]);
          } finally {
            // What the parser made of it, read before any image's load starts: markup read
            // alone shows neither a tag two writes make together, nor a cell a table's
            // insertion mode keeps; a <body> or <html> tag written again gives the open one
            // its attributes (a body's background).
            const records = apply(takeRecords, written, []);
            if (!--writing) apply(disconnect, written, []);
            for (const record of records) for (const node of record.addedNodes) scan(node);
            for (const el of [apply(bodyOf, self, []), apply(rootOf, self, [])]) if (el) neutralise(el);
          }
          adoptFrames(window);
          return result;
        }
      } catch (error) { /* written as it came */ }
      return apply(native, self, args);
    });
  }

  // A released script's listener for load, DOMContentLoaded or the document's last
  // readystatechange (Disqus loaders wait for "complete") that already fired runs once,
  // asynchronously; the events are never dispatched again (the site's handlers would rerun).
  const complete = () => doc.readyState === "complete";
  method(EventTarget.prototype, "addEventListener", (native, target, args) => {
    const result = apply(native, target, args);
    try {
      const [type, listener] = args;
      const late = (type === "load" && target === window && loaded)
        || (type === "DOMContentLoaded" && (target === doc || target === window) && contentLoaded)
        || (type === "readystatechange" && target === doc && complete());
      const script = late && listener && apply(currentScript, doc, []);
      if (script && released.has(script)) {
        apply(setTimer, window, [() => {
          const event = new Event(type);
          if (typeof listener === "function") apply(listener, target, [event]);
          else listener.handleEvent(event);
        }, 0]);
      }
    } catch (error) { /* the listener is added natively either way */ }
    return result;
  });

  // The same for `window.onload = f` (Chartbeat's loader chains onto it) and
  // `document.onreadystatechange = f`: assigned by a released script once the event has
  // fired for the last time, the handler runs once.
  /**
   * @param {object} target
   * @param {object} proto
   * @param {string} type
   * @param {() => boolean} fired
   */
  function lateHandler(target, proto, type, fired) {
    patch(() => {
      const property = `on${type}`;
      const own = describe(target, property) || describe(proto, property);
      if (!own || !own.set || !own.configurable) return;
      define(target, property, {
        configurable: true,
        enumerable: own.enumerable,
        get() { return apply(/** @type {NativeFunction} */ (own.get), target, []); },
        /** @param {unknown} handler */
        set(handler) {
          apply(/** @type {NativeFunction} */ (own.set), target, [handler]);
          try {
            const script = fired() && typeof handler === "function" && apply(currentScript, doc, []);
            if (script && released.has(script)) {
              apply(setTimer, window, [() => apply(handler, target, [new Event(type)]), 0]);
            }
          } catch (error) { /* assigned natively either way */ }
        },
      });
    });
  }
  lateHandler(window, Window.prototype, "load", () => loaded);
  lateHandler(doc, Document.prototype, "readystatechange", complete);

  /* ---- requests ---------------------------------------------------------------------- */

  /**
   * @param {NativeFunction} native
   * @param {unknown} self
   * @param {any[]} args  what the page called fetch() with
   * @param {string} category
   * @returns {Promise<Response>}
   */
  function heldFetch(native, self, args, category) {
    return new Promise((resolve, reject) => {
      const init = args[1];
      const signal = (init && init.signal) || (args[0] && typeof args[0] === "object" && args[0].signal);
      const abortError = () => (signal.reason !== undefined ? signal.reason
        : new DOMException("signal is aborted without reason", "AbortError"));
      if (signal && signal.aborted) return reject(abortError());
      const item = hold(category, () => resolve(apply(native, self, args)),
        () => reject(new TypeError("Failed to fetch")));
      if (signal) {
        apply(listen, signal, ["abort", () => {
          if (item.done) return;
          item.done = true;
          reject(abortError());
        }, { once: true }]);
      }
      return undefined;
    });
  }

  /** @param {Response} response */
  async function readAnswer(response) {
    try {
      onAnswer(await apply(json, apply(clone, response, []), []));
    } catch (error) { /* not an answer to a choice */ }
    return response;
  }

  patch(() => {
    const descriptor = /** @type {PropertyDescriptor} */ (describe(window, "fetch")); // else kept native
    install(window, "fetch", {
      ...descriptor,
      value: proxy(descriptor.value, (native, self, args) => {
        const category = heldBy(pinned(args, 0)[0], true);
        if (category) return heldFetch(native, self, args, category);
        const sent = apply(native, self, args);
        return isConsentEndpoint(args[0]) ? sent.then(readAnswer) : sent;
      }),
    });
  });

  /** @type {WeakMap<XMLHttpRequest, { url: unknown, async: boolean }>} */
  const requests = new WeakMap(); // XHR -> { url, async }
  method(XMLHttpRequest.prototype, "open", (native, xhr, args) => {
    const result = apply(native, xhr, pinned(args, 1));
    try { requests.set(xhr, { url: args[1], async: args.length < 3 || Boolean(args[2]) }); } catch (error) { /* */ }
    return result;
  });
  method(XMLHttpRequest.prototype, "send", (native, xhr, args) => {
    const request = requests.get(xhr);
    const category = request ? heldBy(request.url, true) : "";
    if (!request || !category) return apply(native, xhr, args);
    if (!request.async) throw new DOMException("Failed to execute 'send' on 'XMLHttpRequest'", "NetworkError");
    hold(category, () => apply(native, xhr, args), () => {
      for (const [key, value] of [["readyState", 4], ["status", 0]]) define(xhr, key, { value, configurable: true });
      for (const type of ["readystatechange", "error", "loadend"]) {
        xhr.dispatchEvent(type === "readystatechange" ? new Event(type) : new ProgressEvent(type));
      }
    });
    return undefined;
  });

  // Held beacons answer true: SDKs switch to another transport on false.
  method(Navigator.prototype, "sendBeacon", (native, nav, args) => {
    const category = heldBy(pinned(args, 0)[0], true);
    if (!category) return apply(native, nav, args);
    hold(category, () => apply(native, nav, args));
    return true;
  });

  // The Cache API fetches what add() and addAll() are given: a refused one waits, its promise
  // with it (refused for good, it rejects as a failed fetch would).
  for (const key of ["add", "addAll"]) {
    method(globals.Cache && globals.Cache.prototype, key, (native, cache, args) => {
      let category = "";
      try {
        if (key === "add") pinned(args, 0);
        else args[0] = [...args[0]].map(pin);
        /** @type {unknown[]} */
        const urls = key === "add" ? [args[0]] : args[0];
        category = urls.map((url) => heldBy(url, true)).find(Boolean) || "";
      } catch (error) { category = ""; } // the native throws alike
      if (!category) return apply(native, cache, args);
      return new Promise((resolve, reject) => {
        hold(category, () => resolve(apply(native, cache, args)), () => reject(new TypeError("Failed to fetch")));
      });
    });
  }

  // A registered custom property's initial value applies wherever the property is used: a
  // url() in it loads. A refused one is registered on release (until then the property is an
  // unregistered one with no value, which loads nothing). `CSS` is a namespace, not a
  // prototype: wrapped here alone (a frame registers properties for its own document).
  patch(() => {
    const descriptor = describe(globals.CSS, "registerProperty");
    if (!descriptor || typeof descriptor.value !== "function") return;
    define(globals.CSS, "registerProperty", {
      ...descriptor,
      value: proxy(descriptor.value, (native, css, args) => {
        let category = "";
        try {
          const initial = args[0] && args[0].initialValue;
          if (initial !== undefined) args[0] = { ...args[0], initialValue: pin(initial) };
          category = initial !== undefined ? cssHeld(args[0].initialValue) : "";
        } catch (error) { category = ""; }
        if (!category) return apply(native, css, args);
        const definition = { ...args[0] }; // as it was at the call
        hold(category, () => apply(native, css, [definition, ...args.slice(1)]));
        return undefined;
      }),
    });
  });

  // fetchLater() sends by itself (after activateAfter, or when the page goes): a refused one is
  // held and made on release; until then its result reads activated = false. Refused, it stays so.
  patch(() => {
    const descriptor = describe(window, "fetchLater");
    if (!descriptor || typeof descriptor.value !== "function") return;
    const resultProto = globals.FetchLaterResult ? globals.FetchLaterResult.prototype : Object.prototype;
    install(window, "fetchLater", {
      ...descriptor,
      value: proxy(descriptor.value, (native, self, args) => {
        const category = heldBy(pinned(args, 0)[0], true);
        if (!category) return apply(native, self, args);
        /** @type {{ activated: boolean } | null} */
        let made = null;
        hold(category, () => { made = apply(native, self, args); }); // an aborted signal throws there
        const result = Object.create(resultProto);
        define(result, "activated", { get: () => Boolean(made && made.activated), enumerable: true });
        return result;
      }),
    });
  });

  // A worklet's module (CSS.paintWorklet, audioWorklet) is fetched from its URL: held, the
  // promise follows the native's on release and fails as an unloadable module on refusal.
  method(globals.Worklet && globals.Worklet.prototype, "addModule", (native, worklet, args) => {
    const category = heldBy(pinned(args, 0)[0], true);
    if (!category) return apply(native, worklet, args);
    return new Promise((resolve, reject) => {
      hold(category, () => resolve(apply(native, worklet, args)),
        () => reject(new DOMException("Unable to load a worklet's module.", "AbortError")));
    });
  });

  // new FontFace(family, "url(...)") fetches its font when it is loaded (load(), or text that
  // uses it from document.fonts), from the source its constructor fixed: a refused one is a
  // stand-in with a local() source, which fetches nothing, until its release makes the real
  // face, which takes its place in document.fonts and settles its load() and loaded.
  /** @typedef {{ real: FontFace | null, asked: boolean, loaded: Promise<FontFace>, settle: (real: FontFace) => void }} HeldFace */
  /** @type {WeakMap<object, HeldFace>} */
  const faces = new WeakMap(); // stand-in -> what it waits for
  const FONT_KEYS = ["family", "style", "weight", "stretch", "unicodeRange", "featureSettings", "variationSettings",
    "display", "ascentOverride", "descentOverride", "lineGapOverride", "sizeAdjust"];
  patch(() => {
    const descriptor = describe(window, "FontFace");
    const faceProto = globals.FontFace.prototype;
    const setProto = globals.FontFaceSet.prototype;
    const [load, loaded] = [describe(faceProto, "load"), describe(faceProto, "loaded")].map((d) => d && (d.value || d.get));
    const { add, delete: remove, has } = setProto;
    if (!descriptor || typeof descriptor.value !== "function" || !load || !loaded) return;
    install(window, "FontFace", {
      ...descriptor,
      value: new Proxy(descriptor.value, {
        construct(target, args, newTarget) {
          const category = typeof pinned(args, 1)[1] === "string" ? cssHeld(args[1]) : "";
          if (!category) return construct(target, args, newTarget);
          const face = construct(target, [args[0], 'local("consent-gate held font")', ...args.slice(2)], newTarget);
          /** @type {(real: FontFace) => void} */
          let settle = () => {};
          const entry = /** @type {HeldFace} */ ({ real: null, asked: false });
          entry.loaded = new Promise((resolve, reject) => {
            settle = (real) => apply(loaded, real, []).then(() => resolve(face), reject);
          });
          entry.loaded.catch(() => {}); // as the native's: no unhandled rejection of its own
          entry.settle = settle;
          faces.set(face, entry);
          hold(category, () => {
            const real = construct(target, args, newTarget);
            for (const key of FONT_KEYS) {
              try { if (face[key] !== real[key]) real[key] = face[key]; } catch (error) { /* kept as made */ }
            }
            entry.real = real;
            for (const fonts of [doc.fonts]) {
              if (apply(has, fonts, [face])) {
                apply(remove, fonts, [face]);
                apply(add, fonts, [real]);
              }
            }
            if (entry.asked) apply(load, real, []).catch(() => {});
            settle(real);
          });
          return face;
        },
      }),
    });
    const real = (/** @type {unknown} */ face) => {
      const entry = faces.get(/** @type {object} */ (face));
      return entry && entry.real;
    };
    method(faceProto, "load", (native, face, args) => {
      const entry = faces.get(face);
      if (!entry) return apply(native, face, args);
      if (entry.real) return apply(native, entry.real, args).then(() => face);
      entry.asked = true;
      return entry.loaded;
    });
    for (const key of ["loaded", "status"]) {
      patch(() => {
        const own = /** @type {PropertyDescriptor} */ (describe(faceProto, key));
        install(faceProto, key, {
          ...own,
          get: proxy(/** @type {NativeFunction} */ (own.get), (native, face, args) => {
            const entry = faces.get(face);
            if (!entry) return apply(native, face, args);
            if (key === "loaded") return entry.loaded;
            return entry.real ? apply(native, entry.real, args) : entry.asked ? "loading" : "unloaded";
          }),
        });
      });
    }
    // A released stand-in stands for its real face in document.fonts.
    for (const key of ["add", "delete", "has"]) {
      method(setProto, key, (native, fonts, args) => {
        const face = real(args[0]);
        return apply(native, fonts, face ? [face, ...args.slice(1)] : args);
      });
    }
  });

  // Web Animations: a keyframe's CSS value (backgroundImage: "url(...)") fetches what it names
  // once the effect applies. Refused keyframes wait: the effect is made (or kept) without them
  // and they are set on release, so the Animation or KeyframeEffect the page holds stays its.
  /**
   * The refused category a keyframes argument loads from (array or property-indexed form).
   * @param {unknown} keyframes
   * @returns {string}
   */
  function keyframesHeld(keyframes) {
    if (!holding() || keyframes === null || typeof keyframes !== "object") return "";
    /** @type {string[]} */
    const values = [];
    /** @param {unknown} value */
    const add = (value) => {
      if (Array.isArray(value)) value.forEach(add);
      else if (value !== null && value !== undefined) values.push(String(value));
    };
    try {
      for (const frame of Symbol.iterator in keyframes ? [.../** @type {Iterable<unknown>} */ (keyframes)] : [keyframes]) {
        if (frame !== null && typeof frame === "object") Object.values(frame).forEach(add);
      }
    } catch (error) { return ""; } // the native throws alike
    return cssHeld(values.join(";"));
  }
  patch(() => {
    const proto = globals.KeyframeEffect && globals.KeyframeEffect.prototype;
    const set = describe(proto, "setKeyframes");
    const effectOf = describe(globals.Animation.prototype, "effect");
    if (!set || typeof set.value !== "function" || !effectOf || !effectOf.get) return;
    const [setKeyframes, effectGetter] = [set.value, effectOf.get];
    method(Element.prototype, "animate", (native, el, args) => {
      const category = keyframesHeld(args[0]);
      if (!category) return apply(native, el, args);
      const animation = apply(native, el, [null, ...args.slice(1)]);
      const effect = apply(effectGetter, animation, []);
      hold(category, () => apply(setKeyframes, effect, [args[0]]));
      return animation;
    });
    method(proto, "setKeyframes", (native, effect, args) => {
      const category = keyframesHeld(args[0]);
      if (!category) return apply(native, effect, args);
      hold(category, () => apply(native, effect, args));
      return undefined;
    });
    const descriptor = describe(window, "KeyframeEffect");
    if (!descriptor || typeof descriptor.value !== "function") return;
    install(window, "KeyframeEffect", {
      ...descriptor,
      value: new Proxy(descriptor.value, {
        construct(target, args, newTarget) {
          const category = args.length > 1 ? keyframesHeld(args[1]) : "";
          if (!category) return construct(target, args, newTarget);
          const effect = construct(target, [args[0], null, ...args.slice(2)], newTarget);
          hold(category, () => apply(setKeyframes, effect, [args[1]]));
          return effect;
        },
      }),
    });
  });

  // These start in the constructor and cannot be held: a refused one is built against a
  // same-origin path the gate refuses, so the page gets genuine error/close events.
  for (const name of ["WebSocket", "WebSocketStream", "EventSource", "Worker", "SharedWorker"]) {
    patch(() => {
      const descriptor = describe(window, name);
      if (!descriptor || typeof descriptor.value !== "function") return;
      install(window, name, {
        ...descriptor,
        value: new Proxy(descriptor.value, {
          construct(target, args, newTarget) {
            if (heldBy(pinned(args, 0)[0], true)) {
              const url = new NativeURL(config.b, location.href);
              if (name.startsWith("WebSocket")) url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
              args = [url.href, ...args.slice(1)];
            } else if ((name === "Worker" || name === "SharedWorker") && holding()) {
              args = gatedWorker(args);
            }
            return construct(target, args, newTarget);
          },
        }),
      });
    });
  }

  // A blob: or data: worker (shared too) is the page's own code, made at run time (a tag's
  // bundle hands its hits to one): it starts with workerGate, then the page's code
  // (importScripts, or import for a module worker), as a URL of the same scheme (a data:
  // worker keeps its opaque origin). In there a refused request fails as a blocked one does,
  // and the workers it starts from blob: or data: URLs start with workerGate too; nothing is
  // held. The same URL gets the same wrapper, so a shared worker is still shared.
  const createURL = URL.createObjectURL;
  const NativeBlob = Blob;
  /** @type {Map<string, string>} */
  const wrappers = new Map(); // "type URL" -> the worker's URL with workerGate first
  /**
   * @param {any[]} args  what the page called new Worker() or new SharedWorker() with
   * @returns {any[]}
   */
  function gatedWorker(args) {
    try {
      const url = new NativeURL(urlOf(args[0]), doc.baseURI);
      if (url.protocol !== "blob:" && url.protocol !== "data:") return args;
      const module = Boolean(args[1] && args[1].type === "module");
      const id = `${module} ${url.href}`;
      let wrapped = wrappers.get(id);
      if (!wrapped) {
        const loader = (/** @type {Rule} */ r) => isHeld(r.category) && !r.aware;
        const names = [...hosts].filter(([, r]) => loader(r)).map(([host]) => host);
        const globs = [...urls].flatMap(([host, list]) => list.filter(([, r]) => loader(r))
          .map(([pattern]) => [host, pattern.source]));
        const gate = JSON.stringify([names, globs, /** @type {RuntimeConfig} */ (config).b, location.origin]);
        wrapped = workerWrap(url.href, module, `${WORKER_GATE}(...${gate}, ${WORKER_WRAP});`, (code) => (url.protocol === "blob:"
          ? apply(createURL, URL, [new NativeBlob([code], { type: "text/javascript" })])
          : `data:text/javascript,${encodeURIComponent(code)}`));
        wrappers.set(id, wrapped);
      }
      return [wrapped, ...args.slice(1)];
    } catch (error) {
      return args;
    }
  }

  /* ---- cookies a script writes ------------------------------------------------------ */

  // A cookie whose name only refused keys claim is held as a load is (the page's own bundle
  // writing _fbp), and written on release in order. Deletions go through (made certain: a
  // Max-Age=0 closes the line) and drop the held writes they undo; so do names no refused key
  // claims and the gate's own. Reading them (the getter, cookieStore.get) is untouched.
  // Exact names are looked up; only globs (a key in the name: mp_<token>_mixpanel) are tried.
  /** @type {Map<string, string[]>} */
  const cookieNames = new Map();
  /** @type {[RegExp, string][]} */
  const cookieGlobs = [];
  for (const [key, names] of Object.entries(config.k)) {
    for (const name of names) {
      if (name.includes("*")) cookieGlobs.push([glob(name), key]);
      else cookieNames.set(name, [...(cookieNames.get(name) || []), key]);
    }
  }
  const ownCookies = new Set(config.o);
  /** @type {Map<string, string[]>} */
  const claims = new Map(); // cookie name -> the keys claiming it (a page writes the same few)
  // The keys holding a cookie `name` back, joined by " " (isHeld: held while all are), or "".
  /** @param {string} name */
  function cookieHeld(name) {
    if (!holding() || ownCookies.has(name)) return "";
    let keys = claims.get(name);
    if (!keys) {
      if (claims.size >= 1000) claims.clear();
      const globbed = cookieGlobs.filter(([pattern]) => pattern.test(name)).map(([, key]) => key);
      keys = [...new Set([...(cookieNames.get(name) || []), ...globbed])];
      claims.set(name, keys);
    }
    return keys.length && keys.every(isHeld) ? keys.join(" ") : "";
  }
  // Whether a cookie line deletes: the last valid Max-Age at most 0, else an Expires past.
  /** @param {string} line */
  function deletes(line) {
    let age = "";
    let expires = "";
    for (const part of line.split(";").slice(1)) {
      const at = part.includes("=") ? part.indexOf("=") : part.length;
      const name = part.slice(0, at).trim().toLowerCase();
      const value = part.slice(at + 1).trim();
      if (name === "max-age" && /^-?\d+$/.test(value)) age = value;
      else if (name === "expires") expires = value;
    }
    return age ? Number(age) <= 0 : Date.parse(expires) <= Date.now();
  }
  // Held writes by what they write (the cookie jar, a storage area; then the name): a later
  // deletion, which goes through at once, drops them, or release would undo it (Amplitude
  // writes AMP_TEST and deletes it to see whether cookies work).
  /** @type {Map<object, Map<string, Held[]>>} */
  const heldWrites = new Map();
  const jar = {};
  /** @type {(area: object, name: string, item: Held) => void} */
  function noteWrite(area, name, item) {
    if (item.done) return;
    let names = heldWrites.get(area);
    if (!names) heldWrites.set(area, (names = new Map()));
    names.set(name, [...(names.get(name) || []).filter((held) => !held.done), item]);
  }
  /** @type {(area: object, name?: string) => void} */
  function dropWrites(area, name) {
    const names = heldWrites.get(area);
    for (const [found, items] of names || []) {
      if (name !== undefined && found !== name) continue;
      for (const item of items) item.done = true;
      /** @type {Map<string, Held[]>} */ (names).delete(found);
    }
  }
  patch(() => {
    const descriptor = /** @type {PropertyDescriptor} */ (describe(Document.prototype, "cookie"));
    install(Document.prototype, "cookie", {
      ...descriptor,
      set: proxy(/** @type {NativeFunction} */ (descriptor.set), (native, self, args) => {
        let key = "";
        let name = "";
        try {
          if (holding() && typeof args[0] !== "symbol") {
            const line = String(args[0]); // read once, as the native would
            const pair = line.split(";")[0];
            args = [line];
            name = pair.includes("=") ? pair.slice(0, pair.indexOf("=")).trim() : "";
            key = cookieHeld(name);
            if (key && deletes(line)) {
              args = [`${line}; Max-Age=0`];
              key = "";
              dropWrites(jar, name);
            }
          }
        } catch (error) { key = ""; }
        if (!key) return apply(native, self, args);
        const written = args;
        noteWrite(jar, name, hold(key, () => apply(native, self, written)));
        return undefined;
      }),
    });
  });
  // cookieStore.set(name, value) or set({ name, value, expires, ... }): a held one resolves at
  // once (the page goes on) and is made on release with the options as they were.
  /** @type {(args: any[]) => any} */
  const cookieInit = (args) => (args[0] !== null && typeof args[0] === "object" ? args[0] : null);
  /** @type {(args: any[]) => string} */
  const cookieName = (args) => String((cookieInit(args) || { name: args[0] }).name);
  method(globals.CookieStore && globals.CookieStore.prototype, "set", (native, store, args) => {
    let key = "";
    let name = "";
    let made = args;
    try {
      const init = cookieInit(args);
      name = cookieName(args);
      key = holding() ? cookieHeld(name) : "";
      if (key && init && init.expires !== null && init.expires !== undefined
        && Number(init.expires) <= Date.now()) {
        key = "";
        dropWrites(jar, name);
      }
      if (key && init) made = [{ ...init }, ...args.slice(1)]; // as it was at the call
    } catch (error) { key = ""; }
    if (!key) return apply(native, store, args);
    noteWrite(jar, name, hold(key, () => { apply(native, store, made).catch(() => {}); }));
    return Promise.resolve();
  });
  method(globals.CookieStore && globals.CookieStore.prototype, "delete", (native, store, args) => {
    try { dropWrites(jar, cookieName(args)); } catch (error) { /* the native says what is wrong */ }
    return apply(native, store, args);
  });

  // Web storage under the same names: an SDK bundled into the page's own script keeps its
  // visitor id in localStorage as in its cookie (ph_<token>_posthog, ajs_anonymous_id, mp_*),
  // so setItem of a name only refused keys claim is held alike and made on release. Reads go
  // through (a held name reads as never stored); removeItem and clear drop held writes too.
  method(globals.Storage && globals.Storage.prototype, "setItem", (native, store, args) => {
    let key = "";
    let written = args;
    try {
      key = holding() && args.length >= 2 ? cookieHeld(String(args[0])) : "";
      if (key) written = [String(args[0]), String(args[1])]; // as it was at the call
    } catch (error) { key = ""; }
    if (!key) return apply(native, store, args);
    noteWrite(store, written[0], hold(key, () => apply(native, store, written)));
    return undefined;
  });
  method(globals.Storage && globals.Storage.prototype, "removeItem", (native, store, args) => {
    try { dropWrites(store, String(args[0])); } catch (error) { /* the native throws alike */ }
    return apply(native, store, args);
  });
  method(globals.Storage && globals.Storage.prototype, "clear", (native, store, args) => {
    dropWrites(store);
    return apply(native, store, args);
  });

  /* ---- same-origin frames: their realms get the same wrappers ------------------------- */

  // A same-origin frame (about:blank, srcdoc) has natives of its own that a script can take
  // (frame.contentWindow.fetch, frames[0].Image, its Node.prototype.appendChild): each such
  // realm gets this window's wrappers, holding in this window's queue, as soon as a script
  // can reach it: on contentWindow/contentDocument reads, after insertions and HTML parsed
  // from strings, from window.open, and for the markup's frames before the next script runs.
  // A realm the gate runs in itself (a page of the site) keeps its own.
  const ADOPTED = Symbol("consent-gate.adopted");
  const watched = new WeakSet(); // frame documents whose insertions adopt their frames
  /** @param {any} win  a frame's window (a cross-origin one throws on the first read) */
  function adopt(win) {
    try {
      if (!win || win === window || win[KEY]) return;
      if (!describe(win.Node, ADOPTED)) {
        define(win.Node, ADOPTED, { value: true });
        for (const [path, key, descriptor] of installed) {
          try {
            define(path ? path.split(".").reduce((owner, name) => owner[name], win) : win, key, descriptor);
          } catch (error) { /* missing in that realm */ }
        }
      }
      // Frames its own parser makes (a srcdoc's <iframe>), reached by index past every wrapper
      // (frames[0][0]), are adopted as they go in, as this document's are. A frame's first
      // document gives way to its srcdoc's in the same realm: each document is watched.
      const frameDoc = win.document;
      if (!watched.has(frameDoc)) {
        watched.add(frameDoc);
        apply(observe, new Observer(() => holding() && adoptFrames(win)), [frameDoc, { childList: true, subtree: true }]);
      }
      adoptFrames(win);
    } catch (error) { /* cross-origin, or gone */ }
  }
  /** @param {any} win */
  function adoptFrames(win) {
    try {
      for (let i = 0; i < win.length; i++) adopt(win[i]);
    } catch (error) { /* cross-origin, or gone */ }
  }
  for (const name of ["HTMLIFrameElement", "HTMLFrameElement", "HTMLObjectElement"]) {
    for (const key of ["contentWindow", "contentDocument"]) {
      patch(() => {
        const proto = globals[name] && globals[name].prototype;
        const descriptor = describe(proto, key);
        if (!descriptor || !descriptor.get) return;
        install(proto, key, {
          ...descriptor,
          get: proxy(descriptor.get, (native, self, args) => {
            const value = apply(native, self, args);
            if (value && holding()) adopt(key === "contentWindow" ? value : value.defaultView);
            return value;
          }),
        });
      });
    }
  }
  method(window, "open", (native, self, args) => {
    const opened = apply(native, self, args);
    if (holding()) adopt(opened);
    return opened;
  });
  patch(() => new MutationObserver(() => holding() && adoptFrames(window)).observe(doc, { childList: true, subtree: true }));
  // A frame's load (seen on its way down, before the page's own listeners): what its document
  // made meanwhile is adopted first.
  apply(listen, doc, ["load", () => holding() && adoptFrames(window), true]);

  /**
   * A worker's code, `href`, with `first` run before it, made a URL by `make`. Also source run
   * in workers (workerGate's nested workers): it sees none of this closure.
   * @param {string} href
   * @param {boolean} module
   * @param {string} first
   * @param {(code: string) => string} make
   * @returns {string}
   */
  function workerWrap(href, module, first, make) {
    // A module's static imports run in order, and all before the port's first message.
    return make(module ? `import ${JSON.stringify(make(first))};import ${JSON.stringify(href)};`
      : `${first}importScripts(${JSON.stringify(href)});`);
  }

  /**
   * Runs first in a blob: or data: worker (as source: it sees none of this closure). `names`:
   * refused hosts (their subdomains too); `globs`: [host, path pattern] refused; `path`: the
   * gate's refusing path on the page's `origin`, where refused sockets and event sources connect.
   * @param {string[]} names
   * @param {[string, string][]} globs
   * @param {string} path
   * @param {string} origin
   * @param {typeof workerWrap} wrapWorker
   */
  function workerGate(names, globs, path, origin, wrapWorker) {
    const scope = /** @type {any} */ (self);
    const source = (/** @type {Function} */ f) => Function.prototype.toString.call(f);
    const first = `(${source(workerGate)})(...${JSON.stringify([names, globs, path, origin])}, ${source(wrapWorker)});`;
    /** @type {[string, RegExp][]} */
    const patterns = globs.map(([host, source]) => [host, new RegExp(source, "s")]);
    const requestUrl = /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(Request.prototype, "url")).get;
    // A value a native reads as a string, made one once (see pin): a Request stays.
    /** @type {(value: unknown) => unknown} */
    const pin = (value) => {
      if (value === null || (typeof value !== "object" && typeof value !== "function")) return value;
      try {
        Reflect.apply(/** @type {Function} */ (requestUrl), value, []);
        return value;
      } catch (error) {
        return String(value);
      }
    };
    /** @param {unknown} value */
    const refused = (value) => {
      let url;
      try {
        let text = String(value);
        try { text = Reflect.apply(/** @type {Function} */ (requestUrl), value, []); } catch (error) { /* no Request */ }
        url = new URL(text, location.href);
      } catch (error) {
        return false;
      }
      if (!/^(https?|wss?):$/.test(url.protocol)) return false;
      const full = (url.pathname + url.search + url.hash).toLowerCase();
      for (let name = url.hostname.replace(/\.$/, ""); name;) {
        const host = name;
        if (names.includes(host) || patterns.some(([h, re]) => h === host && re.test(full))) return true;
        const dot = name.indexOf(".");
        name = dot === -1 ? "" : name.slice(dot + 1);
      }
      return false;
    };
    const held = (/** @type {boolean} */ socket) => {
      const url = new URL(origin + path); // a blob: or data: URL is no base
      if (socket) url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
      return url.href;
    };
    // The function at `key` wherever `owner`'s prototype chain holds one (the global's fetch is
    // its prototype's too), and an interface's prototype's constructor, wrapped alike.
    /** @type {(owner: any, key: string, handler: ProxyHandler<any>) => void} */
    const wrap = (owner, key, handler) => {
      for (let at = owner; at; at = Object.getPrototypeOf(at)) {
        const own = Object.getOwnPropertyDescriptor(at, key);
        if (!own || typeof own.value !== "function") continue;
        const native = own.value;
        const wrapped = new Proxy(native, handler);
        try {
          Object.defineProperty(at, key, { ...own, value: wrapped });
          const named = native.prototype && Object.getOwnPropertyDescriptor(native.prototype, "constructor");
          if (named && named.value === native) Object.defineProperty(native.prototype, "constructor", { ...named, value: wrapped });
        } catch (error) { /* kept native */ }
      }
    };
    const failed = () => Promise.reject(new TypeError("Failed to fetch"));
    wrap(scope, "fetch", {
      apply(target, that, args) {
        if (args.length) args[0] = pin(args[0]);
        return refused(args[0]) ? failed() : Reflect.apply(target, that, args);
      },
    });
    wrap(scope, "importScripts", {
      apply(target, that, args) {
        const urls = args.map(pin);
        if (urls.some(refused)) throw new DOMException("Failed to execute 'importScripts'", "NetworkError");
        return Reflect.apply(target, that, urls);
      },
    });
    if (scope.Cache) {
      wrap(scope.Cache.prototype, "add", {
        apply(target, that, args) {
          if (args.length) args[0] = pin(args[0]);
          return refused(args[0]) ? failed() : Reflect.apply(target, that, args);
        },
      });
      wrap(scope.Cache.prototype, "addAll", {
        apply(target, that, args) {
          let urls = args[0];
          try { urls = [...args[0]].map(pin); } catch (error) { /* the native throws alike */ }
          return Array.isArray(urls) && urls.some(refused) ? failed() : Reflect.apply(target, that, [urls, ...args.slice(1)]);
        },
      });
    }
    if (scope.XMLHttpRequest) {
      wrap(scope.XMLHttpRequest.prototype, "open", {
        apply(target, that, args) {
          if (args.length > 1) args[1] = pin(args[1]);
          return Reflect.apply(target, that, refused(args[1]) ? [args[0], held(false), ...args.slice(2)] : args);
        },
      });
    }
    for (const name of ["WebSocket", "WebSocketStream", "EventSource"]) {
      if (!scope[name]) continue;
      wrap(scope, name, {
        construct(target, args, newTarget) {
          if (args.length) args[0] = pin(args[0]);
          return Reflect.construct(target, refused(args[0]) ? [held(name !== "EventSource"), ...args.slice(1)] : args, newTarget);
        },
      });
    }
    // The workers it starts from blob: or data: URLs start with this gate too.
    /** @param {any[]} args */
    const nested = (args) => {
      try {
        const url = new URL(String(args[0]), location.href);
        if (url.protocol !== "blob:" && url.protocol !== "data:") return args;
        const module = Boolean(args[1] && args[1].type === "module");
        return [wrapWorker(url.href, module, first, (code) => (url.protocol === "blob:"
          ? URL.createObjectURL(new Blob([code], { type: "text/javascript" }))
          : `data:text/javascript,${encodeURIComponent(code)}`)), ...args.slice(1)];
      } catch (error) {
        return args;
      }
    };
    if (scope.Worker) {
      wrap(scope, "Worker", { construct: (target, args, newTarget) => Reflect.construct(target, nested(args), newTarget) });
    }
  }
  // Read once, before any script could change toString.
  const WORKER_GATE = `(${workerGate})`;
  const WORKER_WRAP = `(${workerWrap})`;

  /* ---- stubs for tag APIs ------------------------------------------------------------- */

  // Site code that calls a tag's API before consent finds a queue, as the vendors' own
  // snippets define it, and the real library adopts it once it loads.
  /** @type {Map<string, { queue: IArguments[] }>} */
  const stubs = new Map(); // name -> stub whose category must hand it over on consent
  patch(() => {
    const w = globals;
    if (!Array.isArray(w.dataLayer)) w.dataLayer = [];
    if (typeof w.gtag !== "function") w.gtag = function () { w.dataLayer.push(arguments); };
    if (!w._gaq) w._gaq = [];
    if (!w._paq) w._paq = [];
    if (!w.googletag) w.googletag = { cmd: [] };
    if (typeof w.ga !== "function") {
      const ga = function ga() {
        const stub = /** @type {QueueStub} */ (ga);
        (stub.q = stub.q || []).push(arguments);
      };
      ga.l = Date.now();
      w.ga = ga;
    }
    // Salesforce Krux, Prebid, comScore, Quantcast and Bing UET queue calls the same way.
    if (typeof w.Krux !== "function") {
      const Krux = function Krux() { /** @type {QueueStub} */ (Krux).q.push(arguments); };
      /** @type {IArguments[]} */
      Krux.q = [];
      w.Krux = Krux;
    }
    if (!w.pbjs) w.pbjs = { que: [] };
    for (const name of ["_comscore", "_qevents", "uetq"]) if (!w[name]) w[name] = [];
    if (typeof w.fbq !== "function" && config.s.fbq && isHeld(config.s.fbq)) {
      const fbq = function fbq() {
        const stub = /** @type {FbqStub} */ (fbq);
        if (stub.callMethod) apply(stub.callMethod, fbq, arguments);
        else stub.queue.push(arguments);
      };
      Object.assign(fbq, { push: fbq, loaded: true, version: "2.0", queue: [] });
      w.fbq = fbq;
      stubs.set("fbq", /** @type {FbqStub} */ (fbq)); // its queue assigned above
    }
  });

  // Meta's snippet does nothing when fbq exists: on consent the stub steps aside, and what
  // was queued is replayed into the fbq the snippet then defines.
  function handOver() {
    for (const [name, stub] of stubs) {
      if (isHeld(/** @type {RuntimeConfig} */ (config).s[name]) || globals[name] !== stub) continue;
      stubs.delete(name);
      patch(() => {
        const calls = stub.queue.splice(0);
        delete globals[name];
        define(window, name, {
          configurable: true,
          enumerable: true,
          get: () => undefined,
          /** @param {NativeFunction} real */
          set(real) {
            define(window, name, { value: real, writable: true, configurable: true, enumerable: true });
            apply(setTimer, window, [() => calls.forEach((args) => apply(real, window, args)), 0]);
          },
        });
      });
    }
  }

  // adopt: a script the banner started late; load: an attribute set past the gate, for what the
  // visitor asked for by hand (a placeholder's "Load once": that element, in this page view).
  define(window, KEY, {
    value: Object.freeze({
      adopt: (/** @type {Element} */ script) => { released.add(script); },
      /** @type {(el: Element, name: string, value: string) => void} */
      load: (el, name, value) => { apply(setAttr, el, [name, value]); },
    }),
  });
})((() => {
  const key = Symbol.for("consent-gate.runtime-config");
  const config = /** @type {RuntimeConfig | undefined} */ (window[key]);
  delete window[key];
  return config;
})());
