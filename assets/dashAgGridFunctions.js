// Functions AG Grid's valueFormatter strings may call. dash-ag-grid evaluates those strings
// with only its own names in scope (params, d3, these functions): browser globals such as
// Intl are not reachable from the string itself.
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});
var moneyFormats = {};

// A whole amount in the deployment's currency (SCOPE_CURRENCY) with English grouping:
// "€2,297", "¥48,200". Both fraction digits set: some browsers refuse a maximum below
// the currency's minimum.
dagfuncs.Money = function (value, currency) {
  if (value == null) {
    return "";
  }
  var format = moneyFormats[currency] || (moneyFormats[currency] = new Intl.NumberFormat("en-US", {
    style: "currency", currency: currency, minimumFractionDigits: 0, maximumFractionDigits: 0 }));
  return format.format(Number(value));
};
