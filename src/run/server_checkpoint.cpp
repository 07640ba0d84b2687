#include "run/server_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/file_write.h"
#include "core/sha256.h"
#include "protocol/model_exchange.h"
#include "fedsilo/error.h"
#include "ml/model_blob.h"
#include "ml/safetensors.h"

namespace fedsilo::cross_silo {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kFormat = 1;

json file_entry(const std::string& relative, const std::string& bytes) {
  return {{"file", relative}, {"size", bytes.size()}, {"sha256", sha256_hex(bytes)}};
}

json ref_to_json(const BlobRef& r) {
  if (r.empty()) return nullptr;
  return {{"key", r.key}, {"size", r.size}, {"sha256", r.sha256}};
}

}  // namespace

CheckpointFiles::CheckpointFiles(std::string output_dir) : dir_(std::move(output_dir)) {}

std::string CheckpointFiles::json_path() const {
  return (fs::path(dir_) / "checkpoint.json").string();
}

void CheckpointFiles::save(const ServerCheckpoint& c, const StateDict& model,
                           const StateDict& aggregator_state) {
  fs::path folder = fs::path(dir_) / "checkpoint";
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw StoreError("checkpoint folder " + folder.string() + ": " + ec.message());
  std::string stem = "checkpoint/round_" + std::to_string(c.round);
  json doc = {{"format", kFormat},
              {"run_id", c.run_id},
              {"round", c.round},
              {"finished", c.finished},
              {"elapsed_s", c.elapsed_s},
              {"record", c.record},
              {"last_metrics", c.last_metrics},
              {"final_model", ref_to_json(c.final_model)},
              {"config", c.config},
              {"aggregator", nullptr}};
  {
    // Streamed from the model's memory: a checkpoint costs no second copy of the model.
    std::string sha;
    write_file_atomically((fs::path(dir_) / (stem + ".safetensors")).string(),
                          [&](const ByteSink& out) { sha = write_model(model, out); }, 0644);
    doc["model"] = {
        {"file", stem + ".safetensors"}, {"size", encoded_model_size(model)}, {"sha256", sha}};
  }
  if (!aggregator_state.empty()) {
    std::string bytes = safetensors_encode(aggregator_state);
    write_file_atomically((fs::path(dir_) / (stem + ".aggregator.safetensors")).string(), bytes,
                          0644);
    doc["aggregator"] = file_entry(stem + ".aggregator.safetensors", bytes);
  }
  write_file_atomically(json_path(), doc.dump(1) + "\n", 0644);
  // The round before is superseded only now that checkpoint.json names this one.
  for (const char* suffix : {".safetensors", ".aggregator.safetensors"}) {
    fs::remove(folder / ("round_" + std::to_string(c.round - 1) + suffix), ec);
  }
}

std::optional<CheckpointFiles::Loaded> CheckpointFiles::load(const std::string& run_id,
                                                             const StateDict& layout) const {
  auto path = json_path();
  if (!fs::exists(path)) return std::nullopt;
  auto bad = [&](const std::string& why) {
    return ConfigError("checkpoint " + path + ": " + why +
                       "; the run cannot resume from it (restore the file from a backup, or "
                       "start a new run with another --run_id)");
  };
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  json doc;
  try {
    doc = json::parse(text.str());
  } catch (const json::exception& e) {
    throw bad(std::string("is truncated or not JSON (") + e.what() + ")");
  }
  Loaded out;
  // Reads one file the checkpoint names and checks it is the one it recorded.
  auto read_entry = [&](const json& entry) {
    auto name = entry.at("file").get<std::string>();
    if (name.find("..") != std::string::npos || fs::path(name).is_absolute())
      throw bad("it names file " + name + " outside its folder");
    auto file = (fs::path(dir_) / name).string();
    std::ifstream f(file, std::ios::binary);
    if (!f) throw bad("the file it names, " + file + ", is missing");
    std::stringstream bytes;
    bytes << f.rdbuf();
    std::string b = bytes.str();
    if (static_cast<int64_t>(b.size()) != entry.at("size").get<int64_t>() ||
        sha256_hex(b) != entry.at("sha256").get<std::string>()) {
      throw bad("the file it names, " + file + ", does not match its recorded size and SHA-256");
    }
    return std::make_pair(file, b);
  };
  try {
    if (doc.at("format").get<int>() != kFormat)
      throw bad("format " + doc.at("format").dump() + " is not " + std::to_string(kFormat));
    auto& m = out.meta;
    m.run_id = doc.at("run_id").get<std::string>();
    if (m.run_id != run_id) throw bad("it belongs to run " + m.run_id + ", not run " + run_id);
    m.round = doc.at("round").get<int64_t>();
    m.finished = doc.at("finished").get<bool>();
    m.elapsed_s = doc.at("elapsed_s").get<double>();
    m.record = doc.at("record");
    m.last_metrics = doc.at("last_metrics");
    m.config = doc.value("config", json());
    if (const auto& f = doc.at("final_model"); !f.is_null()) {
      m.final_model = {f.at("key").get<std::string>(), f.at("size").get<int64_t>(),
                       f.at("sha256").get<std::string>()};
    }
    const auto& entry = doc.at("model");
    auto model_file = entry.at("file").get<std::string>();
    try {
      // Streamed and verified as it is read, like a blob from the store.
      comm::DirectoryStore folder(dir_);
      BlobRef ref{model_file, entry.at("size").get<int64_t>(),
                  entry.at("sha256").get<std::string>()};
      out.model = get_model(folder, ref, layout, "checkpoint model");
    } catch (const comm::NotFoundError&) {
      throw bad("the file it names, " + (fs::path(dir_) / model_file).string() + ", is missing");
    } catch (const Error& e) {
      throw bad("the file it names, " + (fs::path(dir_) / model_file).string() +
                ", does not match its recorded size and SHA-256 or the model's layout (" +
                e.what() + ")");
    }
    if (const auto& a = doc.at("aggregator"); !a.is_null()) {
      auto [agg_file, agg_bytes] = read_entry(a);
      try {
        out.aggregator = safetensors_decode(agg_bytes);
      } catch (const ProtocolError& e) {
        throw bad(agg_file + ": " + e.what());
      }
    }
  } catch (const json::exception& e) {
    throw bad(std::string("a field is missing or has the wrong type (") + e.what() + ")");
  }
  return out;
}

}  // namespace fedsilo::cross_silo
