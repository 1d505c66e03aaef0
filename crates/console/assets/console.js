// Live parts of the console, without a framework: pages marked data-refresh reload their
// main content every N seconds, and the change feed follows server-sent events. Both stop
// while the tab is hidden and catch up when it is shown again.
"use strict";

(function () {
  const main = document.getElementById("main");

  function refreshable() {
    const seconds = Number(main && main.dataset.refresh);
    if (!seconds) return;
    let timer = null;
    async function refresh() {
      // A form being filled in is never replaced under the user's fingers.
      if (document.activeElement && main.contains(document.activeElement) &&
          document.activeElement.matches("input, textarea, select")) return;
      try {
        const response = await fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
        if (!response.ok || response.redirected) return;
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById("main");
        if (fresh) main.replaceChildren(...fresh.childNodes);
      } catch (_) {
        // Offline for a moment: the next tick tries again.
      }
    }
    function start() { if (!timer) timer = setInterval(refresh, seconds * 1000); }
    function stop() { clearInterval(timer); timer = null; }
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) { stop(); } else { refresh(); start(); }
    });
    if (!document.hidden) start();
  }

  function feed() {
    const table = document.getElementById("changes");
    if (!table || !window.EventSource) return;
    const status = document.getElementById("live-status");
    const body = table.tBodies[0];
    let source = null;
    let after = new URL(table.dataset.stream, location.href).searchParams.get("after") || "0";
    function cell(text) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); return td; }
    function open() {
      if (source) return;
      source = new EventSource("/changes/events?after=" + encodeURIComponent(after));
      source.onopen = () => { status.textContent = "Live: new changes appear as they commit."; };
      source.onmessage = (event) => {
        const row = JSON.parse(event.data);
        after = String(row.id);
        const tr = document.createElement("tr");
        const link = document.createElement("a");
        link.href = "/objects/" + encodeURIComponent(row.object_id);
        link.textContent = row.object_id;
        const objectCell = document.createElement("td");
        objectCell.append(link);
        tr.append(cell(row.id), objectCell, cell(row.object_type), cell(row.op), cell(row.event_type), cell(row.committed_at));
        body.prepend(tr);
        while (body.rows.length > 200) body.deleteRow(-1);
      };
      source.onerror = () => { status.textContent = "Reconnecting…"; };
    }
    function close() {
      if (source) { source.close(); source = null; }
      status.textContent = "Paused while the tab is hidden.";
    }
    document.addEventListener("visibilitychange", () => { if (document.hidden) close(); else open(); });
    if (!document.hidden) open();
  }

  refreshable();
  feed();
})();
