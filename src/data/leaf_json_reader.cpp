#include "data/leaf_json_reader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "fedsilo/error.h"

namespace fedsilo::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

LeafUser read_user(const std::string& file, const std::string& user, const json& ud,
                   int64_t declared) {
  auto where = [&] { return "LEAF file " + file + ", user " + user + ": "; };
  if (!ud.is_object() || !ud.contains("x") || !ud.contains("y") || !ud["x"].is_array() ||
      !ud["y"].is_array()) {
    throw DataError(where() + "user_data must hold arrays x and y");
  }
  const auto& xs = ud["x"];
  const auto& ys = ud["y"];
  int64_t n = static_cast<int64_t>(ys.size());
  if (static_cast<int64_t>(xs.size()) != n) {
    throw DataError(where() + std::to_string(xs.size()) + " inputs but " + std::to_string(n) +
                    " labels");
  }
  if (declared >= 0 && declared != n) {
    throw DataError(where() + "num_samples says " + std::to_string(declared) + " but has " +
                    std::to_string(n));
  }
  // A data silo with no samples would train on nothing and report a zero weight.
  if (n == 0) throw DataError(where() + "has 0 samples");
  int64_t features = xs[0].is_array() ? static_cast<int64_t>(xs[0].size()) : 0;
  if (features == 0) throw DataError(where() + "sample 0 has 0 features");
  LeafUser u{user, {torch::empty({n, features}, torch::kUInt8), torch::empty({n}, torch::kInt64)}};
  auto* px = u.data.x.data_ptr<uint8_t>();
  auto* py = u.data.y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& row = xs[i];
    if (!row.is_array() || static_cast<int64_t>(row.size()) != features) {
      throw DataError(where() + "sample " + std::to_string(i) + " does not have " +
                      std::to_string(features) + " features");
    }
    for (int64_t j = 0; j < features; ++j) {
      if (!row[j].is_number())
        throw DataError(where() + "sample " + std::to_string(i) + " has a non-number feature");
      double v = row[j].get<double>();
      if (!(v >= 0.0 && v <= 1.0)) {
        throw DataError(where() + "sample " + std::to_string(i) + " has feature " +
                        std::to_string(v) + " outside [0, 1]");
      }
      px[i * features + j] = static_cast<uint8_t>(std::lround(v * 255.0));
    }
    if (!ys[i].is_number_integer() || ys[i].get<int64_t>() < 0) {
      throw DataError(where() + "label " + std::to_string(i) + " is not a non-negative integer");
    }
    py[i] = ys[i].get<int64_t>();
  }
  return u;
}

}  // namespace

std::vector<LeafUser> read_leaf_folder(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw DataError("LEAF folder " + folder + ": not found");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(folder)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw DataError("LEAF folder " + folder + ": no *.json files");
  std::vector<LeafUser> users;
  for (const auto& path : files) {
    std::ifstream in(path);
    json doc;
    try {
      doc = json::parse(in);
    } catch (const json::exception& e) {
      throw DataError("LEAF file " + path.string() + ": not valid JSON: " + e.what());
    }
    if (!doc.is_object() || !doc.contains("users") || !doc.contains("user_data") ||
        !doc["users"].is_array() || !doc["user_data"].is_object()) {
      throw DataError("LEAF file " + path.string() + ": expected keys users and user_data");
    }
    const auto& names = doc["users"];
    const json* counts = doc.contains("num_samples") && doc["num_samples"].is_array()
                             ? &doc["num_samples"]
                             : nullptr;
    for (size_t i = 0; i < names.size(); ++i) {
      if (!names[i].is_string())
        throw DataError("LEAF file " + path.string() + ": users must be strings");
      auto name = names[i].get<std::string>();
      if (!doc["user_data"].contains(name)) {
        throw DataError("LEAF file " + path.string() + ": user " + name + " has no user_data");
      }
      int64_t declared = counts && i < counts->size() && (*counts)[i].is_number_integer()
                             ? (*counts)[i].get<int64_t>()
                             : -1;
      users.push_back(read_user(path.string(), name, doc["user_data"][name], declared));
    }
  }
  return users;
}

}  // namespace fedsilo::data
