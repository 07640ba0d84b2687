#include <filesystem>

#include "core/command_line.h"
#include "core/log.h"
#include "fedsilo/error.h"
#include "fedsilo/fedsilo.h"
#include "silo/sibling_trainers.h"
#include "silo/silo_role.h"

namespace fedsilo {

Args init(int argc, char** argv) {
  // Before anything else, while this is the process's only thread: a node's first trainer forks
  // its siblings here (silo/sibling_trainers.h).
  silo::fork_sibling_trainers();
  Args args = parse_command_line(argc, argv);
  set_program_option_count(argc - 1);
  std::string log_name = args.rank == 0 ? "server.log" : silo::SiloRole::of(args).log_name(args);
  logging::init((std::filesystem::path(args.run_output_dir()) / log_name).string(), args.log_level);
  return args;
}

}  // namespace fedsilo
