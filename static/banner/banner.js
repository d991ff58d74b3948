// @ts-check
/*
 * consent_gate banner: progressive enhancement of the server-rendered consent UI.
 * Without it every control is a plain form POST. With it, choices go out with fetch; elements
 * the server held back (type="text/plain" scripts, data-cg-src, ...) start in the same page view
 * once their category is allowed; revoking a category or a service deletes the script-visible
 * cookies (and web storage items of their names) of every service not allowed now, and reloads; the preferences dialog opens in place. The consent cookie is HttpOnly: JS never reads it.
 * Global Privacy Control: every choice says whether navigator.globalPrivacyControl is on, and
 * when the server did not see Sec-GPC (a proxy stripped it) the opt-out is sent on its own.
 * Services chosen apart from their category ("Marketing off, but YouTube on") have their own
 * switches under each category, and a placeholder's "Allow YouTube" allows that service alone.
 * API: window.consentGate = { choices(), services(), decided(), open(), accept(categories),
 * reject(), withdraw(), onChange(callback) }; "consentgate:change" fires on document with
 * {choices, services, decided}; services() holds only the services chosen apart.
 * This file is a function expression: the gate serves it called with what the policy says for
 * every page, { cookies: {service id: [category, [name glob]]},
 * listed: {category: [[service id, name]]} },
 * so pages need not carry it; the dialog's service switches are built from `listed`.
 */
/**
 * @typedef {{ cookies: Record<string, [string, string[]]>, listed: Record<string, [string, string][]> }} BannerPolicy
 * @typedef {Record<string, boolean>} Choices  category or service id -> allowed
 * @typedef {{ endpoint: string, choices?: Record<string, unknown>, decided?: unknown,
 *   services?: Record<string, unknown>, reloadOnAllow?: unknown,
 *   gpc?: { honoured?: unknown, applied?: unknown } }} PageConfig  the page's #cg-config
 * @typedef {{ choices: Record<string, unknown>, services?: Record<string, unknown>, decided?: unknown }} Answer
 *   the consent endpoint's answer to a choice
 * @typedef {{ choices: Choices, services: Choices, decided: boolean }} Snapshot
 * @typedef {"accept_all" | "reject_all" | "save" | "withdraw" | "allow" | "gpc"} Action
 * @typedef {{ adopt(script: Element): void, load(el: Element, name: string, value: string): void }} RuntimeGate
 *   what runtime.js leaves under Symbol.for("consent-gate.runtime")
 * @typedef {object} BannerState
 * @property {string} endpoint
 * @property {boolean} decided
 * @property {Choices} choices
 * @property {Choices} services  the services chosen apart from their category
 * @property {Set<string>} runningServices  allowed apart, may have run in this page view
 * @property {Record<string, [string, string[]]>} cookies  service id -> [category, cookie name globs]
 * @property {boolean} reloadOnAllow
 * @property {HTMLElement | null} modal
 * @property {HTMLElement | null} dialog
 * @property {Set<string>} running  categories that may have run in this page view
 * @property {Promise<unknown>} queue
 * @property {number} inFlight
 * @property {Element | null} opener
 * @property {Promise<void> | null} fetching
 * @property {boolean} gpcLocked
 * @property {boolean} pressedOnBackdrop
 */
