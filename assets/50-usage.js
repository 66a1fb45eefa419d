/* Usage sampling for the analytics page: about 1 in 5 clicks (position as a
   fraction of the page, the page path and the viewport size) and the time
   spent on each page, sent in small batches to /usage/clicks on our own
   origin. No element text, ids or form values are ever read. */
(function () {
  "use strict";
  var URL = "/usage/clicks";
  var MAX_BATCH = 20;
  var FLUSH_MS = 15000;
  var clicks = [];
  var views = [];
  var path = window.location.pathname;
  var since = Date.now();

  function rate() {
    var r = window.SCOPE_USAGE_SAMPLE_RATE;
    return typeof r === "number" && r >= 0 && r <= 1 ? r : 0.2;
  }

  function tracked() {
    return window.location.pathname.indexOf("/login") !== 0;
  }

  function flush() {
    if (!clicks.length && !views.length) return;
    var body = JSON.stringify({ clicks: clicks.splice(0, MAX_BATCH), views: views.splice(0, MAX_BATCH) });
    try {
      if (navigator.sendBeacon && navigator.sendBeacon(URL, new Blob([body], { type: "application/json" }))) return;
    } catch (e) { /* fall back to fetch */ }
    fetch(URL, { method: "POST", body: body, credentials: "same-origin", keepalive: true,
                 headers: { "Content-Type": "application/json" } }).catch(function () {});
  }

  function pageEnded() {
    var ms = Date.now() - since;
    if (tracked() && ms >= 500 && path.indexOf("/login") !== 0) views.push({ path: path, ms: Math.min(ms, 8 * 3600 * 1000) });
    path = window.location.pathname;
    since = Date.now();
  }

  document.addEventListener("click", function (e) {
    if (!tracked() || Math.random() >= rate()) return;
    var doc = document.documentElement;
    var width = Math.max(doc.scrollWidth, doc.clientWidth, 1);
    var height = Math.max(doc.scrollHeight, doc.clientHeight, 1);
    clicks.push({
      x: Math.min(Math.max(e.pageX / width, 0), 1),
      y: Math.min(Math.max(e.pageY / height, 0), 1),
      w: Math.max(1, Math.round(window.innerWidth)),
      h: Math.max(1, Math.round(window.innerHeight)),
      path: window.location.pathname
    });
    if (clicks.length >= MAX_BATCH) flush();
  }, true);

  // Dash changes pages with history.pushState; a changed path ends the previous page.
  setInterval(function () {
    if (window.location.pathname !== path) pageEnded();
  }, 1000);
  setInterval(flush, FLUSH_MS);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      pageEnded();
      flush();
    } else {
      since = Date.now();
    }
  });
  window.addEventListener("pagehide", function () { pageEnded(); flush(); });
  window.scopeUsageFlush = function () { pageEnded(); flush(); };
})();
