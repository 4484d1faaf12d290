#include "replica/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "common/assert.h"

namespace duplex {
namespace {

// OpenSSL's queued errors as one line (and the queue emptied): "file:reason; ...".
std::string OpenSslErrors() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    text += (text.empty() ? "" : "; ") + std::string(buf);
  }
  return text.empty() ? "no OpenSSL reason given" : text;
}

Status FileError(const std::string& what, const std::string& file) {
  return InvalidArgument(what + " " + file + ": " + OpenSslErrors());
}

SSL_CTX* Ctx(const TlsContext& ctx) { return static_cast<SSL_CTX*>(ctx.ssl_ctx()); }

// TLS 1.3 only: its cipher suites are all AEAD with forward secrecy, nothing to choose.
SSL_CTX* NewContext(const SSL_METHOD* method) {
  IgnoreBrokenPipes();
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  // A partial write's buffer may move between calls (FrameStream appends to its string).
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  // One recv() per burst instead of two per record (its header, then its body): a request
  // is a record of its own. Bytes read ahead are invisible to poll(): Pending() counts them.
  SSL_CTX_set_read_ahead(ctx, 1);
  return ctx;
}

Status LoadCertAndKey(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return FileError("tls: cannot load certificate", cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return FileError("tls: cannot load private key", key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return FileError("tls: private key does not match certificate " + cert_file + ":", key_file);
  }
  return Status::Ok();
}

Status ConfigureServer(SSL_CTX* ctx, const TlsServerFiles& files) {
  DUPLEX_RETURN_IF_ERROR(LoadCertAndKey(ctx, files.cert_file, files.key_file));
  if (files.client_certs == PeerCerts::kNone) return Status::Ok();
  if (files.ca_file.empty()) {
    return InvalidArgument(std::string("tls: client_certs ") + PeerCertsName(files.client_certs) +
                           " needs ca_file (the CA that signs client certificates)");
  }
  if (SSL_CTX_load_verify_locations(ctx, files.ca_file.c_str(), nullptr) != 1) {
    return FileError("tls: cannot load CA", files.ca_file);
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca_file.c_str());
  if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
  int mode = SSL_VERIFY_PEER;
  if (files.client_certs == PeerCerts::kRequired) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, nullptr);
  return Status::Ok();
}

}  // namespace

StatusOr<PeerCerts> ParsePeerCerts(const std::string& text) {
  if (text == "none") return PeerCerts::kNone;
  if (text == "optional") return PeerCerts::kOptional;
  if (text == "required") return PeerCerts::kRequired;
  return InvalidArgument("client certificates \"" + text + "\": none, optional or required");
}

const char* PeerCertsName(PeerCerts certs) {
  switch (certs) {
    case PeerCerts::kNone:
      return "none";
    case PeerCerts::kOptional:
      return "optional";
    case PeerCerts::kRequired:
      return "required";
  }
  return "?";
}

StatusOr<std::shared_ptr<TlsContext>> TlsContext::Server(const TlsServerFiles& files) {
  SSL_CTX* ctx = NewContext(TLS_server_method());
  if (ctx == nullptr) return Internal("tls: SSL_CTX_new: " + OpenSslErrors());
  std::shared_ptr<TlsContext> owned(new TlsContext(ctx));
  DUPLEX_RETURN_IF_ERROR(ConfigureServer(ctx, files));
  return owned;
}

StatusOr<std::shared_ptr<TlsContext>> TlsContext::Client(const TlsClientFiles& files) {
  SSL_CTX* ctx = NewContext(TLS_client_method());
  if (ctx == nullptr) return Internal("tls: SSL_CTX_new: " + OpenSslErrors());
  std::shared_ptr<TlsContext> owned(new TlsContext(ctx));
  if (files.ca_file.empty()) return InvalidArgument("tls: a client needs a CA file");
  if (SSL_CTX_load_verify_locations(ctx, files.ca_file.c_str(), nullptr) != 1) {
    return FileError("tls: cannot load CA", files.ca_file);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!files.cert_file.empty()) {
    DUPLEX_RETURN_IF_ERROR(LoadCertAndKey(ctx, files.cert_file, files.key_file));
  }
  return owned;
}

TlsContext::~TlsContext() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

StatusOr<std::unique_ptr<TlsSession>> TlsSession::Accept(const TlsContext& ctx, int fd) {
  SSL* ssl = SSL_new(Ctx(ctx));
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return Internal("tls: SSL_new: " + OpenSslErrors());
  }
  SSL_set_accept_state(ssl);
  return std::unique_ptr<TlsSession>(new TlsSession(ssl));
}

