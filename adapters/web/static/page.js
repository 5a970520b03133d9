// The Run details page: one run's steps with their whole-run counts, status and
// duration, the live tail of each step over SSE, and the rest of the run on demand
// from the read endpoints (docs/api.md §3): search, permalinks, earlier lines, downloads
// and the batch table.
//
// Memory is bounded: a step holds at most STEP_ROWS lines (the live tail or one window
// of its history), search results at most MAX_RESULTS, the batch table what the
// summary lists (the server caps it). History is read from the server when asked for.
import { LogStream, RunAPI, compareIds } from "/static/blastlog-client.js";
import { classify, stepOf } from "/static/rules.js";
import { batchTable } from "/static/batches.js";
import { timeline } from "/static/timeline.js";
import { el, duration } from "/static/util.js";
import { signIn, showUser } from "/static/signin.js";

const STEP_ROWS = 2000;  // lines a step holds (and shows)
const TAIL_LOAD = 1000;  // events read at start to fill the steps' tails
const WINDOW = 400;      // events read per page of history (around / earlier / later)
const MAX_RESULTS = 1000;
const MAX_CONTAINERS = 20000; // container instances kept, as the server's summary caps them
const RESULTS_PAGE = 200;
const SEARCH_ROUNDS = 12; // pages read on while nothing matched (5 s each at most)
const STEPS = [
  ["warming_up", "Warming up databases"],
  ["submitting", "Submitting"],
  ["staging_db", "Staging the database"],
  ["running", "Running BLAST"],
  ["exporting_results", "Exporting results"],
  ["system", "blastlog notices"],
];
const TERMINAL = new Set(["completed", "failed", "cancelled"]);

const cfg = JSON.parse(document.getElementById("blastlog-config").textContent);
const $ = (id) => document.getElementById(id);
const api = new RunAPI({
  getToken: window.blastlogGetToken || null, // an embedding app's own sign-in, if any
  devUser: cfg.devBypass ? new URLSearchParams(location.search).get("dev_user") || cfg.devUser : null,
});
const prefs = loadPrefs();

let jobId = "";             // the run shown: ?run= (after sign-in, which may put the address back)
let runStatus = "";
const steps = new Map();      // summary step -> Step
const containers = new Map(); // pod/container/container_id -> the summary's container entry
let total = 0, frame = 0, activeStep = null, batchesDirty = false;
let diagnosis = null;   // the summary's diagnosis, read again as notices say it changed
let opened = false;     // the page has opened on the answer once
let drawn = null, drawnFor = null; // the timeline, and the diagnosis it was drawn from

// ---- formatting ----------------------------------------------------------------

const nf = new Intl.NumberFormat("en");
const plural = (n, one, many) => nf.format(n) + " " + (n === 1 ? one : many || one + "s");
const clock = (ts) => (ts || "").slice(11, 19);

