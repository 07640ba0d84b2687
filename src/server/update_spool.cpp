#include "server/update_spool.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "fedsilo/error.h"
#include "ml/model_blob_reader.h"
#include "protocol/model_exchange.h"

namespace fedsilo::cross_silo {
namespace fs = std::filesystem;
namespace {

void read_at(int fd, char* out, size_t n, uint64_t offset, const std::string& path) {
  while (n > 0) {
    ssize_t got = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw StoreError("update spool: cannot read " + path + ": " +
                       (got == 0 ? std::string("file is short") : std::strerror(errno)));
    out += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

template <typename T>
void fold(double* __restrict acc, const char* src, int64_t n, double w) {
  const T* v = reinterpret_cast<const T*>(src);
  for (int64_t i = 0; i < n; ++i) acc[i] += w * static_cast<double>(v[i]);
}

template <typename T>
void store_mean(char* dst, const double* acc, int64_t n, double total, bool integral) {
  T* out = reinterpret_cast<T*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    double m = acc[i] / total;
    out[i] = static_cast<T>(integral ? std::nearbyint(m) : m);
  }
}

// Calls f.template operator()<T>() for the C++ type of `type`.
template <typename F>
void with_type(torch::ScalarType type, F&& f) {
  switch (type) {
    case torch::kFloat32:
      return f(float{});
    case torch::kFloat64:
      return f(double{});
    case torch::kFloat16:
      return f(c10::Half{});
    case torch::kBFloat16:
      return f(c10::BFloat16{});
    case torch::kInt64:
      return f(int64_t{});
    case torch::kInt32:
      return f(int32_t{});
    case torch::kInt16:
      return f(int16_t{});
    case torch::kInt8:
      return f(int8_t{});
    case torch::kUInt8:
      return f(uint8_t{});
    case torch::kBool:
      return f(bool{});
    default:
      throw Error(std::string("FedAvg: dtype ") + c10::toString(type) + " cannot be averaged");
  }
}

std::string free_space(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return "free space unknown";
  return std::to_string(static_cast<uint64_t>(st.f_bavail) * st.f_frsize) + " bytes free there";
}

}  // namespace

UpdateSpool::UpdateSpool(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw StoreError("update spool " + dir_ + ": cannot create the folder: " + ec.message());
  // A server that crashed mid-round left its spool files: they are of no use to this one.
  for (auto it = fs::directory_iterator(dir_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->path().filename().string().rfind("silo_", 0) == 0) fs::remove(it->path(), ec);
  }
}

UpdateSpool::~UpdateSpool() {
  remove_files();
  std::error_code ec;
  fs::remove(dir_, ec);  // only when empty
}

std::string UpdateSpool::key_of(int64_t silo) const {
  return "silo_" + std::to_string(silo) + ".safetensors";
}

void UpdateSpool::remove_files() {
  for (const auto& [silo, u] : updates_) {
    std::error_code ec;
    fs::remove(u.path, ec);
  }
  updates_.clear();
}

void UpdateSpool::reset(const StateDict& layout) {
  remove_files();
  layout_ = layout_of(layout);
  total_ = 0;
  try {
    if (!result_.empty()) check_same_layout(layout_, result_, "result buffer");
  } catch (const ProtocolError&) {
    result_.clear();  // another model: a new buffer
  }
}

std::string UpdateSpool::receive(comm::ObjectStore& store, const BlobRef& ref, int64_t silo,
                                 const std::string& what) {
  discard(silo);
  check_declared_size(ref, layout_, what);
  ModelBlobReader reader(ref, layout_, what, nullptr);
  // The spool is a folder of files written whole and renamed: a reader never sees half a blob,
  // and a blob that fails a check leaves no file.
  comm::DirectoryStore spool(dir_);
  // A failure to write the spool is this server's disk, not the silo's blob: the run stops
  // (exit 5) instead of asking the silo again for ever.
  bool fetched = false;
  auto local_failure = [&](const std::string& why) {
    return OutputError("update spool " + dir_ + ": cannot keep the " + what + " (" +
                       std::to_string(ref.size) + " bytes; " + free_space(dir_) + "): " + why);
  };
  try {
    spool.put_stream(key_of(silo), ref.size, [&](const ByteSink& out) {
      stream_blob(store, ref, what, [&](const char* p, size_t n) {
        reader.feed(p, n);
        try {
          out(p, n);
        } catch (const StoreError& e) {
          throw local_failure(e.what());
        }
      });
      reader.finish();
      fetched = true;
    });
  } catch (const OutputError&) {
    throw;
  } catch (const StoreError& e) {
    if (fetched) throw local_failure(e.what());  // the file's sync or rename
    throw;
  }
  Update& u = updates_[silo];
  u.path = (fs::path(dir_) / key_of(silo)).string();
  u.offsets = reader.tensor_offsets();
  return reader.nonfinite_tensor();
}

void UpdateSpool::accept(int64_t silo, double weight) {
  if (!(weight >= 0)) throw Error("FedAvg: weight must be >= 0");
  auto& u = updates_.at(silo);
  if (u.accepted) return;
  u.accepted = true;
  u.weight = weight;
  total_ += weight;
}

void UpdateSpool::discard(int64_t silo) {
  auto it = updates_.find(silo);
  if (it == updates_.end()) return;
  if (it->second.accepted) total_ -= it->second.weight;
  std::error_code ec;
  fs::remove(it->second.path, ec);
  updates_.erase(it);
}

StateDict UpdateSpool::report() {
  if (!(total_ > 0)) throw Error("FedAvg: no weight accumulated (every silo reported 0 samples)");
  struct Source {
    int fd;
    const Update* u;
  };
  std::vector<Source> sources;
  auto close_all = [&] {
    for (auto& s : sources) ::close(s.fd);
  };
  for (const auto& [silo, u] : updates_) {
    if (!u.accepted) continue;
    int fd = ::open(u.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      close_all();
      throw StoreError("update spool: cannot open " + u.path + ": " + std::strerror(errno));
    }
    sources.push_back({fd, &u});
  }
  std::vector<double> acc;
  std::vector<char> buf;
  StateDict out;
  try {
    for (size_t i = 0; i < layout_.size(); ++i) {
      const auto& like = layout_[i].second;
      auto type = like.scalar_type();
      if (result_.size() <= i)
        result_.emplace_back(layout_[i].first, torch::empty(like.sizes(), torch::dtype(type)));
      auto result = result_[i].second;
      bool integral = c10::isIntegralType(type, /*includeBool=*/true);
      int64_t es = static_cast<int64_t>(c10::elementSize(type));
      int64_t numel = like.numel();
      for (int64_t start = 0; start < numel; start += kSliceElements) {
        int64_t n = std::min(kSliceElements, numel - start);
        acc.assign(static_cast<size_t>(n), 0.0);
        buf.resize(static_cast<size_t>(n * es));
        for (const auto& s : sources) {
          read_at(s.fd, buf.data(), buf.size(), s.u->offsets[i] + start * es, s.u->path);
          with_type(type,
                    [&](auto t) { fold<decltype(t)>(acc.data(), buf.data(), n, s.u->weight); });
        }
        char* dst = static_cast<char*>(result.data_ptr()) + start * es;
        with_type(type,
                  [&](auto t) { store_mean<decltype(t)>(dst, acc.data(), n, total_, integral); });
        peak_fold_bytes_ = std::max<int64_t>(
            peak_fold_bytes_,
            static_cast<int64_t>(acc.capacity() * sizeof(double) + buf.capacity()));
      }
      out.emplace_back(layout_[i].first, result);  // shares result_'s memory
    }
  } catch (...) {
    close_all();
    throw;
  }
  close_all();
  return out;
}

}  // namespace fedsilo::cross_silo
