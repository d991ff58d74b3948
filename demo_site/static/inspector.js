// Acme Widgets demo: list the elements consent_gate held back on this page (first-party code).
(function () {
  "use strict";

  function describe(el) {
    var url = el.getAttribute("data-cg-src") || el.getAttribute("data-cg-href") || "";
    var what = el.tagName.toLowerCase();
    if (what === "script" && !url) what = "inline script";
    var text = what + " · " + (el.getAttribute("data-cg-service") || "?") +
      " (" + el.getAttribute("data-cg-category") + ")";
    if (url) text += " · " + url.replace(/^https?:\/\//, "").slice(0, 60);
    return text;
  }

  function render() {
    var box = document.getElementById("gate-inspector");
    if (!box) return;
    var held = document.querySelectorAll("[data-cg-category]");
    var active = [];
    for (var i = 0; i < held.length; i++) {
      var el = held[i];
      // A held-back script is type="text/plain"; one released after consent is not.
      var blocked = el.tagName !== "SCRIPT" ? !el.hasAttribute("src") : el.type === "text/plain";
      if (blocked && !el.closest("#cg-root")) active.push(el);
    }
    box.textContent = "";
    var summary = document.createElement("p");
    summary.textContent = active.length
      ? active.length + " element(s) waiting for your consent:"
      : "Nothing held back: every tracker on this page was allowed to load.";
    box.appendChild(summary);
    if (!active.length) return;
    var list = document.createElement("ul");
    for (var j = 0; j < active.length; j++) {
      var item = document.createElement("li");
      item.textContent = describe(active[j]);
      list.appendChild(item);
    }
    box.appendChild(list);
  }

  // The footer's "allowed / refused" is what the server knew when it rendered this page; a
  // choice made in the banner reaches it with the next request.
  document.addEventListener("consentgate:change", function (event) {
    var choices = (event.detail && event.detail.choices) || {};
    var list = document.querySelector(".choices");
    if (!list) return;
    var items = list.querySelectorAll("[data-category]");
    for (var i = 0; i < items.length; i++) {
      var note = items[i].querySelector(".changed") || document.createElement("em");
      note.className = "changed";
      note.textContent = " → now " + (choices[items[i].getAttribute("data-category")] ? "allowed" : "refused");
      items[i].appendChild(note);
    }
    if (!document.getElementById("choice-changed")) {
      var hint = document.createElement("p");
      hint.id = "choice-changed";
      hint.className = "small";
      hint.textContent = "You changed your choice in this page view; the server sees it from your next request.";
      list.parentNode.insertBefore(hint, list.nextSibling);
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
  // The banner may release elements without a reload; refresh the list when it does.
  var timer = 0;
  new MutationObserver(function (mutations) {
    var box = document.getElementById("gate-inspector");
    for (var i = 0; i < mutations.length; i++) {
      if (!box || !box.contains(mutations[i].target)) {
        clearTimeout(timer);
        timer = setTimeout(render, 100);
        return;
      }
    }
  }).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["src", "type"],
  });
})();
