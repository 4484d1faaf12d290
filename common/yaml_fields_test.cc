#include "common/yaml_fields.h"

#include <gtest/gtest.h>

#include <vector>

namespace duplex {
namespace {

YamlField ParseOk(const std::string& text) {
  StatusOr<YamlField> root = YamlField::Parse(text, "config");
  EXPECT_TRUE(root.ok()) << root.status().ToString();
  return root.ok() ? *root : *YamlField::Parse("", "config");
}

TEST(YamlFields, AFieldErrorNamesItsPath) {
  const YamlField root = ParseOk("replicas:\n  - {port: 1}\n  - {port: 70000}\n");
  const YamlField port = root["replicas"][1]["port"];
  EXPECT_EQ(port.name(), "replicas[1].port");
  EXPECT_EQ(port.text(), "70000");
  EXPECT_EQ(port.Error("70000 is not a port (1..65535)").message(),
            "replicas[1].port: 70000 is not a port (1..65535)");
  EXPECT_EQ(port.Error("x").code(), Code::kInvalidArgument);
  EXPECT_EQ(root.Error("bad").message(), "config: bad") << "the root goes by the document's name";
}

TEST(YamlFields, AnUnknownKeyIsRefusedWithItsPath) {
  const YamlField root = ParseOk("timing: {lease_ms: 100, leese_ms: 100}\n");
  EXPECT_TRUE(root.CheckKeys({"timing"}).ok());
  EXPECT_EQ(root.CheckKeys({"restart"}).message(), "timing: unknown field");
  EXPECT_EQ(root["timing"].CheckKeys({"lease_ms"}).message(), "timing.leese_ms: unknown field");
}

TEST(YamlFields, AKeyWrittenTwiceIsRefused) {
  const YamlField root = ParseOk("timing: {lease_ms: 100, lease_ms: 300}\n");
  EXPECT_EQ(root["timing"].CheckKeys({"lease_ms"}).message(), "timing.lease_ms: appears twice");
}

TEST(YamlFields, AKeyThatIsNotAWordIsRefusedWithItsLine) {
  const YamlField root = ParseOk("name: x\n[a, b]: 1\n");
  EXPECT_EQ(root.CheckKeys({"name"}).message(), "config: line 2: field names must be plain words");
}

TEST(YamlFields, SaysWhatItGotInsteadOfTheKindExpected) {
  const YamlField root = ParseOk("list: [1, 2]\nmap: {a: 1}\nword: hi\nempty:\n");
  EXPECT_EQ(root["list"].WrongKind("a map of fields").message(),
            "list: must be a map of fields, got a list");
  EXPECT_EQ(root["map"].WrongKind("a list").message(), "map: must be a list, got a map");
  EXPECT_EQ(root["word"].WrongKind("a list").message(), "word: must be a list, got a single value");
  EXPECT_EQ(root["empty"].WrongKind("a list").message(), "empty: must be a list, got nothing");
  EXPECT_EQ(root["list"].CheckKeys({}).message(), "list: must be a map of fields, got a list");
}

TEST(YamlFields, ReadsTextAndKeepsTheDefaultOfAnUnwrittenField) {
  const YamlField root = ParseOk("name: kv\nmap: {a: 1}\nblank: ''\n");
  std::string name = "default";
  ASSERT_TRUE(root["absent"].ReadText(&name).ok());
  EXPECT_EQ(name, "default");
  ASSERT_TRUE(root["name"].ReadText(&name).ok());
  EXPECT_EQ(name, "kv");
  EXPECT_EQ(root["map"].ReadText(&name).message(), "map: must be a string, got a map");
  EXPECT_EQ(root["map"].ReadText(&name, "a single value").message(),
            "map: must be a single value, got a map");
  EXPECT_EQ(root["absent"].ReadRequiredText(&name).message(), "absent: required");
  EXPECT_EQ(root["blank"].ReadRequiredText(&name).message(), "blank: required");
}

TEST(YamlFields, ReadsOnlyPlainDecimalIntegers) {
  const YamlField root =
      ParseOk("a: 42\nb: -5\nc: 0x10\nd: 1.5\ne: 99999999999999999999\nf: [1]\n");
  int64_t n = 0;
  EXPECT_EQ(root["a"].ToInteger(&n), YamlField::Decimal::kOk);
  EXPECT_EQ(n, 42);
  EXPECT_EQ(root["b"].ToInteger(&n), YamlField::Decimal::kOk);
  EXPECT_EQ(n, -5);
  uint64_t u = 0;
  EXPECT_EQ(root["b"].ToInteger(&u), YamlField::Decimal::kNotDecimal);
  EXPECT_EQ(root["c"].ToInteger(&n), YamlField::Decimal::kNotDecimal);
  EXPECT_EQ(root["d"].ToInteger(&n), YamlField::Decimal::kNotDecimal);
  EXPECT_EQ(root["e"].ToInteger(&n), YamlField::Decimal::kOutOfRange);
  EXPECT_EQ(root["f"].ToInteger(&n), YamlField::Decimal::kNotDecimal);
}

TEST(YamlFields, ConvertsAsYamlCppDoes) {
  const YamlField root = ParseOk("flag: yes\nratio: 0.25\nwords: [a, b]\nmap: {a: 1}\n");
  bool flag = false;
  EXPECT_TRUE(root["flag"].Convert(&flag));
  EXPECT_TRUE(flag);
  double ratio = 0;
  EXPECT_TRUE(root["ratio"].Convert(&ratio));
  EXPECT_DOUBLE_EQ(ratio, 0.25);
  std::vector<std::string> words;
  EXPECT_TRUE(root["words"].Convert(&words));
  EXPECT_EQ(words, (std::vector<std::string>{"a", "b"}));
  int number = 0;
  EXPECT_FALSE(root["map"].Convert(&number));
  EXPECT_FALSE(root["absent"].Convert(&number));
}

TEST(YamlFields, ANonMapOrAShortListHasNoFields) {
  const YamlField root = ParseOk("word: hi\nlist: [1]\n");
  EXPECT_FALSE(root["word"]["x"].written());
  EXPECT_EQ(root["word"]["x"].name(), "word.x");
  EXPECT_FALSE(root["list"][3].written());
  EXPECT_TRUE(root["list"][0].written());
}

TEST(YamlFields, ParseNamesTheLineOfASyntaxErrorAndRefusesASecondDocument) {
  StatusOr<YamlField> bad = YamlField::Parse("name: [a, b\n", "config");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().message().starts_with("line 2: ")) << bad.status().message();
  StatusOr<YamlField> two = YamlField::Parse("a: 1\n---\nb: 2\n", "manifest");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().message(),
            "manifest: holds 2 YAML documents (separated by ---), expected one");
  StatusOr<YamlField> empty = YamlField::Parse("", "config");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->IsMap());
  EXPECT_EQ(empty->size(), 0u);
}

