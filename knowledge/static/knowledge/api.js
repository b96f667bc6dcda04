// What the knowledge pages share: JSON calls (GET/POST/PATCH/DELETE with the CSRF header), an
// upload with progress events, source badges and sizes. The DOM builder, time formatting and the
// live `task:*` follower come from the browser pages' module. Text from documents and scraped
// pages is hostile: it only ever goes in through textContent and attributes.
import { FINISHED, TaskFollower, csrf, el, formatTime } from "../browser/common.js";

export { FINISHED, TaskFollower, el, formatTime };

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function errorFrom(status, data) {
  if (data && data.error) return new ApiError(String(data.error), status);
  if (status === 413) return new ApiError("The server refused the request: it is too large.", status);
  return new ApiError(`The server answered ${status}.`, status);
}

export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  const options = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-CSRFToken"] = csrf();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new ApiError("The server could not be reached; check the connection and try again.", 0);
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    /* an empty or non-JSON body (204, a proxy's error page) */
  }
  if (!response.ok) throw errorFrom(response.status, data);
  return data;
}

/**
 * POSTs one file as multipart `file` with XMLHttpRequest, the only API with upload progress.
 * `onProgress(fraction)` gets 0..1; resolves with the JSON answer, rejects with an ApiError.
 */
export function uploadFile(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      const data = xhr.response && typeof xhr.response === "object" ? xhr.response : {};
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(errorFrom(xhr.status, data));
    });
    xhr.addEventListener("error", () => reject(new ApiError("The upload was interrupted; check the connection and try again.", 0)));
    xhr.addEventListener("abort", () => reject(new ApiError("The upload was cancelled.", 0)));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

/** Points a URL template like /knowledge/api/sources/0 at an object. */
export function urlFor(template, id) {
  return template.replace(/\/0(\/|$)/, `/${Number(id)}$1`);
}

const SOURCE_BADGE = { pending: "badge-neutral", processing: "badge-accent", ready: "badge-success", failed: "badge-danger" };
export const SOURCE_BUSY = new Set(["pending", "processing"]);
export const KIND_TEXT = { file: "File", text: "Text", url: "Web page" };

export function setSourceBadge(node, status) {
  node.className = `badge ${SOURCE_BADGE[status] || "badge-neutral"}`;
  node.textContent = status || "unknown";
}

export function formatBytes(bytes) {
  const value = Number(bytes) || 0;
  if (value < 1024) return `${value} bytes`;
  const units = ["KB", "MB", "GB"];
  let size = value / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size >= 10 ? size.toFixed(0) : size.toFixed(1)} ${units[unit]}`;
}

export function percent(fraction) {
  return `${Math.round(Math.min(1, Math.max(0, Number(fraction) || 0)) * 100)}%`;
}

export function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

export { localTimes } from "../js/time.js";
