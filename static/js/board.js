// The board: drag a card to another column = a transition through the server (the same
// service, rules and required fields as the issue page's buttons); refresh every 30 s with
// If-None-Match (an unchanged board answers 304); arrows move between cards, Enter opens a
// card's moves. Without this file every card still has its Move menu of plain forms.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board || !window.Sortable) { return; }
  var csrf = board.getAttribute("data-board-csrf");
  var moveUrl = board.getAttribute("data-move-url");
  var box = document.getElementById("board-messages");
  var updated = document.getElementById("board-updated");
  var etag = null;
  // The URL the poll fetches: the page's, or the one a "Show more" link asked for.
  var boardUrl = board.getAttribute("hx-get");
  var moreOf = null;
  var dragging = false;
  var updatedAt = Date.now();

  function say(text, kind) {
    box.textContent = "";
    var div = document.createElement("div");
    div.className = "alert alert-" + (kind || "danger") + " alert-dismissible py-2 small board-message";
    div.setAttribute("role", kind === "success" ? "status" : "alert");
    div.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Close");
    div.appendChild(close);
    box.appendChild(div);
  }

  function movesOf(card) {
    var out = {};
    (card.getAttribute("data-moves") || "").split(" ").forEach(function (code) {
      if (!code) { return; }
      var p = code.split(":");
      out[p[0]] = { name: p[1], fields: p[2] === "1" };
    });
    return out;
  }

  function urlFor(card, to) {
    return moveUrl.replace("KEY-0", card.getAttribute("data-key")).replace("to-slot", to);
  }

  function refresh() {
    etag = null;
    window.htmx.trigger(board, "board:refresh");
  }

  function send(url, method, body) {
    return fetch(url, {
      method: method,
      body: body,
      credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": csrf }
    }).then(function (r) {
      return r.text().then(function (text) {
        return { status: r.status, text: text, panel: r.headers.get("X-Board-Panel") === "1" };
      });
    });
  }

  // The card goes back where it was (a cancelled or refused move).
  function putBack(card, from, index) {
    var ref = from.children[index] || null;
    if (ref !== card) { from.insertBefore(card, ref); }
    card.classList.remove("board-pending");
  }

  function closePanel(card) {
    var panel = card.querySelector(".board-panel");
    if (panel) { panel.remove(); }
  }

  function done(card, res, to) {
    closePanel(card);
    // Where it is now; its next moves come with the refresh that follows.
    card.setAttribute("data-status", to);
    card.setAttribute("data-moves", "");
    var menu = card.querySelector("details.card-menu");
    if (menu) { menu.remove(); }
    card.classList.remove("board-pending");
    say(res.text, "success");
    refresh();
    card.focus();
  }

  function showPanel(card, html, back, to) {
    closePanel(card);
    var panel = document.createElement("div");
    panel.className = "board-panel";
    panel.innerHTML = html;
    card.querySelector(".card-body").appendChild(panel);
    var form = panel.querySelector("form");
    var cancel = panel.querySelector("[data-board-cancel]");
    if (cancel) {
      cancel.addEventListener("click", function () { closePanel(card); back(); card.focus(); });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      send(form.getAttribute("action"), "POST", new FormData(form)).then(function (res) {
        if (res.status === 200) { done(card, res, to); }
        else if (res.status === 400 && res.panel) { showPanel(card, res.text, back, to); }
        else { closePanel(card); back(); say(res.text || "The move was refused."); if (res.status === 409) { refresh(); } }
      }).catch(function () { closePanel(card); back(); say("The move could not be sent; check the connection."); });
    });
    var first = form.querySelector("select, textarea, input:not([type=hidden])");
    if (first) { first.focus(); }
  }

  function openPanel(card, to, back) {
    send(urlFor(card, to), "GET").then(function (res) {
      if (res.status === 200 && res.panel) { showPanel(card, res.text, back, to); }
      else { back(); say(res.text || "This move is not possible."); }
    }).catch(function () { back(); say("The move could not be sent; check the connection."); });
  }

  function dropped(card, from, index, to) {
    var move = movesOf(card)[to];
    var back = function () { putBack(card, from, index); };
    if (!move) { back(); say("You may not move " + card.getAttribute("data-key") + " there."); return; }
    if (move.fields) { openPanel(card, to, back); return; }
    var body = new FormData();
    body.append(move.name + "-expected_status", card.getAttribute("data-status"));
    card.classList.add("board-pending");
    send(urlFor(card, to), "POST", body).then(function (res) {
      if (res.status === 200) { done(card, res, to); }
      else if (res.status === 400 && res.panel) { card.classList.remove("board-pending"); showPanel(card, res.text, back, to); }
      else { back(); say(res.text || "The move was refused."); if (res.status === 409) { refresh(); } }
    }).catch(function () { back(); say("The move could not be sent; check the connection."); });
  }

  // Let go over a column that refuses the card: it stays where it was, and the server says
  // why (the same answer as the move itself: 403 not yours to take, 409 not from here).
  function refusedDrop(evt) {
    var e = evt.originalEvent;
    var point = e && (e.changedTouches ? e.changedTouches[0] : e);
    if (!point || point.clientX === undefined) { return; }
    var under = document.elementFromPoint(point.clientX, point.clientY);
    var list = under && under.closest && under.closest("ol.board-cards");
    if (!list || list === evt.from || list.getAttribute("data-lane") !== evt.from.getAttribute("data-lane")) { return; }
    var card = evt.item;
    send(urlFor(card, list.getAttribute("data-status")), "GET").then(function (res) {
      say(res.status === 200 ? "Drop it again to move it." : res.text);
    });
  }

  function lists(lane) {
    return Array.prototype.slice.call(board.querySelectorAll('ol.board-cards[data-lane="' + lane + '"]'));
  }

  function setup() {
    board.querySelectorAll("ol.board-cards").forEach(function (list) {
      if (list.boardSortable) { return; }
      list.boardSortable = window.Sortable.create(list, {
        group: {
          name: list.getAttribute("data-lane"),
          pull: true,
          put: function (to, from, dragged) {
            return Object.prototype.hasOwnProperty.call(movesOf(dragged), to.el.getAttribute("data-status"));
          }
        },
        sort: false,
        animation: 120,
        // Pointer events rather than native drag and drop: the same on touch screens, and the
        // drop point is known when a card is let go over a column that refuses it.
        forceFallback: true,
        fallbackTolerance: 4,
        filter: "details, a, button, input, select, textarea, .board-panel",
        preventOnFilter: false,
        onStart: function (evt) {
          dragging = true;
          var moves = movesOf(evt.item);
          board.classList.add("board-dragging");
          lists(evt.from.getAttribute("data-lane")).forEach(function (l) {
            if (l === evt.from) { return; }
            l.classList.add(Object.prototype.hasOwnProperty.call(moves, l.getAttribute("data-status")) ? "drop-ok" : "drop-no");
          });
        },
        onEnd: function (evt) {
          dragging = false;
          if (evt.to === evt.from) { refusedDrop(evt); }
          board.classList.remove("board-dragging");
          board.querySelectorAll(".drop-ok, .drop-no").forEach(function (l) { l.classList.remove("drop-ok", "drop-no"); });
        },
        onAdd: function (evt) {
          dropped(evt.item, evt.from, evt.oldIndex, evt.to.getAttribute("data-status"));
        }
      });
    });
  }

  // The card menu's "needs fields" links open the same inline panel instead of a new page.
  board.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a[data-needs-fields]");
    if (!link) { return; }
    var card = link.closest(".board-card");
    e.preventDefault();
    var menu = link.closest("details");
    if (menu) { menu.open = false; }
    openPanel(card, link.getAttribute("data-move-to"), function () {});
  });

  // "Show 20 more" (a plain link to the board with more cards in that column): fetched in
  // place through the poll, which then keeps asking for the longer column.
  board.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a[data-board-more]");
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey) { return; }
    e.preventDefault();
    var url = new URL(link.href, window.location.href);
    boardUrl = url.pathname + url.search;
    var status = link.getAttribute("data-board-more");
    moreOf = { status: status, before: board.querySelectorAll('ol.board-cards[data-status="' + status + '"] .board-card').length };
    if (window.history && window.history.replaceState) { window.history.replaceState(null, "", boardUrl); }
    refresh();
  });

  // Keyboard: arrows between cards, Enter opens the card's moves, Escape closes them.
  board.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key === "Escape") {
      var menu = t.closest && t.closest("details.card-menu");
      if (menu) { menu.open = false; menu.closest(".board-card").focus(); }
      return;
    }
    if (!t.classList || !t.classList.contains("board-card")) { return; }
    var list = t.parentElement;
    var cards = Array.prototype.slice.call(list.querySelectorAll(".board-card"));
    var i = cards.indexOf(t);
    var next = null;
    if (e.key === "ArrowDown") { next = cards[i + 1]; }
    else if (e.key === "ArrowUp") { next = cards[i - 1]; }
    else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      var row = lists(list.getAttribute("data-lane"));
      var step = e.key === "ArrowLeft" ? -1 : 1;
      for (var c = row.indexOf(list) + step; c >= 0 && c < row.length && !next; c += step) {
        var other = row[c].querySelectorAll(".board-card");
        if (other.length) { next = other[Math.min(i, other.length - 1)]; }
      }
    } else if (e.key === "Enter") {
      var details = t.querySelector("details.card-menu");
      e.preventDefault();
      if (details) {
        details.open = true;
        var first = details.querySelector("button, a");
        if (first) { first.focus(); }
      } else {
        // No move for this viewer: Enter opens the issue.
        window.location = t.querySelector("a.issue-key").getAttribute("href");
      }
      return;
    } else { return; }
    e.preventDefault();
    if (next) { next.focus(); next.scrollIntoView({ block: "nearest", inline: "nearest" }); }
  });

  // Polling: never while a card is dragged, a panel or a menu is open.
  board.addEventListener("htmx:beforeRequest", function (e) {
    if (e.detail.elt !== board) { return; }
    if (dragging || board.querySelector(".board-panel, details.card-menu[open], .board-pending")) { e.preventDefault(); }
  });
  board.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.elt !== board) { return; }
    e.detail.path = boardUrl;
    if (etag) { e.detail.headers["If-None-Match"] = etag; }
  });
  function structure(root) {
    return Array.prototype.map.call(root.querySelectorAll("[data-digest]"), function (el) { return el.id; }).join(" ")
      + (root.querySelector("#board-empty") ? " empty" : "");
  }
  board.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.elt !== board) { return; }
    var xhr = e.detail.xhr;
    e.detail.shouldSwap = false;
    e.detail.isError = false;
    if (xhr.status === 304) { updatedAt = Date.now(); tick(); return; }
    if (xhr.status !== 200) { return; }
    etag = xhr.getResponseHeader("ETag");
    var fresh = document.createElement("div");
    fresh.innerHTML = xhr.responseText;
    var focused = document.activeElement && document.activeElement.classList.contains("board-card") ? document.activeElement.id : null;
    if (structure(fresh) !== structure(board)) {
      board.replaceChildren.apply(board, Array.prototype.slice.call(fresh.childNodes));
    } else {
      fresh.querySelectorAll("[data-digest]").forEach(function (el) {
        var current = document.getElementById(el.id);
        if (current && current.getAttribute("data-digest") !== el.getAttribute("data-digest")) { current.replaceWith(el); }
      });
    }
    setup();
    if (moreOf) {
      // After "Show more": focus the first card that was not there before.
      var shown = board.querySelectorAll('ol.board-cards[data-status="' + moreOf.status + '"] .board-card');
      if (shown[moreOf.before]) { focused = shown[moreOf.before].id; }
      moreOf = null;
    }
    if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
    updatedAt = Date.now();
    tick();
  });

  function tick() {
    if (!updated) { return; }
    var s = Math.max(0, Math.round((Date.now() - updatedAt) / 1000));
    updated.textContent = "updated " + (s < 60 ? s + " s" : Math.floor(s / 60) + " min") + " ago";
  }

  setup();
  tick();
  window.setInterval(tick, 1000);
})();
