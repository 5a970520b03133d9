// batches.js — the batch table: one row per ElasticBLAST batch, from the run summary's
// container entries (every attempt: the pods of one batch Job and their restarts) and
// the diagnosis's batches (the Job's state, why a batch not running yet waits).
// Failed batches come first; partial and missed containers say why.

import { el, duration } from "/static/util.js";

const POD = /^(.*?)-batch-(.+?)-job-(\d+)-/;
const ORDER = { failed: 0, running: 1, pending: 2, unknown: 3, succeeded: 4 };

const attemptText = (a) => "exit " + a.exit_code + (a.reason && a.reason !== "Error" && a.reason !== "Completed" ? " " + a.reason : "");

/** batchRows folds container instances into one row per batch; diag is the
 *  diagnosis's batches (may be empty). */
export function batchRows(list, now, diag) {
  const groups = new Map();
  for (const c of list) {
    const m = POD.exec(c.pod);
    const key = m ? m[3] : c.pod;
    if (!groups.has(key)) groups.set(key, { m, cs: [] });
    groups.get(key).cs.push(c);
  }
  const states = new Map((diag || []).map((b) => [b.batch, b]));
  const rows = [];
  for (const [key, { m, cs }] of groups) {
    // The latest pod of the batch is its current attempt.
    const started = (c) => Date.parse(c.started_at || c.last_ts || "") || 0;
    const byPod = new Map();
    for (const c of cs) {
      if (!byPod.has(c.pod)) byPod.set(c.pod, []);
      byPod.get(c.pod).push(c);
    }
    const pods = [...byPod.keys()].sort((a, b) => Math.min(...byPod.get(a).map(started)) - Math.min(...byPod.get(b).map(started)));
    const pod = pods[pods.length - 1];
    const latest = new Map();
    for (const c of byPod.get(pod)) {
      const o = latest.get(c.container);
      if (!o || (c.restart || 0) > (o.restart || 0)) latest.set(c.container, c);
    }
    const cur = [...latest.values()];
    const bad = cur.find((c) => c.exit_code !== undefined && c.exit_code !== 0);
    const d = states.get(key);
    states.delete(key);
    let state = bad ? "failed" : cur.some((c) => c.ended === undefined) ? "running" : "succeeded";
    if (d && d.state !== "unknown") state = d.state;
    const main = bad || latest.get("blast") || cur[0];
    // Every attempt of the batch's BLAST container, across its pods and restarts.
    const attempts = cs.filter((c) => c.ended !== undefined && c.exit_code !== undefined && (c.container === "blast" || !latest.has("blast")))
      .sort((a, b) => started(a) - started(b));
    const starts = cs.map(started).filter((t) => t > 0);
    const ends = cur.map((c) => Date.parse(c.finished_at || "")).filter((t) => t > 0);
    const start = starts.length ? Math.min(...starts) : NaN;
    const end = state === "running" ? now : ends.length ? Math.max(...ends) : NaN;
    const last = cs.filter((c) => c.last_ts).sort((a, b) => (a.last_ts < b.last_ts ? 1 : -1))[0];
    const lost = cs.filter((c) => c.completeness === "partial" || c.completeness === "missed");
    rows.push({
      pod,
      batch: m ? Number(m[3]) : NaN,
      db: m ? m[2] : "",
      state,
      // How it ended, once it has: a container that ended while the pod runs on says nothing yet.
      exit: state !== "running" && main && main.exit_code !== undefined ? String(main.exit_code) : "",
      reason: state === "pending" && d && d.waiting ? "waits: " + d.waiting : state !== "running" && main && main.reason ? main.reason : "",
      restarts: Math.max(0, ...cs.map((c) => c.restart || 0)),
      attempts: attempts.length > 1 || attempts.some((a) => a.exit_code !== 0) ? attempts.map(attemptText).join(" → ") : "",
      tries: attempts.length,
      duration: duration(end - start),
      peak: peakText(d),
      last: last ? last.last_line : "",
      lost: lost.map((c) => c.container + ": " + c.completeness + (c.missing ? " (" + c.missing + (c.missing_lines ? ", " + c.missing_lines + " lines" : "") + ")" : "")).join("; "),
    });
  }
  // Batches no pod of which wrote a line yet: their Job's state, and why they wait.
  for (const d of states.values()) {
    rows.push({ pod: "", batch: Number(d.batch), db: "", state: d.state, exit: "", restarts: 0, duration: "", last: "", lost: "", peak: peakText(d),
      tries: (d.attempts || []).length,
      reason: d.waiting ? "waits: " + d.waiting : "",
      attempts: (d.attempts || []).length ? d.attempts.map(attemptText).join(" → ") : "" });
  }
  rows.sort((a, b) => (ORDER[a.state] ?? 3) - (ORDER[b.state] ?? 3) || a.batch - b.batch || (a.pod < b.pod ? -1 : 1));
  return rows;
}

