// Draws every <canvas data-chart="doughnut|bar|hbar"> with the vendored Chart.js, from its
// data-chart-labels and data-chart-values (JSON arrays) and data-chart-unit.  The data
// travels in attributes because the CSP forbids inline script; the figures table beside
// each chart carries the same numbers for readers without JavaScript.
(function () {
  "use strict";

  // Labels with a meaning keep their colour on every chart (6R strategies, tech-debt
  // statuses, environments, unset slices); anything else takes the palette in turn.
  var NAMED = {
    rehost: "#2563eb", replatform: "#0891b2", refactor: "#7c3aed", rearchitect: "#c026d3",
    rebuild: "#db2777", repurchase: "#ea580c", retire: "#64748b", retain: "#16a34a",
    unsupported: "#dc2626", soon_unsupported: "#f59e0b", extended_support_only: "#fbbf24",
    supported: "#16a34a", unknown: "#94a3b8",
    production: "#dc2626", staging: "#f59e0b", test: "#0891b2", development: "#2563eb",
    dr: "#7c3aed",
    unspecified: "#cbd5e1", "not analysed": "#cbd5e1", "not assessed": "#cbd5e1"
  };
  var PALETTE = ["#2563eb", "#0891b2", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed",
                 "#db2777", "#64748b", "#ea580c", "#0d9488"];

  function colourOf(label, index) {
    return NAMED[label] || PALETTE[index % PALETTE.length];
  }

  function readable(label) {
    return String(label).replace(/_/g, " ");
  }

  function configFor(canvas) {
    var kind = canvas.dataset.chart;
    var labels = JSON.parse(canvas.dataset.chartLabels || "[]");
    var values = JSON.parse(canvas.dataset.chartValues || "[]");
    var unit = canvas.dataset.chartUnit || "";
    var round = kind === "doughnut";
    var valueAxis = {beginAtZero: true, ticks: {precision: 0}};
    if (unit === "%") {
      valueAxis.max = 100;
    }
    var scales = {};
    if (!round) {
      scales[kind === "hbar" ? "x" : "y"] = valueAxis;
      scales[kind === "hbar" ? "y" : "x"] = {grid: {display: false}};
    }
    return {
      type: round ? "doughnut" : "bar",
      data: {
        labels: labels.map(readable),
        datasets: [{data: values, backgroundColor: labels.map(colourOf),
                    borderWidth: round ? 1 : 0}]
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        indexAxis: kind === "hbar" ? "y" : "x",
        scales: scales,
        plugins: {
          legend: {display: round, position: "right", labels: {boxWidth: 12}},
          tooltip: {callbacks: {label: function (item) {
            return " " + item.formattedValue + unit;
          }}}
        }
      }
    };
  }

  function drawCharts(root) {
    if (typeof window.Chart === "undefined") {
      return;
    }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (!window.Chart.getChart(canvas)) {
        new window.Chart(canvas, configFor(canvas));
      }
    });
  }

  drawCharts(document);  // deferred: the document is parsed by now
  document.addEventListener("htmx:load", function (event) {
    drawCharts(event.detail.elt);
  });
})();
