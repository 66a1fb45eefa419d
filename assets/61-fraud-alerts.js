/* Fraud alerts list: "Refer to SIU" and "Dismiss" on a row. The rows' buttons carry their alert
   (data-fraud-decide, data-alert, data-version, data-claim) and no Dash id: a Dash callback on
   them would be called again each time the list is redrawn (after every decision). This puts
   the clicked alert in the page's "fraud-ask" store, whose callback opens the dialog
   (callbacks/fraud_alerts.py); the server checks everything again. */
(function () {
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var button = target && target.closest("[data-fraud-decide]");
    var dc = window.dash_clientside || {};
    if (!button || !dc.set_props) return;
    event.preventDefault();
    dc.set_props("fraud-ask", {data: {
      action: button.getAttribute("data-fraud-decide"),
      alert: parseInt(button.getAttribute("data-alert"), 10),
      version: parseInt(button.getAttribute("data-version"), 10),
      claim: button.getAttribute("data-claim"),
      at: Date.now()   // the same button again (after Cancel) is a new request
    }});
  });
})();
