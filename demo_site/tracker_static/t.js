// Demo Analytics tag, served by the demo tracker. It works like Google Analytics: a
// first-party visitor-id cookie set from JavaScript on the site's own domain, and one
// page-view hit per page sent to the tracker's origin.
(function (w, d) {
  "use strict";
  if (w.__demoAnalyticsLoaded) return;
  w.__demoAnalyticsLoaded = true;

  var TRACKER = __TRACKER_ORIGIN__;
  var COOKIE = "_demo_id";
  var MAX_AGE = 13 * 30 * 24 * 3600; // 13 months, like GA's _ga used to be

  function readCookie(name) {
    var parts = d.cookie ? d.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }

  function send(hit) {
    var url = TRACKER + "/collect";
    // A string body goes as text/plain: no CORS preflight, like the real beacons.
    if (navigator.sendBeacon && navigator.sendBeacon(url, JSON.stringify(hit))) return;
    var q = "kind=" + encodeURIComponent(hit.kind) +
      "&dl=" + encodeURIComponent(hit.url) +
      "&dr=" + encodeURIComponent(hit.referrer) +
      "&cid=" + encodeURIComponent(hit.cookies[COOKIE]);
    new Image().src = url + "?" + q;
  }

  var id = readCookie(COOKIE);
  if (!id) id = "DA1." + Math.floor(Math.random() * 1e9) + "." + Math.floor(Date.now() / 1000);
  d.cookie = COOKIE + "=" + id + "; Max-Age=" + MAX_AGE + "; Path=/; SameSite=Lax";

  function hit(kind, details) {
    return {
      kind: kind,
      url: location.href,
      referrer: d.referrer,
      cookies: { _demo_id: id },
      details: details,
    };
  }

  // Commands queued by the inline loader: da('set', key, value), da('send', 'event', name).
  var props = {};
  var events = [];
  function run(args) {
    if (args[0] === "set") props[String(args[1])] = String(args[2]);
    else if (args[0] === "send" && args[1] === "event") events.push(String(args[2]));
  }
  var queued = (w.da && w.da.q) || [];
  for (var i = 0; i < queued.length; i++) run(queued[i]);

  var details = {
    title: d.title,
    screen: screen.width + "x" + screen.height,
    viewport: w.innerWidth + "x" + w.innerHeight,
    language: navigator.language,
  };
  for (var key in props) details[key] = props[key];
  send(hit("pageview", details));
  for (var j = 0; j < events.length; j++) send(hit("event", { action: events[j] }));

  w.da = function () {
    run(arguments);
    var name = events.pop();
    if (name !== undefined) send(hit("event", { action: name }));
  };
})(window, document);
