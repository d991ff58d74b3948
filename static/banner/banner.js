/*
 * consent_gate banner: progressive enhancement of the server-rendered consent UI.
 * Without it every control is a plain form POST. With it, choices go out with fetch; elements
 * the server held back (type="text/plain" scripts, data-cg-src, ...) start in the same page view
 * once their category is allowed; revoking a category deletes its script-visible cookies and
 * reloads; the preferences dialog opens in place. The consent cookie is HttpOnly: JS never reads it.
 * Global Privacy Control: every choice says whether navigator.globalPrivacyControl is on, and
 * when the server did not see Sec-GPC (a proxy stripped it) the opt-out is sent on its own.
 * API: window.consentGate = { choices(), decided(), open(), accept(categories), reject(),
 * withdraw(), onChange(callback) }; "consentgate:change" fires on document with {choices, decided}.
 * This file is a function expression: the gate serves it called with what the policy says for
 * every page, { cookies: {category: [name glob]} }, so pages need not carry it.
 */
((policy) => {
  "use strict";

  const EVENT = "consentgate:change";
  const RUNTIME = Symbol.for("consent-gate.runtime");
  const SVG_NS = "http://www.w3.org/2000/svg";
  // Attributes the server renamed to data-cg-<name>; srcset before src so an img loads once.
  // Lazy loaders' data-* copies are restored before the attributes they feed.
  const RESTORED = [
    "data-srcset", "data-lazy-srcset", "data-src", "data-lazy-src", "data-poster", "srcset", "imagesrcset",
    "poster", "data", "href", "xlink:href", "background", "ping", "action", "formaction", "style", "src",
  ];
  // Read once, while the page is parsed: setting them later would not load the tracker but move
  // the page's own URLs (<base>) or leave it (a refresh). They are served whole after a reload.
  const PARSE_TIME = new Set(["base", "meta"]);
  const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden])," +
    " select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";
  const all = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  let state = null;

  /* ---- configuration and state ------------------------------------------------------ */

  function readConfig() {
    try {
      const config = JSON.parse(document.getElementById("cg-config")?.textContent || "null");
      return config && typeof config.endpoint === "string" ? config : null;
    } catch (error) {
      return null; // malformed: leave the page to the no-JavaScript forms
    }
  }

  function createState(config) {
    const modal = document.getElementById("cg-preferences");
    const choices = {};
    for (const [id, allowed] of Object.entries(config.choices || {})) choices[id] = allowed === true;
    return {
      endpoint: config.endpoint,
      decided: config.decided === true,
      choices,
      cookies: policy.cookies,
      reloadOnAllow: config.reloadOnAllow === true, // the page's enforced CSP predates the choice
      modal,
      dialog: modal && modal.querySelector(".cg-dialog"),
      running: new Set(allowedIds(choices)), // categories that may have run in this page view
      queue: Promise.resolve(), // choices go out one after another
      inFlight: 0,
      opener: null,
      pressedOnBackdrop: false,
    };
  }

  const allowedIds = (choices) => Object.keys(choices).filter((id) => choices[id]);
  const snapshot = () => ({ choices: { ...state.choices }, decided: state.decided });

  /* ---- talking to the server -------------------------------------------------------- */

  // `via` tells the consent log where the choice was given (banner, placeholder, script).
  async function postChoice(action, categories, via) {
    const response = await fetch(state.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ action, categories, via, gpc: navigator.globalPrivacyControl === true }),
    });
    if (!response.ok) throw new Error(`consent endpoint answered ${response.status}`);
    const result = await response.json();
    if (!result || !result.choices || typeof result.choices !== "object") throw new Error("answer without choices");
    return result;
  }

  // Sends one choice; `fallback` posts it without JavaScript if fetch fails, so it is never lost.
  // Choices made while one is on its way are sent after it: the visitor's last choice counts.
  function choose(action, categories, fallback, via = "banner") {
    const root = document.getElementById("cg-root");
    state.inFlight += 1;
    root?.setAttribute("aria-busy", "true");
    const sent = state.queue
      .then(() => postChoice(action, categories, via))
      .then((result) => applyResult(action, result), (error) => { fallback(); throw error; });
    state.queue = sent.catch(() => {}).finally(() => {
      state.inFlight -= 1;
      if (!state.inFlight) root?.removeAttribute("aria-busy");
    });
    return sent;
  }

  // Posts a hidden copy of the form (its hidden fields, the action, the categories) natively.
  function submitNatively(source, action, categories) {
    source = source || document.querySelector("#cg-root form");
    const form = document.createElement("form");
    form.setAttribute("method", "post");
    form.setAttribute("action", state.endpoint); // before an input named "action" shadows it
    form.hidden = true;
    const hidden = source ? all("input[type=hidden]", source) : [];
    for (const input of hidden) {
      if (input.name !== "action" && input.name !== "category") addField(form, input.name, input.value);
    }
    if (!hidden.some((input) => input.name === "next")) addField(form, "next", location.pathname + location.search);
    addField(form, "action", action);
    for (const id of categories) addField(form, "category", id);
    (document.body || document.documentElement).appendChild(form);
    HTMLFormElement.prototype.submit.call(form);
  }

  const addField = (form, name, value) =>
    form.appendChild(Object.assign(document.createElement("input"), { type: "hidden", name, value }));

  /* ---- after a choice --------------------------------------------------------------- */

  function applyResult(action, result) {
    const next = {};
    for (const id of Object.keys(state.choices)) next[id] = result.choices[id] === true;
    state.choices = next;
    state.decided = typeof result.decided === "boolean" ? result.decided : action !== "withdraw";
    const revoked = [...state.running].filter((id) => !next[id]);
    if (action === "withdraw" || revoked.length) {
      const refused = Object.keys(next).filter((id) => !next[id]);
      deleteCookies(action === "withdraw" ? refused : revoked, allowedIds(next));
      emitChange();
      location.reload(); // running trackers can only be stopped by a fresh page
      return snapshot();
    }
    if (state.reloadOnAllow && allowedIds(next).some((id) => !state.running.has(id))) {
      emitChange();
      location.reload(); // only a fresh page gets a CSP that lets the newly allowed hosts in
      return snapshot();
    }
    if (state.decided) { // a GPC opt-out alone leaves the other purposes to ask about
      removeBanner();
      closeDialog();
    }
    syncCheckboxes();
    for (const id of allowedIds(next)) state.running.add(id);
    activate(next);
    emitChange();
    return snapshot();
  }

  function removeBanner() {
    const banner = document.getElementById("cg-banner");
    if (!banner) return;
    const hadFocus = banner.contains(document.activeElement);
    banner.remove();
    if (hadFocus) focusSettings();
  }

  function syncCheckboxes() {
    for (const box of all("#cg-root input[name=category]")) {
      if (!box.disabled && box.value in state.choices) box.checked = state.choices[box.value];
    }
    // Once decided, the choice can be withdrawn from the same page.
    for (const button of all('#cg-root [data-cg-action="withdraw"]')) button.hidden = !state.decided;
  }

  const emitChange = () => document.dispatchEvent(new CustomEvent(EVENT, { detail: snapshot() }));

  /* ---- activating held-back elements ------------------------------------------------ */

  let scriptQueue = Promise.resolve();

  // Starts every held-back element of an allowed category; scripts run one by one, in order.
  function activate(choices) {
    const held = all("[data-cg-category]")
      .filter((el) => choices[el.getAttribute("data-cg-category")] === true && !el.closest("noscript"))
      .filter((el) => !PARSE_TIME.has(el.localName));
    const media = new Set();
    const replaced = [];
    for (const el of held) {
      const name = el.localName;
      if (name === "script") {
        clearMarks(el); // never queued twice
        scriptQueue = scriptQueue.then(() => runScript(el));
      } else if (name === "iframe" || name === "frame") {
        activateFrame(el);
      } else if (name === "object" || name === "embed") {
        replaced.push(el); // after their fallback children, which the clone copies
      } else if (name === "style") {
        activateSheet(el);
      } else {
        restoreAttributes(el);
        const parent = el.parentElement;
        if ((name === "source" || name === "track") && parent && /^(video|audio)$/.test(parent.localName)) {
          media.add(parent);
        }
      }
    }
    for (const element of media) element.load();
    for (const el of replaced) {
      restoreAttributes(el);
      el.replaceWith(el.cloneNode(true)); // browsers do not reload on an attribute change
    }
    return scriptQueue;
  }

  function restoreAttributes(el) {
    for (const name of RESTORED) {
      const value = el.getAttribute(`data-cg-${name}`);
      if (value === null) continue;
      el.setAttribute(name, value);
      el.removeAttribute(`data-cg-${name}`);
    }
    clearMarks(el);
  }

  const clearMarks = (el) => ["data-cg-category", "data-cg-service"].forEach((name) => el.removeAttribute(name));

  // A sheet is applied when its element is connected with type text/css: a fresh copy is.
  function activateSheet(style) {
    const fresh = style.cloneNode(true);
    const type = style.getAttribute("data-cg-type");
    if (type === null) fresh.removeAttribute("type");
    else fresh.setAttribute("type", type);
    fresh.removeAttribute("data-cg-type");
    restoreAttributes(fresh);
    style.replaceWith(fresh);
  }

  // `set`: how attributes are set; a "Load once" passes the run-time gate's own setter, since
  // the frame's category stays refused.
  function activateFrame(frame, set = (el, name, value) => el.setAttribute(name, value)) {
    const src = frame.getAttribute("data-cg-src");
    const srcdoc = frame.getAttribute("data-cg-srcdoc");
    // src first: it is ignored while srcdoc is present, so the frame navigates only once.
    if (src !== null) set(frame, "src", src);
    if (srcdoc !== null) set(frame, "srcdoc", srcdoc);
    else frame.removeAttribute("srcdoc");
    ["data-cg-src", "data-cg-srcdoc"].forEach((name) => frame.removeAttribute(name));
    clearMarks(frame);
  }

  // Only a fresh script element runs; changing the type of the old one would not.
  function runScript(old) {
    return new Promise((resolve) => {
      if (!old.isConnected) return resolve();
      const svg = old.namespaceURI === SVG_NS;
      const fresh = svg ? document.createElementNS(SVG_NS, "script") : document.createElement("script");
      for (const { name, value } of Array.from(old.attributes)) {
        if (name !== "type" && !name.startsWith("data-cg-")) fresh.setAttribute(name, value);
      }
      const type = old.getAttribute("data-cg-type");
      if (type !== null) fresh.setAttribute("type", type);
      if (old.nonce) fresh.nonce = old.nonce; // the nonce attribute reads as "" once parsed
      for (const name of ["src", "href", "xlink:href"]) { // href: SVG scripts (SVG 2 takes plain href)
        const value = old.getAttribute(`data-cg-${name}`);
        if (value !== null) fresh.setAttribute(name === "src" ? name : "href", value);
      }
      for (const name of ["data-src", "data-rocket-src"]) { // for the page's own lazy loader
        const value = old.getAttribute(`data-cg-${name}`);
        if (value !== null) fresh.setAttribute(name, value);
      }
      const external = fresh.hasAttribute("src") || (svg && fresh.hasAttribute("href"));
      const ordered = external && !old.hasAttribute("async");
      if (!external) fresh.textContent = old.textContent;
      if (external && !svg) fresh.async = !ordered;
      if (ordered) ["load", "error"].forEach((type) => fresh.addEventListener(type, () => resolve()));
      // The head's run-time gate keeps a late script faithful: its document.write lands after
      // it instead of blanking the page, its load/DOMContentLoaded listeners still run.
      window[RUNTIME]?.adopt(fresh);
      old.replaceWith(fresh); // an inline script runs right here
      if (!ordered) resolve();
    });
  }

  /* ---- cookies of revoked categories ------------------------------------------------ */

  const globPattern = (glob) =>
    new RegExp(`^${String(glob).split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);

  const patternsOf = (categories) => categories.flatMap((id) => (state.cookies[id] || []).map(globPattern));

  // Deletes cookies of `revoked` categories, except names a still-allowed category also claims.
  function deleteCookies(revoked, allowed) {
    const doomed = patternsOf(revoked);
    const kept = patternsOf(allowed);
    const matches = (name, patterns) => patterns.some((pattern) => pattern.test(name));
    for (const pair of document.cookie.split(";")) {
      const name = pair.split("=")[0].trim();
      if (name && matches(name, doomed) && !matches(name, kept)) expireCookie(name);
    }
  }

  // A cookie is only deleted with the domain and path it was set with: try every candidate.
  function expireCookie(name) {
    const host = location.hostname;
    const domains = [""];
    if (!/^[\d.]+$/.test(host) && !host.includes(":") && !host.includes("[")) {
      const labels = host.split(".");
      for (let i = 0; i < labels.length - 1; i++) domains.push(`; domain=.${labels.slice(i).join(".")}`);
    }
    const paths = ["/"]; // and every directory above this page, with and without a slash
    location.pathname.split("/").slice(1, -1).reduce((path, segment) => {
      paths.push(`${path}/${segment}`, `${path}/${segment}/`);
      return `${path}/${segment}`;
    }, "");
    const secure = location.protocol === "https:" ? "; Secure" : "";
    for (const domain of domains) {
      for (const path of paths) document.cookie = `${name}=; Max-Age=0; path=${path}${domain}${secure}`;
    }
  }

  /* ---- the preferences dialog ------------------------------------------------------- */

  const focusables = () => all(FOCUSABLE, state.dialog).filter((el) => el.getClientRects().length > 0);
  const focusFirst = () => (focusables()[0] || state.dialog).focus();

  function openDialog(opener) {
    if (!state.dialog) return false;
    if (!state.modal.hidden) return true;
    syncCheckboxes();
    state.opener = opener || document.activeElement;
    state.modal.hidden = false;
    document.addEventListener("keydown", onDialogKeydown, true);
    document.addEventListener("focusin", onFocusIn, true);
    focusFirst();
    return true;
  }

  function closeDialog() {
    if (!state.dialog || state.modal.hidden) return;
    state.modal.hidden = true;
    document.removeEventListener("keydown", onDialogKeydown, true);
    document.removeEventListener("focusin", onFocusIn, true);
    syncCheckboxes(); // unsaved toggles are forgotten
    const opener = state.opener;
    state.opener = null;
    if (opener && opener.isConnected && opener !== document.body && opener.focus) opener.focus();
    else focusSettings();
  }

  const focusSettings = () => document.getElementById("cg-settings")?.focus();

  // Escape closes without storing anything; Tab and Shift+Tab cycle inside the dialog.
  function onDialogKeydown(event) {
    if (event.key === "Escape" || event.key === "Esc") closeDialog();
    if (event.key !== "Tab") return;
    const items = focusables();
    const [first, last] = [items[0], items[items.length - 1]];
    const active = document.activeElement;
    const outside = !state.dialog.contains(active) || active === state.dialog;
    const target = !items.length ? state.dialog
      : event.shiftKey && (outside || active === first) ? last
        : !event.shiftKey && (outside || active === last) ? first : null;
    if (target) {
      event.preventDefault();
      target.focus();
    }
  }

  function onFocusIn(event) {
    if (!state.dialog.contains(event.target)) focusFirst();
  }

  // Keyboard and screen-reader users meet the banner first: it moves to the start of <body>
  // (the server appends it, where no page markup can be cut in two by it).
  function placeFirst() {
    const root = document.getElementById("cg-root");
    if (root && root.parentNode === document.body && document.body.firstElementChild !== root) {
      document.body.prepend(root);
    }
  }

  // A modal banner ([banner] layout = "modal") takes focus and keeps Tab inside until a choice
  // removes it; the preferences dialog, opened from it, holds focus itself while open. Focus
  // goes to the banner itself, not to a button: a screen reader starts with its title, and
  // no answer is preselected.
  function holdFocusInBanner() {
    const banner = document.getElementById("cg-banner");
    if (!banner || banner.getAttribute("aria-modal") !== "true") return;
    const inside = () => all(FOCUSABLE, banner).filter((el) => el.getClientRects().length > 0);
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Tab" || !banner.isConnected || (state.modal && !state.modal.hidden)) return;
      const items = inside();
      const active = document.activeElement;
      const [first, last] = [items[0], items[items.length - 1]];
      const outside = !banner.contains(active);
      const target = event.shiftKey && (outside || active === first) ? last
        : !event.shiftKey && (outside || active === last) ? first : null;
      if (target) {
        event.preventDefault();
        target.focus();
      }
    }, true);
    banner.tabIndex = -1;
    banner.focus();
  }

  /* ---- event wiring ----------------------------------------------------------------- */

  function onSubmit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.closest("#cg-root")) return;
    const button = event.submitter || (form.contains(document.activeElement) ? document.activeElement : null);
    const action = button && button.getAttribute("data-cg-action");
    if (!action) return; // nothing we understand: let the browser post it
    event.preventDefault();
    const categories = action === "save"
      ? all("input[name=category]:checked:not(:disabled)", form).map((box) => box.value) : [];
    choose(action, categories, () => submitNatively(form, action, categories)).catch(warn);
  }

  function onClick(event) {
    if (!(event.target instanceof Element)) return;
    const opener = event.target.closest("[data-cg-open=preferences]");
    if (opener) {
      if (event.button > 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      if (openDialog(opener)) event.preventDefault();
    } else if (event.target.closest("#cg-root [data-cg-close]")) {
      event.preventDefault();
      closeDialog();
    }
  }

  // A click on the backdrop closes the dialog, unless the press began inside it (text selection).
  function wireBackdrop() {
    const { modal } = state;
    if (!modal) return;
    modal.addEventListener("pointerdown", (event) => { state.pressedOnBackdrop = event.target === modal; });
    modal.addEventListener("click", (event) => {
      if (event.target === modal && state.pressedOnBackdrop) closeDialog();
      state.pressedOnBackdrop = false;
    });
  }

  // "Allow and load" in a held-back frame's placeholder allows that category in place.
  // "Load once": this frame only, in this page view; nothing is stored, nothing else starts.
  function offerOnce(frame, form) {
    const once = form.querySelector("[data-cg-once]");
    if (!once) return;
    once.hidden = false;
    once.addEventListener("click", () => activateFrame(frame, window[RUNTIME]?.load));
  }

  // "Open it on youtube.com instead": a link the visitor follows, to the frame's own address.
  function offerElsewhere(frame, form) {
    const paragraph = form.ownerDocument.querySelector("[data-cg-elsewhere]");
    const link = paragraph && paragraph.querySelector("a");
    let url = null;
    try {
      url = new URL(frame.getAttribute("data-cg-src") || "", location.href);
    } catch (error) {
      return;
    }
    if (!link || !/^https?:$/.test(url.protocol)) return;
    const embed = /^\/embed\/([\w-]{6,})/.exec(url.pathname); // YouTube's player: its watch page
    if (embed && /(^|\.)youtube(-nocookie)?\.com$/.test(url.hostname)) {
      url = new URL(`https://www.youtube.com/watch?v=${embed[1]}`);
    }
    link.href = url.href;
    link.textContent = link.getAttribute("data-cg-text").replace("{host}", url.hostname.replace(/^www\./, ""));
    paragraph.hidden = false;
  }

  function wirePlaceholders() {
    const hooked = new WeakSet();
    for (const frame of all("iframe[data-cg-category], frame[data-cg-category]")) {
      const hook = () => {
        if (!frame.hasAttribute("data-cg-category")) return;
        let form = null;
        try { form = frame.contentDocument && frame.contentDocument.querySelector("form"); } catch (error) {
          return; // not the same-origin placeholder (a sandboxed frame)
        }
        if (!form || hooked.has(form)) return;
        hooked.add(form);
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          const category = frame.getAttribute("data-cg-category"); // "allow" adds it to the current choices
          const submit = () => HTMLFormElement.prototype.submit.call(form);
          choose("allow", [category], submit, "placeholder").catch(warn);
        });
        offerOnce(frame, form);
        offerElsewhere(frame, form);
      };
      frame.addEventListener("load", hook);
      hook();
    }
  }

  /* ---- Global Privacy Control ------------------------------------------------------ */

  // The sale/sharing purposes stay off while GPC is on: locked like required ones are on.
  function lockGpc() {
    for (const box of all("#cg-root .cg-sale-sharing input[name=category]")) {
      box.checked = false;
      box.disabled = true;
    }
    for (const notice of all("#cg-root .cg-gpc")) notice.hidden = false;
  }

  // The page sees GPC but the request did not carry it: tell the server, which records it.
  function honourGpc(config) {
    const gpc = config.gpc || {};
    if (gpc.honoured !== true || navigator.globalPrivacyControl !== true) return;
    lockGpc();
    if (gpc.applied !== true) choose("gpc", [], () => {}, "gpc").catch(warn);
  }

  const warn = (error) => window.console && console.warn("consent-gate:", error);

  /* ---- public API and start-up ------------------------------------------------------ */

  const viaApi = (action, categories) =>
    choose(action, categories, () => submitNatively(null, action, categories), "script");

  function createApi() {
    return {
      choices: () => snapshot().choices,
      decided: () => state.decided,
      open: () => openDialog(document.activeElement),
      // accept() allows everything; accept(["analytics"]) allows exactly these optional categories
      // (unknown ids are dropped: the server would refuse the whole request).
      accept: (categories) => (categories === undefined
        ? viaApi("accept_all", [])
        : viaApi("save", [].concat(categories).map(String).filter((id) => id in state.choices))),
      reject: () => viaApi("reject_all", []),
      withdraw: () => viaApi("withdraw", []),
      onChange(callback) {
        const listener = (event) => callback(event.detail);
        document.addEventListener(EVENT, listener);
        return () => document.removeEventListener(EVENT, listener);
      },
    };
  }

  function init() {
    if (state) return;
    const config = readConfig();
    if (!config) return; // a page without the banner: nothing to do
    state = createState(config);
    placeFirst();
    holdFocusInBanner();
    document.addEventListener("submit", onSubmit);
    document.addEventListener("click", onClick);
    wireBackdrop();
    wirePlaceholders();
    window.consentGate = createApi();
    honourGpc(config);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})