function button(text, title, onClick) {
  const b = el("button", "", text);
  b.type = "button";
  if (title) b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

function loadPrefs() {
  const d = { wrap: true, times: true, font: 12 };
  try {
    return { ...d, ...JSON.parse(localStorage.getItem("blastlog-prefs") || "{}") };
  } catch (err) {
    return d;
  }
}

function savePrefs() {
  try {
    localStorage.setItem("blastlog-prefs", JSON.stringify(prefs));
  } catch (err) {
    // private mode: the toggles still work for this page
  }
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

function failed(what, err) {
  notice(what + ": " + (err && err.message ? err.message : String(err)));
}

function permalink(id) {
  return location.origin + "/?run=" + encodeURIComponent(jobId) + "#l-" + id;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (err) {
    const t = el("textarea");
    t.value = text;
    document.body.append(t);
    t.select();
    const ok = document.execCommand("copy");
    t.remove();
    return ok;
  }
}

function flash(b, text) {
  const old = b.textContent;
  b.textContent = text;
  setTimeout(() => { b.textContent = old; }, 1200);
}

async function download(q, b, what = () => api.download(jobId, q)) {
  const old = b.textContent;
  b.disabled = true;
  b.textContent = "Downloading…";
  try {
    const { blob, filename } = await what();
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  } catch (err) {
    failed("Download failed", err);
  } finally {
    b.disabled = false;
    b.textContent = old;
  }
}

// idAfter is the smallest stream id after id (for "before" reads that include id).
function idAfter(id) {
  const [ms, seq = "0"] = id.split("-");
  return ms + "-" + (BigInt(seq) + 1n).toString();
}

// ---- one step --------------------------------------------------------------------

class Step {
  constructor(name) {
    this.name = name;
    const known = STEPS.find(([p]) => p === name);
    this.order = known ? STEPS.indexOf(known) : STEPS.length - 1.5;
    this.stats = { count: 0, errors: 0, warnings: 0, first: "", last: "", lastLine: "" };
    this.rows = [];          // what the step shows, oldest first, each an event with _n (line number or 0)
    this.mode = "tail";      // tail | issues | pod | window
    this.filterPod = "";
    this.find = "";
    this.hits = [];
    this.hitAt = -1;
    this.follow = true;
    this.unseen = 0;
    this.full = true;        // the next render redraws every row
    this.appended = [];      // rows to append at the next render
    this.highlight = "";
    this.userToggled = false;

    this.el = el("details", "step");
    this.el.dataset.phase = name;
    const sum = el("summary");
    this.head = {
      name: el("span", "name", known ? known[1] : name),
      state: el("span", "state"),
      time: el("span", "meta"),
      counts: el("span", "counts"),
      last: el("span", "last"),
    };
    sum.append(this.head.name, this.head.state, this.head.time, this.head.counts, this.head.last);
    sum.addEventListener("click", () => { this.userToggled = true; activeStep = this; });

    const tb = el("div", "toolbar");
    this.issuesBox = el("input");
    this.issuesBox.type = "checkbox";
    this.issuesBox.addEventListener("change", () => (this.issuesBox.checked ? this.showIssues() : this.showTail()));
    const issues = el("label", "check");
    issues.append(this.issuesBox, " issues only");
    this.findBox = el("input", "find");
    this.findBox.type = "search";
    this.findBox.placeholder = "Find in this step (/)";
    this.findBox.addEventListener("input", () => this.setFind(this.findBox.value));
    this.findBox.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); this.nextHit(ev.shiftKey ? -1 : 1); }
    });
    this.findCount = el("span", "findcount");
    this.copyBtn = button("Copy", "Copy the lines shown", async () => {
      const ok = await copyText(this.rows.filter((r) => !r.notice || r.notice === "container_ended").map(textLine).join("\n"));
      flash(this.copyBtn, ok ? "Copied" : "Copy failed");
    });
    this.dlBtn = button("Download step", "Every line of this step, as text", () => download({ format: "text", phase: this.name }, this.dlBtn));
    const wrap = button("Wrap", "Wrap long lines", () => { prefs.wrap = !prefs.wrap; savePrefs(); applyPrefs(); });
    const times = button("Time", "Show timestamps", () => { prefs.times = !prefs.times; savePrefs(); applyPrefs(); });
    const smaller = button("A−", "Smaller text", () => { prefs.font = Math.max(9, prefs.font - 1); savePrefs(); applyPrefs(); });
    const bigger = button("A+", "Larger text", () => { prefs.font = Math.min(20, prefs.font + 1); savePrefs(); applyPrefs(); });
    tb.append(issues, this.findBox, this.findCount, this.copyBtn, this.dlBtn, wrap, times, smaller, bigger);
    this.dlBtn.hidden = name === "system"; // notices have no phase to download by

    this.batches = el("div", "batches");
    this.batches.hidden = true;
    this.bar = el("div", "viewbar");
    this.barText = el("span");
    this.earlierBtn = button("Earlier lines", "Read the lines before these", () => this.page(-1));
    this.laterBtn = button("Later lines", "Read the lines after these", () => this.page(1));
    this.liveBtn = button("Back to live", "Show the live tail again", () => this.showTail());
    this.bar.append(this.barText, this.earlierBtn, this.laterBtn, this.liveBtn);
    this.box = el("div", "lines");
    // One scroll for the batch table, the bar and the lines: no box scrolls inside another.
    this.scroller = el("div", "scroll");
    this.scroller.append(this.batches, this.bar, this.box);
    this.scroller.addEventListener("scroll", () => this.onScroll());
    this.pill = button("", "Resume following the newest lines", () => this.jumpToLatest());
    this.pill.className = "pill";
    this.pill.hidden = true;
    const body = el("div", "body");
    body.append(tb, this.scroller, this.pill);
    this.el.append(sum, body);
    this.el.addEventListener("toggle", () => { if (this.el.open) { this.full = true; schedule(); } });

    const main = $("steps");
    const after = [...main.children].find((c) => steps.get(c.dataset.phase).order > this.order);
    main.insertBefore(this.el, after || null);
  }

  // count adds a live event to the whole-run counts (as the server's summary does).
  count(e) {
    const s = this.stats;
    s.count++;
    const lvl = classify(e);
    if (lvl === "error") s.errors++;
    if (lvl === "warning") s.warnings++;
    if (e.ts && (!s.first || e.ts < s.first)) s.first = e.ts;
    if (e.ts && e.ts > s.last) s.last = e.ts;
    if (!e.notice) s.lastLine = e.line;
    return s.count;
  }

  // live takes a live event (already counted, e._n set).
  live(e) {
    if (this.mode === "window") return; // the live tail resumes with "Back to live"
    if (this.mode === "issues" && !classify(e)) return;
    if (this.mode === "pod" && e.pod !== this.filterPod) return;
    this.push(e);
  }

  push(e) {
    this.rows.push(e);
    this.appended.push(e);
    if (this.rows.length > STEP_ROWS) {
      this.rows.splice(0, this.rows.length - STEP_ROWS);
      this.full = true;
    }
    if (!this.follow) this.unseen++;
    schedule();
  }

  setRows(rows, mode, text) {
    this.rows = rows.slice(-STEP_ROWS);
    this.mode = mode;
    this.barText.textContent = text || "";
    this.full = true;
    this.unseen = 0;
    schedule();
  }

  showTail() {
    if (this.mode === "tail") return this.jumpToLatest();
    this.issuesBox.checked = false;
    this.filterPod = "";
    this.follow = true;
    this.highlight = "";
    this.setRows(this.tail || [], "tail");
    this.tail = null;
  }

  // keepTail remembers the live tail while another view is shown, and keeps it fed.
  keepTail() {
    if (this.mode === "tail") this.tail = this.rows;
  }

  // search shows what a search over the whole run finds in this step, live matches after.
  async searchInto(q, mode, text) {
    this.keepTail();
    this.setRows([], mode, "Reading " + text + "…");
    const rows = [];
    let after = "", truncated = false;
    try {
      for (let i = 0; i < STEP_ROWS / 500; i++) {
        const page = await api.search(jobId, { ...q, phase: this.name === "system" ? "" : this.name, after, limit: 500 });
        for (const m of page.matches) if (stepOf(m) === this.name) rows.push({ ...m, _n: m.line_no });
        after = page.next_after;
        truncated = page.truncated;
        if (!page.truncated || !after) break;
      }
    } catch (err) {
      return failed("Reading " + text, err);
    }
    if (this.mode !== mode) return; // the user moved on
    this.setRows(rows, mode, plural(rows.length, "line") + " " + text + (truncated ? " (the first " + nf.format(STEP_ROWS) + ")" : ""));
  }

  showIssues() {
    this.issuesBox.checked = true;
    return this.searchInto({ issues: 1 }, "issues", "flagged as errors or warnings");
  }

  showPod(pod) {
    this.filterPod = pod;
    this.issuesBox.checked = false;
    this.el.open = true;
    this.userToggled = true;
    return this.searchInto({ pod }, "pod", "of " + pod);
  }

  // showWindow shows a page of history: this step's events of evs, line numbers counted
  // from the anchor's (anchorN, 0 when unknown).
  showWindow(evs, anchorId, anchorN) {
    this.keepTail();
    const mine = evs.filter((e) => stepOf(e) === this.name);
    const at = mine.findIndex((e) => e.id === anchorId);
    mine.forEach((e, i) => { e._n = anchorN && at >= 0 ? anchorN + (i - at) : 0; });
    this.highlight = anchorId;
    this.follow = false;
    this.setRows(mine, "window", "Lines of the run's history");
    this.el.open = true;
    this.userToggled = true;
    activeStep = this;
  }

  // numberWindow fills in the line numbers of a window once one of its lines' is known.
  numberWindow(id, n) {
    const at = this.rows.findIndex((e) => e.id === id);
    if (at < 0) return;
    this.rows.forEach((e, i) => { e._n = n + (i - at); });
    this.full = true;
    schedule();
  }

  // page reads the lines before (dir -1) or after (dir 1) those shown, from the server.
  async page(dir) {
    const edge = dir < 0 ? this.rows[0] : this.rows[this.rows.length - 1];
    if (!edge) return;
    this.keepTail();
    let cursor = edge.id, got = [];
    try {
      for (let i = 0; i < 10 && !got.length; i++) {
        const snap = await api.snapshot(jobId, dir < 0 ? { before: cursor, limit: WINDOW } : { after: cursor, limit: WINDOW });
        got = snap.events.filter((e) => stepOf(e) === this.name);
        if (!snap.events.length) break;
        cursor = dir < 0 ? snap.events[0].id : snap.events[snap.events.length - 1].id;
      }
    } catch (err) {
      return failed("Reading earlier lines", err);
    }
    if (!got.length) return flash(dir < 0 ? this.earlierBtn : this.laterBtn, dir < 0 ? "No earlier lines" : "No later lines");
    got.forEach((e, i) => { e._n = edge._n ? (dir < 0 ? edge._n - (got.length - i) : edge._n + i + 1) : 0; });
    this.follow = false;
    this.highlight = "";
    this.setRows(got, "window", "Lines of the run's history");
    if (dir < 0) requestAnimationFrame(() => { this.scroller.scrollTop = this.scroller.scrollHeight; });
  }

  setFind(text) {
    this.find = text.toLowerCase();
    this.hitAt = -1;
    this.full = true;
    schedule();
  }

  nextHit(d) {
    if (!this.hits.length) return;
    this.hitAt = (this.hitAt + d + this.hits.length) % this.hits.length;
    this.follow = false;
    const row = this.box.children[this.hits[this.hitAt]];
    for (const c of this.box.querySelectorAll(".line.current")) c.classList.remove("current");
    if (row) {
      row.classList.add("current");
      row.scrollIntoView({ block: "center" });
    }
    this.findCount.textContent = this.hitAt + 1 + " / " + this.hits.length;
  }

  onScroll() {
    const sc = this.scroller;
    const atBottom = sc.scrollTop + sc.clientHeight >= sc.scrollHeight - 4;
    if (atBottom && this.mode !== "window") {
      this.follow = true;
      this.unseen = 0;
    } else if (!this.rendering) {
      this.follow = false;
    }
    this.renderPill();
  }

  jumpToLatest() {
    if (this.mode !== "tail") return this.showTail();
    this.follow = true;
    this.unseen = 0;
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.renderPill();
  }

  renderPill() {
    const away = !this.follow && (this.mode !== "window" || runStatus === "running");
    this.pill.hidden = !away;
    this.pill.textContent = "↓ Jump to latest" + (this.unseen ? " · " + plural(this.unseen, "new line") : "");
  }

  render() {
    this.renderHead();
    this.rendering = true;
    const redrawn = this.full, grew = this.appended.length > 0;
    if (this.full) {
      this.box.replaceChildren(...this.rows.map((e) => this.line(e)));
      this.hits = [];
      this.rows.forEach((e, i) => { if (this.find && (e.line || "").toLowerCase().includes(this.find)) this.hits.push(i); });
    } else if (this.appended.length) {
      const base = this.rows.length - this.appended.length;
      const frag = document.createDocumentFragment();
      this.appended.forEach((e, i) => {
        frag.append(this.line(e));
        if (this.find && (e.line || "").toLowerCase().includes(this.find)) this.hits.push(base + i);
      });
      this.box.append(frag);
    }
    this.full = false;
    this.appended = [];
    this.findCount.textContent = this.find ? (this.hits.length ? (this.hitAt >= 0 ? this.hitAt + 1 + " / " : "") + this.hits.length : "no match") : "";
    const inWindow = this.mode === "window";
    this.bar.hidden = this.mode === "tail";
    this.earlierBtn.hidden = this.laterBtn.hidden = !inWindow;
    if (this.mode === "tail" && this.rows.length && this.rows[0]._n > 1) {
      this.bar.hidden = false;
      this.earlierBtn.hidden = false;
      this.barText.textContent = "The latest " + plural(this.rows.length, "line") + " of " + nf.format(this.stats.count);
      this.liveBtn.hidden = true;
    } else {
      this.liveBtn.hidden = this.mode === "tail";
    }
    // A finished run has no live tail to go back to: its last lines.
    this.liveBtn.textContent = TERMINAL.has(runStatus) ? "Back to the last lines" : "Back to live";
    if (this.highlight && redrawn) {
      // Once, when the rows are drawn: the user may scroll away from it afterwards.
      const row = document.getElementById("l-" + this.highlight);
      if (row && this.box.contains(row)) {
        row.classList.add("target");
        row.scrollIntoView({ block: "center" });
      }
    } else if (this.top && redrawn) {
      this.scroller.scrollTop = 0; // opened on a batch: its row in the table, then its lines
      this.top = false;
    } else if (this.follow && (redrawn || grew)) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
    }
    this.rendering = false;
    this.renderPill();
  }

  renderHead() {
    const s = this.stats;
    const [state, text] = this.state();
    this.el.dataset.state = state;
    this.head.state.textContent = text;
    this.head.state.className = "state " + state;
    const end = state === "running" ? new Date().toISOString() : s.last;
    this.head.time.textContent = s.first ? clock(s.first) + " · " + duration(Date.parse(end) - Date.parse(s.first)) : "";
    this.head.counts.textContent = [plural(s.count, "line"), plural(s.errors, "error"), plural(s.warnings, "warning")].join(" · ");
    this.head.counts.classList.toggle("bad", s.errors > 0);
    this.head.last.textContent = s.lastLine;
  }

  // state: [class, text]: running (the newest step of a run still running; "running ·
  // 1 failed" when a batch of it failed meanwhile), failed (a container of this step
  // ended badly and the step is over, or the run failed here), else done.
  state() {
    if (this.name === "system") return ["notices", "notices"];
    const bad = failedSteps();
    const newest = newestStep();
    if (!TERMINAL.has(runStatus) && newest === this) {
      const n = failedCount(this.name);
      return ["running", n ? "running · " + n + " failed" : "running"];
    }
    if (bad.has(this.name)) return ["failed", "failed"];
    if (TERMINAL.has(runStatus) && runStatus !== "completed" && !bad.size && newest === this) return [runStatus, runStatus];
    return ["done", "done"];
  }

  line(e) {
    const lvl = classify(e);
    const row = el("div", "line " + (e.stream || "stdout") + (lvl ? " " + lvl : "") + (e.notice ? " note " + noticeClass(e) : ""));
    row.id = "l-" + e.id;
    row.dataset.id = e.id;
    const n = el("a", "n", e._n ? String(e._n) : "·");
    n.href = "#l-" + e.id;
    n.title = "Link to this line";
    const t = el("span", "t", clock(e.ts));
    const src = el("span", "src", sourceOf(e));
    src.title = src.textContent;
    const text = el("span", "text");
    const line = e.line || "";
    const at = this.find ? line.toLowerCase().indexOf(this.find) : -1;
    if (at < 0) {
      text.textContent = line;
    } else {
      text.append(line.slice(0, at), el("mark", "", line.slice(at, at + this.find.length)), line.slice(at + this.find.length));
    }
    const link = el("button", "copylink", "copy link");
    link.type = "button";
    link.title = "Copy a link to this line";
    link.addEventListener("click", async () => flash(link, (await copyText(permalink(e.id))) ? "copied" : "copy failed"));
    row.append(n, t, src, text, link);
    return row;
  }
}

