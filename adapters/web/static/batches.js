// batches.js — the batch table: one row per ElasticBLAST batch job, from the run
// summary's container entries and the live container_ended notices. Failed batches
// come first; partial and missed containers say why.

import { el, duration } from "/static/util.js";

const POD = /^(.*?)-batch-(.+?)-job-(\d+)-/;
const ORDER = { failed: 0, running: 1, succeeded: 2 };

/** rows folds container instances into one row per batch pod. */
export function batchRows(list, now) {
  const pods = new Map();
  for (const c of list) {
    if (!pods.has(c.pod)) pods.set(c.pod, []);
    pods.get(c.pod).push(c);
  }
  const rows = [];
  for (const [pod, cs] of pods) {
    const m = POD.exec(pod);
    const latest = new Map();
    for (const c of cs) {
      const o = latest.get(c.container);
      if (!o || (c.restart || 0) > (o.restart || 0)) latest.set(c.container, c);
    }
    const cur = [...latest.values()];
    const bad = cur.find((c) => c.exit_code !== undefined && c.exit_code !== 0);
    const state = bad ? "failed" : cur.some((c) => c.ended === undefined) ? "running" : "succeeded";
    const main = bad || latest.get("blast") || cur[0];
    const starts = cs.map((c) => Date.parse(c.started_at || "")).filter((t) => t > 0);
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
      reason: state !== "running" && main && main.reason ? main.reason : "",
      restarts: Math.max(0, ...cs.map((c) => c.restart || 0)),
      duration: duration(end - start),
      last: last ? last.last_line : "",
      lost: lost.map((c) => c.container + ": " + c.completeness + (c.missing ? " (" + c.missing + (c.missing_lines ? ", " + c.missing_lines + " lines" : "") + ")" : "")).join("; "),
    });
  }
  rows.sort((a, b) => ORDER[a.state] - ORDER[b.state] || a.batch - b.batch || (a.pod < b.pod ? -1 : 1));
  return rows;
}

/** batchTable is the table of list's batch pods; onPick(pod) when a row is chosen. */
export function batchTable(list, now, onPick) {
  const rows = batchRows(list, now);
  const failed = rows.filter((r) => r.state === "failed").length;
  const running = rows.filter((r) => r.state === "running").length;
  const restarted = rows.filter((r) => r.restarts > 0).length;
  const lost = rows.filter((r) => r.lost).length;
  const wrap = el("div", "batchwrap");
  const head = el("div", "batchhead");
  const parts = [rows.length + (rows.length === 1 ? " batch" : " batches")];
  if (failed) parts.push(failed + " failed");
  if (running) parts.push(running + " running");
  if (restarted) parts.push(restarted + " restarted");
  if (lost) parts.push(lost + " with lines missing");
  head.textContent = parts.join(" · ");
  head.classList.toggle("bad", failed > 0);
  const table = el("table", "batchtable");
  const thead = el("thead");
  const tr = el("tr");
  for (const h of ["batch", "db / shard", "pod", "state", "duration", "exit", "reason", "restarts", "last line"]) tr.append(el("th", "", h));
  thead.append(tr);
  const tbody = el("tbody");
  for (const r of rows) {
    const row = el("tr", "batch " + r.state);
    row.dataset.pod = r.pod;
    row.title = "Show the lines of " + r.pod;
    row.tabIndex = 0;
    const state = el("td", "bstate", r.state);
    if (r.lost) state.append(el("span", "lost", " · " + r.lost));
    row.append(el("td", "num", Number.isNaN(r.batch) ? "" : String(r.batch).padStart(3, "0")), el("td", "", r.db), el("td", "pod", r.pod),
      state, el("td", "num", r.duration), el("td", "num", r.exit), el("td", "", r.reason), el("td", "num", r.restarts ? String(r.restarts) : ""),
      el("td", "last", r.last));
    row.addEventListener("click", () => onPick(r.pod));
    row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") onPick(r.pod); });
    tbody.append(row);
  }
  table.append(thead, tbody);
  wrap.append(head, table);
  return wrap;
}
