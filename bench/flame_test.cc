#include "bench/flame.h"

#include <gtest/gtest.h>

#include "bench/profile.h"

namespace duplex::bench {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Flame, FoldedLinesAddUpAndABadLineIsNamed) {
  auto stacks = ParseFolded("main;a;b 3\n\nmain;a 2\nmain;a;b 1\n");
  ASSERT_TRUE(stacks.ok()) << stacks.status().ToString();
  EXPECT_EQ(stacks->size(), 2u);
  EXPECT_EQ(stacks->at("main;a;b"), 4u);
  EXPECT_EQ(stacks->at("main;a"), 2u);
  auto bad = ParseFolded("main;a 1\nmain;b x1\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status().ToString();
}

TEST(Flame, PerfScriptIsFoldedRootFirstWithTheThreadAsRoot) {
  const std::string script =
      "kv-1.0.0  3583 [001] 12345.678901:    2004008 cpu-clock:pppH:\n"
      "\tffffffff81234567 finish_task_switch.isra.0+0x97 ([kernel.kallsyms])\n"
      "\t    7f0012345678 rocksdb::DBImpl::Write(rocksdb::WriteOptions const&, "
      "rocksdb::WriteBatch*)+0x12 (/usr/lib/librocksdb.so.7.8)\n"
      "\t    55aa00000001 duplex::ReplicaCore::OnEvent(duplex::Event const&) const+0x40 "
      "(/work/build/kv)\n"
      "\n"
      "ZMQbg/IO/0  3590 [000] 12345.679:    2004008 cpu-clock:pppH:\n"
      "\t    7f0000000001 [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
      "\t    7f0000000002 zmq::epoll_t::loop()+0x10 (/usr/lib/libzmq.so.5)\n"
      "\n"
      "kv-1.0.0  3583 [001] 12345.679901:    2004008 cpu-clock:pppH:\n"
      "\t    7f0012345679 std::less<void>::operator()(int const&, int const&) const+0x1 (/x)\n"
      "\t    7f001234567a duplex::(anonymous namespace)::Loop(int)+0x1 (/x)\n"
      "\n";
  FoldedStacks stacks = FoldPerfScript(script);
  ASSERT_EQ(stacks.size(), 3u);
  EXPECT_EQ(stacks.count("kv-1.0.0;duplex::ReplicaCore::OnEvent;rocksdb::DBImpl::Write;"
                         "finish_task_switch.isra.0_[k]"),
            1u);
  EXPECT_EQ(stacks.count("ZMQbg/IO/0;zmq::epoll_t::loop;[libc.so.6]"), 1u);
  EXPECT_EQ(stacks.count("kv-1.0.0;duplex::{anon}::Loop;std::less<void>::operator()"), 1u);
}

TEST(Flame, TheSvgHasAFramePerNodeAsWideAsItsSamples) {
  auto stacks = ParseFolded("main;a;b 3\nmain;a 1\nmain;c 4\n");
  ASSERT_TRUE(stacks.ok());
  std::string svg = RenderFlameSvg(*stacks, "tiny <test>");
  // all, main, a, b, c: five frames, each with its tooltip.
  EXPECT_EQ(Count(svg, "<rect x="), 5u) << svg;
  EXPECT_EQ(Count(svg, "<title>"), 5u);
  EXPECT_NE(svg.find("<title>a (4 samples, 50.00%)</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("<title>b (3 samples, 37.50%)</title>"), std::string::npos);
  EXPECT_NE(svg.find("tiny &lt;test&gt; (8 samples)"), std::string::npos);
  // "all" spans the drawing (1200 wide, 10 of padding each side); "a" and "c" split it evenly.
  EXPECT_NE(svg.find("<rect x=\"10.0\" y=\"88.0\" width=\"1180.0\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("<rect x=\"600.0\" y=\"56.0\" width=\"590.0\""), std::string::npos) << svg;
  EXPECT_EQ(RenderFlameSvg({}, "empty").find("<rect x="), std::string::npos);
}

TEST(Flame, SamplesGoToTheInnermostComponentAndTheKernelIsCounted) {
  auto stacks = ParseFolded(
      "kv;duplex::ReplicaCore::Step;capnp::MessageBuilder::x;malloc 2\n"
      "kv;duplex::ReplicaCore::Step;rocksdb::MemTable::Add 3\n"
      "kv;duplex::ReplicaCore::Step;rocksdb::DBImpl::Write;fdatasync;ext4_sync_file_[k] 4\n"
      "ZMQbg/IO/0;zmq::epoll_t::loop;__getpid;entry_SYSCALL_64_[k] 1\n");
  ASSERT_TRUE(stacks.ok());
  std::vector<Share> components = ComponentShares(*stacks);
  ASSERT_EQ(components.size(), 4u);
  EXPECT_EQ(components[0].name, "fsync (WAL sync)");
  EXPECT_EQ(components[0].samples, 4u);
  EXPECT_DOUBLE_EQ(components[0].percent, 40);
  EXPECT_EQ(components[1].name, "RocksDB memtable");
  EXPECT_EQ(components[2].name, "allocation");
  EXPECT_EQ(components[3].name, "getpid (libzmq fork check)");
  std::vector<Share> threads = ThreadShares(*stacks);
  ASSERT_EQ(threads.size(), 2u);
  EXPECT_EQ(threads[0].name, "kv");
  EXPECT_EQ(threads[0].samples, 9u);
  EXPECT_DOUBLE_EQ(KernelPercent(*stacks), 50);
}

TEST(Profile, PerfStatCountsArePerWriteAndComponentsShareTheCpu) {
  ProcessProfile p;
  ParsePerfStat(
      "# started on Mon Dec  7 22:53:07 2026\n\n"
      "3000.00,msec,task-clock,3107020108,100.00,0.312,CPUs utilized\n"
      "20000,,context-switches,3107020108,100.00,8.678,K/sec\n"
      "<not counted>,,raw_syscalls:sys_enter,0,0.00,,\n",
      p);
  EXPECT_DOUBLE_EQ(p.task_clock_ms, 3000);
  EXPECT_DOUBLE_EQ(p.context_switches, 20000);
  EXPECT_DOUBLE_EQ(p.syscalls, -1);  // not counted: absent, not zero
  auto stacks = ParseFolded("kv;rocksdb::MemTable::Add 3\nkv;zmq::mailbox_t::send 1\n");
  ASSERT_TRUE(stacks.ok());
  p.stacks = *stacks;
  p.samples = 4;
  nlohmann::json j = ProfileJson(p, 100000, 10);
  EXPECT_DOUBLE_EQ(j["cpu_us_per_write"].get<double>(), 30);
  EXPECT_DOUBLE_EQ(j["context_switches_per_write"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(j["writes_per_s"].get<double>(), 10000);
  EXPECT_FALSE(j.contains("syscalls_per_write"));
  EXPECT_EQ(j["components"][0]["name"], "RocksDB memtable");
  EXPECT_DOUBLE_EQ(j["components"][0]["us_per_write"].get<double>(), 22.5);
}

}  // namespace
}  // namespace duplex::bench
