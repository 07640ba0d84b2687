// The dashboard page (docs/monitoring.md): plain HTML, CSS and script in one string, with no
// external resources, so it works on an air-gapped network. It polls /api/status twice a second
// and redraws; the curves are SVG polylines.
#include "monitor/dashboard_server.h"

namespace fedsilo::monitor {

const std::string& dashboard_page() {
  static const std::string page = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fedsilo run</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.2em; color: #222; background: #fafafa; }
h1 { font-size: 1.3em; margin: 0 0 .4em; }
.cards { display: flex; flex-wrap: wrap; gap: .8em; margin-bottom: 1em; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5em .9em; min-width: 8em; }
.card .k { font-size: .75em; color: #666; text-transform: uppercase; }
.card .v { font-size: 1.4em; font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5em; }
.chart h2, section h2 { font-size: 1em; margin: .2em 0 .4em; }
table { border-collapse: collapse; background: #fff; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; font-size: .9em; }
th { background: #f0f0f0; } td.state { text-align: center; font-weight: 600; }
.st-online { color: #176f2c; } .st-training, .st-uploading { color: #1456a0; }
.st-offline, .st-dropped { color: #b3261e; } .st-waiting { color: #777; }
#log { font-family: ui-monospace, monospace; font-size: .8em; background: #fff; border: 1px solid #ddd;
       padding: .4em; max-height: 14em; overflow: auto; white-space: pre-wrap; }
.lv-error, .lv-critical { color: #b3261e; } .lv-warning { color: #8a5a00; }
#conn { font-size: .8em; color: #777; }
.legend span { margin-right: 1em; font-size: .8em; }
</style></head><body>
<h1>fedsilo run <span id="run-id"></span></h1>
<div id="conn">connecting…</div>
<div class="cards">
  <div class="card"><div class="k">state</div><div class="v" id="state">–</div></div>
  <div class="card"><div class="k">round</div><div class="v" id="round">–</div></div>
  <div class="card"><div class="k">ETA</div><div class="v" id="eta">–</div></div>
  <div class="card"><div class="k">elapsed</div><div class="v" id="elapsed">–</div></div>
  <div class="card"><div class="k">test accuracy</div><div class="v" id="test-acc">–</div></div>
  <div class="card"><div class="k">silos online</div><div class="v" id="online">–</div></div>
</div>
<div class="charts">
  <div class="chart"><h2>accuracy</h2><svg id="acc-chart" width="460" height="220"></svg>
    <div class="legend"><span style="color:#1456a0">— test</span><span style="color:#e07b00">— train</span></div></div>
  <div class="chart"><h2>loss</h2><svg id="loss-chart" width="460" height="220"></svg>
    <div class="legend"><span style="color:#1456a0">— test</span><span style="color:#e07b00">— train</span></div></div>
</div>
<section><h2>silos</h2>
<table id="silos"><thead><tr><th>silo</th><th>state</th><th>last seen</th><th>rounds</th>
<th>last train</th><th>last transfer</th><th>bytes moved</th><th>CPU</th><th>RSS (peak)</th><th>GPU</th></tr></thead>
<tbody></tbody></table></section>
<section><h2>warnings and errors (newest first)</h2><div id="log">none</div></section>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};
const $ = (id) => document.getElementById(id);
// A silo reports what it can (no GPU, an old version, a figure refused by the server): every
// figure may be absent, and the page shows "–" for it instead of failing.
const isNum = (v) => typeof v === "number" && isFinite(v);
const fix = (v, d, unit) => isNum(v) ? v.toFixed(d) + unit : "–";
const fmtS = (s) => !isNum(s) ? "–" : s < 90 ? s.toFixed(1) + " s" : s < 5400 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(1) + " h";
const fmtMs = (ms) => isNum(ms) && ms ? (ms < 1000 ? ms.toFixed(1) + " ms" : (ms / 1000).toFixed(2) + " s") : "–";
const fmtB = (b) => !isNum(b) ? "–" : b >= 1 << 30 ? (b / (1 << 30)).toFixed(2) + " GiB" : b >= 1 << 20 ? (b / (1 << 20)).toFixed(1) + " MiB" : b >= 1024 ? (b / 1024).toFixed(1) + " KiB" : b + " B";
const text = (s) => { const d = document.createElement("div"); d.textContent = s; return d.innerHTML; };

function draw(svg, series) {
  const W = +svg.getAttribute("width"), H = +svg.getAttribute("height"), L = 46, B = 22, T = 8, R = 10;
  const pts = series.flatMap((s) => s.points);
  svg.innerHTML = "";
  if (!pts.length) { svg.innerHTML = '<text x="50%" y="50%" text-anchor="middle" fill="#999">no points yet</text>'; return; }
  let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 += 0.5; y0 -= 0.5; }
  const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R), sy = (y) => H - B - (y - y0) / (y1 - y0) * (H - B - T);
  let g = `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#999"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#999"/>`;
  g += `<text x="${L - 4}" y="${T + 10}" text-anchor="end" font-size="10">${y1.toPrecision(3)}</text>`;
  g += `<text x="${L - 4}" y="${H - B}" text-anchor="end" font-size="10">${y0.toPrecision(3)}</text>`;
  g += `<text x="${L}" y="${H - 6}" font-size="10">round ${x0}</text><text x="${W - R}" y="${H - 6}" text-anchor="end" font-size="10">${x1}</text>`;
  for (const s of series) {
    if (!s.points.length) continue;
    const p = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
    g += `<polyline class="${s.cls}" fill="none" stroke="${s.color}" stroke-width="2" points="${p}"/>`;
  }
  svg.innerHTML = g;
}

function render(st) {
  $("run-id").textContent = st.run_id;
  $("state").textContent = st.state;
  $("round").textContent = st.round < 0 ? "–" : `${st.round + 1} / ${st.total_rounds}`;
  $("round").dataset.round = st.round;
  $("eta").textContent = st.finished ? "done" : fmtS(st.eta_s);
  $("elapsed").textContent = fmtS(st.elapsed_s);
  $("test-acc").textContent = isNum(st.test_acc) ? (100 * st.test_acc).toFixed(2) + " %" : "–";
  $("online").textContent = `${st.silos_online} / ${st.silos.length}`;
  const pick = (k) => st.curve.filter((p) => p[k] != null).map((p) => [p.round, p[k]]);
  draw($("acc-chart"), [{ cls: "test", color: "#1456a0", points: pick("test_acc") }, { cls: "train", color: "#e07b00", points: pick("train_acc") }]);
  draw($("loss-chart"), [{ cls: "test", color: "#1456a0", points: pick("test_loss") }, { cls: "train", color: "#e07b00", points: pick("train_loss") }]);
  $("silos").tBodies[0].innerHTML = st.silos.map((s) => {
    const y = s.system || {};
    const gpu = !isNum(y.gpu_util_percent) ? "–" : `${fix(y.gpu_util_percent, 0, " %")} · ${isNum(y.gpu_mem_used_mib) ? fmtB(y.gpu_mem_used_mib * 1048576) : "–"}`;
    const rss = !isNum(y.rss_mib) ? "–" : fix(y.rss_mib, 0, "") + (isNum(y.peak_rss_mib) ? " (" + fix(y.peak_rss_mib, 0, "") + ")" : "") + " MiB";
    return `<tr data-silo="${s.silo}"><td>${s.silo}</td><td class="state st-${text(s.state)}">${text(s.state)}</td>` +
      `<td>${!isNum(s.last_seen_s_ago) ? "never" : fmtS(s.last_seen_s_ago) + " ago"}</td><td>${fix(s.rounds_contributed, 0, "")}</td>` +
      `<td>${fmtMs(s.last_train_ms)}</td><td>${fmtMs(s.last_transfer_ms)}</td><td>${fmtB(s.bytes_moved)}</td>` +
      `<td>${fix(y.cpu_percent, 0, " %")}</td><td>${rss}</td><td>${gpu}</td></tr>`;
  }).join("");
  $("log").innerHTML = st.log.length ? st.log.slice().reverse().map((l) => `<div class="lv-${text(l.level)}">${new Date(l.time * 1000).toLocaleTimeString()} ${text(l.level)} ${text(l.text)}</div>`).join("") : "none";
}

let failures = 0;
async function poll() {
  try {
    const r = await fetch("api/status" + (token ? "?token=" + encodeURIComponent(token) : ""), { headers, cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    failures = 0;
    $("conn").textContent = "live · updated " + new Date().toLocaleTimeString();
  } catch (e) {
    ++failures;
    $("conn").textContent = "server not reachable (" + e.message + "); the run may have ended — last state shown";
  }
  setTimeout(poll, failures ? 2000 : 500);
}
poll();
</script></body></html>
)HTML";
  return page;
}

}  // namespace fedsilo::monitor
