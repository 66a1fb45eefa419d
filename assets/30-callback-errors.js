/* When a page's request to the server fails, say so. Dash itself only writes to the
   console: after the session ended (idle timeout, signed out elsewhere) every button
   silently did nothing, and a server error looked like a slow page.
   The page is never reloaded or left: what the user typed stays, and after signing in
   again (in a new tab) the same action can simply be repeated. */
(function () {
  "use strict";
  var original = window.fetch;
  if (!original) return;
  var BOX_ID = "scope-request-problem";

  function button(text, cls, href, newTab) {
    var el = document.createElement(href ? "a" : "button");
    el.className = "btn btn-sm " + cls + " me-2";
    el.textContent = text;
    if (href) {
      el.href = href;
      if (newTab) { el.target = "_blank"; el.rel = "noopener"; }
    } else {
      el.type = "button";
    }
    return el;
  }

  function show(kind, title, text, actions, reference) {
    var old = document.getElementById(BOX_ID);
    if (old) old.remove();
    var box = document.createElement("div");
    box.id = BOX_ID;
    box.setAttribute("role", "alert");
    box.dataset.kind = kind;
    box.className = "alert alert-" + (kind === "error" ? "danger" : "warning") + " shadow";
    box.style.position = "fixed";
    box.style.top = "12px";
    box.style.left = "50%";
    box.style.transform = "translateX(-50%)";
    box.style.zIndex = "2000";
    box.style.maxWidth = "560px";
    box.style.width = "calc(100% - 24px)";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close float-end";
    close.setAttribute("aria-label", "Close");
    close.addEventListener("click", function () { box.remove(); });
    var heading = document.createElement("div");
    heading.className = "fw-semibold mb-1";
    heading.textContent = title;
    var body = document.createElement("div");
    body.className = "small mb-2";
    body.textContent = text;
    box.appendChild(close);
    box.appendChild(heading);
    box.appendChild(body);
    if (reference) {
      var ref = document.createElement("div");
      ref.className = "small text-muted mb-2";
      ref.appendChild(document.createTextNode("Reference for your administrator: "));
      var code = document.createElement("code");
      code.textContent = reference;
      ref.appendChild(code);
      box.appendChild(ref);
    }
    (actions || []).forEach(function (a) { box.appendChild(a); });
    document.body.appendChild(box);
  }

  function here() {
    return window.location.pathname + window.location.search;
  }

  function signedOut() {
    show("session", "Your session has ended",
         "You were signed out (after a while without activity, or from another window). " +
         "Sign in again in a new tab, then repeat your last action here: what you typed on this page is kept.",
         [button("Sign in in a new tab", "btn-primary", "/login?next=" + encodeURIComponent(here()), true)]);
  }

  function refused(response) {
    response.clone().json().then(function (body) {
      if (body && typeof body.next === "string" && body.next.charAt(0) === "/") {
        show("session", "Finish signing in", "Your sign-in needs its second step before SCOPE can go on.",
             [button("Continue signing in", "btn-primary", body.next, true)]);
      } else {
        show("refused", "Not allowed", "You are not allowed to do that (your role or departments may have " +
             "changed since this page was opened). Reload the page to see what you can do now.",
             [button("Reload the page", "btn-outline-secondary", here(), false)]);
      }
    }).catch(function () {});
  }

  function failed(response) {
    show("error", "Something went wrong",
         "The error was logged. Try again; if it happens again, tell your administrator.",
         [], response.headers.get("X-Request-ID"));
  }

  window.fetch = function (input) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    var pending = original.apply(this, arguments);
    if (url.indexOf("/_dash-update-component") === -1) return pending;
    return pending.then(function (response) {
      if (response.status === 401) signedOut();
      else if (response.status === 403) refused(response);
      else if (response.status >= 500) failed(response);
      return response;
    }, function (err) {
      if (err && err.name === "AbortError") throw err;  // the page cancelled it itself
      show("error", "SCOPE cannot be reached",
           "Check your connection. Your last action may not have been saved: look before repeating it.", []);
      throw err;
    });
  };
})();
