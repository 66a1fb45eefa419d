/* Queue and My work pages: keep the applied filters in the address (?f=…) with
   replaceState, so Back from a claim, the claim page's back link and a bookmark
   reopen the queue filtered as it was. replaceState fires no event: Dash's
   router does not redraw the page for it. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  scope: Object.assign({}, (window.dash_clientside || {}).scope, {
    queueUrl: function (filters) {
      var kept = {};
      Object.keys(filters || {}).forEach(function (key) {
        var value = filters[key];
        if (value === null || value === false || value === "" || (Array.isArray(value) && !value.length)) return;
        kept[key] = value;
      });
      if (!kept.date_from && !kept.date_to) delete kept.date_field;
      var params = new URLSearchParams(window.location.search);
      params.delete("overdue");
      if (Object.keys(kept).length) params.set("f", JSON.stringify(kept)); else params.delete("f");
      var query = params.toString();
      var url = window.location.pathname + (query ? "?" + query : "");
      if (url !== window.location.pathname + window.location.search) {
        window.history.replaceState(window.history.state, "", url);
      }
      return window.dash_clientside.no_update;
    }
  })
});
