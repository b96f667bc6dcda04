// How the browser pages show a job's progress: its checklist and one line of text. The API calls, the
// DOM builder, badges and the live `task:*` follower are the front-end kit's (static/js).
import { statusText } from "kit/badges";
import { el } from "kit/dom";

export function subtaskItems(subtasks) {
  return (subtasks || []).map((task) => {
    const status = task.status || "pending";
    return el("li", { class: "subtask", "data-status": status },
      el("span", { class: "subtask-dot", "aria-hidden": "true" }),
      el("span", { class: "subtask-title", text: task.title || String(task.id ?? "") }),
      el("span", { class: "subtask-status", text: statusText(status, { kind: "subtask" }) }));
  });
}

export function progressText(state) {
  const percent = Math.round((Number(state.progress) || 0) * 100);
  switch (state.status) {
    case "pending": return "Queued, waiting for a browser…";
    case "running": return `Running… ${percent}%`;
    case "succeeded": return "Finished.";
    case "failed": return "Failed.";
    case "cancelled": return "Cancelled.";
    default: return state.status || "";
  }
}
