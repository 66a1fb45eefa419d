/* Buttons in a part of a page that callbacks redraw (a table's rows, the claim's action buttons,
   the jobs list every 5 s) carry what they do in data attributes and no Dash id: a Dash callback
   on pattern-matching ids (ALL) is called again, with every button, each time that part is
   redrawn by another callback. A click here puts what the button says in the page's store,
   drawn once with the page, whose callback (a single input) calls the server; the server
   checks everything again.

     data-ask="<store id>"          the page's store
     data-ask-value='{"...": ...}'  what the button does (JSON)
     data-ask-confirm="<question>"  asked first (a native confirmation, as dcc.ConfirmDialogProvider)

   Examples: callbacks/claim.py (claim-ask), admin_jobs.py (jobs-run-ask), admin_users.py
   (user-manage-ask), alerts.py (alert-edit-ask, alert-toggle-ask, ...), models.py
   (models-auto-promote-ask), tokens.py (token-revoke-ask).

   One request per store at a time. From the click until the store's callback has answered and
   the callbacks its answer set off have run (a claim's buttons are redrawn by a second callback,
   and a status button pressed before that carried the old version: "changed by someone else"),
   the store is busy: its buttons are aria-disabled and refuse clicks, the clicked one is
   aria-busy with a spinner (assets/62-row-actions.css), and a polite status says "Working…".
   aria-disabled, not disabled: Chrome moves the focus of a button that becomes disabled to the
   page's body, and a keyboard user would start again from the top.

   The focus stays in place: when a redraw (the action's, or the jobs list's 5-second refresh)
   replaces the focused button, the focus moves to the button that does the same thing (same
   store and value), or, when there is none any more, to the heading of the card it was in. */
(function () {
  "use strict";
  // A double click was two posts: a job ran twice. The same ask (store and value) counts once a second.
  var SETTLE_MS = 1000;
  // Last resort, should Dash never say that the request ended: gunicorn ends a request after 120 s
  // (cli.py), and Dash then reports the failure, which releases the store.
  var GIVE_UP_MS = 130000;
  var STATUS_ID = "scope-row-action-status";
  var lastAsk = {};
  var busy = {};       // store id -> {value: the pressed button's data-ask-value, timer}
  var focused = null;  // the ask button that has the focus: {store, value, path}
  var unsubscribe = [];

  function dashStores() {
    return window.dash_stores || [];
  }

  function involves(cb, store) {
    var chain = [cb.callback].concat(cb.predecessors || []);
    return chain.some(function (c) {
      return c && (c.inputs || []).some(function (input) { return input && input.id === store; });
    });
  }

  /* Whether Dash still has a callback in flight for this store: its own, or one that its answer
     set off (Dash keeps the chain in "predecessors"). The same Redux store that set_props
     writes to. null: Dash did not say (another Dash version), see still(). */
  function inFlight(store) {
    var stores = dashStores();
    if (!stores.length) return null;
    for (var i = 0; i < stores.length; i++) {
      var state = stores[i].getState && stores[i].getState();
      var callbacks = state && state.callbacks;
      if (!callbacks || typeof callbacks !== "object") return null;
      for (var stage in callbacks) {
        if (stage === "stored" || stage === "completed" || !Array.isArray(callbacks[stage])) continue;
        if (callbacks[stage].some(function (cb) { return cb && involves(cb, store); })) return true;
      }
    }
    return false;
  }

  // Dash's own answer when it keeps no per-callback state: any request of the page in flight.
  function still(store) {
    var answer = inFlight(store);
    if (answer !== null) return answer;
    return dashStores().some(function (s) { return s.getState && s.getState().isLoading; });
  }

  function buttonsOf(store) {
    return Array.prototype.filter.call(document.querySelectorAll("[data-ask]"), function (b) {
      return b.getAttribute("data-ask") === store;
    });
  }

  function statusBox() {
    var box = document.getElementById(STATUS_ID);
    if (!box) {
      box = document.createElement("div");
      box.id = STATUS_ID;
      box.className = "visually-hidden";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }

  /* The look of a busy store on whatever buttons are on the page now: a redraw while the
     request runs (the jobs list's refresh) draws them again without it. Attributes React
     does not own, so a redraw that keeps a button leaves them alone. */
  function paint(store) {
    var entry = busy[store];
    buttonsOf(store).forEach(function (b) {
      if (!entry) {
        b.removeAttribute("aria-disabled");
        b.removeAttribute("aria-busy");
        return;
      }
      b.setAttribute("aria-disabled", "true");
      if (b.getAttribute("data-ask-value") === entry.value) b.setAttribute("aria-busy", "true");
      else b.removeAttribute("aria-busy");
    });
  }

  function release(store) {
    var entry = busy[store];
    if (!entry) return;
    clearTimeout(entry.timer);
    delete busy[store];
    paint(store);
    if (!Object.keys(busy).length) {
      statusBox().textContent = "";
      unsubscribe.forEach(function (stop) { stop(); });
      unsubscribe = [];
    }
  }

  function check() {
    Object.keys(busy).forEach(function (store) {
      if (!still(store)) release(store);
    });
  }

  function watchDash() {
    if (unsubscribe.length) return;
    dashStores().forEach(function (s) {
      // After the dispatch, so the redraw it causes is on the page when the store is released.
      if (s.subscribe) unsubscribe.push(s.subscribe(function () { setTimeout(check, 0); }));
    });
  }

  // ------------------------------------------------------------------ focus

  function ancestors(el) {
    var path = [];
    for (var node = el.parentElement; node && node !== document.body; node = node.parentElement) path.push(node);
    return path;
  }

  function same(store, value) {
    return buttonsOf(store).filter(function (b) { return b.getAttribute("data-ask-value") === value; })[0];
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

  // ------------------------------------------------------------------ the click

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var button = target && target.closest("[data-ask]");
    var dc = window.dash_clientside || {};
    if (!button || !dc.set_props || button.disabled) return;
    event.preventDefault();
    var store = button.getAttribute("data-ask");
    var raw = button.getAttribute("data-ask-value") || "{}";
    var key = store + "\n" + raw;
    if (busy[store] || Date.now() - (lastAsk[key] || 0) < SETTLE_MS) return;
    var question = button.getAttribute("data-ask-confirm");
    if (question && !window.confirm(question)) return;
    var value;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      return;
    }
    value.at = Date.now();   // the same button again is a new request
    lastAsk[key] = value.at;
    busy[store] = {value: raw, timer: setTimeout(function () { release(store); }, GIVE_UP_MS)};
    paint(store);
    statusBox().textContent = "Working…";
    watchDash();
    dc.set_props(store, {data: value});
    // Nothing listens to the store (or Dash answered at once): released now.
    check();
  });
})();
