// Grove's web UI: a single-page app over the HTTP API v1, in plain modern JavaScript.
//
// Pages: home, builder, build (steps, logs, tests, artifacts), workers, changes, grid,
// schedules, masters, login. Live: the page listens to the master's Server-Sent Events
// (/api/v1/events) and re-reads what it shows when something it shows changed; open logs grow
// from their tail. When the event stream is down the page polls every 5 s instead. With several
// masters the stream also carries the others' changes; a "resync" event re-reads any page.
// Results are written as words with a symbol, so colour is never the only signal.
"use strict";

const main = document.getElementById("main");
const me = { user: null, role: null, auth_required: false, csrf: null };
let page = null;        // { key, render(), onEvent(ev) }
let refreshTimer = null;
let live = false;

// ---------- helpers ----------

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const opts = { ...options, headers: { ...(options.headers || {}) } };
  if (opts.method && opts.method !== "GET") {
    opts.headers["Content-Type"] = "application/json";
    if (me.csrf) opts.headers["X-CSRF-Token"] = me.csrf;
  }
  const resp = await fetch("/api/v1" + path, opts);
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(resp.status, body.error || resp.statusText);
  return body;
}
// An endpoint another part of Grove may not provide yet: null when it is absent.
const optional = (path) => api(path).catch((e) => (e.status === 404 || e.status === 405 ? null : Promise.reject(e)));
const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body || {}) });

const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el[k] = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
};
const link = (href, text, attrs = {}) => h("a", { href, "data-nav": "", ...attrs }, text);
const enc = encodeURIComponent;

const SYMBOL = { success: "✔", warnings: "⚠", failure: "✘", skipped: "⤼", exception: "‼", retry: "↻",
  cancelled: "⊘", running: "▶", queued: "…", claimed: "…", offline: "○", connected: "●", paused: "⏸" };
const badge = (result, state) => {
  const word = result || state || "queued";
  return h("span", { class: "badge " + word, title: word }, `${SYMBOL[word] || "•"} ${word}`);
};
const when = (ms) => (ms ? new Date(ms).toLocaleString() : "");
const secs = (s) => (s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`);
// A duration that keeps counting while its end is unknown (the ticker updates [data-since]).
const duration = (a, b) => {
  if (!a) return "";
  if (!b) return h("span", { "data-since": a }, secs(Math.max(0, Math.round((Date.now() - a) / 1000))));
  return secs(Math.max(0, Math.round((b - a) / 1000)));
};
const bytes = (n) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : n < 1 << 30 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1073741824).toFixed(2)} GiB`);
const can = (role) => ({ viewer: 1, developer: 2, admin: 3 }[me.role] || 0) >= ({ viewer: 1, developer: 2, admin: 3 }[role]);

function render(...nodes) { main.replaceChildren(...nodes); }
function flash(el, text, ok = true) { el.textContent = text; el.className = "msg " + (ok ? "ok" : "bad"); }
function table(headers, rows) {
  return h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows)));
}
// A button that calls |fn| and shows its outcome in |msg|.
function action(label, fn, msg, attrs = {}) {
  return h("button", { type: "button", ...attrs, onclick: async (e) => {
    e.target.disabled = true;
    try { const text = await fn(); if (msg) flash(msg, text || "done"); } catch (err) { if (msg) flash(msg, err.message, false); else alert(err.message); }
    e.target.disabled = false;
  } }, label);
}

// ---------- charts: inline SVG, drawn from data the page already has ----------