((/** @type {BannerPolicy} */ policy) => {
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
  /**
   * The elements matching `selector`, typed as the caller's selector makes them.
   * @template {Element} [E=HTMLElement]
   * @param {string} selector
   * @param {ParentNode} [root]
   * @returns {E[]}
   */
  const all = (selector, root = document) => /** @type {E[]} */ (Array.from(root.querySelectorAll(selector)));
  /** @type {(selector: string, root?: ParentNode) => HTMLInputElement[]} */
  const inputs = all;
  /** @returns {RuntimeGate | undefined} */
  const runtimeGate = () => /** @type {RuntimeGate | undefined} */ (window[RUNTIME]);

  // Set by init(), before any handler that reads it is installed.
  let state = /** @type {BannerState} */ (/** @type {unknown} */ (null));

  /* ---- configuration and state ------------------------------------------------------ */

  /** @returns {PageConfig | null} */
  function readConfig() {
    try {
      const config = JSON.parse(document.getElementById("cg-config")?.textContent || "null");
      return config && typeof config.endpoint === "string" ? config : null;
    } catch (error) {
      return null; // malformed: leave the page to the no-JavaScript forms
    }
  }

  /**
   * @param {PageConfig} config
   * @returns {BannerState}
   */
  function createState(config) {
    const modal = document.getElementById("cg-preferences");
    /** @type {Choices} */
    const choices = {};
    for (const [id, allowed] of Object.entries(config.choices || {})) choices[id] = allowed === true;
    return {
      endpoint: config.endpoint,
      decided: config.decided === true,
      choices,
      services: servicesOf(config.services),
      runningServices: new Set(allowedIds(servicesOf(config.services))), // allowed apart, may have run
      cookies: policy.cookies,
      reloadOnAllow: config.reloadOnAllow === true, // the page's enforced CSP predates the choice
      modal,
      dialog: modal && modal.querySelector(".cg-dialog"),
      running: new Set(allowedIds(choices)), // categories that may have run in this page view
      queue: Promise.resolve(), // choices go out one after another
      inFlight: 0,
      opener: null,
      fetching: null, // the dialog, on its way to a page that came without it
      gpcLocked: false, // the page's own GPC signal locks the sale/sharing switches
      pressedOnBackdrop: false,
    };
  }

  const allowedIds = (/** @type {Choices} */ choices) => Object.keys(choices).filter((id) => choices[id]);
  /** @returns {Snapshot} */
  const snapshot = () => ({ choices: { ...state.choices }, services: { ...state.services }, decided: state.decided });

  /**
   * @param {Record<string, unknown> | undefined} given
   * @returns {Choices}
   */
  function servicesOf(given) {
    /** @type {Choices} */
    const services = {};
    for (const [id, allowed] of Object.entries(given || {})) {
      if (typeof allowed === "boolean") services[id] = allowed;
    }
    return services;
  }

  // A service's own choice when it has one, else its category's. The run-time gate marks what
  // it holds for a service by "category/service".
  /**
   * @param {string | null} category
   * @param {string | null} [service]
   */
  function allows(category, service) {
    const [id, own] = String(category).split("/");
    const apart = service || own;
    return apart && apart in state.services ? state.services[apart] : state.choices[id] === true;
  }

  /* ---- talking to the server -------------------------------------------------------- */

  // `via` tells the consent log where the choice was given (banner, placeholder, script).
  /**
   * @param {Action} action
   * @param {string[]} categories
   * @param {string} via
   * @param {string[]} services
   * @returns {Promise<Answer>}
   */
  async function postChoice(action, categories, via, services) {
    const response = await fetch(state.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ action, categories, services, via, gpc: navigator.globalPrivacyControl === true }),
    });
    if (!response.ok) throw new Error(`consent endpoint answered ${response.status}`);
    const result = await response.json();
    if (!result || !result.choices || typeof result.choices !== "object") throw new Error("answer without choices");
    return result;
  }

  // Sends one choice; `fallback` posts it without JavaScript if fetch fails, so it is never lost.
  // Choices made while one is on its way are sent after it: the visitor's last choice counts.
  /**
   * @param {Action} action
   * @param {string[]} categories
   * @param {() => void} fallback
   * @param {string} [via]
   * @param {string[]} [services]
   * @returns {Promise<Snapshot>}
   */
  function choose(action, categories, fallback, via = "banner", services = []) {
    const root = document.getElementById("cg-root");
    state.inFlight += 1;
    root?.setAttribute("aria-busy", "true");
    const sent = state.queue
      .then(() => postChoice(action, categories, via, services))
      .then((result) => applyResult(action, result), (error) => { fallback(); throw error; });
    state.queue = sent.catch(() => {}).finally(() => {
      state.inFlight -= 1;
      if (!state.inFlight) root?.removeAttribute("aria-busy");
    });
    return sent;
  }

  // Posts a hidden copy of the form (its hidden fields, the action, the categories and services)
  // natively.
  /**
   * @param {HTMLFormElement | null} source
   * @param {Action} action
   * @param {string[]} categories
   * @param {string[]} [services]
   */
  function submitNatively(source, action, categories, services = []) {
    source = source || document.querySelector("#cg-root form");
    const form = document.createElement("form");
    form.setAttribute("method", "post");
    form.setAttribute("action", state.endpoint); // before an input named "action" shadows it
    form.hidden = true;
    /** @type {HTMLInputElement[]} */
    const hidden = source ? all("input[type=hidden]", source) : [];
    for (const input of hidden) {
      if (!["action", "category", "service"].includes(input.name)) addField(form, input.name, input.value);
    }
    if (!hidden.some((input) => input.name === "next")) addField(form, "next", location.pathname + location.search);
    addField(form, "action", action);
    for (const id of categories) addField(form, "category", id);
    for (const id of services) addField(form, "service", id);
    (document.body || document.documentElement).appendChild(form);
    HTMLFormElement.prototype.submit.call(form);
  }

  /**
   * @param {HTMLFormElement} form
   * @param {string} name
   * @param {string} value
   */
  const addField = (form, name, value) =>
    form.appendChild(Object.assign(document.createElement("input"), { type: "hidden", name, value }));

  /* ---- after a choice --------------------------------------------------------------- */

  /**
   * @param {Action} action
   * @param {Answer} result
   * @returns {Snapshot}
   */
  function applyResult(action, result) {
    /** @type {Choices} */
    const next = {};
    for (const id of Object.keys(state.choices)) next[id] = result.choices[id] === true;
    const before = state.services;
    const services = servicesOf(result.services);
    state.choices = next;
    state.services = services;
    state.decided = typeof result.decided === "boolean" ? result.decided : action !== "withdraw";
    const revoked = [...state.running].filter((id) => !next[id]);
    // A service allowed apart that may have run and is not allowed now, or one newly refused
    // apart from an allowed category, is revoked like a category.
    const revokedServices = [...state.runningServices].filter((id) => services[id] !== true)
      .concat(Object.keys(services).filter((id) => services[id] === false && before[id] !== false));
    if (action === "withdraw" || revoked.length || revokedServices.length) {
      deleteCookies();
      emitChange();
      location.reload(); // running trackers can only be stopped by a fresh page
      return snapshot();
    }
    const newly = allowedIds(next).some((id) => !state.running.has(id)) ||
      allowedIds(services).some((id) => !state.runningServices.has(id));
    if (state.reloadOnAllow && newly) {
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
    for (const id of allowedIds(services)) state.runningServices.add(id);
    activate();
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
    for (const box of inputs("#cg-root input[name=category]")) {
      if (!box.disabled && box.value in state.choices) box.checked = state.choices[box.value];
    }
    for (const box of inputs("#cg-root input[name=service]")) {
      if (!box.disabled) box.checked = allows(box.getAttribute("data-cg-of"), box.value);
    }
    for (const box of inputs("#cg-root input[name=category]")) showMixed(box);
    // Once decided, the choice can be withdrawn from the same page.
    for (const button of all('#cg-root [data-cg-action="withdraw"]')) button.hidden = !state.decided;
  }

  const emitChange = () => document.dispatchEvent(new CustomEvent(EVENT, { detail: snapshot() }));

  /* ---- activating held-back elements ------------------------------------------------ */

  let scriptQueue = Promise.resolve();

  // The held-back elements of `root` and of the open shadow roots in it: a declarative
  // <template shadowrootmode> the server held, or one a script filled, held at run time.
  /**
   * @param {Document | ShadowRoot} root
   * @returns {HTMLElement[]}
   */
  function heldIn(root) {
    const found = all("[data-cg-category]", root);
    for (const host of all("*", root)) if (host.shadowRoot) found.push(...heldIn(host.shadowRoot));
    return found;
  }

  // Starts every held-back element of an allowed service; scripts run one by one, in order.
  function activate() {
    const held = heldIn(document)
      .filter((el) => allows(el.getAttribute("data-cg-category"), el.getAttribute("data-cg-service")))
      .filter((el) => !el.closest("noscript"))
      .filter((el) => !PARSE_TIME.has(el.localName));
    const media = new Set();
    const replaced = [];
    for (const el of held) {
      const name = el.localName;
      if (name === "script") {
        clearMarks(el); // never queued twice
        scriptQueue = scriptQueue.then(() => runScript(/** @type {HTMLScriptElement | SVGScriptElement} */ (el)));
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

  /** @param {Element} el */
  function restoreAttributes(el) {
    for (const name of RESTORED) {
      const value = el.getAttribute(`data-cg-${name}`);
      if (value === null) continue;
      el.setAttribute(name, value);
      el.removeAttribute(`data-cg-${name}`);
    }
    clearMarks(el);
  }

  const clearMarks = (/** @type {Element} */ el) => ["data-cg-category", "data-cg-service"].forEach((name) => el.removeAttribute(name));

  // A sheet is applied when its element is connected with type text/css: a fresh copy is.
  /** @param {Element} style */
  function activateSheet(style) {
    const fresh = /** @type {Element} */ (style.cloneNode(true));
    const type = style.getAttribute("data-cg-type");
    if (type === null) fresh.removeAttribute("type");
    else fresh.setAttribute("type", type);
    const text = style.getAttribute("data-cg-text"); // the server keeps it from the preload scanner
    if (text !== null) fresh.textContent = text;
    ["data-cg-type", "data-cg-text"].forEach((name) => fresh.removeAttribute(name));
    restoreAttributes(fresh);
    style.replaceWith(fresh);
  }

  // `set`: how attributes are set; a "Load once" passes the run-time gate's own setter, since
  // the frame's category stays refused.
  /**
   * @param {Element} frame
   * @param {(el: Element, name: string, value: string) => void} [set]
   */
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
  /**
   * @param {HTMLScriptElement | SVGScriptElement} old  a held <script>
   * @returns {Promise<void>}
   */
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
      if (external && !svg) /** @type {HTMLScriptElement} */ (fresh).async = !ordered;
      if (ordered) ["load", "error"].forEach((type) => fresh.addEventListener(type, () => resolve()));
      // The head's run-time gate keeps a late script faithful: its document.write lands after
      // it instead of blanking the page, its load/DOMContentLoaded listeners still run.
      runtimeGate()?.adopt(fresh);
      old.replaceWith(fresh); // an inline script runs right here
      if (!ordered) resolve();
    });
  }

  /* ---- cookies (and web storage) of services no longer allowed --------------------- */

  const globPattern = (/** @type {string} */ glob) =>
    new RegExp(`^${String(glob).split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);

  // Deletes the cookies of every service the visitor does not allow now, except names a service
  // allowed now also claims (a necessary one is in no choice: a glob such as AMP_* must not take
  // a necessary AMP_csrf with it), and the web storage items of those names (an SDK keeps its
  // visitor id there too).
  function deleteCookies() {
    /** @type {RegExp[]} */
    const doomed = [];
    /** @type {RegExp[]} */
    const kept = [];
    for (const [id, [category, globs]] of Object.entries(state.cookies)) {
      const apart = state.services[id];
      const allowed = apart === undefined ? state.choices[category] !== false : apart;
      (allowed ? kept : doomed).push(...globs.map(globPattern));
    }
    /** @type {(name: string, patterns: RegExp[]) => boolean} */
    const matches = (name, patterns) => patterns.some((pattern) => pattern.test(name));
    for (const pair of document.cookie.split(";")) {
      const name = pair.split("=")[0].trim();
      if (name && matches(name, doomed) && !matches(name, kept)) expireCookie(name);
    }
    for (const store of storages()) {
      for (const name of Object.keys(store)) {
        if (matches(name, doomed) && !matches(name, kept)) store.removeItem(name);
      }
    }
  }

  // The page's web storage, where the browser lets it be read (it throws where it is blocked).
  /** @returns {Storage[]} */
  function storages() {
    /** @type {Storage[]} */
    const found = [];
    try { found.push(window.localStorage); } catch (error) { /* blocked: nothing to delete */ }
    try { found.push(window.sessionStorage); } catch (error) { /* blocked: nothing to delete */ }
    return found;
  }

  // A cookie is only deleted with the domain and path it was set with: try every candidate.
  /** @param {string} name */
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

  // While the dialog is open.
  const focusables = () => all(FOCUSABLE, /** @type {HTMLElement} */ (state.dialog)).filter((el) => el.getClientRects().length > 0);
  const focusFirst = () => (focusables()[0] || state.dialog).focus();

  /**
   * @param {Element | null} opener
   * @returns {boolean} whether the dialog opens (else the opener's own page should)
   */
  function openDialog(opener) {
    const { modal } = state;
    if (!state.dialog || !modal) return fetchDialog(opener);
    if (!modal.hidden) return true;
    syncCheckboxes();
    state.opener = opener || document.activeElement;
    modal.hidden = false;
    document.addEventListener("keydown", onDialogKeydown, true);
    document.addEventListener("focusin", onFocusIn, true);
    focusFirst();
    return true;
  }

  // A visitor who has decided gets pages without the dialog (it outweighs the rest of the gate's
  // markup): the first "Cookie settings" fetches it. If that fails, the link's own page opens.
  /** @param {Element | null} opener */
  function fetchDialog(opener) {
    const root = document.getElementById("cg-root");
    const url = root && root.getAttribute("data-cg-dialog");
    if (!url) return false;
    if (state.fetching) return true;
    state.fetching = fetch(url, { credentials: "same-origin", headers: { accept: "text/html" } })
      .then((response) => {
        if (!response.ok) throw new Error(`dialog: ${response.status}`);
        return response.text();
      })
      .then((html) => {
        const template = document.createElement("template");
        template.innerHTML = html;
        const modal = template.content.getElementById("cg-preferences");
        if (!modal || state.modal) throw new Error("dialog: not in the answer");
        root.insertBefore(modal, document.getElementById("cg-settings"));
        state.modal = modal;
        state.dialog = modal.querySelector(".cg-dialog");
        buildSwitches();
        if (state.gpcLocked) lockGpc();
        wireBackdrop();
        openDialog(opener);
      })
      .catch(() => {
        const link = /** @type {HTMLAnchorElement | null} */ (opener);
        if (!state.dialog && link && link.href) location.assign(link.href);
      })
      .finally(() => { state.fetching = null; });
    return true;
  }

  function closeDialog() {
    const { modal } = state;
    if (!state.dialog || !modal || modal.hidden) return;
    modal.hidden = true;
    document.removeEventListener("keydown", onDialogKeydown, true);
    document.removeEventListener("focusin", onFocusIn, true);
    syncCheckboxes(); // unsaved toggles are forgotten
    const opener = state.opener;
    state.opener = null;
    const focusable = /** @type {HTMLElement | null} */ (opener);
    if (focusable && focusable.isConnected && focusable !== document.body && focusable.focus) focusable.focus();
    else focusSettings();
  }

  const focusSettings = () => document.getElementById("cg-settings")?.focus();

  // Escape closes without storing anything; Tab and Shift+Tab cycle inside the dialog.
  /** @param {KeyboardEvent} event */
  function onDialogKeydown(event) {
    if (event.key === "Escape" || event.key === "Esc") closeDialog();
    if (event.key !== "Tab") return;
    const items = focusables();
    const [first, last] = [items[0], items[items.length - 1]];
    const active = document.activeElement;
    const dialog = /** @type {HTMLElement} */ (state.dialog); // listened to while it is open
    const outside = !dialog.contains(active) || active === dialog;
    const target = !items.length ? dialog
      : event.shiftKey && (outside || active === first) ? last
        : !event.shiftKey && (outside || active === last) ? first : null;
    if (target) {
      event.preventDefault();
      target.focus();
    }
  }

  /** @param {FocusEvent} event */
  function onFocusIn(event) {
    const dialog = /** @type {HTMLElement} */ (state.dialog); // listened to while it is open
    if (!dialog.contains(/** @type {Node | null} */ (event.target))) focusFirst();
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

  /** @param {SubmitEvent} event */
  function onSubmit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.closest("#cg-root")) return;
    const button = event.submitter || (form.contains(document.activeElement) ? document.activeElement : null);
    const action = /** @type {Action | null} */ (button && button.getAttribute("data-cg-action"));
    if (!action) return; // nothing we understand: let the browser post it
    event.preventDefault();
    const checked = (/** @type {string} */ name) => (action === "save"
      ? inputs(`input[name=${name}]:checked:not(:disabled)`, form).map((box) => box.value) : []);
    const [categories, services] = [checked("category"), checked("service")];
    const fallback = () => submitNatively(form, action, categories, services);
    choose(action, categories, fallback, "banner", services).catch(warn);
  }

  // A category's switch and its services' switches move together: the category turns all of
  // them on or off; it is on when all of them are, and says "partly on" when only some are.
  // The in-page dialog works with JavaScript only, so its service switches are made here, from
  // the policy's part of this file, rather than carried by every page.
  function buildSwitches() {
    for (const details of all("#cg-root .cg-services[data-cg-of]")) {
      const category = /** @type {string} */ (details.getAttribute("data-cg-of")); // as selected
      const list = details.querySelector("ul");
      const box = inputs("#cg-root input[name=category]").find((input) => input.value === category);
      if (!list || list.children.length) continue;
      for (const [id, name] of (policy.listed || {})[category] || []) {
        const item = Object.assign(document.createElement("li"), { className: "cg-service" });
        const input = Object.assign(document.createElement("input"), {
          type: "checkbox", name: "service", value: id, className: "cg-switch", id: `cg-svc-${id}`,
        });
        input.setAttribute("role", "switch");
        input.setAttribute("data-cg-of", category);
        input.disabled = Boolean(box && box.disabled);
        const label = Object.assign(document.createElement("label"), { htmlFor: input.id, textContent: name });
        item.append(input, label);
        list.append(item);
      }
    }
  }

  /** @param {Event} event */
  function onChange(event) {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.closest("#cg-root, .cg-page")) return;
    const form = box.form;
    if (!form) return;
    if (box.name === "category") {
      for (const service of switchesOf(form, box.value)) if (!service.disabled) service.checked = box.checked;
      showMixed(box);
    } else if (box.name === "service") {
      const category = inputs("input[name=category]", form).find((c) => c.value === box.getAttribute("data-cg-of"));
      if (!category || category.disabled) return;
      category.checked = switchesOf(form, category.value).every((service) => service.checked);
      showMixed(category);
    }
  }

  /**
   * @param {HTMLFormElement} form
   * @param {string} category
   */
  function switchesOf(form, category) {
    return inputs("input[name=service]", form).filter((box) => box.getAttribute("data-cg-of") === category);
  }

  /** @param {HTMLInputElement} category  its switch */
  function showMixed(category) {
    const services = category.form ? switchesOf(category.form, category.value) : [];
    const on = services.filter((box) => box.checked).length;
    const label = /** @type {HTMLElement | null | undefined} */ (
      category.form?.querySelector(`label[for="${category.id}"] [data-cg-mixed]`));
    if (label) label.hidden = !(on && on < services.length);
  }

  /** @param {MouseEvent} event */
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
  /**
   * @param {HTMLIFrameElement} frame
   * @param {HTMLFormElement} form  the placeholder's, in the frame's document
   */
  function offerOnce(frame, form) {
    const once = /** @type {HTMLButtonElement | null} */ (form.querySelector("[data-cg-once]"));
    if (!once) return;
    once.hidden = false;
    once.addEventListener("click", () => activateFrame(frame, runtimeGate()?.load));
  }

  // "Open it on youtube.com instead": a link the visitor follows, to the frame's own address.
  /**
   * @param {HTMLIFrameElement} frame
   * @param {HTMLFormElement} form
   */
  function offerElsewhere(frame, form) {
    const paragraph = /** @type {HTMLParagraphElement | null} */ (form.ownerDocument.querySelector("[data-cg-elsewhere]"));
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
    const text = link.getAttribute("data-cg-text"); // a site's own template may word it itself
    if (text !== null) link.textContent = text.replace("{host}", url.hostname.replace(/^www\./, ""));
    paragraph.hidden = false;
  }

  function wirePlaceholders() {
    const hooked = new WeakSet();
    /** @type {HTMLIFrameElement[]} */
    const frames = all("iframe[data-cg-category], frame[data-cg-category]");
    for (const frame of frames) {
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
          // "allow" adds its service (else its category) to the current choices.
          const service = frame.getAttribute("data-cg-service");
          const category = /** @type {string} */ (frame.getAttribute("data-cg-category")); // hooked while held
          const submit = () => HTMLFormElement.prototype.submit.call(form);
          if (service) choose("allow", [], submit, "placeholder", [service]).catch(warn);
          else choose("allow", [category], submit, "placeholder").catch(warn);
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
    for (const box of inputs("#cg-root .cg-sale-sharing :is(input[name=category], input[name=service])")) {
      box.checked = false;
      box.disabled = true;
    }
    for (const notice of all("#cg-root .cg-gpc")) notice.hidden = false;
  }

  // The page sees GPC but the request did not carry it: tell the server, which records it.
  /** @param {PageConfig} config */
  function honourGpc(config) {
    const gpc = config.gpc || {};
    if (gpc.honoured !== true || navigator.globalPrivacyControl !== true) return;
    state.gpcLocked = true; // a dialog fetched later is locked too
    lockGpc();
    if (gpc.applied !== true) choose("gpc", [], () => {}, "gpc").catch(warn);
  }

  const warn = (/** @type {unknown} */ error) => window.console && console.warn("consent-gate:", error);

  /* ---- public API and start-up ------------------------------------------------------ */

  /**
   * @param {Action} action
   * @param {string[]} categories
   */
  const viaApi = (action, categories) =>
    choose(action, categories, () => submitNatively(null, action, categories), "script");

  function createApi() {
    return {
      choices: () => snapshot().choices,
      services: () => snapshot().services,
      decided: () => state.decided,
      open: () => openDialog(document.activeElement),
      // accept() allows everything; accept(["analytics"]) allows exactly these optional categories
      // (unknown ids are dropped: the server would refuse the whole request).
      accept: (/** @type {string | string[] | undefined} */ categories) => (categories === undefined
        ? viaApi("accept_all", [])
        : viaApi("save", /** @type {string[]} */ ([]).concat(categories).map(String).filter((id) => id in state.choices))),
      reject: () => viaApi("reject_all", []),
      withdraw: () => viaApi("withdraw", []),
      /** @param {(snapshot: Snapshot) => void} callback */
      onChange(callback) {
        const listener = (/** @type {Event} */ event) => callback(/** @type {CustomEvent<Snapshot>} */ (event).detail);
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
    buildSwitches();
    syncCheckboxes();
    placeFirst();
    holdFocusInBanner();
    document.addEventListener("submit", onSubmit);
    document.addEventListener("change", onChange);
    document.addEventListener("click", onClick);
    wireBackdrop();
    wirePlaceholders();
    window.consentGate = createApi();
    honourGpc(config);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})
