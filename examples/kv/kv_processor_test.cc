#include "examples/kv/kv_processor.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "examples/kv/kv_record.h"

namespace duplex::kv {
namespace {

namespace fs = std::filesystem;

class MapReader : public StateReader {
 public:
  StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    auto it = data.find(std::string(key));
    if (it == data.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  std::map<std::string, std::string> data;
};

void Apply(const std::vector<Mutation>& mutations, MapReader& state) {
  for (const auto& m : mutations) {
    if (m.erase) {
      state.data.erase(m.key);
    } else {
      state.data[m.key] = m.value;
    }
  }
}

Outcome Exec(Processor& p, MapReader& state, std::string op, std::vector<std::string> args) {
  FeatureSet features({}, {1, 0, 0});
  Outcome o = p.Execute({1, 1, std::move(op), std::move(args)}, state, features);
  Apply(o.mutations, state);
  return o;
}

const std::vector<Feature> kKnown = {{"expiry", {2, 0, 0}}};
const FeatureSet kExpiryOff(kKnown, {1, 0, 0});
const FeatureSet kExpiryOn(kKnown, {2, 0, 0});

// Executes on a 2.x processor at now_ms with the given flags, applying the delta.
Outcome ExecAt(Processor& p, MapReader& state, int64_t now_ms, const FeatureSet& features,
               std::string op, std::vector<std::string> args) {
  Outcome o = p.Execute({1, 1, std::move(op), std::move(args), now_ms}, state, features);
  Apply(o.mutations, state);
  return o;
}

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

std::vector<Mutation> Entries(const MapReader& state) {
  std::vector<Mutation> out;
  for (const auto& [key, value] : state.data) out.push_back({key, value, false});
  return out;
}

std::map<std::string, std::string> AsMap(const std::vector<Mutation>& entries) {
  std::map<std::string, std::string> out;
  for (const auto& m : entries) out[m.key] = m.value;
  return out;
}

TEST(Kv, PutGetDelIncr) {
  auto p = MakeKvProcessor("1.0.0");
  MapReader s;
  EXPECT_EQ(Exec(*p, s, "PUT", {"k", "v"}).response.value, "OK");
  EXPECT_EQ(Exec(*p, s, "GET", {"k"}).response.value, "v");
  EXPECT_TRUE(Exec(*p, s, "GET", {"k"}).mutations.empty());
  EXPECT_EQ(Exec(*p, s, "INCR", {"n", "5"}).response.value, "5");
  EXPECT_EQ(Exec(*p, s, "INCR", {"n", "-7"}).response.value, "-2");
  EXPECT_EQ(Exec(*p, s, "DEL", {"k"}).response.value, "1");
  EXPECT_EQ(Exec(*p, s, "DEL", {"k"}).response.value, "0");
  EXPECT_EQ(Exec(*p, s, "GET", {"k"}).response.code, Code::kNotFound);
}

TEST(Kv, RefusesBadRequestsWithAClearMessageAndNoDelta) {
  auto p = MakeKvProcessor("1.0.0");
  MapReader s;
  s.data["word"] = "hello";
  Outcome o = Exec(*p, s, "INCR", {"word", "1"});
  EXPECT_EQ(o.response.code, Code::kInvalidArgument);
  EXPECT_EQ(o.response.message, "value of \"word\" is not an integer: \"hello\"");
  EXPECT_TRUE(o.mutations.empty());
  EXPECT_EQ(Exec(*p, s, "INCR", {"n", "x1"}).response.message, "amount is not an integer: \"x1\"");
  EXPECT_EQ(Exec(*p, s, "PUT", {"k"}).response.code, Code::kInvalidArgument);
  EXPECT_EQ(Exec(*p, s, "FLY", {}).response.message,
            "unknown op \"FLY\" (kv 1.0.0 has PUT, GET, DEL, INCR)");
  s.data["big"] = "9223372036854775807";
  EXPECT_EQ(Exec(*p, s, "INCR", {"big", "1"}).response.code, Code::kInvalidArgument);
}

TEST(Kv, OneZeroKeepsSchemaOneAndNoFeatures) {
  auto p = MakeKvProcessor("1.0.0");
  EXPECT_EQ(p->Version(), "1.0.0");
  EXPECT_EQ(p->Schema(), 1u);
  EXPECT_TRUE(p->Features().empty());
  MapReader s;
  EXPECT_EQ(Exec(*p, s, "PUT", {"k", "v"}).mutations[0].value, "v");
}

TEST(KvRecord, EncodesATagThenABigEndianExpiryThenTheValue) {
  EXPECT_EQ(EncodeRecord({0x0102030405060708, "v"}), Bytes({0x02, 1, 2, 3, 4, 5, 6, 7, 8, 'v'}));
  EXPECT_EQ(EncodeRecord({0, ""}), Bytes({0x02, 0, 0, 0, 0, 0, 0, 0, 0}));
  auto decoded = DecodeRecord("k", Bytes({0x02, 0, 0, 0, 0, 0, 0, 0x01, 0xf4, 'h', 'i'}));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, (Record{500, "hi"}));
}

TEST(KvRecord, RefusesMalformedBytesNamingTheKey) {
  auto short_record = DecodeRecord("k1", "abc");
  EXPECT_EQ(short_record.status().code(), Code::kCorruption);
  EXPECT_NE(short_record.status().message().find("\"k1\""), std::string::npos);
  auto bad_tag = DecodeRecord("k2", Bytes({0x01, 0, 0, 0, 0, 0, 0, 0, 0, 'v'}));
  EXPECT_EQ(bad_tag.status().code(), Code::kCorruption);
  EXPECT_NE(bad_tag.status().message().find("\"k2\""), std::string::npos);
}

TEST(KvConverters, UpgradeGivesARawValueARecordThatNeverExpires) {
  auto up = UpgradeEntry({"k", "v", false});
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(*up, (Mutation{"k", Bytes({0x02, 0, 0, 0, 0, 0, 0, 0, 0, 'v'}), false}));
}

TEST(KvConverters, DowngradeGivesBackTheRawValueOfARecordWithoutExpiry) {
  auto down = DowngradeEntry({"k", EncodeRecord({0, "v"}), false});
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(*down, (Mutation{"k", "v", false}));
}

TEST(KvConverters, DowngradeRefusesARecordWithAnExpiryNamingTheKey) {
  auto down = DowngradeEntry({"session", EncodeRecord({1500, "v"}), false});
  EXPECT_EQ(down.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(down.status().message(), "\"session\" has an expiry, which kv 1.x cannot store");

  ConverterRegistry registry;
  MakeKvProcessor("2.0.0")->RegisterConverters(registry);
  auto converted = registry.Convert({{"session", EncodeRecord({1500, "v"}), false}}, 2, 1);
  EXPECT_EQ(converted.status().message(),
            "schema 2 -> 1: \"session\" has an expiry, which kv 1.x cannot store");
}

TEST(KvConverters, DowngradeRefusesAMalformedRecordNamingTheKey) {
  auto down = DowngradeEntry({"bad", "raw", false});
  EXPECT_FALSE(down.ok());
  EXPECT_NE(down.status().message().find("\"bad\""), std::string::npos);
}

TEST(KvConverters, BothVersionsRegisterBothDirections) {
  for (const char* version : {"1.0.0", "2.0.0"}) {
    ConverterRegistry registry;
    MakeKvProcessor(version)->RegisterConverters(registry);
    EXPECT_TRUE(registry.CanConvert(1, 2)) << version;
    EXPECT_TRUE(registry.CanConvert(2, 1)) << version;
  }
}

TEST(KvV2, ReportsSchemaTwoAndTheExpiryFeatureIntroducedInTwoZero) {
  auto p = MakeKvProcessor("2.0.0");
  EXPECT_EQ(p->Version(), "2.0.0");
  EXPECT_EQ(p->Schema(), 2u);
  ASSERT_EQ(p->Features().size(), 1u);
  EXPECT_EQ(p->Features()[0].name, "expiry");
  EXPECT_EQ(p->Features()[0].introduced_in, (Version{2, 0, 0}));
}

TEST(KvV2, WritesOnlySchemaTwoRecords) {
  auto p = MakeKvProcessor("2.0.0");
  MapReader s;
  EXPECT_EQ(ExecAt(*p, s, 0, kExpiryOff, "PUT", {"k", "v"}).mutations[0].value,
            EncodeRecord({0, "v"}));
  EXPECT_EQ(ExecAt(*p, s, 0, kExpiryOff, "INCR", {"n", "7"}).mutations[0].value,
            EncodeRecord({0, "7"}));
  EXPECT_EQ(ExecAt(*p, s, 0, kExpiryOff, "GET", {"k"}).response.value, "v");
}

TEST(KvV2, RefusesPutexAndTtlWithTheExactMessageWhileExpiryIsDisabled) {
  auto p = MakeKvProcessor("2.0.0");
  MapReader s;
  for (auto [op, args] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"PUTEX", {"k", "v", "100"}}, {"TTL", {"k"}}}) {
    Outcome o = ExecAt(*p, s, 1000, kExpiryOff, op, args);
    EXPECT_EQ(o.response.code, Code::kFeatureDisabled) << op;
    EXPECT_EQ(o.response.message,
              "feature expiry is disabled until the cluster is upgraded to 2.0.0");
    EXPECT_TRUE(o.mutations.empty()) << op;
  }
  EXPECT_TRUE(s.data.empty());
}

TEST(KvV2, PutexStoresAnExpiryFromNowAndTtlCountsDown) {
  auto p = MakeKvProcessor("2.0.0");
  MapReader s;
  Outcome put = ExecAt(*p, s, 1000, kExpiryOn, "PUTEX", {"k", "v", "500"});
  EXPECT_EQ(put.response.value, "OK");
  EXPECT_EQ(s.data["k"], EncodeRecord({1500, "v"}));
  EXPECT_EQ(ExecAt(*p, s, 1200, kExpiryOn, "TTL", {"k"}).response.value, "300");
  EXPECT_EQ(ExecAt(*p, s, 1499, kExpiryOn, "GET", {"k"}).response.value, "v");
  ExecAt(*p, s, 1200, kExpiryOn, "PUT", {"plain", "x"});
  EXPECT_EQ(ExecAt(*p, s, 1200, kExpiryOn, "TTL", {"plain"}).response.value, "-1");
  EXPECT_EQ(ExecAt(*p, s, 1200, kExpiryOn, "TTL", {"none"}).response.code, Code::kNotFound);
}

TEST(KvV2, RefusesAPutexWhoseTtlIsNotAPositiveInteger) {
  auto p = MakeKvProcessor("2.0.0");
  MapReader s;
  for (const char* ttl : {"0", "-5", "x", ""}) {
    Outcome o = ExecAt(*p, s, 1000, kExpiryOn, "PUTEX", {"k", "v", ttl});
    EXPECT_EQ(o.response.code, Code::kInvalidArgument) << ttl;
    EXPECT_TRUE(o.mutations.empty()) << ttl;
  }
  EXPECT_EQ(ExecAt(*p, s, 1000, kExpiryOn, "PUTEX", {"k", "v"}).response.code,
            Code::kInvalidArgument);
}

TEST(KvV2, GetIncrTtlAndDelTreatAnExpiredRecordAsAbsent) {
  auto p = MakeKvProcessor("2.0.0");
  MapReader s;
  ExecAt(*p, s, 1000, kExpiryOn, "PUTEX", {"n", "41", "500"});
  EXPECT_EQ(ExecAt(*p, s, 1500, kExpiryOn, "GET", {"n"}).response.code, Code::kNotFound);
  EXPECT_EQ(ExecAt(*p, s, 1500, kExpiryOn, "TTL", {"n"}).response.code, Code::kNotFound);
  EXPECT_EQ(ExecAt(*p, s, 1500, kExpiryOn, "INCR", {"n", "1"}).response.value, "1");
  EXPECT_EQ(s.data["n"], EncodeRecord({0, "1"}));

  ExecAt(*p, s, 1000, kExpiryOn, "PUTEX", {"k", "v", "10"});
  Outcome del = ExecAt(*p, s, 2000, kExpiryOn, "DEL", {"k"});
  EXPECT_EQ(del.response.value, "0");
  EXPECT_FALSE(s.data.contains("k"));  // expired records are erased all the same
}

TEST(KvV2, IncrKeepsALiveRecordsExpiry) {
  auto p = MakeKvProcessor("2.0.0");
  MapReader s;
  ExecAt(*p, s, 1000, kExpiryOn, "PUTEX", {"n", "41", "500"});
  EXPECT_EQ(ExecAt(*p, s, 1100, kExpiryOn, "INCR", {"n", "1"}).response.value, "42");
  EXPECT_EQ(s.data["n"], EncodeRecord({1500, "42"}));
}

TEST(KvV2, AnswersAMalformedRecordWithCorruptionAndListsItsOpsWhenUnknown) {
  auto p = MakeKvProcessor("2.0.0");
  MapReader s;
  s.data["raw"] = "v";
  EXPECT_EQ(ExecAt(*p, s, 0, kExpiryOff, "GET", {"raw"}).response.code, Code::kCorruption);
  EXPECT_EQ(ExecAt(*p, s, 0, kExpiryOff, "FLY", {}).response.message,
            "unknown op \"FLY\" (kv 2.0.0 has PUT, GET, DEL, INCR, PUTEX, TTL)");
}

TEST(KvV2, RefusesASchemaTwoDeltaWithAMalformedRecord) {
  auto p = MakeKvProcessor("2.0.0");
  Delta good;
  good.schema = 2;
  good.mutations = {{"k", EncodeRecord({0, "v"}), false}, {"gone", "", true}};
  EXPECT_TRUE(p->ApplyDelta(good).ok());
  Delta bad = good;
  bad.mutations.push_back({"raw", "v", false});
  EXPECT_EQ(p->ApplyDelta(bad).status().code(), Code::kCorruption);
}

// The same requests on 1.0 and on 2.0 with its features off give the same answers,
// and 2.0's state converted down is 1.0's, byte for byte (and 1.0's converted up is 2.0's).
TEST(KvV2, WithExpiryDisabledBehavesExactlyLikeOneZeroSeenThroughTheConverters) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> ops = {
      {"PUT", {"a", "1"}},
      {"PUT", {"b", "hello"}},
      {"GET", {"a"}},
      {"INCR", {"a", "41"}},
      {"INCR", {"c", "-3"}},
      {"GET", {"c"}},
      {"DEL", {"b"}},
      {"DEL", {"b"}},
      {"GET", {"b"}},
      {"INCR", {"b", "x"}},
      {"PUT", {"b", "world"}},
      {"INCR", {"b", "1"}},
      {"PUT", {"e", ""}},
      {"GET", {"e"}},
      {"INCR", {"big", "9223372036854775807"}},
      {"INCR", {"big", "1"}},
      {"PUT", {"k", "v", "x"}},
      {"GET", {"missing"}},
      {"DEL", {"a"}},
      {"PUT", {"bin", std::string("\0\x02z", 3)}},
      {"GET", {"bin"}}};
  auto v1 = MakeKvProcessor("1.0.0");
  auto v2 = MakeKvProcessor("2.0.0");
  MapReader s1, s2;
  int64_t now_ms = 1'700'000'000'000;
  for (const auto& [op, args] : ops) {
    Outcome o1 = ExecAt(*v1, s1, now_ms, kExpiryOff, op, args);
    Outcome o2 = ExecAt(*v2, s2, now_ms, kExpiryOff, op, args);
    EXPECT_EQ(o1.response.code, o2.response.code) << op;
    EXPECT_EQ(o1.response.message, o2.response.message) << op;
    EXPECT_EQ(o1.response.value, o2.response.value) << op;
    EXPECT_EQ(o1.mutations.size(), o2.mutations.size()) << op;
    EXPECT_TRUE(ExecAt(*v2, s2, now_ms, kExpiryOff, "PUTEX", {"a", "9", "1"}).mutations.empty());
    now_ms += 1000;
  }
  ConverterRegistry registry;
  v2->RegisterConverters(registry);
  auto down = registry.Convert(Entries(s2), 2, 1);
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_EQ(AsMap(*down), s1.data);
  auto up = registry.Convert(Entries(s1), 1, 2);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(AsMap(*up), s2.data);
}

