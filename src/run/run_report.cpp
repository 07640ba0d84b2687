#include "run/run_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/markup_escape.h"

namespace fedsilo::cross_silo {
namespace {

// metrics.jsonl may come from an older fedsilo, which kept whatever a silo sent, or hold null
// for a NaN loss: a figure that is not a number counts as absent, rather than ending the report.
double num(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "?";
}

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
};

// A line chart with axes, ticks and a legend, as SVG.
std::string line_chart(const std::string& title, const std::vector<Series>& series, double y_min,
                       double y_max, double x_max) {
  const double W = 560, H = 260, L = 50, R = 15, T = 30, B = 35;
  auto x = [&](double v) { return L + (W - L - R) * (x_max > 0 ? v / x_max : 0); };
  auto y = [&](double v) {
    return H - B - (H - T - B) * (y_max > y_min ? (v - y_min) / (y_max - y_min) : 0);
  };
  std::string svg = fmt::format(
      R"(<svg class="chart" viewBox="0 0 {} {}" width="{}" height="{}" role="img">)", W, H, W, H);
  svg += fmt::format(R"(<text x="{}" y="18" class="title">{}</text>)", L, escape_markup(title));
  for (int i = 0; i <= 4; ++i) {
    double v = y_min + (y_max - y_min) * i / 4;
    svg += fmt::format(
        R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" class="grid"/><text x="{}" y="{:.1f}" class="tick" text-anchor="end">{:.3g}</text>)",
        L, W - R, y(v), y(v), L - 5, y(v) + 4, v);
  }
  for (int i = 0; i <= 5; ++i) {
    double v = x_max * i / 5;
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" class="tick" text-anchor="middle">{:.0f}</text>)",
                       x(v), H - B + 16, v);
  }
  svg += fmt::format(R"(<text x="{}" y="{}" class="tick" text-anchor="middle">round</text>)",
                     (L + W - R) / 2, H - 4);
  double lx = L + 110;  // the legend shares the title's row, clear of the plot
  for (const auto& s : series) {
    std::string pts;
    for (const auto& [px, py] : s.points) pts += fmt::format("{:.1f},{:.1f} ", x(px), y(py));
    svg += fmt::format(R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>)", pts,
                       s.color);
    for (const auto& [px, py] : s.points) {
      svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>)", x(px), y(py),
                         s.color);
    }
    svg += fmt::format(
        R"(<rect x="{:.0f}" y="8" width="10" height="10" fill="{}"/><text x="{:.0f}" y="17" class="tick">{}</text>)",
        lx, s.color, lx + 14, escape_markup(s.name));
    lx += 30 + 7 * s.name.size();
  }
  return svg + "</svg>";
}

}  // namespace

