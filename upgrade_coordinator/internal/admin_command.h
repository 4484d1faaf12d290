// Command: an admin API request that the coordinator's HTTP thread hands to its event loop,
// and the answer the loop gives back. Shared by those two threads: the fields below `mu` are
// written under it (Finish) and read once `done` is seen under it.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "upgrade_coordinator/upgrades_api.h"

namespace duplex {

// A request from the HTTP thread, answered by the loop.
struct Command {
  std::string name;                            // "switchover" | "shutdown" | "api"
  std::function<ApiAnswer(UpgradesApi&)> api;  // "api": runs on the loop thread, answers JSON
  std::string content_type = "text/plain";
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int http_status = 200;
  std::string body;
  void Finish(int status, std::string text) {
    std::lock_guard lock(mu);
    http_status = status;
    body = std::move(text);
    done = true;
    cv.notify_all();
  }
};

}  // namespace duplex
