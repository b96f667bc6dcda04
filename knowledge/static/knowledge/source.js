// A source's page: follow its ingestion live (the page reloads when it ends), re-scrape, delete.
import { api } from "kit/api";
import { FINISHED, setBadge } from "kit/badges";
import { confirmDialog } from "kit/confirm";
import { showError } from "kit/dom";
import { scriptReady } from "kit/ready";
import { TaskFollower } from "kit/tasks";
import { localTimes } from "kit/time";
import { percent } from "./sources.js";

const root = document.getElementById("kb-source");
const $ = (id) => document.getElementById(id);
const data = root.dataset;

localTimes(root);

function onUpdate(state) {
  if (FINISHED.has(state.status)) {
    location.reload();
    return;
  }
  if (state.status === "running") setBadge($("source-status"), "processing");
  $("source-progress").value = Number(state.progress) || 0;
  const running = (state.subtasks || []).find((task) => task.status === "running");
  $("source-progress-label").textContent = state.status === "running"
    ? `${running && running.title ? running.title : "Processing"}… ${percent(state.progress)}`
    : "Queued…";
}

const follower = new TaskFollower(onUpdate);
if ((data.status === "pending" || data.status === "processing") && data.jobId) follower.follow(data.jobId);

$("source-rescrape")?.addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  showError($("source-action-error"), "");
  try {
    const answer = await api("POST", `${data.sourceApi}/rescrape`);
    setBadge($("source-status"), "pending");
    $("source-live").hidden = false;
    $("source-progress").value = 0;
    $("source-progress-label").textContent = "Queued…";
    follower.follow(answer.job_id);
  } catch (error) {
    showError($("source-action-error"), error.message);
    button.disabled = false;
  }
});

$("source-delete").addEventListener("click", async (event) => {
  if (!(await confirmDialog({ title: "Delete this source?", message: "Its chunks go with it; this cannot be undone.",
    confirmLabel: "Delete", danger: true }))) return;
  const button = event.currentTarget;
  button.disabled = true;
  showError($("source-action-error"), "");
  try {
    await api("DELETE", data.sourceApi);
    location.assign(data.kbUrl);
  } catch (error) {
    showError($("source-action-error"), error.message);
    button.disabled = false;
  }
});
scriptReady();
