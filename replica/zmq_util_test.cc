// RecvParts' bound on parts per message: a message of more is dropped without its parts
// being copied, counted, and the next message is read in its place.
#include "replica/zmq_util.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace duplex {
namespace {

class RecvPartsTest : public ::testing::Test {
 protected:
  RecvPartsTest() : in_(context_.ctx, ZMQ_PAIR, 1 << 20), out_(context_.ctx, ZMQ_PAIR, 1 << 20) {
    EXPECT_EQ(zmq_bind(in_.s, "inproc://recv-parts"), 0);
    EXPECT_EQ(zmq_connect(out_.s, "inproc://recv-parts"), 0);
  }
  void Send(size_t parts) {
    std::vector<std::string> texts;
    for (size_t i = 0; i < parts; ++i) texts.push_back("part " + std::to_string(i));
    SendMultipart(out_.s, std::vector<std::string_view>(texts.begin(), texts.end()));
  }
  ZContext context_;
  ZSocket in_;
  ZSocket out_;
};

TEST_F(RecvPartsTest, AMessageWithinTheBoundArrivesWhole) {
  Send(3);
  uint64_t refused = 0;
  auto parts = RecvParts(in_.s, nullptr, 3, &refused);
  EXPECT_EQ(parts, (std::vector<std::string>{"part 0", "part 1", "part 2"}));
  EXPECT_EQ(refused, 0u);
  EXPECT_TRUE(RecvParts(in_.s, nullptr, 3, &refused).empty()) << "nothing else waits";
}

TEST_F(RecvPartsTest, AMessageOfMorePartsIsDroppedCountedAndTheNextOneRead) {
  Send(4);     // one part too many
  Send(1000);  // far too many
  Send(2);
  uint64_t refused = 0;
  auto parts = RecvParts(in_.s, nullptr, 3, &refused);
  EXPECT_EQ(parts, (std::vector<std::string>{"part 0", "part 1"}));
  EXPECT_EQ(refused, 2u);
  EXPECT_TRUE(RecvParts(in_.s, nullptr, 3, &refused).empty());
  EXPECT_EQ(refused, 2u);
}

TEST_F(RecvPartsTest, AFloodOfOversizedMessagesIsDrainedABoundedNumberPerCall) {
  for (int i = 0; i < 100; ++i) Send(9);
  Send(1);
  uint64_t refused = 0;
  EXPECT_TRUE(RecvParts(in_.s, nullptr, kZmqPartsMaxDefault, &refused).empty());
  EXPECT_EQ(refused, 64u);  // then the caller polls again
  EXPECT_EQ(RecvParts(in_.s, nullptr, kZmqPartsMaxDefault, &refused).size(), 1u);
  EXPECT_EQ(refused, 100u);
}

}  // namespace
}  // namespace duplex
