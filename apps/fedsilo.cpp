// The fedsilo command-line tool. This program does not link libtorch: a silo's launcher (the
// process that starts its trainers and watches them) runs here, in a few MiB, and every other
// command is handed to fedsilo-engine, which has the ML runtime (docs/architecture.md,
// "Processes").
//   fedsilo server   --cf fedml_config.yaml --rank 0 [...]
//   fedsilo client   --cf fedml_config.yaml --rank k [--node_rank r] [...]
//   fedsilo simulate --cf fedml_config.yaml [...]
//   fedsilo provision --silos N --out DIR [...]
//   fedsilo launch --exe PROGRAM -- <PROGRAM's options>   (a user program's launcher, below)
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "core/args_checks.h"
#include "core/command_line.h"
#include "core/heap_tunables.h"
#include "core/log.h"
#include "fedsilo/error.h"
#include "fedsilo/exit_code.h"
#include "silo/launcher.h"
#include "silo/silo_role.h"

namespace {

namespace fs = std::filesystem;

// fedsilo-engine beside this program (build tree), or in ../libexec/fedsilo (installed).
std::string engine_path() {
  fs::path self = fs::read_symlink("/proc/self/exe");
  for (auto p : {self.parent_path() / "fedsilo-engine",
                 self.parent_path().parent_path() / "libexec/fedsilo/fedsilo-engine"}) {
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

int exec(const std::vector<std::string>& argv) {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  execv(a[0], a.data());
  std::cerr << "fedsilo: cannot run " << argv[0] << ": " << std::strerror(errno) << "\n";
  return 1;
}

// The node's launcher, whose trainers run `trainer_command options...`, when the options make
// this process one (more than one trainer per node, no trainer variables set); nullopt when
// they do not, or do not parse (the trainer program itself then reports it).
std::optional<int> launch_if_launcher(const std::vector<std::string>& trainer_command,
                                      std::vector<std::string> options) {
  std::string name = "fedsilo";
  std::vector<char*> a = {name.data()};
  for (auto& s : options) a.push_back(s.data());
  fedsilo::Args args;
  fedsilo::silo::SiloRole role;
  try {
    args = fedsilo::parse_command_line(static_cast<int>(a.size()), a.data());
    role = fedsilo::silo::SiloRole::of(args);
  } catch (const fedsilo::Error&) {
    return std::nullopt;
  }
  if (!role.launcher() || args.rank < 1) return std::nullopt;
  try {
    fedsilo::check_silo_rank(args);  // before any trainer starts: said once, exit 2
  } catch (const fedsilo::Error& e) {
    std::cerr << "fedsilo: error: " << e.what() << std::endl;
    return 2;
  }
  fedsilo::logging::init((fs::path(args.run_output_dir()) / role.log_name(args)).string(),
                         args.log_level);
  std::vector<std::string> trainer = trainer_command;
  trainer.insert(trainer.end(), options.begin(), options.end());
  return fedsilo::silo::launch_trainers(args, trainer);
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: fedsilo {server|client|simulate} --cf fedml_config.yaml [--rank N] [--run_id ID]\n"
      "               [--node_rank R] [--set section.key=value ...]   (fedsilo server --help)\n"
      "       fedsilo provision --silos N --out DIR [--broker-host H] [--broker-port P]\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h") {
    std::cout << usage;
    return 0;
  }
  if (cmd == "launch") {
    fedsilo::prefer_huge_page_heap_for_children();
    // From libfedsilo (run_silo_launcher) in a user's program: its trainers run that program
    // (PROGRAM and the words before its options: `python3 train.py` for a Python program).
    // From a silo's run script (--or-run): the node's launcher when the options make one, else
    // the program itself, so a program runs only as trainers and never loads libtorch or an
    // interpreter just to start them.
    int first = 2;
    bool or_run = argc > 2 && std::string(argv[2]) == "--or-run";
    if (or_run) ++first;
    int dashes = first + 2;
    while (dashes < argc && std::string(argv[dashes]) != "--") ++dashes;
    if (argc < first + 3 || std::string(argv[first]) != "--exe" || dashes >= argc) {
      std::cerr << "usage: fedsilo launch [--or-run] --exe PROGRAM [WORD ...] -- <PROGRAM's "
                   "options>\n";
      return 2;
    }
    std::vector<std::string> program(argv + first + 1, argv + dashes);
    std::vector<std::string> options(argv + dashes + 1, argv + argc);
    auto code = launch_if_launcher(program, options);
    if (code) return *code;
    if (or_run) {
      program.insert(program.end(), options.begin(), options.end());
      return exec(program);
    }
    std::cerr << "fedsilo launch: these options do not make a silo launcher\n";
    return 2;
  }
  if (cmd != "server" && cmd != "client" && cmd != "simulate" && cmd != "provision") {
    std::cerr << "fedsilo: unknown command " << cmd << "\n" << usage;
    return 2;
  }
  std::string engine = engine_path();
  if (engine.empty()) {
    std::cerr << "fedsilo: fedsilo-engine is missing beside " << fs::read_symlink("/proc/self/exe")
              << " and in ../libexec/fedsilo; reinstall fedsilo\n";
    return 1;
  }
  std::vector<std::string> options(argv + 2, argv + argc);
  fedsilo::prefer_huge_page_heap_for_children();
  if (cmd == "client") {
    if (auto code = launch_if_launcher({engine, "client"}, options)) return *code;
  }
  options.insert(options.begin(), {engine, cmd});
  return exec(options);
}
