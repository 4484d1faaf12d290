#include "upgrade_coordinator/event_log.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(EventLogText, EveryLineIsAnEventAndATornLastLineIsForgiven) {
  auto events = ParseEventLog(
      "{\"kind\":\"cluster\",\"epoch\":3,\"lock\":false,\"t_us\":10}\n\n"
      "{\"kind\":\"replica\",\"replica\":\"a\",\"alive\":true,\"pid\":42}\n"
      "{\"kind\":\"replica\",\"rep",
      "events.jsonl");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].value("replica", ""), "a");
}

TEST(EventLogText, ALineThatIsNotJsonBeforeTheLastIsAnErrorNamingIt) {
  auto events = ParseEventLog("{\"kind\":\"cluster\"}\n{torn\n{\"kind\":\"cluster\"}\n", "x.jsonl");
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().message(), "x.jsonl:2: not JSON");
}

// Found by fuzz/history_fuzz.cc: the checkers read events with nlohmann's value(), which threw
// a type_error on {"replica": false} (and casts a float to an integer); a line that is no
// object threw too. Such events are refused with the line and the field named.
TEST(EventLogText, AnEventWithAFieldOfAnotherTypeIsRefused) {
  struct Case {
    const char* line;
    const char* error;
  };
  for (const Case& c :
       {Case{"{\"kind\":\"replica\",\"replica\":false}", "x:1: field \"replica\" is not a string"},
        Case{"{\"kind\":\"cluster\",\"epoch\":1e300}", "x:1: field \"epoch\" is not an integer"},
        Case{"{\"acting\":\"yes\"}", "x:1: field \"acting\" is not true or false"},
        Case{"[1,2]", "x:1: not a JSON object"}}) {
    auto events = ParseEventLog(std::string(c.line) + "\n", "x");
    ASSERT_FALSE(events.ok()) << c.line;
    EXPECT_EQ(events.status().message(), c.error);
  }
}

}  // namespace
}  // namespace duplex
