#include <filesystem>

#include "core/command_line.h"
#include "core/log.h"
#include "fedsilo/error.h"
#include "fedsilo/fedsilo.h"
#include "silo/silo_role.h"

namespace fedsilo {

Args init(int argc, char** argv) {
  Args args = parse_command_line(argc, argv);
  std::string log_name = args.rank == 0 ? "server.log" : silo::SiloRole::of(args).log_name(args);
  logging::init((std::filesystem::path(args.run_output_dir()) / log_name).string(), args.log_level);
  return args;
}

}  // namespace fedsilo