TEST(KvVariants, FaithfulReleasesAreHealthyPassTheirSelfCheckAndDoNotVeto) {
  for (const char* version : {"1.0.0", "2.0.0"}) {
    auto p = MakeKvProcessor(version);
    MapReader s;
    EXPECT_TRUE(p->CheckHealth().healthy) << version;
    EXPECT_TRUE(p->SelfCheck(s).ok()) << version;
    EXPECT_EQ(p->VetoUpgrade(), "") << version;
  }
}

TEST(KvVariants, EveryVariantReportsVersionTwoZero) {
  for (const char* variant : {"crash", "unhealthy", "corrupt", "veto"}) {
    auto p = MakeKvProcessor("2.0.0", variant);
    EXPECT_EQ(p->Version(), "2.0.0") << variant;
    EXPECT_EQ(p->Schema(), 2u) << variant;
  }
}

TEST(KvVariants, TheUnhealthyVariantFailsItsHealthProbe) {
  Health health = MakeKvProcessor("2.0.0", "unhealthy")->CheckHealth();
  EXPECT_FALSE(health.healthy);
  EXPECT_EQ(health.detail, "simulated failure: health probe fails");
}

TEST(KvVariants, TheVetoVariantRefusesAnUpgrade) {
  EXPECT_EQ(MakeKvProcessor("2.0.0", "veto")->VetoUpgrade(), "long transaction open (simulated)");
}

