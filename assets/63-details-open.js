/* A Dash html.Details marked data-sync-open keeps its "open" prop in step with the reader's own
   toggling: Dash does not hear the browser's toggle, so a callback setting open=True again on a
   fold the reader had closed changed nothing (the New claim form's "Add more people or
   businesses" stayed shut over the slot its error named). */
(function () {
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    var dc = window.dash_clientside || {};
    if (!(details instanceof HTMLDetailsElement) || !details.id || !details.hasAttribute("data-sync-open")
        || !dc.set_props) return;
    dc.set_props(details.id, {open: details.open});
  }, true);   // toggle does not bubble
})();
