#include "replica/http_routes.h"

#include <nlohmann/json.hpp>

#include "replica/tls.h"

namespace duplex {
namespace {

bool IsHealthPage(const std::string& path) {
  return path == "/role" || path == "/status" || path == "/metrics";
}

void Refuse(httplib::Response& res, const std::string& error) {
  res.status = 401;
  res.set_header("WWW-Authenticate", "Bearer realm=\"duplex admin\"");
  res.set_content(nlohmann::json{{"error", error}}.dump() + "\n", "application/json");
}

}  // namespace

HttpRoutes::HttpRoutes(httplib::Server* server, HttpAccess access, AuthCounters* refused)
    : server_(server), access_(std::move(access)), refused_(refused) {
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (Check(req, res) == httplib::Server::HandlerResponse::Handled) {
      return httplib::Server::HandlerResponse::Handled;
    }
    for (const auto& check : checks_) {
      if (check(req, res) == httplib::Server::HandlerResponse::Handled) {
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  Get("/routes", [this](const httplib::Request&, httplib::Response& res) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [method, path] : routes_) list.push_back({{"method", method}, {"path", path}});
    res.set_content(list.dump() + "\n", "application/json");
  });
}

httplib::Server::HandlerResponse HttpRoutes::Check(const httplib::Request& req,
                                                   httplib::Response& res) {
  using Answer = httplib::Server::HandlerResponse;
  if (access_.token.empty()) return Answer::Unhandled;
  if (req.method == "GET" && access_.open_health && IsHealthPage(req.path)) {
    return Answer::Unhandled;
  }
  const std::string prefix = "Bearer ";
  const std::string header = req.get_header_value("Authorization");
  if (header.empty()) {
    refused_->Count("admin_token_missing");
    Refuse(res, req.method + " " + req.path +
                    " needs the admin token: send \"Authorization: Bearer <token>\" (the CLI "
                    "reads security.admin_token_file, or --token-file)");
    return Answer::Handled;
  }
  // Constant time: the comparison must not tell how much of a guess was right.
  if (header.compare(0, prefix.size(), prefix) != 0 ||
      !SecretsEqual(header.substr(prefix.size()), access_.token)) {
    refused_->Count("admin_token_wrong");
    Refuse(res, req.method + " " + req.path + ": the admin token is wrong");
    return Answer::Handled;
  }
  return Answer::Unhandled;
}

}  // namespace duplex