// The source column: a pod's container, the submit command, Kubernetes (its events and
// waiting pods), or blastlog's own notices.
function sourceOf(e) {
  if (e.source === "k8s") return e.pod + "/" + e.container;
  if (e.notice === "k8s_event" || e.notice === "waiting" && e.reason) return "kubernetes";
  if (e.notice === "batch") return "job";
  return e.source === "system" ? "blastlog" : "submit";
}

// noticeClass styles what Kubernetes says apart from blastlog's own notices.
function noticeClass(e) {
  if (e.notice === "k8s_event") return "kevent";
  if (e.notice === "waiting" && e.reason) return "waitnote";
  return "";
}

function textLine(e) {
  const src = e.source === "k8s" ? e.pod + "/" + e.container : e.source === "system" ? "system" : "submit";
  return e.ts + " " + (e.phase || "-") + " " + src + " " + e.stream + ": " + e.line;
}

function step(name) {
  let s = steps.get(name);
  if (!s) {
    s = new Step(name);
    steps.set(name, s);
    applyPrefs();
  }
  return s;
}

function newestStep() {
  let best = null;
  for (const s of steps.values()) {
    if (s.name === "system" || !s.stats.last) continue;
    if (!best || s.stats.first > best.stats.first) best = s;
  }
  return best;
}

