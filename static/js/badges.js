/*
 * The status badges every page draws: a status word → its colour class and its label.
 * Jobs (pending, running, succeeded, failed, cancelled), knowledge sources (processing, ready),
 * backends (up, down, disabled) and circuit breakers (closed, open, half_open) share one mapping.
 *
 *   import { badge, setBadge, FINISHED } from "kit/badges";
 *   row.append(badge(job.status));          // <span class="badge badge-accent">running</span>
 *   setBadge(node, "half_open", { kind: "circuit" });
 */

export const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

const TONE = {
  pending: "neutral",
  running: "accent",
  processing: "accent",
  succeeded: "success",
  ready: "success",
  up: "success",
  loaded: "success",
  failed: "danger",
  down: "danger",
  cancelled: "warning",
  skipped: "neutral",
  disabled: "neutral",
  unknown: "neutral",
};

// The same words mean something else on a circuit breaker: "open" lets nothing through.
const KINDS = {
  circuit: { tone: { closed: "success", open: "danger", half_open: "warning" }, text: { half_open: "half-open" } },
  subtask: { tone: {}, text: { pending: "waiting", succeeded: "done" } },
};

/** "badge-success" and so on; unknown words are neutral. */
export function badgeClass(status, { kind = "" } = {}) {
  const tone = (KINDS[kind] && KINDS[kind].tone[status]) || TONE[status] || "neutral";
  return `badge-${tone}`;
}

/** The word shown for a status. */
export function statusText(status, { kind = "" } = {}) {
  return (KINDS[kind] && KINDS[kind].text[status]) || status || "unknown";
}

export function setBadge(node, status, { kind = "", text = null } = {}) {
  node.className = `badge ${badgeClass(status, { kind })}`;
  node.textContent = text ?? statusText(status, { kind });
  return node;
}

export function badge(status, options = {}) {
  return setBadge(document.createElement("span"), status, options);
}
