/* The claim page's Documents card: list the chosen files with their sizes before they are sent,
   and hold Attach when together they are more than one upload may carry (the server refuses
   them too, but only after the browser has sent them all). Limits come from the page
   (data attributes of #doc-upload-limits, from services/claim_documents.py). */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  scope_documents: {
    staged: function (contents, names) {
      var none = window.dash_clientside.no_update;
      if (!contents || !names) return ["", false];
      contents = Array.isArray(contents) ? contents : [contents];
      names = Array.isArray(names) ? names : [names];
      var limits = document.getElementById("doc-upload-limits");
      var maxTotal = limits ? Number(limits.dataset.maxTotal) : Infinity;
      var maxFiles = limits ? Number(limits.dataset.maxFiles) : Infinity;
      function bytes(url) {
        var data = typeof url === "string" ? url.slice(url.indexOf(",") + 1) : "";
        var pad = data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0;
        return Math.max(0, Math.floor(data.length * 3 / 4) - pad);
      }
      function size(n) {
        if (n < 1024) return n + " bytes";
        if (n < 1024 * 1024) return Math.round(n / 1024) + " KB";
        return (n / (1024 * 1024)).toFixed(1) + " MB";
      }
      var total = 0;
      var lines = names.map(function (name, i) {
        var n = bytes(contents[i]);
        total += n;
        return "• " + String(name).slice(0, 200) + " (" + size(n) + ")";
      });
      var problem = "";
      if (names.length > maxFiles) {
        problem = "Choose at most " + maxFiles + " files at a time.";
      } else if (total > maxTotal) {
        problem = "Together these are " + size(total) + "; attach at most " + size(maxTotal) +
          " at a time (choose fewer files).";
      }
      var text = "Ready to attach (" + names.length + "):\n" + lines.join("\n") + (problem ? "\n" + problem : "");
      return [text, Boolean(problem)];
    }
  }
});
