// Custom AG Grid cell renderers. Values are rendered as text nodes, never HTML.
var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

dagcomponentfuncs.ClaimLink = function (props) {
  if (props.value == null) {
    return null;
  }
  return React.createElement(
    "a",
    { href: "/claims/" + encodeURIComponent(props.value), className: "claim-link" },
    String(props.value)
  );
};
