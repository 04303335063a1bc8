// End-to-end test of the web UI in a real browser (Debian's chromium via playwright-core)
// against a real master and worker: log in, force a build from the form, watch it turn green
// live without reloading, open its log, download an artifact when the build has one, check
// that a viewer cannot force. Screenshots go to $GROVE_E2E_SCREENSHOTS.
"use strict";

const { chromium } = require("playwright-core");
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");
const assert = require("assert");

const GROVE = process.env.GROVE_BIN || path.resolve(__dirname, "../../build/cli/grove");
const SHOTS = process.env.GROVE_E2E_SCREENSHOTS || path.resolve(__dirname, "../../build/e2e-screenshots");

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, what, timeout = 20000) {
  const end = Date.now() + timeout;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "grove-e2e-"));
  const dir = path.join(root, "master");
  fs.mkdirSync(path.join(dir, "secrets"), { recursive: true });
  fs.mkdirSync(SHOTS, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secret = "e2e-secret-" + Math.random().toString(16).slice(2);
  fs.writeFileSync(path.join(dir, "secrets", "w1"), secret + "\n");
  fs.writeFileSync(path.join(root, "w1.secret"), secret + "\n");
  fs.writeFileSync(path.join(dir, "grove.lua"), `
store "sqlite:state/grove.db"
broker "embedded"
web { listen = "127.0.0.1:${port}" }
worker "w1" { secret = secret "w1", tags = { "linux" } }
builder "hello" { tags = { "linux" }, steps = {
  shell { "echo hello from the e2e test; sleep 2; echo done; echo release-notes > notes.txt", name = "greet" },
  upload { "notes.txt", to = "out/" },
} }
for i = 1, 3 do builder("extra-" .. i) { tags = { "linux" }, steps = { shell { "true" } } } end
`);
  const addUser = (name, role, pw) => execFileSync(GROVE, ["user", "add", name, "--role", role, "--dir", dir], { input: pw + "\n" });
  addUser("dev", "developer", "dev-password-1");
  addUser("viewer", "viewer", "viewer-password-1");

  const procs = [];
  const start = (args, log) => {
    const p = spawn(GROVE, args, { stdio: ["ignore", fs.openSync(log, "w"), fs.openSync(log, "a")], detached: true });
    procs.push(p);
    return p;
  };
  let browser;
  let ok = false;
  try {
    start(["master", dir], path.join(root, "master.log"));
    await waitFor(async () => (await fetch(`${url}/api/v1/me`)).ok, "the master");
    start(["worker", "--master", url, "--name", "w1", "--secret-file", path.join(root, "w1.secret"),
      "--workdir", path.join(root, "work")], path.join(root, "worker.log"));
    await waitFor(async () => (await (await fetch(`${url}/api/v1/workers`)).json()).some((w) => w.connected), "the worker");

    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "grove-e2e-chromium-"));
    // A fresh profile each run (playwright takes it as launchPersistentContext's userDataDir).
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      acceptDownloads: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    browser = ctx;
    const page = await ctx.newPage();
    page.on("pageerror", (e) => console.error("page error:", e.message));

    // Log in.
    await page.goto(`${url}/ui/login`);
    await page.fill("#name", "dev");
    await page.fill("#password", "dev-password-1");
    await page.click("form.login button[type=submit]");
    await page.waitForSelector("#user >> text=dev (developer)");
    console.log("ok: logged in as a developer");

    // Force from the builder's form; the page must never reload from here on.
    await page.goto(`${url}/ui/builders/hello`);
    await page.waitForSelector("form.force");
    await page.waitForFunction(() => document.body.dataset.live === "1");
    await page.evaluate(() => { window.__noReload = true; });
    await page.fill("#reason", "e2e force");
    await page.click("form.force button[type=submit]");
    await page.waitForSelector("form.force .msg.ok");
    console.log("ok: forced from the form:", await page.textContent("form.force .msg"));
    await page.waitForSelector("table .badge.running", { timeout: 20000 });
    await page.screenshot({ path: path.join(SHOTS, "builder-running.png"), fullPage: true });
    await page.waitForSelector("table .badge.success", { timeout: 30000 });
    assert.strictEqual(await page.evaluate(() => window.__noReload), true, "the page reloaded");
    console.log("ok: the build turned green live, without a reload");
    // The builder page's chart: one bar per finished build, coloured by its result.
    await page.waitForSelector("section.charts svg.chart rect.bar.success[data-build='1']");
    const bar = await page.$eval("section.charts svg.chart rect.bar", (r) => [Number(r.getAttribute("height")), r.querySelector("title").textContent]);
    assert.ok(bar[0] > 0 && /^#1: .* \(success\)$/.test(bar[1]), `builder chart bar ${bar}`);
    console.log("ok: the builder page draws the build duration chart:", bar[1]);
    await page.screenshot({ path: path.join(SHOTS, "builder-success.png"), fullPage: true });

    // Home shows it too.
    await page.click("header a.brand");
    await page.waitForSelector("tr[data-builder=hello] .badge.success");
    // The home page's chart of the last hour (a sample is taken at start, then every 30 s).
    // (a line of one sample has no area: it is checked attached, its dot visible)
    await page.waitForSelector("section.charts svg.chart polyline[data-series='queued']", { state: "attached" });
    await page.waitForSelector("section.charts svg.chart circle.dot.busy");
    const lines = await page.$$eval("section.charts svg.chart polyline", (ps) => ps.map((p) => [p.dataset.series, p.getAttribute("points").split(" ").length]));
    assert.deepStrictEqual(lines.map((l) => l[0]), ["queued", "busy workers"]);
    assert.ok(lines.every((l) => l[1] >= 1), `home chart points ${lines}`);
    console.log("ok: the home page draws the queue and busy workers chart");
    await page.screenshot({ path: path.join(SHOTS, "home.png"), fullPage: true });

    // Open the build and its step's log.
    await page.click("tr[data-builder=hello] a.chip");
    await page.waitForSelector("#build-result .badge.success");
    await page.click("details[data-step='0'] summary");
    await page.waitForSelector("details[data-step='0'] pre.log:has-text('hello from the e2e test')");
    console.log("ok: the step's log opened");
    await page.screenshot({ path: path.join(SHOTS, "build.png"), fullPage: true });

    // Artifacts, when this Grove's builds have some (the artifacts API exists).
    const links = await page.$$("ul.artifacts a");
    if (links.length) {
      const [download] = await Promise.all([page.waitForEvent("download"), links[0].click()]);
      const file = await download.path();
      assert.strictEqual(fs.readFileSync(file, "utf8"), "release-notes\n");
      console.log("ok: downloaded artifact", download.suggestedFilename());
    } else {
      console.log("skip: the build has no artifacts (no upload step configured)");
    }

    // The Masters page, from the nav: this (lone) master, active, holding the leases, its
    // configuration not flagged; the home page has no configurations-differ banner.
    assert.strictEqual(await page.$("#config-differs"), null, "a lone master's home page flags its configuration");
    await page.click("nav >> text=Masters");
    await page.waitForSelector("tr[data-master] .badge.connected:has-text('active')");
    const row = await page.textContent("tr[data-master]");
    assert(row.includes("schedulers") && row.includes("same"), `the masters row: ${row}`);
    console.log("ok: the Masters page shows this master");
    await page.screenshot({ path: path.join(SHOTS, "masters.png"), fullPage: true });

    // A phone-sized screen.
    const phone = await ctx.newPage();
    await phone.setViewportSize({ width: 375, height: 740 });
    await phone.goto(url);
    await phone.waitForSelector("tr[data-builder=hello]");
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `the home page is ${overflow}px wider than a phone`);
    await phone.screenshot({ path: path.join(SHOTS, "home-phone.png"), fullPage: true });
    await phone.close();

    // The home page loads with at most 3 data calls whatever the number of builders (besides
    // /me, who is logged in, and the live-update stream), and answers come compressed.
    const fresh = await ctx.newPage();
    const calls = [];
    const codings = {};
    fresh.on("request", (r) => { const u = new URL(r.url()); if (u.pathname.startsWith("/api/")) calls.push(u.pathname + u.search); });
    fresh.on("response", async (r) => { codings[new URL(r.url()).pathname] = (await r.allHeaders())["content-encoding"]; });
    await fresh.goto(url);
    await fresh.waitForSelector("tr[data-builder=hello] .badge.success");
    await fresh.waitForFunction(() => document.body.dataset.live === "1");
    await sleep(1000);  // anything late would be counted too
    const data = calls.filter((c) => !c.startsWith("/api/v1/me") && !c.startsWith("/api/v1/events"));
    assert(data.length <= 3, `the home page made ${data.length} data calls: ${data.join(", ")}`);
    assert(data.some((c) => c.startsWith("/api/v1/builders?view=summary&limit=")), `no paged builders call: ${data.join(", ")}`);
    assert(["gzip", "zstd", "br"].includes(codings["/static/app.js"]), `app.js came with content-encoding ${codings["/static/app.js"]}`);
    console.log(`ok: the home page made ${data.length} data calls (${data.join(", ")}); app.js came ${codings["/static/app.js"]}`);

    // The filter asks the master and keeps what is typed through live refreshes.
    await fresh.fill("input.filter", "extra-2");
    await fresh.waitForFunction(() => document.querySelectorAll("tr[data-builder]").length === 1);
    assert.strictEqual(await fresh.getAttribute("tr[data-builder]", "data-builder"), "extra-2");
    assert(fresh.url().endsWith("?q=extra-2"), fresh.url());
    assert.strictEqual(await fresh.evaluate(() => document.activeElement.value), "extra-2");
    console.log("ok: the builders filter");
    await fresh.close();

    // A viewer cannot force: the button is disabled and the API refuses.
    await page.click("#user button");
    await page.waitForSelector("#user >> text=Log in");
    await page.goto(`${url}/ui/login`);
    await page.fill("#name", "viewer");
    await page.fill("#password", "viewer-password-1");
    await page.click("form.login button[type=submit]");
    await page.waitForSelector("#user >> text=viewer (viewer)");
    await page.goto(`${url}/ui/builders/hello`);
    await page.waitForSelector("form.force");
    assert(await page.isDisabled("form.force button[type=submit]"), "a viewer's force button is enabled");
    const status = await page.evaluate(async () => {
      const me = await (await fetch("/api/v1/me")).json();
      const r = await fetch("/api/v1/builders/hello/force", { method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf }, body: "{}" });
      return r.status;
    });
    assert.strictEqual(status, 403);
    const queued = (await (await fetch(`${url}/api/v1/status`)).json()).queued_count;
    assert.strictEqual(queued, 0);
    console.log("ok: a viewer cannot force");
    await page.screenshot({ path: path.join(SHOTS, "viewer-builder.png"), fullPage: true });
    ok = true;
  } finally {
    if (browser) await browser.close().catch(() => {});
    for (const p of procs) { try { process.kill(-p.pid, "SIGTERM"); } catch (e) { /* gone */ } }
    await sleep(300);
    if (!ok) for (const f of ["master.log", "worker.log"]) {
      const p = path.join(root, f);
      if (fs.existsSync(p)) console.error(`----- ${f} -----\n` + fs.readFileSync(p, "utf8").slice(-4000));
    }
    if (ok) fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`screenshots in ${SHOTS}`);
}

main().catch((e) => { console.error("FAIL:", e.message); process.exit(1); });
