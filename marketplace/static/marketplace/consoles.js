// Charts of the ops and finance consoles, drawn by the vendored Chart.js from the JSON the page carries
// (a <script type="application/json"> block: no inline script, so the CSP keeps forbidding them).
(function () {
  "use strict";
  var source = document.getElementById("console-chart-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var options = {animation: false, responsive: true, maintainAspectRatio: false};

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { new Chart(canvas, Object.assign({options: options}, config)); }
  }

  // Horizontal bars: a project's whole name fits beside its bar (vertical bars clipped long names); the
  // figure grows with the number of projects.
  function horizontal(id, n) {
    var canvas = document.getElementById(id);
    if (canvas) { canvas.parentNode.style.height = Math.max(256, 44 * n + 96) + "px"; }
    return {indexAxis: "y", animation: false, responsive: true, maintainAspectRatio: false,
            scales: {y: {ticks: {autoSkip: false}}}};
  }

  // A long name wraps onto lines of about 24 characters instead of being cut (Chart.js draws an array as lines).
  function wrap(name) {
    var lines = [], line = "";
    String(name).split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > 24) { lines.push(line); line = word; } else { line = line ? line + " " + word : word; }
    });
    if (line) { lines.push(line); }
    return lines.length > 1 ? lines : lines[0] || "";
  }

  if (data.labels) {
    var n = data.labels.length;
    var names = data.labels.map(wrap);
    draw("chart-throughput", {type: "bar", options: horizontal("chart-throughput", n), data: {labels: names,
      datasets: [{label: "Judgments over the last 24 h", data: data.judgments_24h, backgroundColor: "#417690"}]}});
    // One outlier must not flatten the others: past the capped axis a bar is drawn to the edge, in another
    // colour, and its true figure is in the tooltip and in the note under the chart.
    var off = {};
    (data.pay_outliers || []).forEach(function (o) { off[o.index] = o.text; });
    var max = data.pay_axis_max;
    var payOptions = horizontal("chart-pay", n);
    payOptions.scales.x = {title: {display: true, text: "per hour, in currency units"}};
    if (max) { payOptions.scales.x.max = max; }
    payOptions.plugins = {tooltip: {callbacks: {label: function (item) {
      return item.dataIndex in off && item.datasetIndex === 0 ? "off the scale: " + off[item.dataIndex] : undefined;
    }}}};
    draw("chart-pay", {type: "bar", options: payOptions, data: {labels: names, datasets: [
      {label: "Effective hourly pay (cleared)", backgroundColor: data.hourly.map(function (v, i) {
        return i in off ? "#ba2121" : "#79aec8"; }),
       data: data.hourly.map(function (v, i) { return i in off ? max : v; })},
      {label: "Pay floor", type: "line", indexAxis: "y", data: data.labels.map(function () { return data.floor; }),
       borderColor: "#ba2121", pointRadius: 0}]}});
  }
  if (data.currencies) {
    var colours = ["#c9a227", "#f5dd5d", "#79aec8", "#417690", "#5b8a3c"];
    draw("chart-money", {type: "bar", data: {labels: data.currencies, datasets: data.states.map(function (state, i) {
      return {label: data.state_labels[i], backgroundColor: colours[i],
              data: data.currencies.map(function (c) { return data.units[c][i]; })};
    })}, options: Object.assign({}, options, {scales: {y: {title: {display: true, text: "currency units"}}}})});
  }
  document.documentElement.setAttribute("data-charts", "drawn");
})();
