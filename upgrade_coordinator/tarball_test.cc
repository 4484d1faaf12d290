#include "upgrade_coordinator/tarball.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace duplex {
namespace {

namespace fs = std::filesystem;

// One ustar header block for `name` of `type` with `size` bytes of data (written separately).
std::string Header(const std::string& name, char type, uint64_t size,
                   const std::string& link = "") {
  std::string h(512, '\0');
  name.copy(h.data(), std::min<std::size_t>(name.size(), 100));
  std::snprintf(h.data() + 100, 8, "%07o", 0755);
  std::snprintf(h.data() + 108, 8, "%07o", 0);
  std::snprintf(h.data() + 116, 8, "%07o", 0);
  std::snprintf(h.data() + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(h.data() + 136, 12, "%011o", 0);
  h[156] = type;
  link.copy(h.data() + 157, std::min<std::size_t>(link.size(), 100));
  std::string(
      "ustar\0"
      "00",
      8)
      .copy(h.data() + 257, 8);
  unsigned sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : (unsigned char)h[i];
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  h[155] = ' ';
  return h;
}

// An entry: its header, its data, padded to whole blocks.
std::string Entry(const std::string& name, char type, const std::string& data,
                  const std::string& link = "") {
  std::string e = Header(name, type, data.size(), link) + data;
  e.resize((e.size() + 511) / 512 * 512, '\0');
  return e;
}

std::string End() { return std::string(1024, '\0'); }

// A pax extended header record "<len> key=value\n".
std::string PaxRecord(const std::string& key, const std::string& value) {
  const std::string body = " " + key + "=" + value + "\n";
  std::size_t length = body.size() + 1;
  while (std::to_string(length).size() + body.size() != length) ++length;
  return std::to_string(length) + body;
}

fs::path Write(const std::string& name, const std::string& bytes) {
  const fs::path path = fs::path(::testing::TempDir()) / ("tarball_test_" + name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

struct Verdict {
  Status status;
  PackageRefusal reason = PackageRefusal::kInvalid;
};

Verdict Check(const std::string& name, const std::string& bytes, uint64_t max = 1 << 20) {
  Verdict v;
  v.status = CheckTarball(Write(name, bytes).string(), max, &v.reason);
  return v;
}

TEST(Tarball, FilesAndDirectoriesWithRelativePathsPass) {
  Verdict v = Check("ok.tar", Entry("./", '5', "") + Entry("./manifest.yaml", '0', "name: kv\n") +
                                  Entry("./kv-2.0.0", '0', std::string(1500, 'x')) + End());
  EXPECT_TRUE(v.status.ok()) << v.status.ToString();
}

TEST(Tarball, GzippedArchiveIsReadThroughAndChecked) {
  const fs::path plain = Write("evil.tar", Entry("pkg/../../x", '0', "x") + End());
  const std::string command = "gzip -c '" + plain.string() + "' > '" + plain.string() + ".gz'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  EXPECT_TRUE(LooksGzipped(plain.string() + ".gz"));
  EXPECT_FALSE(LooksGzipped(plain.string()));
  PackageRefusal reason = PackageRefusal::kInvalid;
  Status s = CheckTarball(plain.string() + ".gz", 1 << 20, &reason);
  EXPECT_EQ(s.message(), "tarball entry \"pkg/../../x\": a \"..\" component");
  EXPECT_EQ(reason, PackageRefusal::kUnsafeTarball);
}

TEST(Tarball, AbsolutePathsAndDotDotComponentsAreRefusedNamingTheEntry) {
  Verdict absolute = Check("abs.tar", Entry("/etc/cron.d/x", '0', "x") + End());
  EXPECT_EQ(absolute.status.message(), "tarball entry \"/etc/cron.d/x\": an absolute path");
  EXPECT_EQ(absolute.reason, PackageRefusal::kUnsafeTarball);
  Verdict dotdot = Check(
      "dotdot.tar", Entry("pkg/manifest.yaml", '0', "m") + Entry("../kv-2.0.0", '0', "x") + End());
  EXPECT_EQ(dotdot.status.message(), "tarball entry \"../kv-2.0.0\": a \"..\" component");
  EXPECT_TRUE(Check("dots.tar", Entry("a..b/..c", '0', "x") + End()).status.ok())
      << "only a whole \"..\" component is refused";
}

TEST(Tarball, LinksDevicesAndFifosAreRefused) {
  EXPECT_EQ(Check("sym.tar", Entry("kv", '2', "", "/bin/sh") + End()).status.message(),
            "tarball entry \"kv\": a symbolic link");
  EXPECT_EQ(Check("hard.tar", Entry("kv", '1', "", "/etc/shadow") + End()).status.message(),
            "tarball entry \"kv\": a hard link");
  EXPECT_EQ(Check("chr.tar", Entry("null", '3', "") + End()).status.message(),
            "tarball entry \"null\": a device");
  EXPECT_EQ(Check("blk.tar", Entry("sda", '4', "") + End()).status.message(),
            "tarball entry \"sda\": a device");
  EXPECT_EQ(Check("fifo.tar", Entry("p", '6', "") + End()).status.message(),
            "tarball entry \"p\": a FIFO");
  Verdict sparse = Check("sparse.tar", Entry("s", 'S', "") + End());
  EXPECT_EQ(sparse.status.message(),
            "tarball entry \"s\": an entry of type 'S' (only files and directories)");
  EXPECT_EQ(sparse.reason, PackageRefusal::kUnsafeTarball);
}

TEST(Tarball, LongNamesAndPaxPathsAreCheckedAsTheNameTheyReplace) {
  const std::string long_name = std::string(120, 'a') + "/../../etc/passwd";
  Verdict gnu = Check("gnu.tar", Entry("././@LongLink", 'L', long_name + '\0') +
                                     Entry("harmless", '0', "x") + End());
  EXPECT_EQ(gnu.status.message(), "tarball entry \"" + long_name + "\": a \"..\" component");
  Verdict pax = Check("pax.tar", Entry("PaxHeaders/x", 'x', PaxRecord("path", "/root/.ssh/k")) +
                                     Entry("harmless", '0', "x") + End());
  EXPECT_EQ(pax.status.message(), "tarball entry \"/root/.ssh/k\": an absolute path");
}

TEST(Tarball, FilesAddingUpToMoreThanTheBoundAreRefusedNamingTheEntryThatCrossedIt) {
  Verdict v =
      Check("big.tar",
            Entry("a", '0', std::string(600, 'a')) + Entry("b", '0', std::string(600, 'b')) + End(),
            1000);
  EXPECT_EQ(v.status.message(),
            "tarball entry \"b\": the files add up to more than limits.package_bytes_max (1000 "
            "bytes)");
  EXPECT_EQ(v.reason, PackageRefusal::kTooLarge);
  // A pax size larger than the header's counts, and the bound holds before any data is read.
  Verdict pax = Check(
      "paxsize.tar",
      Entry("PaxHeaders/b", 'x', PaxRecord("size", "99999999999")) + Header("b", '0', 0) + End(),
      1000);
  EXPECT_EQ(pax.reason, PackageRefusal::kTooLarge) << pax.status.ToString();
}

TEST(Tarball, AnArchiveInMemoryIsCheckedAsAFileIs) {
  PackageRefusal reason = PackageRefusal::kInvalid;
  EXPECT_TRUE(CheckTarArchive(Entry("a", '0', "x") + End(), 100, &reason).ok());
  Status s = CheckTarArchive(Entry("/a", '0', "x") + End(), 100, &reason);
  EXPECT_EQ(s.message(), "tarball entry \"/a\": an absolute path");
  EXPECT_EQ(reason, PackageRefusal::kUnsafeTarball);
  EXPECT_FALSE(CheckTarArchive(Entry("a", '0', "x").substr(0, 600), 100, &reason).ok());
}

TEST(Tarball, GarbageAndTruncatedArchivesAreNotTarArchives) {
  Verdict garbage = Check("garbage.tar", std::string(2048, 'g'));
  EXPECT_EQ(garbage.status.message(), "not a tar archive (a header's checksum)");
  EXPECT_EQ(garbage.reason, PackageRefusal::kInvalid);
  Verdict truncated = Check("short.tar", Entry("a", '0', std::string(600, 'a')).substr(0, 700));
  EXPECT_EQ(truncated.status.message(), "truncated or not a tar archive");
  Verdict empty = Check("empty.tar", "");
  EXPECT_FALSE(empty.status.ok());
}

}  // namespace
}  // namespace duplex
