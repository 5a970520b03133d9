// blastlog-client.js — live logs of one ElasticBLAST run, for any front end.
//
//   import { LogStream } from "/static/blastlog-client.js";
//   const s = new LogStream({
//     jobId: "run-42",
//     getToken: async () => (await msal.acquireTokenSilent(req)).accessToken, // production
//     // devUser: "00000000-0000-0000-0000-000000000000",                    // dev-bypass
//     onEvent: (e) => ..., onMode: (mode) => ..., onGap: (g) => ..., onStatus: (e) => ...,
//   });
//   s.start();
//
// It gets a single-use ticket with the caller's token, opens an EventSource, drops any
// event it has already seen (by id), and on any error closes the stream, backs off with
// jitter, gets a new ticket and resumes with last_event_id. On "completed" it closes and
// reads the rest through the snapshot endpoint. After repeated failures it polls the
// snapshot endpoint every 5 s. Modes: connecting, live, polling, completed, stopped.
//
// RunAPI reads the rest of the contract (docs/api.md §3) with the same credentials: the
// caller's runs, a run's summary, snapshot pages (after / before / around), search,
// downloads and the run's report. A 429 is retried after its Retry-After, twice at most.

const FAILURES_BEFORE_POLLING = 5;
const POLL_MS = 5000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;

/** Compares stream ids "<ms>-<seq>"; returns <0, 0, >0. */
export function compareIds(a, b) {
  const [am, as = "0"] = a.split("-");
  const [bm, bs = "0"] = b.split("-");
  if (am.length !== bm.length) return am.length - bm.length;
  if (am !== bm) return am < bm ? -1 : 1;
  if (as.length !== bs.length) return as.length - bs.length;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** An HTTP error of the API: status, the contract's error code and its message. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message || code || "HTTP " + status);
    this.status = status;
    this.code = code || "";
  }
}

const READ_RETRIES = 2;
const RETRY_AFTER_MAX_S = 10;

export class RunAPI {
  constructor(opts = {}) {
    this.base = opts.base || "";
    this.getToken = opts.getToken || null;
    this.devUser = opts.devUser || null;
  }

  async headers() {
    const h = { Accept: "application/json" };
    if (this.getToken) h.Authorization = "Bearer " + (await this.getToken());
    if (this.devUser) h["X-Dev-User"] = this.devUser;
    return h;
  }

  logsURL(jobId, action, params) {
    return this.url("/api/blast/logs/" + encodeURIComponent(jobId) + "/" + action, params);
  }

  url(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    const qs = q.toString();
    return this.base + path + (qs ? "?" + qs : "");
  }

  // fetch GETs u, retrying a 429 after its Retry-After; other failures throw APIError.
  async fetch(u, opts = {}) {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(u, { ...opts, headers: { ...(await this.headers()), ...(opts.headers || {}) } });
      if (res.ok) return res;
      if (res.status === 429 && attempt < READ_RETRIES) {
        const s = Math.min(RETRY_AFTER_MAX_S, Number(res.headers.get("Retry-After")) || 1);
        await new Promise((r) => setTimeout(r, s * 1000));
        continue;
      }
      let body = {};
      try {
        body = await res.json();
      } catch (err) {
        // not the contract's JSON error
      }
      throw new APIError(res.status, body.error, body.message);
    }
  }

  async json(u) {
    return (await this.fetch(u)).json();
  }

  runs(limit) {
    return this.json(this.url("/api/blast/runs", { limit }));
  }

  summary(jobId) {
    return this.json(this.logsURL(jobId, "summary"));
  }

  /** q: {after} | {before} | {around}, and limit. */
  snapshot(jobId, q) {
    return this.json(this.logsURL(jobId, "snapshot", q));
  }

  /** q: {q, phase, pod, stream, issues, after, limit}. */
  search(jobId, q) {
    return this.json(this.logsURL(jobId, "search", q));
  }

  /** The whole run (or q.phase) as a Blob, and the server's file name. */
  async download(jobId, q) {
    const res = await this.fetch(this.logsURL(jobId, "download", q), { headers: { Accept: "*/*" } });
    const cd = res.headers.get("Content-Disposition") || "";
    const m = /filename="([^"]+)"/.exec(cd);
    return { blob: await res.blob(), filename: m ? m[1] : jobId + "-logs.txt" };
  }

  /** The run's report (docs/api.md §13): a row per batch and its totals. */
  report(jobId) {
    return this.json(this.logsURL(jobId, "report", { format: "json" }));
  }

  /** The report's CSV as a Blob, and the server's file name. */
  async reportCSV(jobId) {
    const res = await this.fetch(this.logsURL(jobId, "report", { format: "csv" }), { headers: { Accept: "text/csv" } });
    const m = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
    return { blob: await res.blob(), filename: m ? m[1] : jobId + "-report.csv" };
  }
}

