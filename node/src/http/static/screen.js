// The hall's big screen: fetches /feed.json every few seconds, keeps the last posts it got when
// the node cannot be reached (showing when they were last updated), and scrolls them slowly.
"use strict";
(function () {
  var root = document.body;
  var rows = document.getElementById("rows");
  var stamp = document.getElementById("stamp");
  var viewport = document.getElementById("viewport");
  var params = new URLSearchParams(window.location.search);
  var occupation = params.get("occupation") || "";
  var speed = Math.max(5, Math.min(200, parseFloat(params.get("speed") || "30"))); // px per second
  var every = 10000;
  var lastOk = null;
  var offset = 0;
  function text(el, cls, value) {
    var d = document.createElement("div");
    d.className = cls;
    d.textContent = value || "";
    el.appendChild(d);
  }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function clock(d) { return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds()); }
  function render(posts) {
    rows.innerHTML = "";
    if (!posts.length) {
      text(rows, "empty", root.getAttribute("data-empty"));
      return;
    }
    posts.forEach(function (p) {
      var r = document.createElement("div");
      r.className = "row";
      r.setAttribute("data-id", p.id);
      text(r, "t", p.title);
      text(r, "w", p.wage_text);
      text(r, "h", p.left_text);
      text(r, "l", p.location || "");
      text(r, "c", (p.employer || "") + " " + (p.contact || ""));
      rows.appendChild(r);
    });
  }
  function refresh() {
    var url = "/feed.json" + (occupation ? "?occupation=" + encodeURIComponent(occupation) : "");
    fetch(url, { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (feed) {
        render(feed.posts);
        lastOk = new Date();
        stamp.className = "stamp";
        stamp.textContent = root.getAttribute("data-updated") + " " + clock(lastOk);
      })
      .catch(function () {
        stamp.className = "stamp stale";
        stamp.textContent = root.getAttribute("data-offline") + " " +
          (lastOk ? clock(lastOk) : root.getAttribute("data-since-start"));
      });
  }
  var before = null;
  function scroll(t) {
    if (before !== null && rows.scrollHeight > viewport.clientHeight) {
      offset += speed * (t - before) / 1000;
      if (offset > rows.scrollHeight) offset = -viewport.clientHeight;
      rows.style.transform = "translateY(" + (-offset) + "px)";
    } else if (rows.scrollHeight <= viewport.clientHeight) {
      offset = 0;
      rows.style.transform = "";
    }
    before = t;
    window.requestAnimationFrame(scroll);
  }
  lastOk = new Date();
  refresh();
  window.setInterval(refresh, every);
  window.requestAnimationFrame(scroll);
})();
