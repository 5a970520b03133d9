// util.js — small DOM and formatting helpers shared by the page's modules.

/** el makes an element with a class and text (always textContent, never HTML). */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** duration says ms in words as the server does (diagnose.Duration): "42 s", "3 min",
 * "2 h 4 min"; "" when unknown. */
export function duration(ms) {
  if (!(ms >= 0)) return "";
  const s = Math.floor(ms / 1000), m = Math.floor(s / 60);
  if (m >= 60) return Math.floor(m / 60) + " h " + (m % 60) + " min";
  if (m >= 1) return m + " min";
  return s + " s";
}
