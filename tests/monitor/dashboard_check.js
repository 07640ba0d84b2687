// Opens the live dashboard in headless Chromium (puppeteer-core, the system's chromium) and
// checks what a person would see; called by DashboardLive.* in dashboard_live_test.cpp.
//   node dashboard_check.js URL live|final SCREENSHOT.png
// live: the round number moves on the open page, both silos are listed with a state, and the
//       accuracy curve has points. final: the page shows the completed run. partial: silos
//       report only some figures (or none); the page stays live and shows "–" for the rest.
// Prints one JSON line with what it saw; exits 1 with the reason when a check fails.
"use strict";
const puppeteer = require("puppeteer-core");

const [url, mode, screenshot] = process.argv.slice(2);
const STATES = ["waiting", "online", "training", "uploading", "offline", "dropped"];

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    await page.goto(url, { waitUntil: "load", timeout: 60000 });
    const round = () => page.$eval("#round", (e) => Number(e.dataset.round ?? -1));
    const seen = {};
    if (mode === "live") {
      await page.waitForFunction(() => Number(document.querySelector("#round").dataset.round ?? -1) >= 0,
                                 { timeout: 60000, polling: 100 });
      seen.first_round = await round();
      // The same page, not a reload: the round number must move by itself.
      await page.waitForFunction((r) => Number(document.querySelector("#round").dataset.round) > r,
                                 { timeout: 90000, polling: 100 }, seen.first_round);
      seen.later_round = await round();
      await page.waitForFunction(() => {
        const p = document.querySelector("#acc-chart polyline.test");
        return p && p.getAttribute("points").trim().split(/\s+/).length >= 2;
      }, { timeout: 90000, polling: 200 });
    } else if (mode === "partial") {
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.waitForFunction(() => document.querySelectorAll("#silos tbody tr").length === 2,
                                 { timeout: 60000, polling: 100 });
      // Two more polls: a script error would show on the second.
      await new Promise((r) => setTimeout(r, 1500));
      seen.conn = await page.$eval("#conn", (e) => e.textContent);
      seen.errors = errors;
    } else {
      await page.waitForFunction(() => document.querySelector("#state").textContent === "completed",
                                 { timeout: 60000, polling: 200 });
    }
    seen.state = await page.$eval("#state", (e) => e.textContent);
    seen.round_text = await page.$eval("#round", (e) => e.textContent);
    seen.silos = await page.$$eval("#silos tbody tr", (rows) => rows.map((r) => ({
      silo: Number(r.dataset.silo), state: r.querySelector("td.state").textContent,
      cells: [...r.children].map((c) => c.textContent) })));
    seen.curve_points = await page.$eval("#acc-chart polyline.test", (p) =>
      p.getAttribute("points").trim().split(/\s+/).length).catch(() => 0);
    await page.screenshot({ path: screenshot, fullPage: true });
    const problems = [];
    const ids = seen.silos.map((s) => s.silo).sort();
    if (JSON.stringify(ids) !== "[1,2]") problems.push("silos listed: " + JSON.stringify(ids));
    for (const s of seen.silos) if (!STATES.includes(s.state)) problems.push(`silo ${s.silo} state "${s.state}"`);
    if (mode === "partial") {
      if (!seen.conn.startsWith("live")) problems.push("page says: " + seen.conn);
      if (seen.errors.length) problems.push("script errors: " + seen.errors.join("; "));
    } else if (seen.curve_points < 2) {
      problems.push("accuracy curve has " + seen.curve_points + " points");
    }
    console.log(JSON.stringify(seen));
    if (problems.length) {
      console.error("dashboard check failed: " + problems.join("; "));
      process.exitCode = 1;
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error("dashboard check failed: " + e.message); process.exit(1); });
