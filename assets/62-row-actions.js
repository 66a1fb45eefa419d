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
   (user-manage-ask), alerts.py (alert-rule-ask), models.py (models-auto-promote-ask),
   tokens.py (token-revoke-ask). */
(function () {
  // A double click was two posts: a job ran twice, a claim's second change read "changed by
  // someone else". The same ask (store and value) counts once a second; another button, e.g. a
  // claim's next status drawn after the first, is never held back.
  var SETTLE_MS = 1000;
  var lastAsk = {};
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var button = target && target.closest("[data-ask]");
    var dc = window.dash_clientside || {};
    if (!button || !dc.set_props || button.disabled) return;
    event.preventDefault();
    var store = button.getAttribute("data-ask");
    var raw = button.getAttribute("data-ask-value") || "{}";
    var key = store + "\n" + raw;
    if (Date.now() - (lastAsk[key] || 0) < SETTLE_MS) return;
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
    dc.set_props(store, {data: value});
  });
})();