// Found by fuzz/manifest_fuzz.cc and fuzz/scenario_fuzz.cc: yaml-cpp 0.7's LoadAll looped
// forever, allocating, on a stream starting with "," (jbeder/yaml-cpp#1040). Parse counts the
// documents itself and refuses one that makes no progress.
TEST(YamlFields, AStreamYamlCppCannotStartADocumentWithIsAnErrorNotAHang) {
  for (const char* text : {",", " ,a", "# comment\n, 5.0", ",name: x\n"}) {
    StatusOr<YamlField> bad = YamlField::Parse(text, "manifest");
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_TRUE(bad.status().message().ends_with(": not a YAML document"))
        << bad.status().message();
  }
  StatusOr<YamlField> three = YamlField::Parse("a: 1\n---\nb: 2\n---\nc: 3\n", "manifest");
  ASSERT_FALSE(three.ok());
  EXPECT_EQ(three.status().message(),
            "manifest: holds 3 YAML documents (separated by ---), expected one");
  EXPECT_EQ(ParseOk("---\na: 1\n").size(), 1u);
  EXPECT_EQ(ParseOk("# only a comment\n").size(), 0u);
}

// Found by fuzz/cluster_config_fuzz.cc: yaml-cpp reads any bytes but writes each one that is
// not UTF-8 as U+FFFD, so a value changed on its way through a written config. Text that is
// not UTF-8 is refused with its line.
TEST(YamlFields, TextThatIsNotUtf8IsRefusedWithItsLine) {
  for (const char* text :
       {"a: 1\nb: \"x\x8ay\"\n", "a: 1\nb: \xc0\xaf\n", "a: 1\nb: \xed\xa0\x80\n",
        "a: 1\nb: \xf4\x90\x80\x80\n", "a: 1\nb: \xe2\x82\n"}) {
    StatusOr<YamlField> bad = YamlField::Parse(text, "config");
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_TRUE(bad.status().message().starts_with("line 2: not UTF-8 text (byte 0x"))
        << bad.status().message();
  }
  YamlField root = ParseOk("name: \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n");
  std::string name;
  ASSERT_TRUE(root["name"].ReadText(&name).ok());
  EXPECT_EQ(name, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(YamlFields, WrittenTextReadsBackTheSame) {
  YamlWriter out;
  out.BeginMap();
  out.Field("name", "null");
  out.Field("count", 7);
  out.Field("big", uint64_t{1} << 40);
  out.Key("list");
  out.BeginList();
  out.BeginMap();
  out.Field("word", "yes");
  out.EndMap();
  out.EndList();
  out.EndMap();
  const YamlField root = ParseOk(out.Text());
  EXPECT_EQ(root["name"].text(), "null");
  EXPECT_TRUE(root["name"].IsScalar()) << "quoted, so not a null";
  EXPECT_EQ(root["count"].text(), "7");
  EXPECT_EQ(root["big"].text(), "1099511627776");
  EXPECT_EQ(root["list"][0]["word"].text(), "yes");
}

}  // namespace
}  // namespace duplex
