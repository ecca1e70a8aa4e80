// Scan a customer's coupon QR code with the phone's camera on the store staff's page,
// where the browser can (BarcodeDetector); elsewhere the phone's own scanner opens this
// page with the code filled in. No inline script: the page's CSP allows only this file.
(function () {
  "use strict";
  var button = document.getElementById("scan");
  var video = document.getElementById("scan-video");
  var field = document.getElementById("code");
  if (!button || !video || !field || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      var stop = function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        video.hidden = true;
      };
      var look = function () {
        detector.detect(video).then(function (found) {
          if (!found.length) { window.requestAnimationFrame(look); return; }
          var text = found[0].rawValue || "";
          var code = text;
          try { code = new URL(text).searchParams.get("code") || text; } catch (e) { /* a bare code */ }
          field.value = code;
          stop();
          document.getElementById("amount").focus();
        }).catch(function () { window.requestAnimationFrame(look); });
      };
      look();
    }).catch(function () { button.hidden = true; });
  });
})();
