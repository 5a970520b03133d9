// rules.js — the error/warning keyword rules (docs/api.md §3, "Errors and warnings"), the same
// as the server's (core/summary.Classify), so that the page's live counts continue the
// summary's exactly.

const EXIT_PHRASES = ["exit code ", "exit status ", "exited with ", "exit code: ", "exit_code="];

/** "error", "warning" or "" for an event. */
export function classify(e) {
  const l = e.line || "";
  switch (e.notice || "") {
    case "":
    case "container_ended":
      break;
    case "k8s_event": // a Kubernetes Warning event
      return !e.type || e.type === "Warning" ? "warning" : "";
    case "waiting": // a pod waiting for a reason
      return e.reason ? "warning" : "";
    default:
      return "";
  }
  if (l.includes("ERROR") || l.includes("Error:") || l.includes("FATAL") || l.includes("Traceback") || nonZeroExit(l)) {
    return "error";
  }
  if (e.notice) return "";
  if (l.includes("WARN") || asciiLower(l).includes("warning:")) return "warning";
  return "";
}

// asciiLower lowers A-Z only, as the server's ASCII case folding does.
function asciiLower(s) {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function nonZeroExit(l) {
  const low = asciiLower(l);
  for (const p of EXIT_PHRASES) {
    for (let from = 0; ; ) {
      const i = low.indexOf(p, from);
      if (i < 0) break;
      from = i + p.length;
      const m = /^[0-9]+/.exec(l.slice(from));
      if (m && /[1-9]/.test(m[0])) return true;
    }
  }
  return false;
}

/** The summary step of an event: its phase, or "system". */
export function stepOf(e) {
  return e.phase || "system";
}