StatusOr<std::unique_ptr<TlsSession>> TlsSession::Connect(const TlsContext& ctx, int fd,
                                                          const std::string& host) {
  SSL* ssl = SSL_new(Ctx(ctx));
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return Internal("tls: SSL_new: " + OpenSslErrors());
  }
  std::unique_ptr<TlsSession> session(new TlsSession(ssl));
  // The certificate must name the address dialled: an IP SAN for an address, else a DNS name.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  in6_addr probe;
  bool is_ip = ::inet_pton(AF_INET, host.c_str(), &probe) == 1 ||
               ::inet_pton(AF_INET6, host.c_str(), &probe) == 1;
  int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                 : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1) return InvalidArgument("tls: cannot verify against host \"" + host + "\"");
  if (!is_ip) SSL_set_tlsext_host_name(ssl, host.c_str());
  SSL_set_connect_state(ssl);
  return session;
}

TlsSession::~TlsSession() { SSL_free(static_cast<SSL*>(ssl_)); }

TlsSession::Io TlsSession::Result(int ret, const char* what) {
  SSL* ssl = static_cast<SSL*>(ssl_);
  Io io;
  if (ret > 0) {
    io.bytes = static_cast<size_t>(ret);
    return io;
  }
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
      io.state = State::kWantRead;
      return io;
    case SSL_ERROR_WANT_WRITE:
      io.state = State::kWantWrite;
      return io;
    case SSL_ERROR_ZERO_RETURN:
      io.state = State::kClosed;
      return io;
    case SSL_ERROR_SYSCALL:  // the peer went away without a close_notify, or a socket error
      io.state = State::kClosed;
      io.error = std::string("tls ") + what + ": connection lost";
      ERR_clear_error();
      return io;
    default:
      break;
  }
  io.state = State::kFailed;
  long verify = SSL_get_verify_result(ssl);
  io.error = std::string("tls ") + what + ": " + OpenSslErrors();
  if (verify != X509_V_OK) {
    io.error += " (certificate: " + std::string(X509_verify_cert_error_string(verify)) + ")";
  }
  return io;
}

TlsSession::Io TlsSession::Read(char* buffer, size_t size) {
  ERR_clear_error();
  int n = SSL_read(static_cast<SSL*>(ssl_), buffer, static_cast<int>(size));
  return Result(n, "read");
}

Status TlsSession::Handshake(int timeout_ms) {
  SSL* ssl = static_cast<SSL*>(ssl_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    ERR_clear_error();
    Io io = Result(SSL_do_handshake(ssl), "handshake");
    if (io.state == State::kOk) return Status::Ok();
    if (io.state != State::kWantRead && io.state != State::kWantWrite) {
      return Unavailable(io.error.empty() ? "tls handshake: connection closed" : io.error);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Unavailable("tls handshake: no answer within " + std::to_string(timeout_ms) + " ms");
    }
    pollfd p{SSL_get_fd(ssl), static_cast<short>(io.state == State::kWantRead ? POLLIN : POLLOUT),
             0};
    if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      return IOError(std::string("tls handshake: poll: ") + std::strerror(errno));
    }
  }
}

TlsSession::Io TlsSession::Write(const char* data, size_t size) {
  ERR_clear_error();
  int n = SSL_write(static_cast<SSL*>(ssl_), data, static_cast<int>(size));
  return Result(n, "write");
}

bool TlsSession::Pending() const { return SSL_has_pending(static_cast<SSL*>(ssl_)) == 1; }

bool TlsSession::PeerCertified() const {
  SSL* ssl = static_cast<SSL*>(ssl_);
  X509* cert = SSL_get1_peer_certificate(ssl);
  bool certified = cert != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
  X509_free(cert);
  return certified;
}

void IgnoreBrokenPipes() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

StatusOr<std::unique_ptr<httplib::Server>> MakeHttpServer(const TlsServerFiles* files) {
  if (files == nullptr) return std::make_unique<httplib::Server>();
  IgnoreBrokenPipes();
  Status status;
  auto server = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(&ctx, TLS1_3_VERSION);
    status = ConfigureServer(&ctx, *files);
    return status.ok();
  });
  if (!status.ok()) return status;
  if (!server->is_valid()) return Internal("tls: the HTTPS server did not start");
  return std::unique_ptr<httplib::Server>(std::move(server));
}

// ---- Key material for `duplex keys init --tls` ----

namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
  if (ext == nullptr) return Internal("tls: extension " + value + ": " + OpenSslErrors());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return Status::Ok();
}

