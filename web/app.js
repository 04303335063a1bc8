// Grove's web UI: a small single-page app over the HTTP API v1. Pages: home (builders, queue,
// workers), builder (its builds, force), build (steps and their logs, tailing while running),
// workers. Results are shown as words as well as colours.
"use strict";

const main = document.getElementById("main");
let refreshTimer = null;

const api = async (path, options) => {
  const resp = await fetch("/api/v1" + path, options);
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
};

const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick" || k === "onsubmit") el[k] = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
};

const link = (href, text) => h("a", { href, "data-nav": "" }, text);
const badge = (result, state) => {
  const word = result || state || "queued";
  return h("span", { class: "badge " + word }, word);
};
const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");
const duration = (a, b) => {
  if (!a) return "";
  const s = Math.max(0, Math.round(((b || Date.now()) - a) / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
};

function render(...nodes) {
  main.replaceChildren(...nodes);
}

async function home() {
  const [status, builders, workers] = await Promise.all([api("/status"), api("/builders"), api("/workers")]);
  document.title = status.project.name;
  render(
    h("p", { class: "summary" },
      `${status.queued_count} queued · ${status.running_count} running · ` +
      `${workers.filter((w) => w.connected).length} of ${workers.length} workers connected`),
    h("table", {},
      h("tr", {}, h("th", {}, "builder"), h("th", {}, "recent builds")),
      builders.map((b) => h("tr", {},
        h("td", {}, link(`/ui/builders/${encodeURIComponent(b.name)}`, b.name)),
        h("td", {}, b.recent_builds.map((r) =>
          h("a", { href: `/ui/builds/${r.id}`, "data-nav": "", class: "chip" }, `#${r.number} `, badge(r.result, r.state))))))));
}

async function builder(name) {
  const builds = await api(`/builders/${encodeURIComponent(name)}/builds?limit=50`);
  const form = h("form", {
    class: "force",
    onsubmit: async (e) => {
      e.preventDefault();
      const reason = form.querySelector("[name=reason]").value;
      try {
        const r = await api(`/builders/${encodeURIComponent(name)}/force`, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reason }),
        });
        form.querySelector(".msg").textContent = `request ${r.request} queued`;
        show();
      } catch (err) {
        form.querySelector(".msg").textContent = err.message;
      }
    },
  }, h("input", { name: "reason", placeholder: "reason" }), h("button", { type: "submit" }, "Force build"),
    h("span", { class: "msg", role: "status" }));
  render(h("h1", {}, name), form,
    h("table", {},
      h("tr", {}, h("th", {}, "#"), h("th", {}, "result"), h("th", {}, "worker"), h("th", {}, "started"), h("th", {}, "took")),
      builds.map((b) => h("tr", {},
        h("td", {}, link(`/ui/builds/${b.id}`, `#${b.number}`)), h("td", {}, badge(b.result, b.state)),
        h("td", {}, b.worker), h("td", {}, when(b.started_at)), h("td", {}, duration(b.started_at, b.finished_at))))));
}

const openLogs = new Map();  // "build/step" → {offset, text}

async function build(id) {
  const b = await api(`/builds/${id}`);
  const steps = b.steps.map((s) => {
    const key = `${id}/${s.number}`;
    const pre = h("pre", { class: "log" });
    const item = h("details", { "data-key": key }, h("summary", {}, badge(s.result, s.state), ` ${s.name} `,
      h("span", { class: "muted" }, `${duration(s.started_at, s.finished_at)} · ${s.log_bytes} bytes`)), pre);
    if (openLogs.has(key)) {
      item.open = true;
      pre.textContent = openLogs.get(key).text;
    }
    item.addEventListener("toggle", () => {
      if (item.open) loadLog(id, s.number, pre);
      else openLogs.delete(key);
    });
    return item;
  });
  render(h("h1", {}, link(`/ui/builders/${encodeURIComponent(b.builder)}`, b.builder), ` #${b.number} `, badge(b.result, b.state)),
    h("p", { class: "muted" }, `worker ${b.worker} · started ${when(b.started_at)} · ${duration(b.started_at, b.finished_at)}` +
      (b.reason ? ` · ${b.reason}` : "")),
    h("div", { class: "steps" }, steps));
  for (const [key] of openLogs) {
    const [bid, step] = key.split("/");
    if (bid === String(id)) loadLog(id, Number(step), main.querySelector(`[data-key="${key}"] pre`));
  }
}

// Opens a log at its tail (the last 64 KiB), then appends only what is new.
async function loadLog(id, step, pre) {
  const key = `${id}/${step}`;
  let entry = openLogs.get(key);
  const query = entry ? `offset=${entry.offset}` : "tail=65536";
  const resp = await fetch(`/api/v1/builds/${id}/steps/${step}/log?${query}`);
  if (!resp.ok) return;
  const text = await resp.text();
  const next = Number(resp.headers.get("X-Log-Next-Offset"));
  if (!entry) entry = { offset: 0, text: Number(resp.headers.get("X-Log-Offset")) > 0 ? "…\n" : "" };
  entry.text += text;
  entry.offset = next;
  openLogs.set(key, entry);
  if (pre) pre.textContent = entry.text;
}

async function workers() {
  const list = await api("/workers");
  render(h("h1", {}, "Workers"), h("table", {},
    h("tr", {}, h("th", {}, "name"), h("th", {}, "state"), h("th", {}, "tags"), h("th", {}, "jobs"), h("th", {}, "last seen")),
    list.map((w) => h("tr", {}, h("td", {}, w.name),
      h("td", {}, h("span", { class: "badge " + (w.connected ? "success" : "offline") }, w.connected ? (w.paused ? "paused" : "connected") : "offline")),
      h("td", {}, w.tags.join(", ")), h("td", {}, `${w.running.length} / ${w.capacity}`), h("td", {}, when(w.last_seen))))));
}

async function show() {
  clearTimeout(refreshTimer);
  const path = location.pathname;
  let m;
  try {
    if ((m = path.match(/^\/ui\/builders\/(.+)$/))) await builder(decodeURIComponent(m[1]));
    else if ((m = path.match(/^\/ui\/builds\/(\d+)$/))) await build(Number(m[1]));
    else if (path === "/ui/workers") await workers();
    else await home();
  } catch (err) {
    render(h("p", { class: "error", role: "alert" }, err.message));
  }
  refreshTimer = setTimeout(show, 2000);
}

document.getElementById("nav").append(link("/", "Builders"), " ", link("/ui/workers", "Workers"));
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.ctrlKey || e.metaKey) return;
  e.preventDefault();
  history.pushState(null, "", a.getAttribute("href"));
  openLogs.clear();
  show();
});
window.addEventListener("popstate", show);
show();
