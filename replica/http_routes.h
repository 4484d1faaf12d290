// HttpRoutes: how the replica's and the coordinator's HTTP servers register their routes.
// Every call but the health pages (/role, /status, /metrics, when open_health) needs the admin
// token, when one is configured, as `Authorization: Bearer <token>`; a refusal is a 401 with a
// JSON error naming what is missing, counted in AuthCounters. The server lists its routes at
// GET /routes, so that a test can try every one. Register routes before the server starts;
// the checks then run on httplib's threads and only read.
#pragma once

#include <httplib.h>

#include <string>
#include <utility>
#include <vector>

#include "replica/access_control.h"

namespace duplex {

struct HttpAccess {
  std::string token;  // "": every call is open
  bool open_health = true;
};

class HttpRoutes {
 public:
  // Installs the token check on `server` and GET /routes. Both must outlive the server's run.
  HttpRoutes(httplib::Server* server, HttpAccess access, AuthCounters* refused);
  HttpRoutes(const HttpRoutes&) = delete;
  HttpRoutes& operator=(const HttpRoutes&) = delete;

  HttpRoutes& Get(const std::string& path, httplib::Server::Handler handler) {
    return Add("GET", path, [&] { server_->Get(path, std::move(handler)); });
  }
  HttpRoutes& Post(const std::string& path, httplib::Server::Handler handler) {
    return Add("POST", path, [&] { server_->Post(path, std::move(handler)); });
  }
  HttpRoutes& Post(const std::string& path, httplib::Server::HandlerWithContentReader handler) {
    return Add("POST", path, [&] { server_->Post(path, std::move(handler)); });
  }
  HttpRoutes& Put(const std::string& path, httplib::Server::Handler handler) {
    return Add("PUT", path, [&] { server_->Put(path, std::move(handler)); });
  }
  HttpRoutes& Delete(const std::string& path, httplib::Server::Handler handler) {
    return Add("DELETE", path, [&] { server_->Delete(path, std::move(handler)); });
  }

  // Another check before routing (a body bound), run after the token's on every request.
  void AlsoCheck(httplib::Server::HandlerWithResponse check) {
    checks_.push_back(std::move(check));
  }

  // (method, path) of every route, /routes included.
  const std::vector<std::pair<std::string, std::string>>& routes() const { return routes_; }

 private:
  template <typename Register>
  HttpRoutes& Add(const char* method, const std::string& path, const Register& add) {
    routes_.emplace_back(method, path);
    add();
    return *this;
  }
  // Unhandled: the request may go on to its route; Handled: refused (401 written).
  httplib::Server::HandlerResponse Check(const httplib::Request& req, httplib::Response& res);

  httplib::Server* server_;
  HttpAccess access_;
  AuthCounters* refused_;
  std::vector<std::pair<std::string, std::string>> routes_;
  std::vector<httplib::Server::HandlerWithResponse> checks_;
};

}  // namespace duplex
