// The task history: filters apply as soon as a list changes, and the rows of tasks still running follow
// their jobs over /ws (status and progress), filling in the confidence when they end.
import { api, urlFor } from "kit/api";
import { FINISHED, setBadge } from "kit/badges";
import { TaskFollower } from "kit/tasks";
import { localTimes } from "kit/time";
import { percent } from "./common.js";

const root = document.getElementById("task-history");
const app = document.querySelector(".orch-app");
localTimes(root);

for (const select of root.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}

const rows = new Map();
for (const row of root.querySelectorAll("#task-rows tr[data-job-id]")) {
  if (row.dataset.jobId && !FINISHED.has(row.dataset.status)) rows.set(Number(row.dataset.jobId), row);
}

async function onUpdate(state) {
  const row = rows.get(state.task_id);
  if (!row) return;
  const progress = row.querySelector("progress");
  if (progress) progress.value = Number(state.progress) || 0;
  if (!FINISHED.has(state.status)) {
    setBadge(row.querySelector("[data-status-badge]"), state.status);
    return;
  }
  rows.delete(state.task_id);
  try {
    const { task } = await api("GET", urlFor(root.dataset.taskApi, row.dataset.taskId));
    setBadge(row.querySelector("[data-status-badge]"), task.status);
    row.dataset.status = task.status;
    row.querySelector("[data-confidence]").textContent = task.confidence != null ? percent(task.confidence) : "—";
  } catch {
    setBadge(row.querySelector("[data-status-badge]"), state.status);
  }
  if (progress) progress.remove();
  document.getElementById("history-live").textContent = `Task #${row.dataset.taskId} ${state.status}.`;
}

if (rows.size) {
  const follower = new TaskFollower(onUpdate);
  for (const jobId of rows.keys()) follower.follow(jobId);
}
