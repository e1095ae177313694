// Progressive enhancement: turn <time data-relative> dates into "3 hours ago".
// Pages are cached and shared, so the server only ever renders the exact date; the
// relative phrase is computed here, in the reader's browser, and kept fresh each minute.
(function () {
  "use strict";
  if (!("RelativeTimeFormat" in Intl)) return;
  var lang = document.documentElement.lang || "en";
  var format = new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" });
  var units = [
    ["year", 31536000],
    ["month", 2592000],
    ["week", 604800],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];

  function phrase(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1]) {
        return format.format(Math.round(seconds / units[i][1]), units[i][0]);
      }
    }
    return format.format(0, "minute");
  }

  function update() {
    var nodes = document.querySelectorAll("time[data-relative]");
    for (var i = 0; i < nodes.length; i++) {
      var date = new Date(nodes[i].getAttribute("datetime"));
      if (!isNaN(date.getTime())) nodes[i].textContent = phrase(date);
    }
  }

  update();
  window.setInterval(update, 60000);
})();
