/* Join your local benefits group (D3): ask for the location, else offer the city picker.
 * Coordinates are rounded to 2 decimals (about 1 km) before they leave the phone. */
(function () {
  "use strict";
  var root = document.getElementById("join");
  if (!root) return;
  var picker = document.getElementById("picker");
  var locating = document.getElementById("locating");
  var province = document.getElementById("province");
  var city = document.getElementById("city");
  var showPicker = document.getElementById("show-picker");

  function token() {
    return new URLSearchParams(window.location.search).get("t") || "";
  }

  function openPicker() {
    if (locating) locating.hidden = true;
    if (picker) picker.hidden = false;
  }

  // Keep every city option aside, then show only the chosen province's cities.
  var allCities = [];
  if (city) {
    Array.prototype.forEach.call(city.querySelectorAll("optgroup"), function (group) {
      Array.prototype.forEach.call(group.querySelectorAll("option"), function (opt) {
        allCities.push({ province: group.getAttribute("data-province"), value: opt.value, label: opt.textContent });
      });
    });
  }

  function fillCities(code) {
    var placeholder = city.querySelector("option[value='']");
    while (city.firstChild) city.removeChild(city.firstChild);
    if (placeholder) city.appendChild(placeholder);
    allCities.forEach(function (c) {
      if (c.province !== code) return;
      var opt = document.createElement("option");
      opt.value = c.value;
      opt.textContent = c.label;
      city.appendChild(opt);
    });
    // A municipality has one city: choose it for the customer.
    var options = city.querySelectorAll("option[value]:not([value=''])");
    city.value = options.length === 1 ? options[0].value : "";
  }

  if (province && city) {
    fillCities("");
    province.addEventListener("change", function () { fillCities(province.value); });
  }
  if (showPicker) showPicker.addEventListener("click", openPicker);

  if (root.getAttribute("data-mode") !== "locate") return;
  if (!("geolocation" in navigator)) { openPicker(); return; }
  navigator.geolocation.getCurrentPosition(
    function (pos) {
      var params = new URLSearchParams();
      params.set("lat", pos.coords.latitude.toFixed(2));
      params.set("lng", pos.coords.longitude.toFixed(2));
      if (token()) params.set("t", token());
      window.location.replace("?" + params.toString());
    },
    openPicker,
    { enableHighAccuracy: false, timeout: 10000, maximumAge: 600000 }
  );
})();