TEST(KvVariants, TheCorruptVariantAddsAStrayEntryToEveryAppliedDeltaYetPassesItsSelfCheck) {
  auto corrupt = MakeKvProcessor("2.0.0", "corrupt");
  auto faithful = MakeKvProcessor("2.0.0");
  Delta d;
  d.seq = 7;
  d.schema = 2;
  d.mutations = {{"k", EncodeRecord({0, "v"}), false}};
  auto bad = corrupt->ApplyDelta(d);
  auto good = faithful->ApplyDelta(d);
  ASSERT_TRUE(bad.ok() && good.ok());
  EXPECT_EQ(good->size(), 1u);
  ASSERT_EQ(bad->size(), 2u);  // so its state digest differs from the peer's
  EXPECT_EQ((*bad)[1].key, "~corrupt~");
  MapReader state;
  EXPECT_TRUE(corrupt->SelfCheck(state).ok());
  // What it executes (and replicates) is faithful: clients see nothing wrong.
  MapReader x, y;
  ExecAt(*corrupt, x, 0, kExpiryOff, "PUT", {"k", "v"});
  ExecAt(*faithful, y, 0, kExpiryOff, "PUT", {"k", "v"});
  EXPECT_EQ(x.data, y.data);
}

TEST(KvVariants, TheCrashVariantExitsWithStatusThreeRightAfterStart) {
  const fs::path binary = fs::read_symlink("/proc/self/exe").parent_path() / "kv-2.0.0-crash";
  ASSERT_TRUE(fs::exists(binary)) << binary;
  const std::string command = binary.string() + " --name a 2>/dev/null";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(KvPackages, EachReleaseHasItsBinaryAndAManifestDescribingIt) {
  const fs::path packages =
      fs::read_symlink("/proc/self/exe").parent_path().parent_path().parent_path() / "packages";
  for (const std::string release : {"kv-1.0.0", "kv-2.0.0", "kv-2.0.0-crash", "kv-2.0.0-unhealthy",
                                    "kv-2.0.0-corrupt", "kv-2.0.0-veto"}) {
    const bool v1 = release == "kv-1.0.0";
    EXPECT_TRUE(fs::exists(packages / release / release)) << release;
    const std::string manifest = ReadFile(packages / release / "manifest.yaml");
    EXPECT_NE(manifest.find("name: kv\n"), std::string::npos) << release;
    EXPECT_NE(manifest.find("binary: " + release + "\n"), std::string::npos) << release;
    EXPECT_NE(manifest.find(v1 ? "version: 1.0.0\n" : "version: 2.0.0\n"), std::string::npos);
    EXPECT_NE(manifest.find(v1 ? "schema: 1\n" : "schema: 2\n"), std::string::npos) << release;
    EXPECT_NE(
        manifest.find(v1 ? "upgrade_from: \">=0.0.0 <1.0.0\"" : "upgrade_from: \">=1.0.0 <2.0.0\""),
        std::string::npos)
        << release;
    EXPECT_NE(manifest.find(v1 ? "features: []" : "  - {name: expiry, introduced_in: 2.0.0}"),
              std::string::npos)
        << release;
  }
}

}  // namespace
}  // namespace duplex::kv