const SVG_NS = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}, ...children) => {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children.flat()) if (c != null) e.append(c);
  return e;
};
const seconds = (s) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(s < 10 ? 1 : 0)} s`);

// Lines over time: |series| = [{ name, cls, points: [[t_ms, value], …] }]; the y axis starts at 0.
function lineChart(title, series, { width = 360, height = 90 } = {}) {
  const all = series.flatMap((s) => s.points);
  if (all.length < 1) return null;
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const top = Math.max(1, ...all.map((p) => p[1]));
  const pad = 4, w = width - 2 * pad, hgt = height - 2 * pad;
  const x = (t) => pad + (t1 > t0 ? ((t - t0) / (t1 - t0)) * w : w);
  const y = (v) => pad + hgt - (v / top) * hgt;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img", "aria-label": title },
    svg("title", {}, title),
    svg("line", { class: "axis", x1: pad, y1: pad + hgt, x2: pad + w, y2: pad + hgt }),
    series.map((s) => svg("polyline", { class: `line ${s.cls}`, "data-series": s.name, fill: "none",
      points: s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ") })),
    // The latest value as a dot: visible even while the hour has a single sample.
    series.filter((s) => s.points.length).map((s) => {
      const last = s.points[s.points.length - 1];
      return svg("circle", { class: `dot ${s.cls}`, cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 2.5 });
    }));
  const legend = h("div", { class: "legend" }, series.map((s) => h("span", { class: `key ${s.cls}` }, `${s.name} (now ${s.points.length ? s.points[s.points.length - 1][1] : 0}, max ${Math.max(0, ...s.points.map((p) => p[1]))})`)));
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), chart, legend);
}

// One bar per build (oldest left), its height the duration, its colour the result.
function durationChart(title, builds, { width = 360, height = 90 } = {}) {
  const done = builds.filter((b) => b.finished_at && b.started_at).slice().reverse();
  if (!done.length) return null;
  const secs = done.map((b) => (b.finished_at - b.started_at) / 1000);
  const top = Math.max(...secs, 0.001);
  const pad = 4, w = width - 2 * pad, hgt = height - 2 * pad, bw = Math.min(w / done.length, 24);  // a few builds: narrow bars, left
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img", "aria-label": title },
    svg("title", {}, title),
    svg("line", { class: "axis", x1: pad, y1: pad + hgt, x2: pad + w, y2: pad + hgt }),
    done.map((b, i) => {
      const bh = Math.max(1, (secs[i] / top) * hgt);
      const result = typeof b.result === "string" ? b.result : "";
      return svg("a", { href: `/ui/builds/${b.id}` }, svg("rect", { class: `bar ${result}`, "data-build": b.number,
        x: (pad + i * bw + bw * 0.1).toFixed(1), width: Math.max(1, bw * 0.8).toFixed(1), y: (pad + hgt - bh).toFixed(1), height: bh.toFixed(1) },
        svg("title", {}, `#${b.number}: ${seconds(secs[i])} (${result})`)));
    }));
  const avg = secs.reduce((a, b) => a + b, 0) / secs.length;
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), chart,
    h("div", { class: "legend" }, `last ${done.length} builds: average ${seconds(avg)}, longest ${seconds(top)}`));
}

// ---------- pages ----------

// A page of a paged list: its items and the X-Total-Count the master sends with them.
async function apiPage(path) {
  const resp = await fetch("/api/v1" + path);
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiError(resp.status, body.error || resp.statusText);
  return { items: body, total: Number(resp.headers.get("X-Total-Count") || body.length) };
}

// The builders list of the home page and the grid, a page at a time, filtered on the master
// (thousands of builders): ?q= and ?offset= live in the page's URL.
const BUILDERS_PAGE = 100;
function builderListQuery() {
  const params = new URLSearchParams(location.search);
  const q = params.get("q") || "";
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  return { q, offset, path: `/builders?view=summary&limit=${BUILDERS_PAGE}&offset=${offset}${q ? `&q=${enc(q)}` : ""}` };
}
function builderFilter(q) {
  let timer = null;
  return h("input", { type: "search", placeholder: "filter builders", class: "filter", value: q, "aria-label": "filter builders",
    oninput: (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const v = e.target.value.trim();
        history.replaceState(null, "", location.pathname + (v ? `?q=${enc(v)}` : ""));
        show(true);
      }, 250);
    } });
}
function builderPager(offset, shown, total, q) {
  if (total <= BUILDERS_PAGE) return null;
  const at = (o) => location.pathname + "?" + new URLSearchParams({ ...(q ? { q } : {}), ...(o ? { offset: o } : {}) });
  return h("nav", { class: "pager" }, offset > 0 ? link(at(Math.max(0, offset - BUILDERS_PAGE)), "← previous") : null,
    ` ${offset + 1}–${offset + shown} of ${total} `,
    offset + shown < total ? link(at(offset + BUILDERS_PAGE), "next →") : null);
}