export class LogStream {
  constructor(opts) {
    this.jobId = opts.jobId;
    this.api = new RunAPI(opts);
    this.base = this.api.base;
    this.onEvent = opts.onEvent || (() => {});
    this.onStatus = opts.onStatus || (() => {});
    this.onGap = opts.onGap || (() => {});
    this.onMode = opts.onMode || (() => {});
    this.onCompleted = opts.onCompleted || (() => {});
    this.lastId = opts.lastEventId || "";
    this.failures = 0;
    this.mode = "";
    this.es = null;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.setMode("connecting");
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.closeStream();
    clearTimeout(this.timer);
    this.setMode("stopped");
  }

  setMode(m) {
    if (m !== this.mode) {
      this.mode = m;
      this.onMode(m);
    }
  }

  headers() {
    return this.api.headers();
  }

  url(action) {
    return this.api.logsURL(this.jobId, action);
  }

  // deliver hands an event on once, in id order.
  deliver(e) {
    if (!e || !e.id) return;
    if (this.lastId && compareIds(e.id, this.lastId) <= 0) return;
    this.lastId = e.id;
    if (e.source === "system" && e.notice) this.onStatus(e);
    else this.onEvent(e);
  }

  async connect() {
    if (this.stopped) return;
    let ticket;
    try {
      const res = await fetch(this.url("ticket"), { method: "POST", headers: await this.headers() });
      if (!res.ok) throw new Error("ticket: HTTP " + res.status);
      ticket = (await res.json()).ticket;
    } catch (err) {
      return this.failed(err);
    }
    let u = this.url("events") + "?ticket=" + encodeURIComponent(ticket);
    if (this.lastId) u += "&last_event_id=" + encodeURIComponent(this.lastId);
    const es = new EventSource(u);
    this.es = es;
    es.addEventListener("open", () => {
      this.failures = 0;
      this.setMode("live");
    });
    es.addEventListener("log", (m) => this.deliver(JSON.parse(m.data)));
    es.addEventListener("status", (m) => this.deliver(JSON.parse(m.data)));
    es.addEventListener("gap", (m) => this.onGap(JSON.parse(m.data)));
    es.addEventListener("completed", (m) => {
      this.closeStream();
      this.finish(JSON.parse(m.data));
    });
    // EventSource retries by itself with the used ticket, which the server refuses;
    // take over: close, back off, new ticket, resume from the last id.
    es.addEventListener("error", () => {
      if (this.es !== es) return;
      this.closeStream();
      this.failed(new Error("stream interrupted"));
    });
  }

  closeStream() {
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  failed(err) {
    if (this.stopped) return;
    this.failures++;
    if (this.failures >= FAILURES_BEFORE_POLLING) {
      this.setMode("polling");
      this.timer = setTimeout(() => this.poll(), POLL_MS);
      return;
    }
    this.setMode("connecting");
    const ceil = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.failures - 1));
    this.timer = setTimeout(() => this.connect(), ceil / 2 + Math.random() * (ceil / 2));
  }

  // snapshot reads pages after lastId until the end; returns the last page.
  async snapshot() {
    let page;
    for (let i = 0; i < 1000; i++) {
      let u = this.url("snapshot") + "?limit=2000";
      if (this.lastId) u += "&after=" + encodeURIComponent(this.lastId);
      const res = await fetch(u, { headers: await this.headers() });
      if (!res.ok) throw new Error("snapshot: HTTP " + res.status);
      page = await res.json();
      if (page.gap) this.onGap(page.gap);
      for (const e of page.events) this.deliver(e);
      if (page.events.length < 2000) break;
    }
    return page;
  }

  async poll() {
    if (this.stopped) return;
    try {
      const page = await this.snapshot();
      if (page.completed) return this.finish({ job_id: page.job_id, status: page.status });
      // Live streaming is better than polling: try it again now and then.
      if (Math.random() < 0.2) {
        this.failures = FAILURES_BEFORE_POLLING - 1;
        return this.connect();
      }
    } catch (err) {
      // keep polling
    }
    this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  async finish(done) {
    try {
      await this.snapshot(); // lines stored after the stream closed, if any
    } catch (err) {
      // the stream already delivered everything up to completion
    }
    this.setMode("completed");
    this.onCompleted(done);
  }
}
