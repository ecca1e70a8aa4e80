// Reports once how long the article was read (the visible time, in seconds) when the
// reader leaves or hides the page. No inline script: the page's CSP allows 'self' only.
(function () {
  "use strict";
  var main = document.getElementById("article");
  if (!main || !main.dataset.dwellUrl) { return; }
  var url = main.dataset.dwellUrl;
  var view = main.dataset.view;
  var visibleMs = 0;
  var since = document.visibilityState === "visible" ? Date.now() : null;
  var sent = false;

  function pause() {
    if (since !== null) { visibleMs += Date.now() - since; since = null; }
  }

  function send() {
    pause();
    if (sent) { return; }
    var seconds = Math.round(visibleMs / 1000);
    if (seconds < 1) { return; }
    sent = true;
    var body = new URLSearchParams({ view: view, seconds: String(seconds) });
    if (navigator.sendBeacon && navigator.sendBeacon(url, body)) { return; }
    fetch(url, { method: "POST", body: body, keepalive: true, credentials: "omit" });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { send(); }
    else if (since === null) { since = Date.now(); }
  });
  window.addEventListener("pagehide", send);
})();