// Three calls, whatever the number of builders: the counts, one page of builders, the running builds.
async function home() {
  const list = builderListQuery();
  const [status, builders, running] = await Promise.all([api("/status"), apiPage(list.path), api("/running")]);
  document.title = status.project.name;
  const filter = builderFilter(list.q);
  return {
    key: "home",
    node: [
      h("h1", {}, status.project.name),
      mastersBanner(status.masters),
      h("p", { class: "summary", id: "summary" },
        h("span", {}, h("b", { id: "queued-count" }, status.queued_count), " queued"), " · ",
        h("span", {}, h("b", {}, status.running_count), " running"), " · ",
        h("span", {}, h("b", {}, status.workers_connected), " workers connected"), " · ",
        h("span", {}, h("b", {}, status.builders_count ?? builders.total), " builders")),
      (status.history || []).length ? h("section", { class: "charts" }, lineChart("Queue and busy workers, last hour", [
        { name: "queued", cls: "queued", points: status.history.map((p) => [p.at, p.queued]) },
        { name: "busy workers", cls: "busy", points: status.history.map((p) => [p.at, p.workers_busy]) },
      ])) : null,
      running.length ? h("section", {}, h("h2", {}, "Running"), table(["build", "worker", "elapsed"],
        running.map((b) => h("tr", {}, h("td", {}, link(`/ui/builds/${b.id}`, `${b.builder} #${b.number}`)),
          h("td", {}, b.worker), h("td", {}, duration(b.started_at, null)))))) : null,
      h("section", {}, h("h2", {}, "Builders"), filter,
        table(["builder", "last builds (newest first)"], builders.items.map((b) => h("tr", { "data-builder": b.name },
          h("td", {}, link(`/ui/builders/${enc(b.name)}`, b.name)),
          h("td", { class: "chips" }, b.recent_builds.length ? b.recent_builds.map((r) =>
            link(`/ui/builds/${r.id}`, [`#${r.number} `, badge(r.result, r.state)], { class: "chip" })) : h("span", { class: "muted" }, "no builds yet"))))),
        builderPager(list.offset, builders.items.length, builders.total, list.q)),
    ],
    onEvent: (ev) => ["build", "request", "worker", "masters"].includes(ev.type),
    keep: filter,
  };
}

// Several masters share the store (GET /api/v1/status's "masters"): flagged on the home page when
// their configurations differ, without a call of its own.
function mastersBanner(summary) {
  if (!summary || !summary.config_hashes_differ) return null;
  return h("p", { class: "banner", role: "alert", id: "config-differs" },
    "⚠ The masters run different configurations (reloaded one but not the others?). ",
    link("/ui/masters", "See the masters"));
}

// The masters sharing this store: who is alive, what each holds, whose configuration differs.
async function masters() {
  const view = await api("/masters");
  const list = view.masters || [];
  const state = (m) => (m.state === "active" ? "connected" : "offline");
  return {
    key: "masters",
    node: [h("h1", {}, "Masters"),
      view.config_hashes_differ ? h("p", { class: "banner", role: "alert" },
        "⚠ The active masters do not all run the same configuration: reload each master's grove.lua (grove reconfig) so they agree.") : null,
      list.length === 0 ? h("p", { class: "muted" }, "No master has reported yet.")
        : table(["name", "url", "state", "last seen", "leases", "configuration"], list.map((m) =>
          h("tr", { "data-master": m.name, class: m.config_differs ? "differs" : null },
            h("td", {}, m.name, m.self ? h("span", { class: "muted" }, " (this one)") : null),
            h("td", {}, m.url ? h("a", { href: m.url }, m.url) : ""),
            h("td", {}, h("span", { class: "badge " + state(m) }, `${SYMBOL[state(m)]} ${m.state}`)),
            h("td", { title: when(m.last_seen) }, m.last_seen ? [duration(m.last_seen, null), " ago"] : "never"),
            h("td", {}, (m.leases || []).length ? m.leases.join(", ") : h("span", { class: "muted" }, "none")),
            h("td", {}, m.config_differs ? h("span", { class: "badge warnings", title: "this master's configuration differs from the others'" }, "⚠ differs")
              : h("span", { class: "muted" }, "same"), " ", h("code", { title: m.config_hash }, String(m.config_hash || "").slice(0, 12))))))],
    onEvent: (ev) => ev.type === "masters",
    // Events come when a master comes or goes or a lease moves; the heartbeats are read anew.
    every: 5000,
  };
}

