// TLS: the one wrapper around OpenSSL (TLS 1.3 only). Contexts built from PEM files, a
// non-blocking session over a connected socket that FrameStream reads and writes through,
// the HTTPS server the replica and the coordinator serve, and the key material `duplex keys
// init --tls` writes. A TlsContext is immutable once built and may be shared by threads;
// a TlsSession belongs to the one thread that owns its socket.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace duplex {

// Whether a TLS server asks its clients for certificates (signed by the CA file).
enum class PeerCerts { kNone, kOptional, kRequired };
StatusOr<PeerCerts> ParsePeerCerts(const std::string& text);  // none | optional | required
const char* PeerCertsName(PeerCerts certs);

struct TlsServerFiles {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;  // verifies client certificates; "" with kNone
  PeerCerts client_certs = PeerCerts::kNone;
};

struct TlsClientFiles {
  std::string ca_file;    // verifies the server; required
  std::string cert_file;  // a client certificate, "" for none
  std::string key_file;
};

class TlsContext {
 public:
  // Errors name the file that could not be read or did not match, and OpenSSL's reason.
  static StatusOr<std::shared_ptr<TlsContext>> Server(const TlsServerFiles& files);
  static StatusOr<std::shared_ptr<TlsContext>> Client(const TlsClientFiles& files);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  void* ssl_ctx() const { return ctx_; }  // SSL_CTX*, for the session and the HTTPS server

 private:
  explicit TlsContext(void* ctx) : ctx_(ctx) {}
  void* ctx_;
};

// One TLS connection over a non-blocking socket the caller owns (and closes). Read and Write
// drive the handshake as needed, as SSL_read/SSL_write do.
class TlsSession {
 public:
  enum class State { kOk, kWantRead, kWantWrite, kClosed, kFailed };
  struct Io {
    size_t bytes = 0;
    State state = State::kOk;
    std::string error;  // kFailed: the TLS alert or the verification failure
  };

  // A server session (accept) or a client one verifying the server's certificate against
  // `host`, an IP address or a DNS name.
  static StatusOr<std::unique_ptr<TlsSession>> Accept(const TlsContext& ctx, int fd);
  static StatusOr<std::unique_ptr<TlsSession>> Connect(const TlsContext& ctx, int fd,
                                                       const std::string& host);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Completes the handshake now, waiting for the session's socket at most timeout_ms: for a
  // client that connects before it measures (the load generators). Errors name the TLS alert
  // or the certificate's fault, or say that it timed out.
  Status Handshake(int timeout_ms);

  Io Read(char* buffer, size_t size);
  Io Write(const char* data, size_t size);
  // Bytes held inside the session, decrypted or read ahead: poll() does not see them.
  bool Pending() const;
  // The peer presented a certificate that verified against the CA.
  bool PeerCertified() const;

 private:
  explicit TlsSession(void* ssl) : ssl_(ssl) {}
  Io Result(int ret, const char* what);
  void* ssl_;
};

// An HTTP server for the replica's /role and the coordinator's admin API: HTTPS with `files`
// when given, plain HTTP otherwise. Errors name the file that failed.
StatusOr<std::unique_ptr<httplib::Server>> MakeHttpServer(const TlsServerFiles* files);

// `duplex keys init --tls`: a CA, a server certificate (SANs: `ip_addresses`, 127.0.0.1 and
// localhost) and a client certificate, all signed by the CA, as PEM files in `dir`: ca.crt,
// ca.key, server.crt, server.key, client.crt, client.key (keys mode 0600). Returns the files
// written.
StatusOr<std::vector<std::string>> WriteTlsFiles(const std::string& dir,
                                                 const std::vector<std::string>& ip_addresses);

// SIGPIPE ignored, process-wide (once): OpenSSL writes with write(), not send(MSG_NOSIGNAL),
// and a peer that closed its end would otherwise kill the process; the write fails instead.
// Called by every TLS context and server made here; an HTTPS client (httplib) calls it too.
void IgnoreBrokenPipes();

// `n` cryptographically random bytes as lowercase hex (admin tokens, client passwords).
StatusOr<std::string> RandomHex(size_t n);

// Equal strings, compared in time that depends on their lengths only (CRYPTO_memcmp).
bool SecretsEqual(const std::string& a, const std::string& b);

}  // namespace duplex
