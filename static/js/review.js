// Draws the quarterly review's charts with ECharts from the JSON the page carries (no inline script: CSP).
document.addEventListener("DOMContentLoaded", function () {
  var source = document.getElementById("review-data");
  if (!source || !window.echarts) return;
  var data = JSON.parse(source.textContent);
  var charts = [];
  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) return;
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option);
    charts.push(chart);
  }
  draw("chart-compliance", {
    grid: { left: 36, right: 12, top: 16, bottom: 28 },
    xAxis: { type: "category", data: data.compliance.grades },
    yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    tooltip: { trigger: "axis", valueFormatter: function (v) { return v + "%"; } },
    series: [{ type: "bar", data: data.compliance.share, label: { show: true, position: "top", formatter: "{c}%" } }]
  });
  draw("chart-distribution", {
    tooltip: { trigger: "item" },
    series: [{ type: "pie", radius: ["40%", "70%"], data: data.distribution, label: { formatter: "{b}: {c}" } }]
  });
  draw("chart-stages", {
    grid: { left: 110, right: 24, top: 8, bottom: 24 },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: data.stages.labels, inverse: true },
    tooltip: { trigger: "axis" },
    series: [{ type: "bar", data: data.stages.counts, label: { show: true, position: "right" } }]
  });
  draw("chart-churn", {
    tooltip: { trigger: "item" },
    series: [{ type: "pie", radius: "65%", data: data.churn, label: { formatter: "{b}: {c}" } }]
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
});