async function builder(name) {
  const before = Number(new URLSearchParams(location.search).get("before") || 0);
  const [builds, queued, schedulers] = await Promise.all([
    api(`/builders/${enc(name)}/builds?limit=25${before ? `&before=${before}` : ""}`),
    optional(`/builders/${enc(name)}/requests`),
    optional("/schedulers"),
  ]);
  const params = [];
  for (const s of schedulers || []) if (s.kind === "force" && (s.builders || []).includes(name)) params.push(...(s.params || []));
  const msg = h("span", { class: "msg", role: "status" });
  const fields = params.map((p) => {
    const id = `param-${p.name}`;
    const input = p.choices && p.choices.length
      ? h("select", { id, name: p.name, required: p.required }, p.choices.map((c) => h("option", { value: c, selected: String(p.default) === c }, c)))
      : h("input", { id, name: p.name, required: p.required, value: p.default == null ? "" : String(p.default) });
    return h("label", { for: id }, p.name + (p.required ? " *" : ""), input);
  });
  const free = params.length ? null : h("label", { for: "props" }, "properties (NAME=VALUE, one a line)", h("textarea", { id: "props", name: "props", rows: 2 }));
  const form = h("form", { class: "force", onsubmit: async (e) => {
    e.preventDefault();
    const properties = {};
    for (const p of params) properties[p.name] = form.elements[p.name].value;
    if (free) for (const line of form.elements.props.value.split("\n")) {
      const eq = line.indexOf("=");
      if (eq > 0) properties[line.slice(0, eq).trim()] = line.slice(eq + 1);
    }
    try {
      const r = await post(`/builders/${enc(name)}/force`, { reason: form.elements.reason.value, properties });
      flash(msg, `request ${r.request} queued`);
    } catch (err) { flash(msg, err.message, false); }
  } },
  h("h2", {}, "Force a build"),
  h("label", { for: "reason" }, "reason", h("input", { id: "reason", name: "reason", placeholder: "why" })),
  fields, free, h("button", { type: "submit", disabled: !can("developer") }, "Force build"),
  can("developer") ? null : h("span", { class: "muted" }, " (log in as a developer to force builds)"), msg);

  const rowMsg = h("span", { class: "msg", role: "status" });
  const oldest = builds.length ? builds[builds.length - 1].number : 0;
  return {
    key: `builder:${name}`,
    node: [
      h("h1", {}, name),
      before ? null : h("section", { class: "charts" }, durationChart("Build duration, last builds", builds)),
      form, rowMsg,
      queued && queued.length ? h("section", {}, h("h2", {}, `Queued (${queued.length})`), table(["request", "reason", "submitted", ""],
        queued.map((r) => h("tr", {}, h("td", {}, `#${r.id}`), h("td", {}, r.reason), h("td", {}, when(r.submitted_at)),
          h("td", {}, can("developer") ? action("Cancel", async () => { await post(`/requests/${r.id}/cancel`); return `request ${r.id} cancelled`; }, rowMsg) : null))))) : null,
      h("section", {}, h("h2", {}, "Builds"), table(["#", "result", "worker", "started", "took", ""],
        builds.map((b) => h("tr", {}, h("td", {}, link(`/ui/builds/${b.id}`, `#${b.number}`)), h("td", {}, badge(b.result, b.state)),
          h("td", {}, b.worker), h("td", {}, when(b.started_at)), h("td", {}, duration(b.started_at, b.finished_at)),
          h("td", {}, can("developer") ? (b.state === "running"
            ? action("Stop", async () => { await post(`/builds/${b.id}/stop`); return `stopping #${b.number}`; }, rowMsg)
            : action("Rebuild", async () => { const r = await post(`/builds/${b.id}/rebuild`); return `request ${r.request} queued`; }, rowMsg)) : null)))),
        h("nav", { class: "pager" }, before ? link(`/ui/builders/${enc(name)}`, "⇤ newest") : null, " ",
          builds.length === 25 && oldest > 1 ? link(`/ui/builders/${enc(name)}?before=${oldest}`, "older →") : null)),
    ],
    onEvent: (ev) => ev.builder === name,
    keep: form,
  };
}

// Log viewers survive re-renders of their build page: key "build/step" → viewer.
const viewers = new Map();

