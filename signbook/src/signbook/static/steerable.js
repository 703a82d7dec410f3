// The book's precomputed widgets (signbook.sphinxext._steerable_html): every state of a widget's grid
// was drawn when the site was built; moving a control looks up the figure of the new state and
// redraws it with plotly.js. No kernel, no server, no network.
(function () {
  "use strict";
  function copy(value) {
    return JSON.parse(JSON.stringify(value)); // plotly.js annotates the objects it is given
  }
  function setUp(root) {
    const payload = JSON.parse(root.querySelector("script.signbook-steerable-data").textContent);
    const plot = root.querySelector(".signbook-steerable-plot");
    const inputs = Array.from(root.querySelectorAll(".signbook-controls [data-index]"));
    function draw() {
      const index = inputs.map(function (input) { return Number(input.value); });
      inputs.forEach(function (input, k) {
        const shown = input.parentElement.querySelector("output");
        if (shown) shown.textContent = payload.controls[k].labels[index[k]];
      });
      const state = payload.states[index.join(",")];
      const layout = copy(payload.layouts[state[0]]);
      layout.template = payload.templates[state[1]];
      const data = state[2].map(function (t) { return copy(payload.traces[t]); });
      root.dataset.state = index.join(",");
      return Plotly.react(plot, data, layout, payload.config);
    }
    inputs.forEach(function (input) { input.addEventListener("input", draw); });
    draw();
  }
  function setUpAll() {
    document.querySelectorAll(".signbook-steerable").forEach(setUp);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUpAll);
  } else {
    setUpAll();
  }
})();
