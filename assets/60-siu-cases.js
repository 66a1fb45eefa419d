/* SIU case page: "Remove" on a claim's row asks first. The rows' buttons carry the claim's
   number (data-siu-remove) and no Dash id: a Dash callback on them would be called again each
   time the claims are redrawn. This opens the page's confirmation, drawn once with the page;
   only its "Remove from case" button calls the server (callbacks/siu_cases.py). */
(function () {
  function dc() { return window.dash_clientside || {}; }
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var remove = target && target.closest("[data-siu-remove]");
    if (remove && dc().set_props) {
      event.preventDefault();
      var number = remove.getAttribute("data-siu-remove");
      dc().set_props("siu-remove-claim", {data: number});
      dc().set_props("siu-remove-number", {children: number});
      dc().set_props("siu-remove-modal", {is_open: true});
      return;
    }
    if (target && target.closest("#siu-remove-cancel") && dc().set_props) {
      dc().set_props("siu-remove-modal", {is_open: false});
    }
  });
})();