// A window on a step's log: opens at the tail, pages backwards on demand, follows new output.
// Only the bytes between |start| and |end| are ever fetched.
class LogViewer {
  constructor(build, step) {
    this.build = build; this.step = step; this.start = 0; this.end = 0; this.size = 0; this.busy = false;
    this.pre = h("pre", { class: "log", tabindex: 0 });
    this.more = h("button", { type: "button", class: "earlier", hidden: true, onclick: () => this.earlier() }, "load earlier");
    this.info = h("span", { class: "muted" });
    this.el = h("div", { class: "logview" }, h("div", {}, this.more, " ", this.info,
      " ", h("a", { href: `/api/v1/builds/${build}/steps/${step}/log?tail=16777216`, target: "_blank" }, "raw tail")), this.pre);
  }
  async fetch(query) {
    const resp = await fetch(`/api/v1/builds/${this.build}/steps/${this.step}/log?${query}`);
    if (!resp.ok) throw new Error(`log: ${resp.status}`);
    return { text: await resp.text(), from: Number(resp.headers.get("X-Log-Offset")),
      next: Number(resp.headers.get("X-Log-Next-Offset")), size: Number(resp.headers.get("X-Log-Size")) };
  }
  update() {
    this.more.hidden = this.start <= 0;
    this.info.textContent = `showing ${bytes(this.end - this.start)} of ${bytes(this.size)}`;
  }
  async open() {
    if (this.opened) return this.follow();
    this.opened = true;
    const r = await this.fetch("tail=65536");
    this.start = r.from; this.end = r.next; this.size = r.size;
    this.pre.textContent = r.text;
    this.update();
    this.pre.scrollTop = this.pre.scrollHeight;
  }
  async earlier() {
    if (this.busy || this.start <= 0) return;
    this.busy = true;
    const from = Math.max(0, this.start - 262144);
    const r = await this.fetch(`offset=${from}&limit=${this.start - from}`);
    const height = this.pre.scrollHeight;
    this.pre.textContent = r.text + this.pre.textContent;
    this.start = from;
    this.pre.scrollTop += this.pre.scrollHeight - height;
    this.update();
    this.busy = false;
  }
  async follow() {
    if (!this.opened || this.busy) return;
    this.busy = true;
    try {
      const atBottom = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 4;
      for (let i = 0; i < 16; i++) {
        const r = await this.fetch(`offset=${this.end}&limit=1048576`);
        this.size = r.size;
        if (!r.text.length) break;
        this.pre.append(r.text);
        this.end = r.next;
        if (this.end >= this.size) break;
      }
      // Keep the page light: a followed log holds at most its last 4 MiB.
      if (this.end - this.start > 4 << 20) {
        const text = this.pre.textContent;
        const cut = text.length - (2 << 20);
        this.pre.textContent = text.slice(cut);
        this.start = this.end - new TextEncoder().encode(this.pre.textContent).length;
      }
      if (atBottom) this.pre.scrollTop = this.pre.scrollHeight;
      this.update();
    } finally { this.busy = false; }
  }
}

async function build(id) {
  const [b, tests, artifacts, notices] = await Promise.all([api(`/builds/${id}`), optional(`/builds/${id}/tests`), optional(`/builds/${id}/artifacts`), optional(`/builds/${id}/notifications`)]);
  const msg = h("span", { class: "msg", role: "status" });
  const steps = b.steps.map((s) => {
    const key = `${id}/${s.number}`;
    let v = viewers.get(key);
    const item = h("details", { "data-step": s.number, open: v && v.opened },
      h("summary", {}, badge(s.result, s.state), " ", h("b", {}, s.name || `step ${s.number}`), " ",
        h("span", { class: "muted" }, duration(s.started_at, s.finished_at), ` · ${bytes(s.log_bytes)}, ${s.log_lines} lines`)));
    if (v) item.append(v.el);
    item.addEventListener("toggle", () => {
      if (!item.open) return;
      if (!viewers.has(key)) { v = new LogViewer(id, s.number); viewers.set(key, v); item.append(v.el); }
      viewers.get(key).open().catch((e) => flash(msg, e.message, false));
    });
    return item;
  });
  const props = Object.entries(b.properties || {});
  const source = b.source && Object.keys(b.source).length ? b.source : null;
  const testsBlock = tests && tests.total ? h("section", {}, h("h2", {}, "Tests"),
    h("p", {}, `${tests.passed} passed · ${tests.failed} failed · ${tests.errors} errors · ${tests.skipped} skipped`),
    (tests.steps || []).flatMap((st) => (st.failures || st.failed_tests || []).map((f) =>
      h("details", { class: "failure" }, h("summary", {}, "✘ ", typeof f === "string" ? f : `${f.classname ? f.classname + "." : ""}${f.name || ""}`),
        h("pre", {}, typeof f === "string" ? "" : f.message || f.text || ""))))) : null;
  const artBlock = artifacts && artifacts.length ? h("section", {}, h("h2", {}, "Artifacts"), h("ul", { class: "artifacts" },
    artifacts.map((a) => h("li", {}, h("a", { href: `/api/v1/builds/${id}/artifacts/${a.path.split("/").map(enc).join("/")}`, download: a.path.split("/").pop() }, a.path), ` (${bytes(a.size)})`)))) : null;
  // One line per notice: who was told, how it went, and what the server answered.
  const NOTICE_SYMBOL = { sent: "✔", failed: "✘", retrying: "↻", sending: "…", pending: "…", superseded: "⤼" };
  const noticeBlock = notices && notices.length ? h("section", {}, h("h2", {}, "Notifications"), h("ul", { class: "notices" },
    notices.map((n) => h("li", { class: `notice ${n.state}`, "data-notifier": n.notifier },
      h("span", { class: "badge " + ({ sent: "success", failed: "failure", retrying: "retry" }[n.state] || "queued") },
        `${NOTICE_SYMBOL[n.state] || "•"} ${n.state}`), " ",
      h("b", {}, n.notifier), h("span", { class: "muted" }, ` (${n.kind}, ${n.event}) · ${n.attempts} attempt${n.attempts === 1 ? "" : "s"}`,
        n.state === "retrying" && n.next_attempt_at ? ` · next ${when(n.next_attempt_at)}` : "",
        n.sent_at ? ` · ${when(n.sent_at)}` : ""),
      n.answer ? h("div", { class: "answer" }, h("code", {}, n.answer)) : null)))) : null;
  return {
    key: `build:${id}`,
    node: [
      h("h1", {}, link(`/ui/builders/${enc(b.builder)}`, b.builder), ` #${b.number} `, h("span", { id: "build-result" }, badge(b.result, b.state))),
      h("p", { class: "muted" }, `worker ${b.worker} · started ${when(b.started_at)} · took `, duration(b.started_at, b.finished_at),
        b.reason ? ` · ${b.reason}` : "", ` · request ${b.request}, attempt ${b.attempt}`),
      can("developer") ? h("p", {}, b.state === "running"
        ? action("Stop build", async () => { await post(`/builds/${id}/stop`); return "stopping…"; }, msg)
        : action("Rebuild", async () => { const r = await post(`/builds/${id}/rebuild`); return `request ${r.request} queued`; }, msg), " ", msg) : msg,
      h("section", {}, h("h2", {}, "Steps"), h("div", { class: "steps" }, steps)),
      testsBlock, artBlock, noticeBlock,
      source || (b.changes && b.changes.length) ? h("section", {}, h("h2", {}, "Source"),
        source ? table(["", ""], Object.entries(source).map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v))))) : null,
        (b.changes || []).map((c) => h("p", {}, h("code", {}, String(c.revision || "").slice(0, 12)), ` ${c.author || ""}: ${c.comments || ""}`))) : null,
      props.length ? h("section", {}, h("h2", {}, "Properties"), table(["name", "value"],
        props.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, typeof v === "string" ? v : JSON.stringify(v)))))) : null,
    ],
    onEvent: (ev) => {
      if (ev.type === "log" && ev.build === id) {
        const v = viewers.get(`${id}/${ev.step}`);
        if (v) v.follow();
        return false;
      }
      if (ev.type === "notification") return ev.build === id;
      return (ev.type === "build" || ev.type === "step") && (ev.build === id || ev.id === id);
    },
  };
}

