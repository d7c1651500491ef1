/* Accounting charts: every canvas with data-accounting-chart="<JSON URL>" is drawn from the classic JSON of
   the same query (row objects, then Total, Percent, xlegend, ylegend, var). No inline script: the CSP is 'self'. */
(function () {
  "use strict";
  var SPECIAL = { Total: true, Percent: true, xlegend: true, ylegend: true, var: true };

  function seriesOf(data) {
    var legend = data.filter(function (o) { return o.id === "xlegend"; })[0] || {};
    var labels = Object.keys(legend).filter(function (k) { return k !== "id"; })
      .sort(function (a, b) { return a - b; }).map(function (k) { return legend[k]; });
    var rows = data.filter(function (o) { return !SPECIAL[o.id]; });
    return {
      labels: labels,
      datasets: rows.map(function (row) {
        return { label: String(row.id), data: labels.map(function (c) { return row[c] || 0; }) };
      }),
      variables: data.filter(function (o) { return o.id === "var"; })[0] || {},
    };
  }

  function draw(canvas) {
    if (canvas.dataset.drawn || typeof window.Chart === "undefined") { return; }
    canvas.dataset.drawn = "1";
    fetch(canvas.dataset.accountingChart, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (reply) { if (!reply.ok) { throw new Error(reply.status); } return reply.json(); })
      .then(function (data) {
        var chart = seriesOf(data);
        var stacked = chart.datasets.length > 1;
        new window.Chart(canvas, {
          type: "bar",
          data: { labels: chart.labels, datasets: chart.datasets },
          options: {
            responsive: true,
            animation: false,
            plugins: { legend: { display: chart.datasets.length <= 20, position: "bottom" } },
            scales: { x: { stacked: stacked }, y: { stacked: stacked, beginAtZero: true } },
          },
        });
      })
      .catch(function () { canvas.replaceWith(document.createTextNode("The chart could not be loaded.")); });
  }

  function start() { document.querySelectorAll("canvas[data-accounting-chart]").forEach(draw); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
