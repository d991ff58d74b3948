// Demo Fingerprint, served by the demo tracker: a cookieless device id, the way
// fingerprinting libraries compute one. It draws text on a hidden canvas (the pixels differ
// with GPU, fonts and anti-aliasing), hashes the image together with hardware and locale
// details, and posts the result to the tracker. Clearing cookies does not change it.
(function (w, d, n) {
  "use strict";
  var TRACKER = __TRACKER_ORIGIN__;

  // 32-bit FNV-1a, as hex: small and good enough to tell devices apart.
  function hash(text) {
    var h = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return ("0000000" + h.toString(16)).slice(-8);
  }

  function canvasHash() {
    try {
      var canvas = d.createElement("canvas");
      canvas.width = 240;
      canvas.height = 60;
      var ctx = canvas.getContext("2d");
      ctx.textBaseline = "top";
      ctx.font = "16px 'Arial'";
      ctx.fillStyle = "#f60";
      ctx.fillRect(125, 1, 62, 20);
      ctx.fillStyle = "#069";
      ctx.fillText("Acme widgets \u2665 fp", 2, 15);
      ctx.fillStyle = "rgba(102, 204, 0, 0.7)";
      ctx.fillText("Acme widgets \u2665 fp", 4, 17);
      return hash(canvas.toDataURL());
    } catch (e) {
      return "unavailable";
    }
  }

  var components = {
    canvas: canvasHash(),
    cores: String(n.hardwareConcurrency || ""),
    memory: String(n.deviceMemory || ""),
    platform: n.platform || "",
    languages: (n.languages || [n.language]).join(","),
    timezone: (w.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || "",
    screen: screen.width + "x" + screen.height + "x" + screen.colorDepth,
    pixel_ratio: String(w.devicePixelRatio || 1),
    touch_points: String(n.maxTouchPoints || 0),
  };
  var keys = Object.keys(components).sort();
  var joined = keys.map(function (k) { return k + "=" + components[k]; }).join(";");
  var hit = {
    kind: "fingerprint",
    url: location.href,
    referrer: d.referrer,
    fp: hash(joined),
    details: components,
  };
  var url = TRACKER + "/collect";
  if (!(n.sendBeacon && n.sendBeacon(url, JSON.stringify(hit)))) {
    new Image().src = url + "?kind=fingerprint&fp=" + hit.fp + "&dl=" + encodeURIComponent(hit.url);
  }
})(window, document, navigator);