function applyPrefs() {
  for (const s of steps.values()) {
    s.box.classList.toggle("nowrap", !prefs.wrap);
    s.box.classList.toggle("notimes", !prefs.times);
    s.box.style.setProperty("--font", prefs.font + "px");
  }
}

// ---- containers and the batch table ------------------------------------------------

const containerKey = (e) => e.pod + "/" + e.container + "/" + (e.container_id || "");

// containerEvent keeps the containers' entries as the server's summary does.
function containerEvent(e) {
  if (!e.pod || (e.notice && e.notice !== "container_ended")) return; // a notice about a pod is no container's line
  const key = containerKey(e);
  let c = containers.get(key);
  if (!c) {
    if (containers.size >= MAX_CONTAINERS) return; // later instances are only counted in their step
    c = { pod: e.pod, container: e.container, container_id: e.container_id || "", restart: e.restart || 0, phase: e.phase, count: 0, errors: 0 };
    containers.set(key, c);
  }
  const lvl = classify(e);
  if (e.notice === "container_ended") {
    c.ended = e.line;
    for (const f of ["exit_code", "reason", "started_at", "finished_at", "completeness", "missing", "missing_lines"]) {
      if (e[f] !== undefined) c[f] = e[f];
    }
  } else {
    c.count++;
    c.last_line = e.line;
    c.last_ts = e.ts;
  }
  if (lvl === "error") c.errors++;
  batchesDirty = true;
}