async function workers() {
  const list = await api("/workers");
  const msg = h("span", { class: "msg", role: "status" });
  return {
    key: "workers",
    node: [h("h1", {}, "Workers"), msg, ...poolSections(list), table(["name", "state", "master", "tags", "jobs", "last seen", ""],
      list.map((w) => {
        const state = w.connected ? (w.paused ? "paused" : "connected") : "offline";
        return h("tr", { "data-worker": w.name }, h("td", {}, w.name),
          h("td", {}, h("span", { class: "badge " + state }, `${SYMBOL[state]} ${state}`)),
          h("td", {}, w.master || ""),
          h("td", {}, (w.tags || []).join(", ")),
          h("td", {}, `${w.running.length} / ${w.capacity} `, w.running.map((r) => r.build ? link(`/ui/builds/${r.build}`, `${r.builder}`, { class: "chip" }) : null)),
          h("td", {}, when(w.last_seen)),
          h("td", {}, w.connected && can("developer") ? action(w.paused ? "Resume" : "Pause", async () => {
            await post(`/workers/${enc(w.name)}/${w.paused ? "resume" : "pause"}`);
            return `${w.name} ${w.paused ? "resumed" : "paused"}`;
          }, msg) : null));
      }))],
    onEvent: (ev) => ev.type === "worker" || ev.type === "build",
  };
}

