#include "chaos/history_formats.h"

#include <gtest/gtest.h>

#include <string>

namespace duplex::lin {
namespace {

void ExpectErrorNaming(const StatusOr<std::vector<Operation>>& parsed, const std::string& what) {
  ASSERT_FALSE(parsed.ok()) << "expected an error naming: " << what;
  EXPECT_NE(parsed.status().message().find(what), std::string::npos) << parsed.status().message();
}

TEST(JepsenEtcdLog, ReadsEveryFormAndSkipsNoise) {
  auto ops = ParseJepsenEtcdLog(
      "INFO  jepsen.core - Worker 0 starting\n"
      "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
      "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 4]\n"
      "INFO  jepsen.util - 0\t:ok\t:read\tnil\n"
      "INFO  jepsen.util - 2\t:invoke\t:write\t3\n"
      "INFO  jepsen.util - 1\t:fail\t:cas\t[1 4]\n"
      "INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n"
      "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
      "INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n"
      "INFO  jepsen.util - 3\t:invoke\t:cas\t[3 1]\n");
  ASSERT_TRUE(ops.ok()) << ops.status().message();
  ASSERT_EQ(ops->size(), 5u);
  const Operation& read = (*ops)[0];
  EXPECT_EQ(read.f, "read");
  EXPECT_EQ(read.output, "nil");
  EXPECT_EQ(read.outcome, Outcome::kOk);
  EXPECT_EQ(read.invoke_us, 2);
  EXPECT_EQ(read.complete_us, 4);
  EXPECT_EQ(read.line, 2u);
  const Operation& cas = (*ops)[1];
  EXPECT_EQ(cas.input, "1 4");
  EXPECT_EQ(cas.output, "fail");  // it completed, finding another value
  EXPECT_EQ(cas.outcome, Outcome::kOk);
  EXPECT_EQ((*ops)[2].input, "3");
  EXPECT_EQ((*ops)[2].outcome, Outcome::kUnknown);
  EXPECT_EQ((*ops)[3].outcome, Outcome::kFail);
  EXPECT_EQ((*ops)[4].outcome, Outcome::kUnknown);  // open at the end
  EXPECT_EQ((*ops)[4].client, 3);
}

TEST(JepsenEtcdLog, ErrorsNameTheLine) {
  ExpectErrorNaming(ParseJepsenEtcdLog("INFO  jepsen.util - 0\t:ok\t:read\t1\n"),
                    "line 1: client 0 completes an operation it never invoked");
  ExpectErrorNaming(ParseJepsenEtcdLog("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
                                       "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"),
                    "line 2: client 0 invokes while its operation of line 1 is still open");
  ExpectErrorNaming(ParseJepsenEtcdLog("\nINFO  jepsen.util - 0\t:invoke\t:cas\t[1\n"),
                    "line 2: cannot read the value of :invoke :cas");
  ExpectErrorNaming(ParseJepsenEtcdLog("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
                                       "INFO  jepsen.util - 0\t:ok\t:write\t1\n"),
                    "line 2: client 0 completes write");
  ExpectErrorNaming(ParseJepsenEtcdLog("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
                                       "INFO  jepsen.util - 0\t:ok\t:read\t:timed-out\n"),
                    "line 2: cannot read the value of :ok :read");
}

TEST(JepsenEtcdLog, ACasFailedByTimeoutHadNoEffect) {
  auto ops = ParseJepsenEtcdLog(
      "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\n"
      "INFO  jepsen.util - 0\t:fail\t:cas\t:timed-out\n");
  ASSERT_TRUE(ops.ok()) << ops.status().message();
  ASSERT_EQ(ops->size(), 1u);
  EXPECT_EQ((*ops)[0].outcome, Outcome::kFail);
}

TEST(KvEdn, ReadsPorcupinesLines) {
  auto ops = ParseKvEdn(
      "{:process 0, :type :invoke, :f :get, :key \"3\", :value nil}\n"
      "{:process 1, :type :invoke, :f :append, :key \"3\", :value \"x 1 0 y\"}\n"
      "{:process 0, :type :ok, :f :get, :key \"3\", :value \"\"}\n"
      "{:process 1, :type :ok, :f :append, :key \"3\", :value \"x 1 0 y\"}\n"
      "\n"
      "{:process 2, :type :invoke, :f :put, :key \"4\", :value \"a \\\"quoted\\\" b\"}\n");
  ASSERT_TRUE(ops.ok()) << ops.status().message();
  ASSERT_EQ(ops->size(), 3u);
  EXPECT_EQ((*ops)[0].f, "get");
  EXPECT_EQ((*ops)[0].output, "");
  EXPECT_EQ((*ops)[0].outcome, Outcome::kOk);
  EXPECT_EQ((*ops)[1].input, "x 1 0 y");
  EXPECT_EQ((*ops)[1].key, "3");
  EXPECT_EQ((*ops)[2].input, "a \"quoted\" b");
  EXPECT_EQ((*ops)[2].outcome, Outcome::kUnknown);
  EXPECT_EQ((*ops)[2].invoke_us, 6);
}

TEST(KvEdn, ErrorsNameTheLine) {
  ExpectErrorNaming(ParseKvEdn("{:process 0, :type :invoke, :f :get, :key \"3\", :value nil}\n"
                               "not edn\n"),
                    "line 2: expected an EDN map");
  ExpectErrorNaming(ParseKvEdn("{:process 0, :type :invoke, :f :cas, :key \"3\", :value nil}"),
                    "line 1: :f :cas is not :get, :put or :append");
  ExpectErrorNaming(ParseKvEdn("{:type :invoke, :f :get, :key \"3\", :value nil}"),
                    "line 1: needs :process");
  ExpectErrorNaming(ParseKvEdn("{:process 0, :type :invoke, :f :get, :key \"3\", :value \"x}"),
                    "line 1: unterminated string");
}

TEST(DuplexHistory, ReadsInvokesAndCompletions) {
  auto ops = ParseDuplexHistory(
      R"({"type":"invoke","client":1,"seq":5,"op":"PUT","key":"k","args":["v1"],"t_us":100}
{"type":"invoke","client":2,"seq":0,"op":"GET","key":"k","args":[],"t_us":110}
{"type":"ok","client":1,"seq":5,"op":"PUT","key":"k","value":"OK","t_us":150,"attempts":1}
{"type":"ok","client":2,"seq":0,"op":"GET","key":"k","absent":true,"t_us":160,"now_ms":7}
{"type":"invoke","client":1,"seq":6,"op":"INCR","key":"c","args":["1"],"t_us":200,"extra":[1]}
{"type":"info","client":1,"seq":6,"op":"INCR","key":"c","t_us":300}
{"type":"invoke","client":2,"seq":0,"op":"DEL","key":"k","args":[],"t_us":310}
{"type":"fail","client":2,"seq":0,"op":"DEL","key":"k","t_us":320}
{"type":"invoke","client":3,"seq":1,"op":"PUTEX","key":"e","args":["v","500"],"t_us":400}
)");
  ASSERT_TRUE(ops.ok()) << ops.status().message();
  ASSERT_EQ(ops->size(), 5u);
  EXPECT_EQ((*ops)[0].input, "v1");
  EXPECT_EQ((*ops)[0].complete_us, 150);
  EXPECT_EQ((*ops)[0].outcome, Outcome::kOk);
  EXPECT_TRUE((*ops)[1].absent);
  EXPECT_EQ((*ops)[1].now_ms, 7);
  EXPECT_EQ((*ops)[2].input, "1");
  EXPECT_EQ((*ops)[2].outcome, Outcome::kUnknown);
  EXPECT_EQ((*ops)[3].outcome, Outcome::kFail);
  EXPECT_EQ((*ops)[4].input, "v 500");
  EXPECT_EQ((*ops)[4].outcome, Outcome::kUnknown);  // never completed
}

TEST(DuplexHistory, ErrorsNameTheLineAndTheField) {
  const std::string invoke =
      R"({"type":"invoke","client":1,"op":"GET","key":"k","args":[],"t_us":1})"
      "\n";
  ExpectErrorNaming(ParseDuplexHistory(invoke + "{not json\n"), "line 2: not a JSON object");
  ExpectErrorNaming(ParseDuplexHistory(R"({"type":"invoke","op":"GET","key":"k","t_us":1})"),
                    "line 1: lacks \"client\"");
  ExpectErrorNaming(
      ParseDuplexHistory(R"({"type":"invoke","client":"1","op":"GET","key":"k","t_us":1})"),
      "line 1: \"client\" must be an integer");
  ExpectErrorNaming(
      ParseDuplexHistory(R"({"type":"invoke","client":1,"op":"CAS","key":"k","t_us":1})"),
      "line 1: op \"CAS\" is not one of GET, PUT, DEL, INCR, PUTEX, TTL");
  ExpectErrorNaming(
      ParseDuplexHistory(invoke + R"({"type":"done","client":1,"op":"GET","key":"k","t_us":2})"),
      "line 2: type \"done\" is not invoke, ok, fail or info");
  ExpectErrorNaming(ParseDuplexHistory(invoke + invoke),
                    "line 2: client 1 invokes while its operation of line 1 is still open");
  ExpectErrorNaming(
      ParseDuplexHistory(invoke + R"({"type":"ok","client":1,"op":"GET","key":"k","t_us":0})"),
      "line 2: completes at t_us 0, before its invoke (1)");
  ExpectErrorNaming(
      ParseDuplexHistory(invoke + R"({"type":"ok","client":1,"op":"GET","key":"j","t_us":5})"),
      "line 2: client 1 completes GET on \"j\" but invoked GET on \"k\" (line 1)");
}

TEST(ReadHistoryFile, NamesTheFile) {
  auto missing = ReadHistoryFile(ModelKind::kDuplexKv, "/nonexistent/history.jsonl");
  ExpectErrorNaming(missing, "/nonexistent/history.jsonl");
}

}  // namespace
}  // namespace duplex::lin
