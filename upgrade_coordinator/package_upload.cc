#include "upgrade_coordinator/package_upload.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/assert.h"
#include "upgrade_coordinator/admin_body.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

// {"path": ...} is a line of JSON; a larger JSON body is not a package request.
constexpr uint64_t kJsonBodyBytesMax = 64 * 1024;

ApiAnswer Error(int status, const std::string& why) { return {status, {{"error", why}}}; }

// Removes the upload's directory when the request is answered.
class UploadDir {
 public:
  explicit UploadDir(std::string path) : path_(std::move(path)) {}
  UploadDir(const UploadDir&) = delete;
  UploadDir& operator=(const UploadDir&) = delete;
  ~UploadDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

ApiAnswer ReceivePath(UpgradesApi& api, const httplib::ContentReader& content) {
  std::string body;
  bool too_large = false;
  content([&](const char* data, size_t length) {
    too_large = body.size() + length > kJsonBodyBytesMax;
    if (!too_large) body.append(data, length);
    return !too_large;
  });
  if (too_large) {
    return Error(413,
                 "body: a JSON request is at most " + std::to_string(kJsonBodyBytesMax) + " bytes");
  }
  auto json = nlohmann::json::parse(body.empty() ? "{}" : body, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return Error(400, "body: a JSON object {\"path\": ...} is required");
  }
  return api.AddPackage(json);
}

ApiAnswer TooLarge(UpgradesApi& api, uint64_t bytes_max) {
  api.CountPackageRefusal(PackageRefusal::kTooLarge);
  const std::string why =
      "upload: larger than limits.package_bytes_max (" + std::to_string(bytes_max) + " bytes)";
  spdlog::warn("POST /packages refused: {}", why);
  return Error(413, why);
}

}  // namespace

ApiAnswer ReceivePackage(UpgradesApi& api, const ClusterConfig& config, const httplib::Request& req,
                         const httplib::ContentReader& content) {
  if (req.get_header_value("Content-Type").starts_with("application/json")) {
    return ReceivePath(api, content);
  }
  const uint64_t bytes_max = PackagePolicyOf(config).bytes_max;
  // A declared length over the bound is refused before a byte is read.
  if (req.has_header("Content-Length") &&
      std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > bytes_max) {
    return TooLarge(api, bytes_max);
  }
  // A dot-name inside the store: on the store's file system, and removed as a scrap at Open.
  std::string pattern = api.PackageStoreDir() + "/.upload-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Error(500, pattern + ": cannot create: " + std::strerror(errno));
  }
  UploadDir dir(pattern);
  const std::string file = dir.path() + "/package.tar";
  std::ofstream out(file, std::ios::binary);
  uint64_t received = 0;
  const bool read = content([&](const char* data, size_t length) {
    received += length;
    if (received > bytes_max) return false;
    out.write(data, static_cast<std::streamsize>(length));
    return static_cast<bool>(out);
  });
  out.close();
  if (received > bytes_max) return TooLarge(api, bytes_max);
  if (!read || !out) return Error(400, "upload: the body could not be received or written");
  if (received == 0) return Error(400, "upload: empty body; send the package's tarball");
  DUPLEX_ASSERT(received <= bytes_max, "an upload is bounded", received, bytes_max);
  return api.StorePackage(file, "upload");
}

void RouteUpgradeCalls(HttpRoutes& http,
                       const std::function<void(httplib::Response&, UpgradeCall)>& run) {
  auto json_body = [](const httplib::Request& req) {
    StatusOr<nlohmann::json> body = ParseAdminBody(req.body);
    return body.ok() ? *body : nlohmann::json();
  };
  http.Get("/packages", [=](const httplib::Request&, httplib::Response& res) {
    run(res, [](UpgradesApi& a) { return a.ListPackages(); });
  });
  http.Get("/upgrade/plan", [=](const httplib::Request& req, httplib::Response& res) {
    std::string to = req.get_param_value("to");
    run(res, [to](UpgradesApi& a) { return a.Plan(to); });
  });
  http.Post("/upgrade/start", [=](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req);
    run(res, [body](UpgradesApi& a) {
      return body.is_null() ? ApiAnswer{400, {{"error", "body: a JSON object is required"}}}
                            : a.Start(body);
    });
  });
  http.Get("/upgrade", [=](const httplib::Request&, httplib::Response& res) {
    run(res, [](UpgradesApi& a) { return a.Show(); });
  });
  http.Post("/upgrade/abort", [=](const httplib::Request&, httplib::Response& res) {
    run(res, [](UpgradesApi& a) { return a.Abort(); });
  });
  http.Post("/upgrade/finalize", [=](const httplib::Request&, httplib::Response& res) {
    run(res, [](UpgradesApi& a) { return a.Finalize(); });
  });
  http.Get("/features", [=](const httplib::Request&, httplib::Response& res) {
    run(res, [](UpgradesApi& a) { return a.Features(); });
  });
}

}  // namespace duplex
