// Issue pages: bulk selection on the list, activity toggle on the issue page.
(function () {
  var bar = document.getElementById("bulk-bar");
  var all = document.getElementById("select-all");
  function boxes() { return Array.prototype.slice.call(document.querySelectorAll(".bulk-select")); }
  function refresh() {
    if (!bar) { return; }
    var n = boxes().filter(function (b) { return b.checked; }).length;
    bar.classList.toggle("d-none", n === 0);
    var count = document.getElementById("bulk-count");
    if (count) { count.textContent = String(n); }
  }
  if (all) {
    all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      refresh();
    });
  }
  boxes().forEach(function (b) {
    b.addEventListener("change", refresh);
    b.addEventListener("click", function (e) { e.stopPropagation(); });
  });
  refresh();

  var toggle = document.getElementById("toggle-activity");
  if (toggle) {
    // A class on the list (not on each entry): entries loaded later follow it too.
    toggle.addEventListener("change", function () {
      document.querySelectorAll(".timeline").forEach(function (el) {
        el.classList.toggle("hide-activity", !toggle.checked);
      });
    });
  }
})();
