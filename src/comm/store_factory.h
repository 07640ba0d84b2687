#pragma once
#include <memory>

#include "comm/object_store.h"
#include "fedsilo/args.h"

namespace fedsilo::comm {

// comm_args.object_store: "s3" uses comm_args.s3_config_path (and creates the bucket when it is
// missing); "file://<folder>" a directory shared by all parties (one machine or a shared
// file system). Throws ConfigError naming what is wrong.
std::unique_ptr<ObjectStore> make_object_store(const Args& args);

}  // namespace fedsilo::comm
