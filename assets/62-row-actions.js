/* Buttons in a part of a page that callbacks redraw (a table's rows, the claim's action buttons,
   the jobs list every 5 s) carry what they do in data attributes and no Dash id: a Dash callback
   on pattern-matching ids (ALL) is called again, with every button, each time that part is
   redrawn by another callback. A click here puts what the button says in the page's store,
   drawn once with the page, whose callback (a single input) calls the server; the server
   checks everything again.

     data-ask="<store id>"          the page's store
     data-ask-value='{"...": ...}'  what the button does (JSON)
     data-ask-confirm="<question>"  asked first (a native confirmation, as dcc.ConfirmDialogProvider)
     data-ask-group="<name>"        stores that hold each other (Alerts: a rule's Edit and Delete open
                                    two dialogs; both at once left the page in two minds); default: the store

   Examples: callbacks/claim.py (claim-ask), admin_jobs.py (jobs-run-ask), admin_users.py
   (user-manage-ask), alerts.py (alert-edit-ask, alert-toggle-ask, ...), models.py
   (models-auto-promote-ask), tokens.py (token-revoke-ask).

   One request per group at a time. From the click until the store's callback has answered and
   the callbacks its answer set off have run (a claim's buttons are redrawn by a second callback,
   and a status button pressed before that carried the old version: "changed by someone else"),
   the group is busy: its buttons are aria-disabled and refuse clicks, the clicked one is
   aria-busy with a spinner (assets/62-row-actions.css), and a polite status says "Working…".
   aria-disabled, not disabled: Chrome moves the focus of a button that becomes disabled to the
   page's body, and a keyboard user would start again from the top.

   The focus stays in place: when a redraw (the action's, or the jobs list's 5-second refresh)
   replaces the focused button, the focus moves to the button that does the same thing (same
   store and value), or, when there is none any more, to the heading of the card it was in.

   WHAT THIS RELIES ON (reviewed against Dash 4.4.1; check it again when Dash is upgraded)
   - Public: window.dash_clientside.set_props (documented) writes the store.
   - Internal, read only: when the request and what it set off have ended. Dash has no public
     signal for that. data-dash-is-loading marks components whose props are being computed: not
     the store (it draws nothing), nor the second callback's outputs before that one starts (the
     gap between the answer and the redraw is where the stale-version click got in); a callback's
     running= outputs are not set back when the request fails on the network (dash-renderer's
     handleServerside), and they cover one callback, not what it sets off. So
     this reads the renderer's Redux store, window.dash_stores (the list set_props itself
     writes through): state.callbacks.{requested, prioritized, blocked, executing, watched,
     executed} are arrays of {callback: {inputs: [{id}]}, predecessors: [...]}, the pending
     callbacks and, in predecessors, the chain that set each one off.
   - When that is not there or not readable (another Dash version), it fails open: no busy
     state, only the one-second double-click guard; never buttons held with nobody to release
     them, never an error in the console. Nothing else here depends on Dash's internals.
   - A failed request (server error, 403, PreventUpdate's 204, no network) leaves Dash's pending
     list like an answer does, so the group is released at once; assets/30-callback-errors.js
     shows what went wrong (role=alert). GIVE_UP_MS is the last resort should Dash never say.
   - Listeners: three on the document, one MutationObserver, all added once when the script
     loads; a subscription to Dash's store only while something is busy. Nothing per redraw. */
