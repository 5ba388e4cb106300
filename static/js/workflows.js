// Workflows: keep the SLA box's countdown fresh (the server does the business-time
// arithmetic), and keep only one transition panel open at a time. Everything works without it.
(function () {
  "use strict";
  var REFRESH_MS = 60 * 1000;

  function refreshSlaBox() {
    var box = document.getElementById("sla-box");
    if (!box || document.hidden) { return; }
    var url = box.getAttribute("data-sla-refresh");
    if (!url) { return; }
    if (box.querySelector("details[open]") || box.contains(document.activeElement)) { return; }
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html) { box.innerHTML = html; } })
      .catch(function () { /* offline: keep the last state */ });
  }

  document.addEventListener("toggle", function (e) {
    var el = e.target;
    if (!el.matches || !el.matches("details.transition-panel") || !el.open) { return; }
    document.querySelectorAll("details.transition-panel[open]").forEach(function (other) {
      if (other !== el) { other.open = false; }
    });
    var first = el.querySelector("select, textarea, input:not([type=hidden])");
    if (first) { first.focus(); }
  }, true);

  if (document.getElementById("sla-box")) {
    window.setInterval(refreshSlaBox, REFRESH_MS);
  }
})();
