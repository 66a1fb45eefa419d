// Custom AG Grid cell renderers. Values are rendered as text nodes, never HTML.
var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

dagcomponentfuncs.ClaimLink = function (props) {
  if (props.value == null) {
    return null;
  }
  // The claim page's back link returns to this list as it is now (My work or the queue, with
  // its filters: assets/40-queue-url.js keeps them in the address), not to the claim's queue.
  var here = window.location.pathname + window.location.search;
  var list = window.location.pathname === "/my-work" || window.location.pathname === "/queues";
  var from = list ? "?back=" + encodeURIComponent(here) : "";
  return React.createElement(
    "a",
    { href: "/claims/" + encodeURIComponent(props.value) + from, className: "claim-link" },
    String(props.value)
  );
};

var STATUS_LABELS = { new: "New", assigned: "Assigned", in_review: "In review", awaiting_info: "Awaiting info", closed: "Closed" };
var STATUS_COLOURS = { new: "#0d6efd", assigned: "#0aa2c0", in_review: "#b58100", awaiting_info: "#6c757d", closed: "#198754" };

dagcomponentfuncs.StatusBadge = function (props) {
  if (props.value == null) {
    return null;
  }
  var value = String(props.value);
  var colour = STATUS_COLOURS[value] || "#6c757d";
  return React.createElement(
    "span",
    { style: { color: colour, border: "1px solid " + colour, borderRadius: "999px", padding: "0 .5rem",
               fontSize: ".8rem", lineHeight: "1.4", whiteSpace: "nowrap" } },
    STATUS_LABELS[value] || value
  );
};

// Routing confidence as a small bar plus the percentage; the band colours it
// (low confidence is what adjusters check first).
var BAND_COLOURS = { low: "#D55E00", medium: "#E69F00", high: "#009E73" };

dagcomponentfuncs.ConfidenceBar = function (props) {
  if (props.value == null) {
    return React.createElement("span", { style: { color: "#6c757d" } }, "\u2014");
  }
  var v = Math.max(0, Math.min(1, Number(props.value)));
  var band = v < 0.5 ? "low" : v < 0.8 ? "medium" : "high";
  return React.createElement(
    "span",
    { title: "Routing confidence (" + band + ")", style: { display: "inline-flex", alignItems: "center", gap: ".4rem" } },
    React.createElement("span", { style: { display: "inline-block", width: "44px", height: "6px", borderRadius: "3px",
                                           background: "#e9ecef", overflow: "hidden" } },
      React.createElement("span", { style: { display: "block", height: "100%", width: Math.round(v * 100) + "%",
                                             background: BAND_COLOURS[band] } })),
    // Rounded down, as on the claim page: a Triage claim at 49.98% must not read "50%" (the threshold).
    React.createElement("span", { style: { minWidth: "2.5rem", textAlign: "right" } }, Math.floor(v * 100 + 1e-9) + "%")
  );
};
