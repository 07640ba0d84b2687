#include "core/folder_lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fedsilo/error.h"
#include "test_util.h"

using namespace fedsilo;

TEST(FolderLock, ASecondHolderIsRefusedNamingTheFirstsPid) {
  testutil::TempDir dir;
  {
    FolderLock first(dir.path());
    try {
      FolderLock second(dir.path());
      FAIL() << "two holders of one run folder";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos)
          << e.what();
    }
  }
  FolderLock again(dir.path());  // released with its holder
}

TEST(FolderLock, TemporaryFilesOfDeadWritersAreRemovedOthersKept) {
  testutil::TempDir dir;
  std::filesystem::create_directories(dir / "checkpoint");
  // A pid above the kernel's maximum (4194304) belongs to no process.
  std::ofstream(dir / "checkpoint/round_3.safetensors.tmp.9999999") << "half";
  std::ofstream(dir / "report.html.tmp.9999998") << "half";
  std::string mine = dir / ("report.html.tmp." + std::to_string(::getpid()));
  std::ofstream(mine) << "being written";
  std::ofstream(dir / "notes.tmp.txt") << "not ours";
  EXPECT_EQ(remove_stale_temporaries(dir.path()), 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "checkpoint/round_3.safetensors.tmp.9999999"));
  EXPECT_TRUE(std::filesystem::exists(mine));
  EXPECT_TRUE(std::filesystem::exists(dir / "notes.tmp.txt"));
}
