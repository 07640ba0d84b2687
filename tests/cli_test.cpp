// The command-line tool on bad input: one clear line, a non-zero exit, never a stack trace.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "build_paths.h"
#include "core/subprocess.h"
#include "test_util.h"

namespace {
struct Result {
  int code;
  std::string output;
};
Result run(const std::string& args) {
  std::string cmd = std::string(fedsilo::build_paths::cli()) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WEXITSTATUS(status), out};
}
}  // namespace

TEST(Cli, BadConfigValueIsOneClearLine) {
  fedsilo::testutil::TempDir dir;
  auto r = run("simulate --cf " + std::string(fedsilo::build_paths::source_dir()) +
               "/tests/fixtures/fedml_config.yaml --set train_args.batch_size=-1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train_args.batch_size = -1: must be an integer >= 1"), std::string::npos)
      << r.output;
}

TEST(Cli, CorruptDataFileIsOneClearLine) {
  fedsilo::testutil::TempDir dir;
  auto mnist = fedsilo::testutil::make_synthetic_mnist(dir.path(), 50, 10);
  std::ofstream(mnist + "/t10k-images-idx3-ubyte.gz", std::ios::trunc) << "garbage";
  auto r =
      run("simulate --cf " + std::string(fedsilo::build_paths::source_dir()) +
          "/tests/fixtures/fedml_config.yaml --set " + "data_args.data_cache_dir=" + dir.path() +
          " --set tracking_args.log_file_dir=" + dir.path() + "/log");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("IDX file " + mnist + "/t10k-images-idx3-ubyte.gz"), std::string::npos)
      << r.output;
}

// `fedsilo` (no libtorch) hands commands to fedsilo-engine and answers what it can itself.
TEST(Cli, TheLeanToolHandsCommandsToTheEngineAndRefusesTheRest) {
  auto help = run("simulate --help");
  EXPECT_EQ(help.code, 0) << help.output;
  EXPECT_NE(help.output.find("--cf"), std::string::npos) << "the engine's option list";
  auto unknown = run("frobnicate");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("unknown command frobnicate"), std::string::npos);
  auto launch = run("launch --cf x.yaml");
  EXPECT_EQ(launch.code, 2);
  EXPECT_NE(launch.output.find("usage: fedsilo launch [--or-run] --exe PROGRAM [WORD ...] --"),
            std::string::npos);
  // One trainer per node: not a launcher, so `launch` refuses rather than start nothing.
  auto single =
      run("launch --exe /bin/true -- --cf " + std::string(fedsilo::build_paths::source_dir()) +
          "/tests/fixtures/fedml_config.yaml --rank 1 --set client_silo_args.n_proc_per_node=1");
  EXPECT_EQ(single.code, 2) << single.output;
  EXPECT_NE(single.output.find("do not make a silo launcher"), std::string::npos) << single.output;
  // A run script's --or-run: then the program runs itself, with its words and options.
  auto itself = run("launch --or-run --exe /bin/echo program.py -- --cf " +
                    std::string(fedsilo::build_paths::source_dir()) +
                    "/tests/fixtures/fedml_config.yaml --rank 1 --set "
                    "client_silo_args.n_proc_per_node=1");
  EXPECT_EQ(itself.code, 0) << itself.output;
  EXPECT_NE(itself.output.find("program.py --cf "), std::string::npos) << itself.output;
}

// Each fault of the command line says so once and exits with the documented code (2).
TEST(Cli, ConfigsWithoutSettingsRanksOutsideTheListAndUnusablePathsExit2Once) {
  fedsilo::testutil::TempDir dir;
  std::string fixture =
      std::string(fedsilo::build_paths::source_dir()) + "/tests/fixtures/fedml_config.yaml";
  for (const char* text : {"# nothing but a comment\n", "null\n", "---\n"}) {
    std::ofstream(dir / "c.yaml", std::ios::trunc) << text;
    auto r = run("server --cf " + dir / "c.yaml");
    EXPECT_EQ(r.code, 2) << text << r.output;
    EXPECT_NE(r.output.find("holds no settings"), std::string::npos) << r.output;
  }
  auto data = fedsilo::testutil::make_synthetic_mnist(dir.path(), 50, 10);
  std::string common = " --cf " + fixture + " --set data_args.data_cache_dir=" + dir.path() +
                       " --set tracking_args.log_file_dir=" + dir / "log";
  auto rank = run("client --rank 5" + common);
  EXPECT_EQ(rank.code, 2) << rank.output;
  std::string line = "--rank 5 is not in train_args.client_id_list [1, 2]";
  auto said = rank.output.find(line);
  ASSERT_NE(said, std::string::npos) << rank.output;
  EXPECT_EQ(rank.output.find(line, said + 1), std::string::npos) << "said twice";
  auto long_id = run("server --run_id " + std::string(300, 'x') + common);
  EXPECT_EQ(long_id.code, 2) << long_id.output;
  EXPECT_NE(long_id.output.find("at most 128"), std::string::npos) << long_id.output;
  std::ofstream(dir / "afile") << "x";
  auto file_dir = run("server" + common + " --set tracking_args.log_file_dir=" + dir / "afile");
  EXPECT_EQ(file_dir.code, 2) << file_dir.output;
  EXPECT_NE(file_dir.output.find("afile"), std::string::npos) << file_dir.output;
}

// docs/deployment.md: a broker that never answers is a deadline (3), not bad input (2).
TEST(Cli, ABrokerThatIsDownEndsTheServerWithExit3) {
  fedsilo::testutil::TempDir dir;
  auto data = fedsilo::testutil::make_synthetic_mnist(dir.path(), 50, 10);
  std::ofstream(dir / "mqtt.yaml")
      << "BROKER_HOST: 127.0.0.1\nBROKER_PORT: " << fedsilo::free_loopback_port() << "\n";
  auto r =
      run("server --cf " + std::string(fedsilo::build_paths::source_dir()) +
          "/tests/fixtures/fedml_config.yaml --set data_args.data_cache_dir=" + dir.path() +
          " --set tracking_args.log_file_dir=" + dir / "log" +
          " --set comm_args.backend=MQTT_S3 --set comm_args.mqtt_config_path=" + dir / "mqtt.yaml" +
          " --set comm_args.object_store=file://" + dir / "blobs" +
          " --set comm_args.online_timeout_s=1");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("could not connect to the broker"), std::string::npos) << r.output;
}
