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

  if (data.labels) {
    draw("chart-throughput", {type: "bar", data: {labels: data.labels, datasets: [
      {label: "Judgments over the last 24 h", data: data.judgments_24h, backgroundColor: "#417690"}]}});
    draw("chart-pay", {type: "bar", data: {labels: data.labels, datasets: [
      {label: "Effective hourly pay (cents)", data: data.hourly, backgroundColor: "#79aec8"},
      {label: "Pay floor", type: "line", data: data.labels.map(function () { return data.floor; }),
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