std::string render_report(const nlohmann::json& config, const std::vector<nlohmann::json>& rounds,
                          const std::string& status) {
  Series test_acc{"test accuracy", "#1f77b4", {}}, train_acc{"train accuracy", "#ff7f0e", {}};
  Series test_loss{"test loss", "#1f77b4", {}}, train_loss{"train loss", "#ff7f0e", {}};
  double max_loss = 0, max_round = 0;
  struct Part {
    const char* name;
    const char* color;
  };
  const Part parts[] = {{"train", "#2ca02c"},
                        {"transfer", "#9467bd"},
                        {"aggregate", "#8c564b"},
                        {"evaluate", "#d62728"},
                        {"other", "#bbbbbb"}};
  std::vector<std::array<double, 5>> breakdown;
  struct SiloStats {
    int64_t rounds = 0, samples = 0, dropped = 0;
    std::vector<double> train, transfer, cpu;
    double peak_rss_mib = 0;
  };
  std::map<int64_t, SiloStats> silos;
  std::string dropped_rows;  // one table row per round that went on without a selected silo
  for (const auto& r : rounds) {
    double round = num(r, "round");
    max_round = std::max(max_round, round);
    if (r.contains("test_acc")) {
      test_acc.points.push_back({round, num(r, "test_acc")});
      train_acc.points.push_back({round, num(r, "train_acc")});
      test_loss.points.push_back({round, num(r, "test_loss")});
      train_loss.points.push_back({round, num(r, "train_loss")});
      max_loss = std::max({max_loss, num(r, "test_loss"), num(r, "train_loss")});
    }
    double train = 0, transfer = 0, fold = 0;
    for (const auto& s : r["silos"]) {
      double t = num(s, "train_ms");
      double x = num(s, "upload_ms") + num(s, "download_ms") + num(s, "server_download_ms") +
                 num(s, "notify_ms") + num(s, "sync_notify_ms");
      train = std::max(train, t);
      transfer = std::max(transfer, x);
      fold += num(s, "fold_ms");
      auto& st = silos[static_cast<int64_t>(num(s, "silo"))];
      st.rounds++;
      st.samples += static_cast<int64_t>(num(s, "num_samples"));
      st.train.push_back(t);
      st.transfer.push_back(x);
      if (s.contains("system") && s["system"].is_object()) {  // the silo's own figures
        const auto& y = s["system"];
        if (y.contains("cpu_percent")) st.cpu.push_back(num(y, "cpu_percent"));
        st.peak_rss_mib = std::max(st.peak_rss_mib, num(y, "peak_rss_mib"));
      }
    }
    if (r.contains("dropped")) {
      std::vector<std::string> who;
      for (const auto& d : r["dropped"]) {
        auto silo = static_cast<int64_t>(num(d, "silo"));
        silos[silo].dropped++;
        who.push_back(fmt::format("silo {} ({})", silo, text(d, "reason")));
      }
      if (!who.empty()) {
        dropped_rows +=
            fmt::format("<tr><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                        static_cast<int64_t>(num(r, "round")), r["silos"].size(),
                        escape_markup(fmt::format("{}", fmt::join(who, "; "))));
      }
    }
    transfer += num(r, "server_upload_ms");
    double aggregate = fold + num(r, "aggregate_ms"), evaluate = num(r, "evaluate_ms");
    double other = std::max(0.0, num(r, "round_ms") - train - transfer - aggregate - evaluate);
    breakdown.push_back({train, transfer, aggregate, evaluate, other});
  }

  std::string html =
      R"(<!DOCTYPE html><html><head><meta charset="utf-8"><title>fedsilo run report</title><style>
body{font-family:sans-serif;margin:24px;color:#222}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.chart{border:1px solid #ddd;margin:6px 12px 6px 0;background:#fff}.title{font-size:14px;font-weight:bold}
.tick{font-size:11px;fill:#444}.grid{stroke:#eee}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f4f4f4}
pre{background:#f7f7f7;padding:12px;font-size:12px;border:1px solid #ddd}.charts{display:flex;flex-wrap:wrap}
</style></head><body>)";
  std::string run_id = config.contains("run") ? config["run"].value("run_id", "") : "";
  html += fmt::format("<h1>fedsilo run {} — {}</h1>", escape_markup(run_id), escape_markup(status));
  if (!test_acc.points.empty()) {
    html += fmt::format(
        "<p>{} rounds; final test accuracy <b>{:.4f}</b>, test loss {:.4f}; train accuracy "
        "{:.4f}.</p>",
        rounds.size(), test_acc.points.back().second, test_loss.points.back().second,
        train_acc.points.back().second);
  }
  if (!rounds.empty() && rounds.back().contains("aggregation")) {
    const auto& agg = rounds.back()["aggregation"];
    if (agg.contains("dp_epsilon")) {
      html += fmt::format(
          "<p>Differential privacy: <b>&epsilon; = {:.4g}</b> spent so far at &delta; = {:.3g} "
          "(RDP accountant, {} rounds, noise scale {:.4g}; docs/algorithms.md).</p>",
          num(agg, "dp_epsilon"), num(agg, "dp_delta"), rounds.size(), num(agg, "dp_noise_scale"));
    }
  }
  html += "<h2>Accuracy and loss</h2><div class=\"charts\">";
  html += line_chart("accuracy", {test_acc, train_acc}, 0, 1, std::max(1.0, max_round));
  html += line_chart("loss", {test_loss, train_loss}, 0, max_loss > 0 ? max_loss * 1.05 : 1,
                     std::max(1.0, max_round));
  html += "</div>";

  // Stacked bars: where each round's time went.
  double max_ms = 1;
  for (const auto& b : breakdown) max_ms = std::max(max_ms, b[0] + b[1] + b[2] + b[3] + b[4]);
  const double W = 1140, H = 280, L = 55, R = 15, T = 40, B = 35;
  double bw = breakdown.empty() ? 0 : (W - L - R) / breakdown.size();
  std::string svg = fmt::format(
      R"(<svg class="chart" viewBox="0 0 {} {}" width="{}" height="{}" role="img"><text x="{}" y="18" class="title">time per round (ms)</text>)",
      W, H, W, H, L);
  for (int i = 0; i <= 4; ++i) {
    double v = max_ms * i / 4, yy = H - B - (H - T - B) * i / 4.0;
    svg += fmt::format(
        R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" class="grid"/><text x="{}" y="{:.1f}" class="tick" text-anchor="end">{:.3g}</text>)",
        L, W - R, yy, yy, L - 5, yy + 4, v);
  }
  for (size_t i = 0; i < breakdown.size(); ++i) {
    double y0 = H - B;
    for (int p = 0; p < 5; ++p) {
      double h = (H - T - B) * breakdown[i][p] / max_ms;
      y0 -= h;
      svg +=
          fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"/>)",
                      L + i * bw, y0, std::max(bw * 0.85, 0.5), h, parts[p].color);
    }
  }
  double lx = L + 170;
  for (const auto& p : parts) {
    svg += fmt::format(
        R"(<rect x="{:.0f}" y="8" width="10" height="10" fill="{}"/><text x="{:.0f}" y="17" class="tick">{}</text>)",
        lx, p.color, lx + 14, p.name);
    lx += 90;
  }
  html +=
      "<h2>Time per round</h2><p>train = slowest silo's training; transfer = uploads, downloads "
      "and "
      "the two control-message hops; aggregate = folding and averaging; evaluate = server "
      "evaluation.</p>" +
      svg + "</svg>";

  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  html +=
      "<h2>Silos</h2><table><tr><th>silo</th><th>rounds</th><th>samples trained</th><th>median "
      "train ms</th>"
      "<th>median transfer ms</th><th>rounds dropped</th><th>median CPU %</th><th>peak RSS "
      "MiB</th></tr>";
  for (const auto& [id, st] : silos) {
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.3f}</td><td>{:.3f}</td><td>{}</td><td>{}</td>"
        "<td>{}</td></tr>",
        id, st.rounds, st.samples, median(st.train), median(st.transfer), st.dropped,
        st.cpu.empty() ? "–" : fmt::format("{:.0f}", median(st.cpu)),
        st.peak_rss_mib > 0 ? fmt::format("{:.0f}", st.peak_rss_mib) : "–");
  }
  html += "</table>";
  if (!dropped_rows.empty()) {
    html +=
        "<h2>Rounds without every selected silo</h2><table><tr><th>round</th><th>models "
        "in</th><th>dropped silos</th></tr>" +
        dropped_rows + "</table>";
  }
  html += "<h2>Configuration</h2><pre>" + escape_markup(config.dump(2)) + "</pre></body></html>\n";
  return html;
}

}  // namespace fedsilo::cross_silo
