// The hall's big screen: takes the feed from /screen/events (server-sent events) as soon as the
// posts change, also fetches /feed.json every few seconds (the fallback where events do not get
// through), keeps the last posts it got when the node cannot be reached (showing when they were
// last updated), and scrolls them slowly.
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
  // China Standard Time (UTC+8, no summer time), as the page's first stamp, whatever time zone
  // the hall's PC was set up with.
  function clock(d) {
    var c = new Date(d.getTime() + 8 * 3600 * 1000);
    return two(c.getUTCHours()) + ":" + two(c.getUTCMinutes()) + ":" + two(c.getUTCSeconds());
  }
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
  var shown = null;
  function got(feed) {
    // Re-render only when the posts changed: a render resets nothing the scroll depends on,
    // but rebuilding identical rows every poll is wasted work on a small PC.
    var posts = JSON.stringify(feed.posts);
    if (posts !== shown) {
      render(feed.posts);
      shown = posts;
    }
    lastOk = new Date();
    stamp.className = "stamp";
    stamp.textContent = root.getAttribute("data-updated") + " " + clock(lastOk);
  }
  if (window.EventSource) {
    var events = new EventSource("/screen/events" + (occupation ? "?occupation=" + encodeURIComponent(occupation) : ""));
    events.addEventListener("feed", function (e) {
      try { got(JSON.parse(e.data)); } catch (err) { /* the next poll repairs it */ }
    });
    // On an error the browser reconnects by itself; polling covers the gap.
  }
  function refresh() {
    var url = "/feed.json" + (occupation ? "?occupation=" + encodeURIComponent(occupation) : "");
    fetch(url, { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(got)
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