// failedSteps are the steps with a container whose latest instance ended non-zero —
// except batches, which the diagnosis judges: a batch that recovered on a retry is
// no failure, one that failed for good is.
function failedSteps() {
  const out = new Set();
  for (const c of latestInstances()) {
    if (c.exit_code === undefined || c.exit_code === 0) continue;
    if (diagnosis && /-batch-.+-job-\d+-/.test(c.pod)) continue;
    out.add(c.phase);
  }
  if (diagnosis && diagnosis.progress && diagnosis.progress.failed > 0) out.add("running");
  return out;
}

// failedCount is how many batches (else pods) of a step failed so far.
function failedCount(name) {
  if (name === "running" && diagnosis && diagnosis.progress) return diagnosis.progress.failed;
  const pods = new Set();
  for (const c of latestInstances()) if (c.phase === name && c.exit_code !== undefined && c.exit_code !== 0) pods.add(c.pod);
  return pods.size;
}

// latestInstances: per pod and container, the instance of the highest restart number.
function latestInstances() {
  const latest = new Map();
  for (const c of containers.values()) {
    const k = c.pod + "/" + c.container;
    const o = latest.get(k);
    if (!o || (c.restart || 0) > (o.restart || 0)) latest.set(k, c);
  }
  return latest.values();
}

function renderBatches() {
  batchesDirty = false;
  const byStep = new Map();
  for (const c of containers.values()) {
    if (!/-batch-.+-job-\d+-/.test(c.pod)) continue;
    if (!byStep.has(c.phase)) byStep.set(c.phase, []);
    byStep.get(c.phase).push(c);
  }
  // Batches known from their Jobs before any pod of theirs wrote a line.
  const diagBatches = (diagnosis && diagnosis.batches) || [];
  if (diagBatches.length && !byStep.has("running")) byStep.set("running", []);
  for (const [name, list] of byStep) {
    const s = step(name);
    s.batches.hidden = false;
    const total = diagnosis && diagnosis.progress ? diagnosis.progress.batches : 0;
    const pick = (pod) => { s.selected = pod; batchesDirty = true; s.showPod(pod); };
    const table = batchTable(list, Date.now(), pick, name === "running" ? diagBatches : [], name === "running" ? total : 0, s.selected);
    // The timeline is drawn again only when the diagnosis changed (5,000 batches take
    // ~240 ms to draw, the table's refresh comes every second).
    if (name === "running" && drawnFor !== diagnosis) {
      drawn = timeline(diagBatches, Date.now(), pick);
      drawnFor = diagnosis;
    }
    const lanes = name === "running" ? drawn : null;
    s.batches.replaceChildren(...(lanes ? [lanes, table] : [table]));
  }
}

// ---- the verdict: where the run stands and why -------------------------------------

const DIAG_NOTICES = new Set(["k8s_event", "waiting", "batch", "container_ended", "command_ended"]);
const DIAG_EVERY = 3000;    // the diagnosis is read at most this often (ms)
const DIAG_PERIOD = 30000;  // and this often while the run runs (the ETA), or DIAG_EVERY while
                            // it is stuck: a stall's "no line for N s" grows with no notice
let diagTimer = 0, diagLast = 0;

// refreshDiagnosis reads the summary's diagnosis again, soon, once however many
// notices asked for it.
function refreshDiagnosis() {
  if (diagTimer) return;
  diagTimer = setTimeout(async () => {
    diagTimer = 0;
    diagLast = Date.now();
    try {
      const sum = await api.summary(jobId);
      applyDiagnosis(sum.diagnosis);
    } catch (err) {
      // the banner stays as it was
    }
  }, Math.max(0, diagLast + DIAG_EVERY - Date.now()));
}

function minutesLeft(eta) {
  const ms = Date.parse(eta) - Date.now();
  if (!(ms > 0)) return "";
  return ms < 90_000 ? "~1 min left" : "~" + Math.round(ms / 60_000) + " min left";
}

