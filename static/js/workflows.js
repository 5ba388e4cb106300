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

  // Inline transition panels: submit in place; on refusal (400/403/409) show the server's
  // messages in the panel's live region, so screen readers hear them; on success follow it.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.matches || !form.matches("details.transition-panel form") || !window.fetch) { return; }
    var region = form.querySelector(".transition-errors");
    if (!region) { return; }
    e.preventDefault();
    // redirect "manual": a success answers a redirect to the issue page; loading it then
    // shows the confirmation (following it inside fetch would use up the message).
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin", redirect: "manual"
    })
      .then(function (r) {
        if (r.type === "opaqueredirect" || r.ok) { window.location.reload(); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var found = doc.querySelectorAll("main .alert-danger, main .invalid-feedback, main .errorlist li");
        var texts = Array.prototype.map.call(found, function (n) { return n.textContent.trim(); })
          .filter(function (t, i, all) { return t && all.indexOf(t) === i; });
        region.textContent = texts.length ? texts.join(" ") : "This step was refused; reload the page.";
      })
      .catch(function () { form.submit(); });
  });

  if (document.getElementById("sla-box")) {
    window.setInterval(refreshSlaBox, REFRESH_MS);
  }
})();
