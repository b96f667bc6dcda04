// Staff: who is connected over /ws right now (every daphne process, through Redis).
const box = document.getElementById("ws-connections");

async function refresh() {
  try {
    const response = await fetch(box.dataset.url, { credentials: "same-origin" });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    const users = data.users.map((u) => `${u.username} (${u.connections})`).join(", ");
    box.textContent = data.connections
      ? `${data.connections} connection${data.connections === 1 ? "" : "s"}: ${users}`
      : "Nobody is connected.";
  } catch (error) {
    box.textContent = `Could not count connections: ${error.message}`;
  }
}

if (box) {
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 15_000);
}