function applyDiagnosis(d) {
  if (!d) return;
  diagnosis = d;
  window.blastlogDiagnosis = d; // for debugging and tests
  batchesDirty = true;
  const box = $("verdict");
  box.hidden = false;
  box.className = "verdict " + d.state;
  $("verdict-state").textContent = d.state;
  $("headline").textContent = d.headline;
  const p = d.progress;
  $("progress").hidden = !p;
  if (p) {
    const pct = (n) => (p.batches ? (100 * n) / p.batches : 0) + "%";
    const bar = $("progress").querySelector(".bar");
    bar.querySelector(".ok").style.width = pct(p.succeeded);
    bar.querySelector(".bad").style.width = pct(p.failed);
    bar.querySelector(".run").style.width = pct(p.running);
    // The counts in the headline's words (the server says them once for the page,
    // the headline and the terminal client).
    const parts = [p.text];
    if (p.eta && minutesLeft(p.eta)) parts.push(minutesLeft(p.eta));
    $("progress-text").textContent = parts.join(" · ");
  }
  $("cost").textContent = d.cost ? d.cost.text : ""; // the server's line, as the terminal client prints it
  // A cluster left running after the run: its nodes still bill (docs/api.md §13).
  $("cluster-idle").hidden = !d.cluster_idle;
  $("cluster-idle").textContent = d.cluster_idle ? d.cluster_idle.text : "";
  const list = $("causes");
  list.replaceChildren();
  for (const c of d.causes.slice(0, 3)) {
    const li = el("li", "cause " + c.kind);
    const what = el("a", "what", (c.batch ? "batch " + c.batch + " · " : "") + (c.reason || c.kind) +
      (c.exit_code !== undefined ? " · exit " + c.exit_code : "") +
      (c.peak && c.peak.memory ? " · peak " + c.peak.memory + (c.limit && c.limit.memory ? " of " + c.limit.memory : "") :
        c.limit && c.limit.memory ? " · limit " + c.limit.memory : ""));
    what.href = c.id ? "#l-" + c.id : "#";
    what.title = c.message || "";
    what.addEventListener("click", (ev) => { ev.preventDefault(); openCause(c); });
    li.append(what, el("span", "msg", c.message || ""));
    if (c.hint) li.append(el("span", "hint", c.hint));
    list.append(li);
  }
  if (d.causes.length > 3) list.append(el("li", "more", "and " + plural(d.causes.length - 3, "more cause")));
  schedule();
}

// openCause shows a cause where it happened: its batch (row selected, its lines) or
// its line in its step.
function openCause(c) {
  const s = step(c.step || "system");
  openOnly(s);
  s.el.open = true;
  s.userToggled = true;
  activeStep = s;
  if (c.pod && /-batch-.+-job-\d+-/.test(c.pod) && c.kind !== "waiting") {
    s.selected = c.pod;
    s.top = true;
    batchesDirty = true;
    s.showPod(c.pod);
  } else if (c.id) {
    openAt(c.id);
  }
  schedule();
}

// openOnTheAnswer: a failed run opens on its first cause, once it has ended (on
// load, or when the run being watched ends).
function openOnTheAnswer() {
  if (opened || !diagnosis || !TERMINAL.has(runStatus)) return;
  opened = true;
  if (diagnosis.state !== "failed" || !diagnosis.causes.length || hashLine()) return;
  openCause(diagnosis.causes[0]);
}

// ---- events ------------------------------------------------------------------------

function onEvent(e) {
  if (DIAG_NOTICES.has(e.notice)) refreshDiagnosis();
  const s = step(stepOf(e));
  e._n = s.count(e);
  containerEvent(e);
  total++;
  if (s.name !== "system" && !s.userToggled && s.mode === "tail") openOnly(s);
  s.live(e);
  if (s.tail && s.mode !== "tail") {
    s.tail.push(e);
    if (s.tail.length > STEP_ROWS) s.tail.splice(0, s.tail.length - STEP_ROWS);
  }
  schedule();
}

// openOnly opens the live step and closes the others the user has not touched.
function openOnly(s) {
  for (const o of steps.values()) if (!o.userToggled) o.el.open = o === s;
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(render);
}

// render redraws what changed, once per frame, however fast lines come.
function render() {
  frame = 0;
  if (batchesDirty) renderBatches();
  for (const s of steps.values()) s.render();
  $("count").textContent = plural(total, "line");
}

function setBadge(text) {
  const b = $("badge");
  b.textContent = text;
  b.className = "badge " + text;
}

// ---- whole-run search ------------------------------------------------------------------

let searchQ = null, searchAfter = "", resultsShown = 0;

async function runSearch(more) {
  const q = $("q").value, issues = $("q-issues").checked;
  if (!more) {
    searchQ = { q, issues: issues ? 1 : "" };
    searchAfter = "";
    resultsShown = 0;
    $("results-list").replaceChildren();
  }
  if (!searchQ.q && !searchQ.issues) return closeResults();
  $("results").hidden = false;
  $("results-summary").textContent = "Searching…";
  const asked = searchQ;
  let page, scanned = 0;
  // A page stops after 5 s of scanning; until something matches, read on by itself.
  for (let round = 0; ; round++) {
    try {
      page = await api.search(jobId, { ...searchQ, after: searchAfter, limit: RESULTS_PAGE });
    } catch (err) {
      $("results-summary").textContent = "Search failed: " + err.message;
      return;
    }
    if (asked !== searchQ) return; // a newer search started
    searchAfter = page.next_after;
    scanned += page.scanned;
    if (page.matches.length || !page.truncated || !searchAfter || round >= SEARCH_ROUNDS) break;
    $("results-summary").textContent = "Searching… " + nf.format(scanned) + " lines scanned";
  }
  const groups = new Map();
  for (const g of $("results-list").children) groups.set(g.dataset.phase, g.querySelector("ol"));
  for (const m of page.matches) {
    if (resultsShown >= MAX_RESULTS) break;
    const name = stepOf(m);
    let ol = groups.get(name);
    if (!ol) {
      const g = el("div", "group");
      g.dataset.phase = name;
      const known = STEPS.find(([p]) => p === name);
      g.append(el("h3", "", known ? known[1] : name), (ol = el("ol")));
      $("results-list").append(g);
      groups.set(name, ol);
    }
    const li = el("li", "result " + (classify(m) || ""));
    li.dataset.id = m.id;
    const a = el("a", "", "");
    a.href = "#l-" + m.id;
    a.append(el("span", "n", String(m.line_no)), el("span", "src", m.source === "k8s" ? m.pod + "/" + m.container : m.source === "system" ? "blastlog" : "submit"), el("span", "text", m.line));
    a.addEventListener("click", (ev) => { ev.preventDefault(); openAt(m.id, m.line_no); });
    li.append(a);
    ol.append(li);
    resultsShown++;
  }
  for (const g of $("results-list").children) g.querySelector("h3").dataset.count = g.querySelectorAll("li").length;
  const more_ = page.truncated && resultsShown < MAX_RESULTS;
  $("results-summary").textContent = plural(resultsShown, "match", "matches") + (more_ ? " so far" : "") + " · " + nf.format(scanned) + " lines scanned";
  $("results-more").hidden = !more_;
}

