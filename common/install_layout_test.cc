#include "common/install_layout.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace duplex {
namespace {

namespace fs = std::filesystem;

class InstallLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/duplex-layout-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    ::unsetenv("DUPLEX_STATE_DIR");
  }
  void TearDown() override {
    ::unsetenv("DUPLEX_STATE_DIR");
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(InstallLayoutTest, ABinaryBesideCMakeCacheIsInABuildTreeAndKeepsEverythingThere) {
  std::ofstream(dir_ / "CMakeCache.txt") << "";
  InstallLayout layout = LayoutOf((dir_ / "duplex").string());
  EXPECT_TRUE(layout.build_tree);
  EXPECT_EQ(layout.packages_dir, (dir_ / "packages").string());
  EXPECT_EQ(layout.state_dir, dir_.string());
  EXPECT_EQ(layout.default_config, "examples/kv/cluster.yaml");
}

TEST_F(InstallLayoutTest, AnInstalledBinaryFindsPackagesUnderItsPrefixAndStateInVarLib) {
  fs::create_directories(dir_ / "usr" / "bin");
  InstallLayout layout = LayoutOf((dir_ / "usr" / "bin" / "duplex").string());
  EXPECT_FALSE(layout.build_tree);
  EXPECT_EQ(layout.packages_dir, (dir_ / "usr" / "lib" / "duplex" / "packages").string());
  EXPECT_EQ(layout.state_dir, "/var/lib/duplex");
  EXPECT_EQ(layout.default_config, "/etc/duplex/cluster.yaml");
  ::setenv("DUPLEX_STATE_DIR", (dir_ / "state").c_str(), 1);
  EXPECT_EQ(LayoutOf((dir_ / "usr" / "bin" / "duplex").string()).state_dir,
            (dir_ / "state").string());
}

}  // namespace
}  // namespace duplex
