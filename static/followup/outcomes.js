// Draws the outcomes page's charts with the vendored Chart.js from the JSON the page
// carries (#outcomes-chart-data). Every chart has its table and text on the page: the
// charts add nothing the tables do not say.
(function () {
  "use strict";
  var source = document.getElementById("outcomes-chart-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  // Okabe-Ito colours: told apart with the common colour-vision deficiencies.
  var colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"];
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  Chart.defaults.animation = reduced ? false : Chart.defaults.animation;

  var responders = document.getElementById("responders-chart");
  if (responders && data.responders.length) {
    new Chart(responders, {
      type: "bar",
      data: {
        labels: data.points,
        datasets: data.responders.map(function (group, index) {
          return {
            label: group.label,
            data: group.values,
            backgroundColor: colours[index % colours.length],
          };
        }),
      },
      options: {
        maintainAspectRatio: false,
        scales: {
          y: { min: 0, max: 100, title: { display: true, text: "% with at least 50% relief" } },
        },
      },
    });
  }

  var durability = document.getElementById("durability-chart");
  if (durability && data.durability.length) {
    new Chart(durability, {
      type: "line",
      data: {
        datasets: data.durability.map(function (group, index) {
          return {
            label: group.label,
            data: group.steps.map(function (step) {
              return { x: step[0], y: step[1] };
            }),
            stepped: "before",
            pointRadius: 0,
            borderColor: colours[index % colours.length],
            backgroundColor: colours[index % colours.length],
          };
        }),
      },
      options: {
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: { type: "linear", min: 0, title: { display: true, text: "Days after the procedure" } },
          y: { min: 0, max: 100, title: { display: true, text: "% still at least 50% relieved" } },
        },
      },
    });
  }
})();
