// The Run details page: one run's steps, each with its latest lines, live.
import { LogStream } from "/static/blastlog-client.js";

const MAX_EVENTS = 500; // events the page keeps
const MAX_LINES = 80;   // lines shown per step
const STEPS = [
  ["warming_up", "Warming up databases"],
  ["submitting", "Submitting"],
  ["staging_db", "Staging the database"],
  ["running", "Running BLAST"],
  ["exporting_results", "Exporting results"],
];

const cfg = JSON.parse(document.getElementById("blastlog-config").textContent);
const params = new URLSearchParams(location.search);
const jobId = params.get("job") || cfg.job;
document.getElementById("job").textContent = jobId || "(no job: add ?job=<id>)";

const events = [];              // the last MAX_EVENTS events
const steps = new Map();        // phase -> {el, lines: [], count, dirty, userToggled}
let total = 0, openPhase = "", frame = 0;

function step(phase) {
  let s = steps.get(phase);
  if (s) return s;
  const known = STEPS.find(([p]) => p === phase);
  const el = document.createElement("details");
  el.className = "step";
  el.dataset.phase = phase;
  const sum = document.createElement("summary");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = known ? known[1] : phase || "Other";
  const meta = document.createElement("span");
  meta.className = "meta";
  const last = document.createElement("span");
  last.className = "last";
  sum.append(name, meta, last);
  const lines = document.createElement("div");
  lines.className = "lines";
  el.append(sum, lines);
  s = { el, meta, last, box: lines, lines: [], count: 0, dirty: false, userToggled: false };
  sum.addEventListener("click", () => { s.userToggled = true; });
  steps.set(phase, s);
  // Keep the steps in execution order.
  const order = (p) => { const i = STEPS.findIndex(([q]) => q === p); return i < 0 ? STEPS.length : i; };
  const main = document.getElementById("steps");
  const after = [...main.children].find((c) => order(c.dataset.phase) > order(phase));
  main.insertBefore(el, after || null);
  return s;
}

function lineNode(e) {
  const row = document.createElement("div");
  row.className = "line " + e.stream;
  row.dataset.id = e.id;
  const t = document.createElement("span");
  t.className = "t";
  t.textContent = (e.ts || "").slice(11, 19);
  const src = document.createElement("span");
  src.className = "src";
  src.textContent = e.source === "k8s" ? e.pod + "/" + e.container : "submit";
  src.title = src.textContent;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = e.line;
  row.append(t, src, text);
  return row;
}

function onEvent(e) {
  events.push(e);
  if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
  const s = step(e.phase);
  s.lines.push(e);
  if (s.lines.length > MAX_LINES) s.lines.splice(0, s.lines.length - MAX_LINES);
  s.count++;
  s.dirty = true;
  total++;
  openPhase = e.phase;
  if (!frame) frame = requestAnimationFrame(render);
}

// render redraws only the steps that changed, once per frame, however fast lines come.
function render() {
  frame = 0;
  for (const [phase, s] of steps) {
    // The live step is open, the others closed — unless the user chose otherwise.
    if (!s.userToggled) s.el.open = phase === openPhase;
    if (!s.dirty) continue;
    s.dirty = false;
    const stick = s.box.scrollTop + s.box.clientHeight >= s.box.scrollHeight - 4;
    s.box.replaceChildren(...s.lines.map(lineNode));
    if (stick) s.box.scrollTop = s.box.scrollHeight;
    s.meta.textContent = s.count + (s.count === 1 ? " line" : " lines");
    s.last.textContent = s.lines.length ? s.lines[s.lines.length - 1].line : "";
  }
  document.getElementById("count").textContent = total + (total === 1 ? " line" : " lines");
}

function setBadge(text) {
  const b = document.getElementById("badge");
  b.textContent = text;
  b.className = "badge " + text;
}

function notice(text) {
  const n = document.getElementById("notice");
  n.textContent = text;
  n.hidden = !text;
}

if (jobId) {
  const stream = new LogStream({
    jobId,
    devUser: cfg.devBypass ? params.get("dev_user") || cfg.devUser : null,
    getToken: window.blastlogGetToken || null, // an embedding app provides MSAL here
    onEvent,
    onStatus: (e) => { document.getElementById("collector").textContent = " · " + e.line; },
    onGap: (g) => notice("Some lines were trimmed before this page got them (after " + g.after + ")."),
    onMode: (m) => { if (m !== "completed") setBadge(m); },
    onCompleted: (done) => { setBadge(done.status || "completed"); render(); },
  });
  stream.start();
  window.blastlogStream = stream; // for debugging and tests
}
