// Keyboard shortcuts: c new issue, / search, j/k move in lists, Enter open, ? help.
(function () {
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-row-link]")); }
  var current = -1;
  function focusRow(i) {
    var all = rows();
    if (!all.length) { return; }
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r) { r.classList.remove("row-current"); });
    all[current].classList.add("row-current");
    all[current].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(document.activeElement)) { return; }
    if (e.key === "/") {
      var s = document.getElementById("global-search");
      if (s) { e.preventDefault(); s.focus(); }
    } else if (e.key === "c") {
      var n = document.querySelector("[data-shortcut-new]");
      if (n) { window.location = n.getAttribute("href"); }
    } else if (e.key === "j") { focusRow(current + 1); }
    else if (e.key === "k") { focusRow(current - 1); }
    else if (e.key === "Enter" && current >= 0) {
      var r = rows()[current];
      if (r) { window.location = r.getAttribute("data-row-link"); }
    } else if (e.key === "?") {
      var help = document.getElementById("shortcut-help");
      if (help && window.bootstrap) { new window.bootstrap.Modal(help).show(); }
    }
  });
})();
