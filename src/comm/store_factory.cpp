#include "comm/store_factory.h"

#include "comm/s3_store.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {

std::unique_ptr<ObjectStore> make_object_store(const Args& args) {
  if (args.object_store.rfind("file://", 0) == 0) {
    std::string dir = args.object_store.substr(7);
    if (dir.empty())
      throw ConfigError(
          "config comm_args.object_store = file://: needs a folder, e.g. file:///srv/fedsilo");
    return std::make_unique<DirectoryStore>(dir);
  }
  if (args.s3_config_path.empty()) {
    throw ConfigError("config comm_args.object_store = s3 needs comm_args.s3_config_path");
  }
  auto store = std::make_unique<S3Store>(load_s3_options(args.resolve(args.s3_config_path)));
  store->ensure_bucket();
  return store;
}

}  // namespace fedsilo::comm
