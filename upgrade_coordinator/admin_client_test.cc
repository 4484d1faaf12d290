#include "upgrade_coordinator/admin_client.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace duplex {
namespace {

nlohmann::json Pair(const std::string& standby_state, bool in_sync, uint64_t active_seq,
                    uint64_t standby_seq) {
  return {{"active", "a"},
          {"replicas",
           {{{"name", "a"}, {"state", "Active/Replicating"}, {"applied_seq", active_seq}},
            {{"name", "b"},
             {"state", standby_state},
             {"in_sync", in_sync},
             {"applied_seq", standby_seq}}}}};
}

TEST(PairReady, WhenTheStandbyIsInSyncAtOrPastTheActivesReport) {
  EXPECT_TRUE(PairReady(Pair("Standby/InSync", true, 100, 100)));
  // Under load the standby's report can be the newer one (CI waited 15 s on equality).
  EXPECT_TRUE(PairReady(Pair("Standby/InSync", true, 36668, 36704)));
}

TEST(PairReady, NotWhileTheStandbyIsBehindOrCatchingUpOrRecordedOutOfSync) {
  EXPECT_FALSE(PairReady(Pair("Standby/InSync", true, 100, 99)));
  EXPECT_FALSE(PairReady(Pair("Standby/CatchingUp", true, 100, 100)));
  EXPECT_FALSE(PairReady(Pair("Standby/InSync", false, 100, 100)));
  nlohmann::json no_active = Pair("Standby/InSync", true, 100, 100);
  no_active["active"] = "";
  EXPECT_FALSE(PairReady(no_active));
}

}  // namespace
}  // namespace duplex
