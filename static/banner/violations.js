// @ts-check
/*
 * consent_gate CSP violation collector, the start of runtime.js when the gate sends a CSP.
 * The browser POSTs one report per violation to report-uri (a median 35 per page view); this
 * sends each (directive, blocked origin) once, at most 20 of them, batched into one beacon three
 * seconds after the first and one more at pagehide, in the Reporting API's form. The gate then
 * leaves report-uri out of the pages that carry it. What it cannot see (violations inside
 * workers, or before it runs) goes unreported there.
 * This file is a function expression: the gate calls it with the report URL.
 */
((/** @type {string} */ report) => {
  "use strict";

  const send = Navigator.prototype.sendBeacon;
  const setTimer = window.setTimeout;
  const seen = new Set();
  /** @type {{ type: string, url: string, body: { blockedURL: string, effectiveDirective: string } }[]} */
  const batch = [];
  let timer = 0;

  /** @param {string} uri */
  const origin = (uri) => {
    try { return new URL(uri).origin; } catch (error) { return String(uri).slice(0, 40); } // "inline", "eval"
  };

  function flush() {
    timer = 0;
    if (!batch.length) return;
    try { Reflect.apply(send, navigator, [report, JSON.stringify(batch.splice(0))]); } catch (error) { /* best effort */ }
  }

  document.addEventListener("securitypolicyviolation", (event) => {
    const blocked = origin(event.blockedURI);
    const key = `${event.effectiveDirective} ${blocked}`;
    if (seen.has(key) || seen.size >= 20) return;
    seen.add(key);
    batch.push({
      type: "csp-violation",
      url: location.href.split(/[?#]/)[0],
      body: { blockedURL: blocked, effectiveDirective: event.effectiveDirective },
    });
    if (!timer) timer = Reflect.apply(setTimer, window, [flush, 3000]);
  });
  window.addEventListener("pagehide", flush);
})
