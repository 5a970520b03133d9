// timeline.js — the run's batches in time, as SVG: one lane per node, one bar per
// batch attempt, coloured by how it ended (docs/api.md §13). Hover or focus shows the
// attempt; a click or Enter opens its pod's lines. Built with DOM calls only (no
// markup strings, no inline style: the page's CSP holds), in one fragment, so that
// 5,000 batches draw at once.

import { duration } from "/static/util.js";

const SVG = "http://www.w3.org/2000/svg";
const LANE = 14;      // px per lane
const LABEL = 190;    // px for the lane's name
const WIDTH = 1000;   // the drawing's width (it scales to the step's width)

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

/** bars are the attempts of the diagnosis's batches: ended ones, then the running
 *  ones (to now). */
export function bars(batches, now) {
  const out = [];
  for (const b of batches || []) {
    // An attempt is a pod (or a restart) of the batch: its blast container's instance;
    // results-export in the same pod is not another one.
    const all = b.attempts || [];
    const blast = all.filter((a) => a.container === "blast");
    for (const a of blast.length ? blast : all) {
      const start = Date.parse(a.started_at || ""), end = Date.parse(a.finished_at || "");
      if (!(start > 0) || !(end > 0)) continue;
      const outcome = a.reason === "OOMKilled" ? "oom" : a.exit_code !== 0 ? "failed" : "ok";
      out.push({ batch: b.batch, pod: a.pod, node: a.node || "", type: a.node_type || "", start, end, outcome,
        text: "batch " + b.batch + " · " + a.pod + " · " + (a.reason || "exit " + a.exit_code) + (a.peak && a.peak.memory ? " · peak " + a.peak.memory : "") });
    }
    if (b.state === "running" && b.started) {
      const start = Date.parse(b.started);
      if (start > 0) out.push({ batch: b.batch, pod: "", node: "", type: "", start, end: now, outcome: "running", text: "batch " + b.batch + " · running" });
    }
  }
  return out;
}

/** timeline draws the batches' attempts; onPick(pod) when one is chosen. Null when
 *  there is nothing to draw. */
export function timeline(batches, now, onPick) {
  const list = bars(batches, now);
  if (!list.length) return null;
  const lanes = [...new Set(list.map((b) => b.node))].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : a < b ? -1 : 1));
  const types = new Map(list.map((b) => [b.node, b.type]));
  const t0 = Math.min(...list.map((b) => b.start)), t1 = Math.max(...list.map((b) => b.end));
  const span = Math.max(t1 - t0, 1000);
  const x = (t) => LABEL + ((t - t0) / span) * (WIDTH - LABEL - 4);
  const height = lanes.length * LANE + 16;
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "timeline", role: "img",
    "aria-label": `${list.length} batch attempts on ${lanes.length} nodes over ${duration(span)}` });
  const frag = document.createDocumentFragment();
  lanes.forEach((node, i) => {
    const label = svg("text", { x: 2, y: i * LANE + 11, class: "lane" });
    label.textContent = node ? node + (types.get(node) ? " · " + types.get(node) : "") : "node not known yet";
    frag.append(label);
  });
  const laneOf = new Map(lanes.map((n, i) => [n, i]));
  for (const b of list) {
    const r = svg("rect", { x: x(b.start).toFixed(1), y: laneOf.get(b.node) * LANE + 2, width: Math.max(1, x(b.end) - x(b.start)).toFixed(1),
      height: LANE - 4, class: "bar " + b.outcome, "data-batch": b.batch, tabindex: 0 });
    if (b.pod) r.dataset.pod = b.pod;
    const title = svg("title");
    title.textContent = b.text + " · " + duration(b.end - b.start);
    r.append(title);
    frag.append(r);
  }
  const axis = svg("text", { x: LABEL, y: height - 3, class: "axis" });
  axis.textContent = new Date(t0).toISOString().slice(11, 16) + " UTC — " + duration(span);
  frag.append(axis);
  root.append(frag);
  const pick = (ev) => {
    const pod = ev.target.dataset && ev.target.dataset.pod;
    if (pod) onPick(pod);
  };
  root.addEventListener("click", pick);
  root.addEventListener("keydown", (ev) => { if (ev.key === "Enter") pick(ev); });
  return root;
}