function closeResults() {
  $("results").hidden = true;
  $("results-list").replaceChildren();
}

// ---- permalinks ------------------------------------------------------------------------

// openAt opens the line id in its step with the lines around it (from the read path,
// so a long-archived step too), highlighted; n is its line number when known.
async function openAt(id, n) {
  history.replaceState(null, "", "/?run=" + encodeURIComponent(jobId) + "#l-" + id);
  const shown = document.getElementById("l-" + id);
  if (shown && n === undefined) {
    const s = steps.get(shown.closest("details").dataset.phase);
    s.highlight = id;
    s.follow = false;
    s.el.open = true;
    s.userToggled = true;
    s.full = true;
    return schedule();
  }
  let snap;
  try {
    snap = await api.snapshot(jobId, { around: id, limit: WINDOW });
  } catch (err) {
    return failed("Opening line " + id, err);
  }
  const anchor = snap.events.find((e) => e.id === id);
  if (!anchor) return notice("Line " + id + " is not in this run (it may have been trimmed).");
  const s = step(stepOf(anchor));
  s.showWindow(snap.events, id, n || 0);
  if (!n) lineNumberOf(anchor).then((k) => { if (k) s.numberWindow(id, k); });
}

// lineNumberOf finds a line's number within its step by searching for its text.
async function lineNumberOf(e) {
  let after = "";
  for (let i = 0; i < 20; i++) {
    const page = await api.search(jobId, { q: (e.line || "").slice(0, 200), phase: e.phase || "", after, limit: 500 }).catch(() => null);
    if (!page) return 0;
    const m = page.matches.find((x) => x.id === e.id);
    if (m) return m.line_no;
    if (!page.truncated || !page.next_after || compareIds(page.next_after, e.id) >= 0) return 0;
    after = page.next_after;
  }
  return 0;
}

function hashLine() {
  const m = /^#l-(\d+-\d+)$/.exec(location.hash);
  return m ? m[1] : "";
}

// ---- start -----------------------------------------------------------------------------

// loadRuns fills the run switcher with the caller's runs and returns them; null when
// they could not be read (the notice says why).
async function loadRuns() {
  try {
    const { runs } = await api.runs(50);
    const sel = $("runs");
    const opts = runs.map((r) => {
      const o = el("option", "", r.job_id + " · " + r.status + " · " + (r.created_at || "").slice(0, 16).replace("T", " "));
      o.value = r.job_id;
      return o;
    });
    if (jobId && !runs.some((r) => r.job_id === jobId)) {
      const o = el("option", "", jobId);
      o.value = jobId;
      opts.unshift(o);
    }
    sel.replaceChildren(...opts);
    sel.value = jobId;
    return runs;
  } catch (err) {
    refused(err) || failed("Listing your runs", err);
    return null;
  }
}

// refused says so when the server did not accept the caller's sign-in (a token for
// another API, say): one sentence, the server's reason.
function refused(err) {
  if (err.status !== 401) return false;
  setBadge("stopped");
  notice("The server did not accept your sign-in: " + err.message + ".");
  return true;
}

// notYours says that the run is not the caller's (or does not exist: the server does
// not tell the two apart) and offers the caller's own newest runs.
function notYours(runs) {
  setBadge("stopped");
  const p = $("notice");
  p.replaceChildren(el("span", "", "Run " + jobId + " is not one of your runs, or it does not exist."));
  if (runs && runs.length) {
    p.append(" Your runs: ");
    runs.slice(0, 5).forEach((r, i) => {
      const a = el("a", "", r.job_id);
      a.href = "/?run=" + encodeURIComponent(r.job_id);
      p.append(i ? ", " : "", a);
    });
    p.append(".");
  } else if (runs) {
    p.append(" You have no runs yet.");
  }
  p.hidden = false;
}

function applySummary(sum) {
  runStatus = sum.status;
  for (const [name, st] of Object.entries(sum.steps || {})) {
    const s = step(name);
    s.stats = { count: st.count, errors: st.errors, warnings: st.warnings, first: st.first_ts, last: st.last_ts, lastLine: s.stats.lastLine };
  }
  containers.clear();
  for (const c of sum.containers || []) {
    containers.set(containerKey(c), { ...c });
    const s = step(c.phase || "system");
    if (c.last_ts >= (s.stats.lastTs || "")) {
      s.stats.lastLine = c.last_line;
      s.stats.lastTs = c.last_ts;
    }
  }
  batchesDirty = true;
  total = sum.count;
  const r = sum.record || {};
  $("runmeta").textContent = (r.elb_job_id ? r.elb_job_id + " · " : "") + "started " + (r.created_at || "").slice(0, 19).replace("T", " ");
}