(function () {
  "use strict";
  if (window.__scopeRowActions) return;  // loaded twice (a hot reload): one set of listeners
  window.__scopeRowActions = true;
  // A double click was two posts: a job ran twice. The same ask (store and value) counts once a second.
  var SETTLE_MS = 1000;
  // Last resort, should Dash never say that the request ended: gunicorn ends a request after 120 s
  // (cli.py), and Dash then reports the failure, which releases the group.
  var GIVE_UP_MS = 130000;
  var PENDING = ["requested", "prioritized", "blocked", "executing", "watched", "executed"];
  var STATUS_ID = "scope-row-action-status";
  var lastAsk = {};
  var busy = {};       // group -> {store, value: the pressed button's data-ask-value, timer}
  var focused = null;  // the ask button that has the focus: {store, value, path}
  var unsubscribe = [];
  var checking = false;

  function groupOf(button) {
    return button.getAttribute("data-ask-group") || button.getAttribute("data-ask");
  }

  function involves(cb, store) {
    var chain = [cb.callback].concat(Array.isArray(cb.predecessors) ? cb.predecessors : []);
    return chain.some(function (c) {
      return c && Array.isArray(c.inputs) && c.inputs.some(function (input) { return input && input.id === store; });
    });
  }

  /* Whether Dash still has a callback in flight for this store: its own, or one that its answer
     set off. true / false, or null when Dash's state cannot be read (see the top). */
  function inFlight(store) {
    try {
      var stores = window.dash_stores;
      if (!Array.isArray(stores) || !stores.length) return null;
      var known = false;
      for (var i = 0; i < stores.length; i++) {
        var callbacks = stores[i].getState().callbacks;
        if (!callbacks || typeof callbacks !== "object") return null;
        for (var j = 0; j < PENDING.length; j++) {
          var list = callbacks[PENDING[j]];
          if (!Array.isArray(list)) continue;
          known = true;
          if (list.some(function (cb) { return cb && involves(cb, store); })) return true;
        }
      }
      return known ? false : null;
    } catch (e) {
      return null;
    }
  }

  function buttonsOf(group) {
    return Array.prototype.filter.call(document.querySelectorAll("[data-ask]"), function (b) {
      return groupOf(b) === group;
    });
  }

  // Made with the page, empty: a live region that appears with its text already in it is not read out.
  function statusBox() {
    var box = document.getElementById(STATUS_ID);
    if (!box && document.body) {
      box = document.createElement("div");
      box.id = STATUS_ID;
      box.className = "visually-hidden";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }

  function say(text) {
    var box = statusBox();
    if (box) box.textContent = text;
  }

  /* The look of a busy group on whatever buttons are on the page now: a redraw while the
     request runs (the jobs list's refresh) draws them again without it. Attributes React
     does not own, so a redraw that keeps a button leaves them alone. */
  function paint(group) {
    var entry = busy[group];
    buttonsOf(group).forEach(function (b) {
      if (!entry) {
        b.removeAttribute("aria-disabled");
        b.removeAttribute("aria-busy");
        return;
      }
      b.setAttribute("aria-disabled", "true");
      // Store and value: a rule's Edit and Delete carry the same {"id": ...}.
      if (b.getAttribute("data-ask") === entry.store && b.getAttribute("data-ask-value") === entry.value) {
        b.setAttribute("aria-busy", "true");
      } else {
        b.removeAttribute("aria-busy");
      }
    });
  }

  function release(group) {
    var entry = busy[group];
    if (!entry) return;
    clearTimeout(entry.timer);
    delete busy[group];
    paint(group);
    if (!Object.keys(busy).length) {
      say("");
      stopWatching();
    }
  }

  function check() {
    Object.keys(busy).forEach(function (group) {
      if (inFlight(busy[group].store) !== true) release(group);
    });
  }

  function stopWatching() {
    unsubscribe.forEach(function (stop) {
      try { stop(); } catch (e) { /* Dash's store went with the page: nothing to stop */ }
    });
    unsubscribe = [];
  }

  /* Told of each change of Dash's state, checked once after a burst of them, after the dispatch,
     so the redraw it causes is on the page when the group is released. false: Dash cannot tell. */
  function watchDash() {
    if (unsubscribe.length) return true;
    try {
      window.dash_stores.forEach(function (s) {
        var stop = s.subscribe(function () {
          if (checking) return;
          checking = true;
          setTimeout(function () { checking = false; check(); }, 0);
        });
        if (typeof stop !== "function") throw new TypeError("no unsubscribe");
        unsubscribe.push(stop);
      });
    } catch (e) {
      stopWatching();
    }
    return unsubscribe.length > 0;
  }

  // ------------------------------------------------------------------ focus

  function ancestors(el) {
    var path = [];
    for (var node = el.parentElement; node && node !== document.body; node = node.parentElement) path.push(node);
    return path;
  }

  function same(store, value) {
    return Array.prototype.filter.call(document.querySelectorAll("[data-ask]"), function (b) {
      return b.getAttribute("data-ask") === store && b.getAttribute("data-ask-value") === value;
    })[0];
  }

  /* Where the focus goes when its button is gone: the heading of the card (or section) around
     the part that was redrawn, else that part itself. */
  function regionTarget(path) {
    var kept = path.filter(function (node) { return node.isConnected; })[0];
    if (!kept) return null;
    var region = kept.closest(".card, section, [role=region], main") || kept;
    var target = region.querySelector("h1, h2, h3, h4, h5, h6") || kept;
    if (!target.hasAttribute("tabindex") && !target.matches("a[href], button, input, select, textarea")) {
      target.setAttribute("tabindex", "-1");
    }
    return target;
  }

  function keepFocus() {
    if (!focused) return;
    var active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return;  // the focus is somewhere: leave it
    var target = same(focused.store, focused.value) || regionTarget(focused.path);
    if (target) target.focus({preventScroll: true});
  }

  document.addEventListener("focusin", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var button = target && target.closest("[data-ask]");
    focused = button ? {store: button.getAttribute("data-ask"), value: button.getAttribute("data-ask-value") || "{}",
                        path: ancestors(button)} : null;
  });

  // A click on the page's background takes the focus away on purpose: a later redraw must not
  // bring it back. (A button that is removed from the page has left the page when this runs.)
  document.addEventListener("focusout", function (event) {
    var left = event.target;
    if (event.relatedTarget || !(left instanceof Element) || !left.hasAttribute("data-ask")) return;
    setTimeout(function () {
      if (left.isConnected && focused && document.activeElement === document.body) focused = null;
    }, 0);
  });

  new MutationObserver(function () {
    Object.keys(busy).forEach(paint);
    keepFocus();
  }).observe(document.documentElement, {childList: true, subtree: true});

  if (document.body) statusBox();
  else document.addEventListener("DOMContentLoaded", statusBox);

  // ------------------------------------------------------------------ the click

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var button = target && target.closest("[data-ask]");
    var dc = window.dash_clientside || {};
    if (!button || typeof dc.set_props !== "function" || button.disabled) return;
    event.preventDefault();
    var store = button.getAttribute("data-ask");
    var group = groupOf(button);
    var raw = button.getAttribute("data-ask-value") || "{}";
    var key = store + "\n" + raw;
    var now = Date.now();
    if (busy[group] || now - (lastAsk[key] || 0) < SETTLE_MS) return;
    var question = button.getAttribute("data-ask-confirm");
    if (question && !window.confirm(question)) return;
    var value;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      return;
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) return;
    Object.keys(lastAsk).forEach(function (k) { if (now - lastAsk[k] >= SETTLE_MS) delete lastAsk[k]; });
    value.at = Date.now();   // the same button again is a new request
    lastAsk[key] = value.at;
    busy[group] = {store: store, value: raw, timer: setTimeout(function () { release(group); }, GIVE_UP_MS)};
    paint(group);
    say("Working…");
    var watched = watchDash();
    try {
      dc.set_props(store, {data: value});
    } catch (e) {
      release(group);   // Dash refused it (no such store on the page): nothing was asked
      return;
    }
    // Nothing listens to the store, Dash answered at once, or Dash cannot tell us when it answers
    // (then no busy state: better than buttons held for GIVE_UP_MS): released now.
    if (!watched || inFlight(store) !== true) release(group);
  });
})();