// The instances of each on-demand worker: their states, the pool's failed starts and backoff,
// and the output of the last start/stop commands.
function poolSections(list) {
  return list.filter((w) => w.on_demand).map((w) => {
    const od = w.on_demand;
    const counts = Object.entries(od.counts || {}).map(([k, n]) => `${n} ${k}`).join(", ") || "none";
    const summary = [`${od.instances.length} of max ${od.max} instances (min ${od.min}): ${counts}`,
      `idle ${od.idle_s}s, start timeout ${od.start_timeout_s}s`];
    const trouble = od.failures > 0 ? h("p", { class: "badge failure", role: "alert" },
      `${od.failures} failed start${od.failures > 1 ? "s" : ""} in a row${od.backoff_until ? `, next try after ${when(od.backoff_until)}` : ""}: ${od.last_error || ""}`) : null;
    return h("section", { "data-pool": w.name },
      h("h2", {}, `On-demand: ${w.name}`), h("p", { class: "muted" }, summary.join(" · ")), trouble,
      od.instances.length === 0 ? h("p", { class: "muted" }, "No instance running.")
        : table(["instance", "state", "since", "jobs", "last command"], od.instances.map((i) => h("tr", { "data-instance": i.name },
          h("td", {}, i.name, " ", h("code", { class: "muted" }, i.instance)),
          h("td", {}, h("span", { class: "badge " + (i.state === "failed" ? "failure" : i.connected ? "connected" : "offline") }, i.state)),
          h("td", {}, when(i.since)),
          h("td", {}, (i.running || []).map((r) => r.build ? link(`/ui/builds/${r.build}`, `${r.builder}`, { class: "chip" }) : null)),
          h("td", {}, i.last_command ? `${i.last_command.kind}: ${i.last_command.result}` : "")))),
      od.commands.length === 0 ? null : h("details", {}, h("summary", {}, "Last commands"),
        od.commands.slice().reverse().map((c) => h("div", {},
          h("p", {}, `${when(c.at)} · ${c.instance} ${c.kind}: ${c.result} (${c.duration_ms} ms)`),
          c.output ? h("pre", { class: "log" }, c.output) : null))));
  });
}

async function changes() {
  const list = await optional("/changes?limit=100");
  return {
    key: "changes",
    node: [h("h1", {}, "Changes"), list == null ? h("p", { class: "muted" }, "This master has no change sources.")
      : list.length === 0 ? h("p", { class: "muted" }, "No changes seen yet.")
        : table(["when", "repository", "branch", "revision", "author", "comments"], list.map((c) => h("tr", {},
          h("td", {}, when(c.created_at)), h("td", {}, c.repository), h("td", {}, c.branch), h("td", {}, h("code", {}, String(c.revision).slice(0, 12))),
          h("td", {}, c.author), h("td", {}, String(c.comments || "").split("\n")[0]))))],
    onEvent: (ev) => ev.type === "change",
  };
}

async function grid() {
  const list = builderListQuery();
  const builders = await apiPage(list.path);
  const filter = builderFilter(list.q);
  const cols = 5;
  return {
    key: "grid",
    node: [h("h1", {}, "Grid"), h("p", { class: "muted" }, "Each builder's last builds, newest on the left."), filter,
      table(["builder", ...Array.from({ length: cols }, (_, i) => (i === 0 ? "latest" : `−${i}`))],
        builders.items.map((b) => h("tr", {}, h("th", {}, link(`/ui/builders/${enc(b.name)}`, b.name)),
          Array.from({ length: cols }, (_, i) => {
            const r = b.recent_builds[i];
            return h("td", { class: "cell" }, r ? link(`/ui/builds/${r.id}`, [`#${r.number} `, badge(r.result, r.state)]) : "");
          })))),
      builderPager(list.offset, builders.items.length, builders.total, list.q)],
    onEvent: (ev) => ev.type === "build",
    keep: filter,
  };
}

async function schedules() {
  const list = await optional("/schedulers");
  return {
    key: "schedules",
    node: [h("h1", {}, "Schedules"), list == null || !list.length ? h("p", { class: "muted" }, "No schedulers are configured.")
      : table(["name", "kind", "when", "next fire", "builders"], list.map((s) => h("tr", {},
        h("td", {}, s.name), h("td", {}, s.kind), h("td", {}, s.expr ? `${s.expr} (${s.tz})` : s.every || s.source || ""),
        h("td", {}, s.next_fire_local || s.next_fire || "—"), h("td", {}, (s.builders || []).join(", ")))))],
    onEvent: () => false,
  };
}

function login() {
  const msg = h("p", { class: "msg", role: "status" });
  const form = h("form", { class: "login", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await post("/login", { name: form.elements.name.value, password: form.elements.password.value });
      Object.assign(me, { user: r.user, role: r.role, csrf: r.csrf });
      drawUser();
      go(new URLSearchParams(location.search).get("next") || "/");
    } catch (err) { flash(msg, err.message, false); }
  } },
  h("h1", {}, "Log in"),
  h("label", { for: "name" }, "user", h("input", { id: "name", name: "name", autocomplete: "username", required: true })),
  h("label", { for: "password" }, "password", h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true })),
  h("button", { type: "submit" }, "Log in"), msg);
  return { key: "login", node: [form], onEvent: () => false, keep: form };
}

// ---------- shell ----------

