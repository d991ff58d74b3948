// @ts-check
/*
 * consent_gate fingerprinting guard, loaded first in <head> before any script of the page.
 * Until the visitor allows every covering category, APIs that read back device entropy answer
 * with blank or constant values, never with an exception: canvas, WebGL, audio and high-entropy
 * navigator values, in this window and in same-origin frames. Each attempt is counted per
 * calling script and reported to the gate. When the gate answers a choice with every covering
 * category allowed, the original functions return in the same page view.
 * This file is a function expression: the gate calls it with
 * { report: url, consent: path, allow: [url glob, ...], categories: [id, ...], own: path }.
 */
/**
 * @typedef {{ report: string, consent: string, allow: string[], categories: string[], own: string }} GuardConfig
 * @typedef {(this: unknown, ...args: any[]) => any} Native  a browser function the guard wraps
 * @typedef {(receiver: any, args: any[], original: Native) => unknown} Fake
 * @typedef {{ script: string, api: string, count: number }} Attempt
 * @typedef {Window & typeof globalThis} Realm  this window, or a same-origin frame's
 */
((/** @type {GuardConfig} */ config) => {
  "use strict";

  const { apply, defineProperty: define, getOwnPropertyDescriptor: describe, get: property } = Reflect;
  const NativeError = Error;
  const hasOwn = Object.prototype.hasOwnProperty;
  const MARK = Symbol.for("consent-gate.fingerprint-guard");
  /** @type {Record<number, string>} */
  const UNMASKED = { 0x9245: "WebKit", 0x9246: "WebKit WebGL" }; // WEBGL_debug_renderer_info
  const page = location.href.split(/[?#]/)[0].slice(0, 500);
  const ours = location.origin + config.own;
  const sendBeacon = navigator.sendBeacon;
  const setTimer = window.setTimeout;
  const { clone, json } = Response.prototype;
  /** @type {WeakMap<object, Native>} */
  const shown = new WeakMap(); // wrapper -> the native function whose source it shows
  /** @type {WeakSet<object>} */
  const silenced = new WeakSet(); // OfflineAudioContexts whose rendering is zeroed
  /** @type {(() => void)[]} */
  const undo = []; // puts one original back each
  let active = true;

  const glob = (/** @type {string} */ pattern) => new RegExp(`^${pattern.split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  const allowed = config.allow.map((entry) => glob(entry.startsWith("/") ? location.origin + entry : entry));

  /* ---- who is calling, and reporting it --------------------------------------------- */

  // The script of the frame three calls up: caller() <- attempt() <- a wrapper <- the caller.
  // Inline code and code without a readable frame count as the page itself; the gate's own
  // static scripts (the run-time gate's wrappers calling into the page) are passed over.
  // `trusted` is false when the page has taken over stack formatting (Error.prepareStackTrace)
  // and could forge it.
  /** @returns {{ script: string, trusted: boolean }} */
  function caller() {
    const own = apply(hasOwn, NativeError, ["prepareStackTrace"]);
    /** @type {[ErrorConstructor["prepareStackTrace"], number]} */
    const saved = [NativeError.prepareStackTrace, NativeError.stackTraceLimit];
    let stack = "";
    let trusted = true;
    try {
      NativeError.prepareStackTrace = undefined;
      NativeError.stackTraceLimit = 30;
      trusted = NativeError.prepareStackTrace === undefined;
      stack = String(new NativeError().stack || "");
    } catch (error) {
      trusted = false;
    }
    try {
      if (own) NativeError.prepareStackTrace = saved[0];
      else delete NativeError.prepareStackTrace;
      NativeError.stackTraceLimit = saved[1];
    } catch (error) { /* a frozen Error keeps its own settings */ }
    const frames = stack.split("\n").filter((line) => /^\s*at\s|@/.test(line)).slice(3);
    for (const frame of frames) {
      const found = /((?:https?|file):\/\/[^\s()]*?):\d+:\d+/.exec(frame);
      if (found && !found[1].startsWith(ours)) return { script: found[1].split(/[?#]/)[0].slice(0, 500), trusted };
    }
    return { script: page, trusted };
  }

  /** @type {Map<string, Attempt>} */
  const pending = new Map();
  let timer = 0;

  /**
   * Counts one attempt of `api`; false when the calling script is allowed to read real values.
   * @param {string} api
   */
  function attempt(api) {
    const { script, trusted } = caller();
    if (trusted && allowed.some((pattern) => pattern.test(script))) return false;
    const key = `${script} ${api}`;
    const entry = pending.get(key);
    if (entry) entry.count += 1;
    else pending.set(key, { script, api, count: 1 });
    if (!timer) timer = apply(setTimer, window, [flush, 1000]);
    return true;
  }

  function flush() {
    timer = 0;
    const entries = [...pending.values()];
    pending.clear();
    for (let start = 0; start < entries.length; start += 32) {
      const attempts = entries.slice(start, start + 32)
        .map(({ script, api, count }) => ({ script, api, count: Math.min(count, 1000) }));
      const body = JSON.stringify({ page: location.pathname.slice(0, 500), attempts });
      try { apply(sendBeacon, navigator, [config.report, body]); } catch (error) { return; }
    }
  }

  /* ---- wrapping ---------------------------------------------------------------------- */

  /**
   * Puts `wrapper` in place of the `field` ("value" or "get") of `proto[key]`, until lifted.
   * @param {object | null | undefined} proto  missing when this browser lacks the API
   * @param {string} key
   * @param {"value" | "get"} field
   * @param {(original: Native) => Native | undefined} make
   */
  function replace(proto, key, field, make) {
    const descriptor = proto && describe(proto, key);
    if (!descriptor || typeof descriptor[field] !== "function") return;
    const original = descriptor[field];
    const wrapper = make(original);
    if (!wrapper) return;
    shown.set(wrapper, original);
    define(wrapper, "length", { value: original.length, configurable: true });
    define(proto, key, { ...descriptor, [field]: wrapper });
    undo.push(() => define(proto, key, descriptor));
  }

  // A method that answers with `fake(receiver, args, original)` while guarded. `when(args)`
  // narrows the guard to the calls that read entropy. A receiver the fake cannot handle is
  // one the original rejects too: it gets the original's answer (its exception).
  /**
   * @param {object | null | undefined} proto
   * @param {string} key
   * @param {string} api
   * @param {Fake} fake
   * @param {(args: any[]) => boolean} [when]
   */
  function method(proto, key, api, fake, when) {
    replace(proto, key, "value", (original) => ({
      /** @param {any[]} args */
      [key](...args) {
        if (!active || (when && !when(args)) || !attempt(api)) return apply(original, this, args);
        try { return fake(this, args, original); } catch (error) { return apply(original, this, args); }
      },
    })[key]);
  }

  /**
   * A getter that runs the original (for its receiver checks) and answers `value` while guarded.
   * @param {object | null | undefined} proto
   * @param {string} key
   * @param {string} api
   * @param {unknown} value
   */
  function getter(proto, key, api, value) {
    replace(proto, key, "get", (original) => /** @type {PropertyDescriptor} */ (describe({
      get [key]() {
        const real = apply(original, this, []);
        return active && attempt(api) ? value : real;
      },
    }, key)).get);
  }

  /**
   * A getter whose answer is passed to `then` (no attempt counted): hooks, not guards.
   * @param {object | null | undefined} proto
   * @param {string} key
   * @param {(receiver: any, value: any) => unknown} then
   */
  function observe(proto, key, then) {
    replace(proto, key, "get", (original) => /** @type {PropertyDescriptor} */ (describe({
      get [key]() {
        const value = apply(original, this, []);
        try {
          if (active) then(this, value);
        } catch (error) { /* a hook never breaks the getter it rides on */ }
        return value;
      },
    }, key)).get);
  }

  /**
   * @param {unknown} view
   * @param {number} value
   */
  function fill(view, value) {
    if (ArrayBuffer.isView(view)) new Uint8Array(view.buffer, view.byteOffset, view.byteLength).fill(value);
  }

  /* ---- one window (this one, then each same-origin frame) ---------------------------- */

  /** @param {Realm | null} win */
  function guardWindow(win) {
    /** @type {typeof HTMLCanvasElement | undefined} */
    let Canvas;
    try { Canvas = win?.HTMLCanvasElement; } catch (error) { return; } // a cross-origin frame
    if (!active || !win || !Canvas || property(Canvas, MARK)) return;
    define(Canvas, MARK, { value: true });
    const doc = win.document;
    const createElement = win.Document.prototype.createElement;
    const getContext = Canvas.prototype.getContext;
    const Offscreen = win.OffscreenCanvas;
    const offscreenContext = Offscreen && Offscreen.prototype.getContext;
    /** @type {HTMLCanvasElement | null} */
    let scratch = null;

    /**
     * A blank canvas the size of `canvas`: what every readback of a canvas answers with.
     * @param {{ width: number, height: number }} canvas
     */
    function blank(canvas) {
      scratch = scratch || /** @type {HTMLCanvasElement} */ (apply(createElement, doc, ["canvas"]));
      scratch.width = canvas.width;
      scratch.height = canvas.height;
      return scratch;
    }
    /** @param {{ width: number, height: number }} canvas */
    const blankContext = (canvas) => /** @type {OffscreenCanvasRenderingContext2D} */ (
      apply(offscreenContext, new Offscreen(canvas.width, canvas.height), ["2d"]));

    replace(win.Function.prototype, "toString", "value", (original) => ({
      toString() { return apply(original, shown.get(this) || this, []); },
    }).toString);

    const canvas = Canvas.prototype;
    method(canvas, "toDataURL", "canvas.toDataURL", (el, args, toDataURL) => apply(toDataURL, blank(el), args));
    method(canvas, "toBlob", "canvas.toBlob", (el, args, toBlob) => apply(toBlob, blank(el), args));
    method(win.CanvasRenderingContext2D && win.CanvasRenderingContext2D.prototype, "getImageData",
      "canvas.getImageData",
      (context, args, read) => apply(read, apply(getContext, blank(context.canvas), ["2d"]), args));
    if (Offscreen) {
      method(Offscreen.prototype, "convertToBlob", "offscreen.convertToBlob",
        (el, args, convert) => apply(convert, blankContext(el).canvas, args));
      method(win.OffscreenCanvasRenderingContext2D && win.OffscreenCanvasRenderingContext2D.prototype,
        "getImageData", "offscreen.getImageData",
        (context, args, read) => apply(read, blankContext(context.canvas), args));
    }

    for (const GL of [win.WebGLRenderingContext, win.WebGL2RenderingContext]) {
      if (!GL) continue;
      method(GL.prototype, "getParameter", "webgl.getParameter",
        (gl, args, get) => (apply(get, gl, args), UNMASKED[args[0]]), (args) => args[0] in UNMASKED);
      method(GL.prototype, "readPixels", "webgl.readPixels", (gl, args, read) => {
        apply(read, gl, args);
        fill(args[6], 0);
      });
      method(GL.prototype, "getSupportedExtensions", "webgl.getSupportedExtensions",
        (gl, args, list) => (apply(list, gl, args) === null ? null : new win.Array()));
    }

    const channels = win.AudioBuffer && win.AudioBuffer.prototype.getChannelData;
    /** @param {AudioBuffer} buffer */
    const silence = (buffer) => {
      for (let i = 0; i < buffer.numberOfChannels; i++) apply(channels, buffer, [i]).fill(0);
      return buffer;
    };
    if (win.OfflineAudioContext) {
      // The "complete" event fires before the promise settles: both hand out a zeroed buffer.
      method(win.OfflineAudioContext.prototype, "startRendering", "audio.startRendering", (context, args, start) => {
        silenced.add(context);
        return apply(start, context, args).then(silence);
      });
      observe(win.OfflineAudioCompletionEvent && win.OfflineAudioCompletionEvent.prototype, "renderedBuffer",
        (event, buffer) => silenced.has(event.target) && silence(buffer));
    }
    const analyser = win.AnalyserNode && win.AnalyserNode.prototype;
    /** @type {[string, number][]} */
    const quiets = [["getFloatFrequencyData", -Infinity], ["getByteFrequencyData", 0],
      ["getFloatTimeDomainData", 0], ["getByteTimeDomainData", 128]];
    for (const [key, quiet] of quiets) {
      method(analyser, key, `audio.${key}`, (node, args, read) => {
        apply(read, node, args);
        args[0].fill(quiet);
      });
    }

    const navigatorProto = win.Navigator && win.Navigator.prototype;
    getter(navigatorProto, "hardwareConcurrency", "navigator.hardwareConcurrency", 4);
    getter(navigatorProto, "deviceMemory", "navigator.deviceMemory", 8);
    method(win.NavigatorUAData && win.NavigatorUAData.prototype, "getHighEntropyValues",
      "navigator.getHighEntropyValues", (data, args, get) => apply(get, data, [new win.Array()]));
    method(win.MediaDevices && win.MediaDevices.prototype, "enumerateDevices", "navigator.enumerateDevices",
      () => win.Promise.resolve(new win.Array()));

    // Same-origin frames: guarded when a script reaches into them, when added, when loaded.
    /** @param {HTMLIFrameElement} frame */
    const guardFrame = (frame) => {
      try { guardWindow(/** @type {Realm | null} */ (frame.contentWindow)); } catch (error) { /* not a frame's window */ }
    };
    for (const Frame of [win.HTMLIFrameElement, win.HTMLFrameElement, win.HTMLObjectElement]) {
      if (!Frame) continue;
      observe(Frame.prototype, "contentWindow", (frame, value) => value && guardWindow(value));
      observe(Frame.prototype, "contentDocument", (frame, value) => value && guardWindow(value.defaultView));
    }
    const FRAMES = "iframe, frame, object";
    const observer = new win.MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) {
          if (node.nodeType !== 1) continue;
          const el = /** @type {Element} */ (node);
          if (el.matches(FRAMES)) guardFrame(/** @type {HTMLIFrameElement} */ (el));
          if (el.firstElementChild) {
            /** @type {NodeListOf<HTMLIFrameElement>} */ (el.querySelectorAll(FRAMES)).forEach(guardFrame);
          }
        }
      }
    });
    observer.observe(doc, { childList: true, subtree: true });
    /** @param {Event} event */
    const onLoad = (event) => {
      const target = /** @type {HTMLIFrameElement} */ (event.target);
      return target.matches && target.matches(FRAMES) && guardFrame(target);
    };
    doc.addEventListener("load", onLoad, true);
    undo.push(() => {
      observer.disconnect();
      doc.removeEventListener("load", onLoad, true);
    });
  }

  /* ---- start and lift ---------------------------------------------------------------- */

  function lift() {
    if (!active) return;
    active = false;
    for (const restore of undo.splice(0).reverse()) restore();
  }

  // The guard steps down when the gate itself answers a choice with every covering category
  // allowed: banner.js posts choices with fetch, and gets the answer only after the guard has
  // read it, so the scripts the banner then releases see real values. (Its
  // "consentgate:change" event would be too late for them, and any script can dispatch it.)
  /** @param {RequestInfo | URL | undefined} input  what fetch() was called with */
  function isConsentEndpoint(input) {
    try {
      const request = /** @type {{ url?: string }} */ (input); // a Request, or a URL (no url)
      const url = new URL(typeof input === "string" ? input : request.url || String(input), location.href);
      return url.origin === location.origin && url.pathname === config.consent;
    } catch (error) {
      return false;
    }
  }

  /** @param {Native} original */
  const watchFetch = (original) => ({
    /** @param {Parameters<typeof fetch>} args */
    fetch(...args) {
      const sent = apply(original, window, args);
      if (!active || !isConsentEndpoint(args[0])) return sent;
      return sent.then(async (/** @type {Response} */ response) => {
        try {
          const answer = await apply(json, apply(clone, response, []), []);
          const choices = (answer && answer.choices) || {};
          if (config.categories.every((id) => choices[id] === true)) lift();
        } catch (error) { /* not an answer to a choice */ }
        return response;
      });
    },
  }).fetch;

  // A browser the guard does not expect must not break the page, nor the head scripts after it.
  try {
    replace(window, "fetch", "value", watchFetch);
    guardWindow(window);
    window.addEventListener("pagehide", flush);
  } catch (error) { /* guarded as far as it got */ }
})