struct CertSpec {
  std::string common_name;
  bool ca = false;
  std::string subject_alt_names;   // "IP:127.0.0.1,DNS:localhost"; "" for none
  std::string extended_key_usage;  // serverAuth | clientAuth; "" for a CA
};

StatusOr<CertPtr> MakeCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer,
                           EVP_PKEY* issuer_key) {
  CertPtr cert(X509_new(), &X509_free);
  if (!cert) return Internal("tls: X509_new: " + OpenSslErrors());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return Internal("tls: no random serial");
  serial[0] &= 0x7f;  // a positive serial
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* signer = issuer == nullptr ? cert.get() : issuer;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  DUPLEX_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_basic_constraints,
                                      spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE"));
  DUPLEX_RETURN_IF_ERROR(AddExtension(
      cert.get(), signer, NID_key_usage,
      spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment"));
  DUPLEX_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash"));
  if (!spec.extended_key_usage.empty()) {
    DUPLEX_RETURN_IF_ERROR(
        AddExtension(cert.get(), signer, NID_ext_key_usage, spec.extended_key_usage));
  }
  if (!spec.subject_alt_names.empty()) {
    DUPLEX_RETURN_IF_ERROR(
        AddExtension(cert.get(), signer, NID_subject_alt_name, spec.subject_alt_names));
  }
  if (X509_sign(cert.get(), issuer_key == nullptr ? key : issuer_key, EVP_sha256()) == 0) {
    return Internal("tls: signing " + spec.common_name + ": " + OpenSslErrors());
  }
  return cert;
}

// Writes with `mode` from the start (no moment where a secret is readable by others).
Status WritePem(const std::string& path, mode_t mode, EVP_PKEY* key, X509* cert) {
  std::filesystem::remove(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  FILE* f = fd < 0 ? nullptr : ::fdopen(fd, "w");
  if (f == nullptr) return IOError("tls: cannot write " + path);
  bool ok = key != nullptr
                ? PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1
                : PEM_write_X509(f, cert) == 1;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return IOError("tls: cannot write " + path + ": " + OpenSslErrors());
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<std::string>> WriteTlsFiles(const std::string& dir,
                                                 const std::vector<std::string>& ip_addresses) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IOError("tls: cannot create " + dir + ": " + ec.message());
  std::string sans = "IP:127.0.0.1,DNS:localhost";
  for (const std::string& ip : ip_addresses) {
    if (ip != "127.0.0.1") sans += ",IP:" + ip;
  }
  auto new_key = [] { return KeyPtr(EVP_EC_gen("P-256"), &EVP_PKEY_free); };
  KeyPtr ca_key = new_key(), server_key = new_key(), client_key = new_key();
  if (!ca_key || !server_key || !client_key) return Internal("tls: EC key: " + OpenSslErrors());
  auto ca = MakeCert({"duplex CA", true, "", ""}, ca_key.get(), nullptr, nullptr);
  if (!ca.ok()) return ca.status();
  auto server = MakeCert({"duplex server", false, sans, "serverAuth"}, server_key.get(), ca->get(),
                         ca_key.get());
  if (!server.ok()) return server.status();
  auto client = MakeCert({"duplex client", false, "", "clientAuth"}, client_key.get(), ca->get(),
                         ca_key.get());
  if (!client.ok()) return client.status();
  std::vector<std::string> written;
  auto write = [&](const std::string& name, mode_t mode, EVP_PKEY* key, X509* cert) {
    written.push_back(dir + "/" + name);
    return WritePem(written.back(), mode, key, cert);
  };
  DUPLEX_RETURN_IF_ERROR(write("ca.key", 0600, ca_key.get(), nullptr));
  DUPLEX_RETURN_IF_ERROR(write("ca.crt", 0644, nullptr, ca->get()));
  DUPLEX_RETURN_IF_ERROR(write("server.key", 0600, server_key.get(), nullptr));
  DUPLEX_RETURN_IF_ERROR(write("server.crt", 0644, nullptr, server->get()));
  DUPLEX_RETURN_IF_ERROR(write("client.key", 0600, client_key.get(), nullptr));
  DUPLEX_RETURN_IF_ERROR(write("client.crt", 0644, nullptr, client->get()));
  return written;
}

StatusOr<std::string> RandomHex(size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    return Internal("no random bytes: " + OpenSslErrors());
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) hex += {kHex[c >> 4], kHex[c & 15]};
  return hex;
}

bool SecretsEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace duplex