async function show(soft = false) {
  clearTimeout(refreshTimer);
  const path = location.pathname;
  let m;
  try {
    let p;
    if ((m = path.match(/^\/ui\/builders\/(.+)$/))) p = await builder(decodeURIComponent(m[1]));
    else if ((m = path.match(/^\/ui\/builds\/(\d+)$/))) p = await build(Number(m[1]));
    else if (path === "/ui/workers") p = await workers();
    else if (path === "/ui/changes") p = await changes();
    else if (path === "/ui/grid") p = await grid();
    else if (path === "/ui/schedules") p = await schedules();
    else if (path === "/ui/masters") p = await masters();
    else if (path === "/ui/login") p = login();
    else p = await home();
    // A live refresh must not wipe what the user is typing in a form, nor take the focus away.
    let focused = null;
    if (soft && page && page.key === p.key && page.keep && p.keep && page.keep.contains(document.activeElement)) {
      const old = page.keep;
      focused = document.activeElement;
      if (p.keep.parentNode) p.keep.replaceWith(old);  // kept inside a section
      else p.node = p.node.map((n) => (n === p.keep ? old : n));
      p.keep = old;
    }
    page = p;
    const caret = focused && typeof focused.selectionStart === "number" ? [focused.selectionStart, focused.selectionEnd] : null;
    render(...p.node.filter((n) => n != null));
    if (focused && document.activeElement !== focused) {
      focused.focus();
      if (caret) focused.setSelectionRange(...caret);
    }
  } catch (err) {
    if (err.status === 401 && path !== "/ui/login") return go(`/ui/login?next=${enc(location.pathname + location.search)}`);
    render(h("p", { class: "error", role: "alert" }, err.message));
  }
  // A page with its own period (masters' last seen) re-reads on it even while live.
  const every = page && page.every;
  if (!live || every) refreshTimer = setTimeout(() => show(true), (live && every) || 5000);
}

function go(href) {
  history.pushState(null, "", href);
  viewers.clear();
  show();
}

// Re-reads the page at most every 500 ms however many events arrive.
let pending = null;
function refreshSoon() {
  if (pending) return;
  pending = setTimeout(() => { pending = null; show(true); }, 500);
}

// The first page is read once the event stream is subscribed, so that no change falls between
// the two and the page is read once (a later "hello", a reconnection, re-reads it); or after 1 s
// without the stream.
let started = false;
function startOnce() { if (!started) { started = true; show(); } }

function connectEvents() {
  if (!window.EventSource) return startOnce();
  const es = new EventSource("/api/v1/events");
  es.addEventListener("hello", () => { live = true; document.body.dataset.live = "1"; clearTimeout(refreshTimer); if (started) refreshSoon(); else startOnce(); });
  es.onmessage = (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    // "resync": events may have been lost (a master's link to the store broke): re-read.
    if (ev.type === "resync" || (page && page.onEvent(ev))) refreshSoon();
  };
  // The browser reconnects by itself; meanwhile the page polls, and "hello" resynchronises it.
  es.onerror = () => { startOnce(); live = false; document.body.dataset.live = "0"; clearTimeout(refreshTimer); refreshTimer = setTimeout(() => show(true), 5000); };
}

function drawUser() {
  const box = document.getElementById("user");
  if (me.user) {
    box.replaceChildren(h("span", {}, `${me.user} (${me.role}) `), h("button", { type: "button", class: "link", onclick: async () => {
      await post("/logout").catch(() => {});
      Object.assign(me, { user: null, role: null, csrf: null });
      await loadMe();
      go("/");
    } }, "Log out"));
  } else if (me.auth_required) {
    box.replaceChildren(link("/ui/login", "Log in"));
  } else {
    box.replaceChildren();
  }
}

async function loadMe() {
  try { Object.assign(me, await api("/me")); } catch { /* an older master: open */ me.role = "admin"; }
  drawUser();
}

// Elapsed times of running things tick every second without a fetch.
setInterval(() => {
  for (const el of main.querySelectorAll("[data-since]")) el.textContent = secs(Math.max(0, Math.round((Date.now() - Number(el.dataset.since)) / 1000)));
}, 1000);

document.getElementById("nav").append(link("/", "Home"), link("/ui/grid", "Grid"), link("/ui/changes", "Changes"),
  link("/ui/workers", "Workers"), link("/ui/schedules", "Schedules"), link("/ui/masters", "Masters"));
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  go(a.getAttribute("href"));
});
window.addEventListener("popstate", () => { viewers.clear(); show(); });
loadMe().then(() => { connectEvents(); setTimeout(startOnce, 1000); });
