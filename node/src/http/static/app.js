// lingong console helpers: the occupation picker (everyday words to codes) and confirmations.
// Plain fetch to this node only; no library.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input[data-occupation]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var last = "";
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (!q || q === last || !list) return;
      last = q;
      fetch("/occupations.json?q=" + encodeURIComponent(q))
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (rows) {
          list.innerHTML = "";
          rows.forEach(function (o) {
            var opt = document.createElement("option");
            opt.value = o.code;
            opt.label = o.name + (o.aliases.length ? "（" + o.aliases.join("、") + "）" : "");
            opt.textContent = opt.label;
            list.appendChild(opt);
          });
        })
        .catch(function () {});
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
});
