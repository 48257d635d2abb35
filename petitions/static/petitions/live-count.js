// Refreshes the signature count and progress bar while the page is open (every 5 s).
// The page works without it; the server-rendered count is at most a few seconds old.
(function () {
  "use strict";
  var box = document.querySelector("[data-live-count]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-live-count");
  var bar = box.querySelector("progress");
  var count = box.querySelector("[data-count]");
  var percent = box.querySelector("[data-percent]");
  var format = new Intl.NumberFormat(document.documentElement.lang || "uk");
  function refresh() {
    if (document.hidden) { return; }
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        bar.value = data.count;
        bar.textContent = data.percent + "%";
        count.textContent = format.format(data.count);
        percent.textContent = data.percent;
      })
      .catch(function () { /* keep the last count */ });
  }
  window.setInterval(refresh, 5000);
})();
