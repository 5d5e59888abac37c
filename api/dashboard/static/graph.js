// The cube graph page: fetch a bounded set of nodes and edges (graph.json) and draw them with cytoscape.js.
(function () {
  "use strict";
  var PALETTE = ["#2f5bd3", "#1f9d6b", "#d9822b", "#9c4dcc", "#d14b64", "#1b9aaa", "#7a8b2a", "#8c5a3c",
                 "#4a6fa5", "#c44dac"];

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function showDetail(data, cubeUrl) {
    var box = document.getElementById("graph-detail");
    box.replaceChildren();
    box.appendChild(el("p", data.content, "memory-content"));
    if (data.tags && data.tags.length) {
      var tags = el("div");
      data.tags.forEach(function (t) { tags.appendChild(el("span", t, "tag")); });
      box.appendChild(tags);
    }
    box.appendChild(el("p", data.degree + " link" + (data.degree === 1 ? "" : "s") + " shown", "muted small"));
    var open = el("a", "Open memory", "button");
    open.href = "/dashboard/memories/" + data.id;
    var around = el("a", "Neighbourhood", "button secondary");
    around.href = cubeUrl + "?center=" + data.id;
    var actions = el("p");
    actions.appendChild(open);
    actions.appendChild(document.createTextNode(" "));
    actions.appendChild(around);
    box.appendChild(actions);
  }

  function draw(container, status, payload) {
    var cubeUrl = "/dashboard/cubes/" + container.dataset.cube + "/graph";
    if (!payload.nodes.length) {
      var empty = el("div", "", "empty");
      empty.appendChild(el("strong", "No live memories to draw."));
      empty.appendChild(document.createTextNode("Memories and their links appear here once the cube has some."));
      container.appendChild(empty);
      status.textContent = "0 nodes";
      container.dataset.ready = "1";
      return;
    }
    var elements = payload.nodes.map(function (n) {
      return { data: { id: n.id, label: n.label, content: n.content, degree: n.degree, tags: n.tags,
                       colour: PALETTE[(n.community < 0 ? 0 : n.community) % PALETTE.length],
                       size: 14 + Math.min(n.degree, 12) * 3, centre: payload.center === n.id ? 1 : 0 } };
    }).concat(payload.edges.map(function (e, i) {
      return { data: { id: "e" + i, source: e.source, target: e.target, type: e.type,
                       width: 1 + 3 * Math.max(0, Math.min(1, e.strength)) } };
    }));
    var cy = cytoscape({
      container: container,
      elements: elements,
      wheelSensitivity: 0.3,
      maxZoom: 1.6,  // a handful of nodes would otherwise be fitted at a huge zoom
      style: [
        { selector: "node", style: { "background-color": "data(colour)", width: "data(size)", height: "data(size)",
          label: "data(label)", "font-size": 9, color: "#39424f", "text-valign": "bottom", "text-margin-y": 3,
          "text-max-width": 120, "text-wrap": "ellipsis", "min-zoomed-font-size": 7 } },
        { selector: "node[centre = 1]", style: { "border-width": 4, "border-color": "#172033" } },
        { selector: "node:selected", style: { "border-width": 3, "border-color": "#f0a500" } },
        { selector: "edge", style: { width: "data(width)", "line-color": "#b8c2d0", "curve-style": "bezier",
          "target-arrow-shape": "triangle", "target-arrow-color": "#b8c2d0", "arrow-scale": 0.7 } },
        { selector: "edge[type = 'contradicts']", style: { "line-color": "#d14b64", "target-arrow-color": "#d14b64" } }
      ],
      layout: payload.center ? { name: "concentric", animate: false, padding: 40, minNodeSpacing: 110,
                                 concentric: function (n) { return n.data("centre") ? 2 : 1; }, levelWidth: function () { return 1; } }
                             : { name: "cose", animate: false, randomize: false, padding: 30,
                                 nodeRepulsion: function () { return 9000; },
                                 idealEdgeLength: function () { return 60; }, numIter: 600 }
    });
    cy.on("tap", "node", function (evt) { showDetail(evt.target.data(), cubeUrl); });
    cy.on("dbltap", "node", function (evt) {
      window.location.href = cubeUrl + "?center=" + evt.target.id();
    });
    status.textContent = payload.nodes.length + " nodes, " + payload.edges.length + " links" +
      (payload.truncated ? " (the cube has more: showing its most linked memories and their strongest neighbours)" : "") +
      (payload.communities ? ", " + payload.communities + " communities" : "");
    container.dataset.ready = "1";
    window.memosGraph = cy;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("graph");
    var status = document.getElementById("graph-status");
    if (!container) return;
    fetch(container.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("the graph could not be loaded (HTTP " + r.status + ")");
        return r.json();
      })
      .then(function (payload) { draw(container, status, payload); })
      .catch(function (err) {
        status.textContent = err.message;
        status.className = "flash error";
        container.dataset.ready = "error";
      });
  });
})();
