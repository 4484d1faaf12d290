#include "common/sha256.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace duplex {
namespace {

// Test vectors from FIPS 180-4's examples (NIST CSRC "SHA256.pdf") and the NESSIE set.
TEST(Sha256, EmptyInputMatchesTheStandardVector) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, AbcMatchesTheStandardVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, TwoBlockMessageMatchesTheStandardVector) {
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, OneMillionAsMatchesTheStandardVector) {
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, FileDigestEqualsTheDigestOfItsContentsAcrossManyReads) {
  // Larger than one 64 KiB read and not a multiple of the block size, so pieces join correctly.
  std::string contents;
  for (int i = 0; i < 200000; ++i) contents += static_cast<char>('a' + i % 26);
  const std::string path = ::testing::TempDir() + "/sha256_test_file";
  std::ofstream(path, std::ios::binary) << contents;
  StatusOr<std::string> digest = Sha256HexOfFile(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, Sha256Hex(contents));
}

TEST(Sha256, MissingFileIsAnIOErrorNamingThePath) {
  const std::string path = ::testing::TempDir() + "/sha256_test_no_such_file";
  StatusOr<std::string> digest = Sha256HexOfFile(path);
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.status().code(), Code::kIOError);
  EXPECT_NE(digest.status().message().find(path), std::string::npos) << digest.status().message();
}

}  // namespace
}  // namespace duplex
