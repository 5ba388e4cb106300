// Follow the system's light/dark setting (Bootstrap 5.3 colour modes).
(function () {
  // Styles that need JavaScript (the phone filter drawer) key on this class.
  document.documentElement.classList.add("js");
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)");
  function apply() { document.documentElement.setAttribute("data-bs-theme", dark && dark.matches ? "dark" : "light"); }
  apply();
  if (dark && dark.addEventListener) { dark.addEventListener("change", apply); }
})();