// loadTail fills each step with its latest lines, numbered back from the summary's counts.
async function loadTail(lastId) {
  const snap = await api.snapshot(jobId, { before: idAfter(lastId), limit: TAIL_LOAD });
  const next = new Map();
  for (const [name, s] of steps) next.set(name, s.stats.count);
  for (let i = snap.events.length - 1; i >= 0; i--) {
    const e = snap.events[i];
    const name = stepOf(e);
    const n = next.get(name) || 0;
    e._n = n > 0 ? n : 0;
    next.set(name, n - 1);
  }
  for (const e of snap.events) {
    const s = step(stepOf(e));
    s.rows.push(e);
    if (!e.notice) s.stats.lastLine = e.line;
  }
  const live = newestStep();
  if (live) openOnly(live);
}

async function start() {
  document.addEventListener("keydown", onKey);
  document.addEventListener("keyup", onKeyUp);
  $("search").addEventListener("submit", (ev) => { ev.preventDefault(); runSearch(false); });
  $("results-more").addEventListener("click", () => runSearch(true));
  $("results-close").addEventListener("click", closeResults);
  $("download-run").addEventListener("click", () => download({ format: "text" }, $("download-run")));
  $("download-report").addEventListener("click", () => download(null, $("download-report"), () => api.reportCSV(jobId)));
  $("runs").addEventListener("change", () => { location.href = "/?run=" + encodeURIComponent($("runs").value); });
  window.addEventListener("hashchange", () => { const id = hashLine(); if (id) openAt(id); });

  if (cfg.signIn && !api.getToken) { // an embedding app's window.blastlogGetToken comes first
    const session = await signIn(cfg.signIn);
    if (!session) return; // on the way to the authority, or asking to sign in
    api.getToken = session.getToken;
    showUser(session);
  }
  const params = new URLSearchParams(location.search);
  jobId = params.get("run") || params.get("job") || "";
  const runs = await loadRuns();
  if (!jobId) {
    if (!runs) return;
    if (!runs.length) {
      setBadge("stopped");
      return notice("You have no runs yet. A run appears here once it starts; or open /?run=<job id>.");
    }
    jobId = runs[0].job_id;
    history.replaceState(null, "", "/?run=" + encodeURIComponent(jobId) + location.hash);
    $("runs").value = jobId;
  }
  document.title = jobId + " — Run details — blastlog";
  let sum;
  try {
    sum = await api.summary(jobId);
  } catch (err) {
    if (err.status === 404) return notYours(runs);
    if (refused(err)) return;
    setBadge("stopped");
    return failed("Reading the run", err);
  }
  applySummary(sum);
  applyDiagnosis(sum.diagnosis);
  if (sum.last_id) {
    try {
      await loadTail(sum.last_id);
    } catch (err) {
      failed("Reading the latest lines", err);
    }
  }
  openOnTheAnswer();
  schedule();
  const id = hashLine();
  if (id) openAt(id);
  const stream = new LogStream({
    jobId,
    lastEventId: sum.last_id || "",
    devUser: api.devUser,
    getToken: api.getToken,
    onEvent,
    onStatus: (e) => { onEvent(e); $("collector").textContent = " · " + e.line; },
    onGap: (g) => notice((g.lost > 0 ? g.lost.toLocaleString("en-US") + (g.lost === 1 ? " line was" : " lines were") : "Some lines were") +
      " trimmed before they were kept (after " + g.after + ")."),
    onMode: (m) => { if (m !== "completed") setBadge(m); },
    onCompleted: async (done) => {
      runStatus = done.status || "completed";
      setBadge(runStatus);
      try {
        const sum = await api.summary(jobId); // the final counts, as the server has them
        applySummary(sum);
        applyDiagnosis(sum.diagnosis);
        openOnTheAnswer();
      } catch (err) {
        // the live counts stand
      }
      schedule();
      loadRuns();
    },
  });
  stream.start();
  setInterval(() => {
    if (TERMINAL.has(runStatus)) return;
    schedule(); // running durations
    if (diagnosis && diagnosis.state === "stuck") refreshDiagnosis(); // at most every DIAG_EVERY
  }, 1000);
  setInterval(() => { if (!TERMINAL.has(runStatus)) refreshDiagnosis(); }, DIAG_PERIOD); // stuck, ETA
  window.blastlogStream = stream; // for debugging and tests
}

let slashFor = null;

function onKeyUp(ev) {
  if (ev.key === "/" && slashFor) {
    slashFor.findBox.focus();
    slashFor = null;
  }
}

// Keyboard: "/" finds in the open step, n / N next and previous match, Esc clears.
function onKey(ev) {
  const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement;
  const s = activeStep && activeStep.el.open ? activeStep : [...steps.values()].find((x) => x.el.open);
  if (ev.key === "Escape") {
    if (s) { s.findBox.value = ""; s.setFind(""); s.findBox.blur(); }
    closeResults();
    return;
  }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey || !s) return;
  if (ev.key === "/") {
    ev.preventDefault();
    activeStep = s;
    slashFor = s; // focused when the key is released: the "/" is never typed into the box

  } else if (ev.key === "n" || ev.key === "N") {
    s.nextHit(ev.key === "n" ? 1 : -1);
  }
}

start();
