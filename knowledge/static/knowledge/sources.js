// What the knowledge pages share about sources: an upload with progress events, kinds, sizes. The API
// calls, the DOM builder, badges and the live `task:*` follower are the front-end kit's (static/js).
// Text from documents and scraped pages is hostile: it only ever goes in through textContent and attributes.
import { ApiError, apiError, csrf } from "kit/api";

export const SOURCE_BUSY = new Set(["pending", "processing"]);
export const KIND_TEXT = { file: "File", text: "Text", url: "Web page" };

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
      else reject(apiError(xhr.status, data));
    });
    xhr.addEventListener("error", () => reject(new ApiError("The upload was interrupted; check the connection and try again.", 0)));
    xhr.addEventListener("abort", () => reject(new ApiError("The upload was cancelled.", 0)));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
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
