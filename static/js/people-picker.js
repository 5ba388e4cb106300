// People pickers: text inputs marked data-people-picker become searchable pickers (Tom Select,
// vendored under static/vendor/tom-select) that ask the server for matching members while
// one types, so a page never carries a list of every member. Without JavaScript the input
// simply takes what is typed: "me", "unassigned" or a username.
(function () {
  "use strict";
  if (typeof TomSelect === "undefined") return;
  document.querySelectorAll("input[data-people-picker]").forEach(function (input) {
    var url = input.dataset.peoplePicker;
    var keywords = JSON.parse(input.dataset.peopleKeywords || "[]").map(function (pair) {
      return { value: pair[0], text: pair[1] };
    });
    var options = keywords.slice();
    var current = input.value.trim();
    if (current && !keywords.some(function (k) { return k.value === current.toLowerCase(); })) {
      options.push({ value: current, text: input.dataset.peopleCurrent || current });
    }
    new TomSelect(input, {
      maxItems: 1,
      options: options,
      valueField: "value",
      labelField: "text",
      searchField: ["text"],
      create: false,
      persist: false,
      closeAfterSelect: true,
      loadThrottle: 200,
      placeholder: input.getAttribute("placeholder"),
      load: function (query, callback) {
        fetch(url + "?q=" + encodeURIComponent(query), {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        })
          .then(function (response) { return response.ok ? response.json() : []; })
          .then(function (people) { callback(people); })
          .catch(function () { callback(); });
      },
    });
  });
})();
