// lingong report page (/report): while figures are being computed (the page carries
// #report-live with data-status, the address of /report/status for the same period, region and
// language, and data-page, the page's own), asks that small JSON endpoint every half second with the page's own session, shows
// how far the computation has got in #report-progress, and once every figure is computed
// fetches the page again and puts its #report-live in place of this one: the period form stays
// as typed, nothing reloads. Without script the page refreshes itself (<noscript> meta refresh)
// and offers a link. Plain fetch to this node only; no library.
"use strict";
(function () {
  var EVERY_MS = 500;

  function watch() {
    var live = document.getElementById("report-live");
    if (!live || !live.getAttribute("data-status")) return;
    var url = live.getAttribute("data-status");
    var page = live.getAttribute("data-page") || location.href;

    function later(ms) { setTimeout(poll, ms); }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (!r.ok) throw new Error("status " + r.status);
          return r.json();
        })
        .then(function (s) {
          if (s.ready) return swap();
          var shown = document.getElementById("report-progress");
          if (shown && s.text) shown.textContent = s.text;
          later(EVERY_MS);
        })
        .catch(function () { later(EVERY_MS * 6); });
    }

    function swap() {
      return fetch(page, { credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error("page " + r.status);
          return r.text();
        })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("report-live");
          if (!fresh) throw new Error("no #report-live");
          // A parsed document runs no script, so its <noscript> holds a live meta refresh.
          fresh.querySelectorAll("noscript").forEach(function (n) { n.remove(); });
          live.replaceWith(document.importNode(fresh, true));
          watch();
        })
        .catch(function () { later(EVERY_MS * 6); });
    }

    later(EVERY_MS);
  }

  document.addEventListener("DOMContentLoaded", watch);
})();