/** peakText is the most a batch was seen to use, as the diagnosis says it: "61.8Gi of
 *  62Gi · 14.6 cores" (sampled from the metrics API: short spikes are missed). */
function peakText(d) {
  if (!d || !d.peak) return "";
  const parts = [];
  if (d.peak.memory) parts.push(d.peak.memory + (d.limit && d.limit.memory ? " of " + d.limit.memory : ""));
  if (d.peak.cpu) parts.push(d.peak.cpu + " cores");
  return parts.join(" · ");
}

/** batchTable is the table of list's batches; total is the run's batch count when the
 *  diagnosis knows it; onPick(pod) when a row is chosen; selected is the pod to mark. */
export function batchTable(list, now, onPick, diag, total, selected) {
  const rows = batchRows(list, now, diag);
  const count = (s) => rows.filter((r) => r.state === s).length;
  const restarted = rows.filter((r) => r.restarts > 0 || r.tries > 1).length;
  const lost = rows.filter((r) => r.lost).length;
  const wrap = el("div", "batchwrap");
  const head = el("div", "batchhead");
  const all = Math.max(total || 0, rows.length);
  const parts = [count("succeeded") + " of " + all + (all === 1 ? " batch" : " batches") + " succeeded"];
  if (count("failed")) parts.push(count("failed") + " failed");
  if (count("running")) parts.push(count("running") + " running");
  if (count("pending")) parts.push(count("pending") + " pending");
  if (restarted) parts.push(restarted + " retried");
  if (lost) parts.push(lost + " with lines missing");
  head.textContent = parts.join(" · ");
  head.classList.toggle("bad", count("failed") > 0);
  const table = el("table", "batchtable");
  const thead = el("thead");
  const tr = el("tr");
  for (const h of ["batch", "db / shard", "pod", "state", "duration", "exit", "reason", "restarts", "attempts", "peak", "last line"]) tr.append(el("th", "", h));
  thead.append(tr);
  const tbody = el("tbody");
  for (const r of rows) {
    const row = el("tr", "batch " + r.state + (r.pod && r.pod === selected ? " selected" : ""));
    row.dataset.pod = r.pod;
    row.dataset.batch = Number.isNaN(r.batch) ? "" : String(r.batch).padStart(3, "0");
    const state = el("td", "bstate", r.state);
    if (r.lost) state.append(el("span", "lost", " · " + r.lost));
    const reason = el("td", "reason", r.reason);
    reason.title = r.reason;
    row.append(el("td", "num", row.dataset.batch), el("td", "", r.db), el("td", "pod", r.pod),
      state, el("td", "num", r.duration), el("td", "num", r.exit), reason, el("td", "num", r.restarts ? String(r.restarts) : ""),
      el("td", "attempts", r.attempts), el("td", "peak", r.peak), el("td", "last", r.last));
    if (r.pod) {
      row.title = "Show the lines of " + r.pod;
      row.tabIndex = 0;
      row.addEventListener("click", () => onPick(r.pod));
      row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") onPick(r.pod); });
    }
    tbody.append(row);
  }
  table.append(thead, tbody);
  wrap.append(head, table);
  return wrap;
}
