// The patient page's story charts (Chart.js, vendored): pain and ODI/NDI over time with each
// procedure marked, and each diagnostic block's pain diary. The numbers come from the
// json_script block #story-data; the page shows them as tables too.
(function () {
  var source = document.getElementById("story-data");
  if (!source || !window.Chart) { return; }
  var data = JSON.parse(source.textContent);
  var colours = { now: "#0b5ed7", average: "#6f42c1", odi: "#b02a37", ndi: "#146c43", procedure: "#212529" };

  function day(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function series(points, key) {
    return points.filter(function (p) { return p[key] !== null; })
      .map(function (p) { return { x: p.t, y: p[key] }; });
  }
  function line(label, points, key, colour, axis, dash) {
    return {
      label: label, data: series(points, key), yAxisID: axis, borderColor: colour,
      backgroundColor: colour, borderDash: dash || [], tension: 0, spanGaps: true
    };
  }

  // Each procedure as a dashed vertical line, so a change in the lines can be read against it.
  var procedureLines = {
    id: "procedureLines",
    afterDatasetsDraw: function (chart) {
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = colours.procedure;
      ctx.setLineDash([4, 4]);
      data.timeline.procedures.forEach(function (p) {
        var at = x.getPixelForValue(p.t);
        if (at < area.left || at > area.right) { return; }
        ctx.beginPath(); ctx.moveTo(at, area.top); ctx.lineTo(at, area.bottom); ctx.stroke();
      });
      ctx.restore();
    }
  };

  var timeline = document.getElementById("story-timeline");
  if (timeline) {
    var points = data.timeline.points;
    var datasets = [
      line("Pain now (NRS 0-10)", points, "nrs_current", colours.now, "y"),
      line("Average pain (NRS 0-10)", points, "nrs_average", colours.average, "y", [6, 3]),
      line("ODI %", points, "odi", colours.odi, "percent"),
      line("NDI %", points, "ndi", colours.ndi, "percent", [2, 2])
    ].filter(function (set) { return set.data.length; });
    datasets.push({
      label: "Procedure", type: "scatter", yAxisID: "y", pointStyle: "triangle", pointRadius: 8,
      clip: false,
      borderColor: colours.procedure, backgroundColor: colours.procedure,
      data: data.timeline.procedures.map(function (p) { return { x: p.t, y: 10, label: p.label }; })
    });
    var times = points.map(function (p) { return p.t; })
      .concat(data.timeline.procedures.map(function (p) { return p.t; }));
    var pad = 7 * 24 * 3600 * 1000;
    new window.Chart(timeline, {
      type: "line",
      data: { datasets: datasets },
      plugins: [procedureLines],
      options: {
        animation: false, maintainAspectRatio: false,
        interaction: { mode: "nearest", intersect: false },
        scales: {
          x: {
            type: "linear", min: Math.min.apply(null, times) - pad, max: Math.max.apply(null, times) + pad,
            ticks: { callback: function (value) { return day(value); }, maxTicksLimit: 8 }
          },
          y: { min: 0, max: 10, title: { display: true, text: "Pain (NRS)" } },
          percent: {
            position: "right", min: 0, max: 100, grid: { drawOnChartArea: false },
            title: { display: true, text: "ODI / NDI %" }
          }
        },
        plugins: {
          tooltip: {
            callbacks: {
              title: function (items) { return items.length ? day(items[0].parsed.x) : ""; },
              label: function (item) {
                if (item.raw && item.raw.label) { return "Procedure: " + item.raw.label; }
                return item.dataset.label + ": " + item.parsed.y;
              }
            }
          }
        }
      }
    });
  }

  data.blocks.forEach(function (block) {
    var canvas = document.getElementById("block-diary-" + block.id);
    if (!canvas) { return; }
    var last = Math.max.apply(null, block.points.map(function (p) { return p.minutes; }).concat([block.window]));
    var datasets = [{
      label: "Pain after the block (NRS)", borderColor: colours.now, backgroundColor: colours.now,
      data: block.points.map(function (p) { return { x: p.minutes, y: p.nrs }; }),
      pointStyle: block.points.map(function (p) { return p.counted ? "circle" : "crossRot"; }),
      pointRadius: 5
    }, {
      label: "End of the anaesthetic's expected duration", borderColor: colours.procedure,
      borderDash: [4, 4], pointRadius: 0, data: [{ x: block.window, y: 0 }, { x: block.window, y: 10 }]
    }];
    if (block.baseline !== null) {
      datasets.push({
        label: "Pain before the block", borderColor: colours.odi, borderDash: [6, 3], pointRadius: 0,
        data: [{ x: 0, y: block.baseline }, { x: last, y: block.baseline }]
      });
    }
    new window.Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: {
          x: { type: "linear", min: 0, max: last, title: { display: true, text: "Minutes after the block" } },
          y: { min: 0, max: 10, title: { display: true, text: "Pain (NRS)" } }
        }
      }
    });
  });
})();
