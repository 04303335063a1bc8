#include "broker/amqp_tls.h"

#include <amqp_ssl_socket.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace grove::amqp {

namespace {

// Debian's CA bundle (ca-certificates); OpenSSL's default paths are the fallback.
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

Status Readable(const std::string& path, const char* what) {
  if (access(path.c_str(), R_OK) == 0) return Status::Ok();
  return Status::IoError(std::string("cannot read ") + what + " " + path + ": " +
                         std::strerror(errno));
}

std::string LastOpenSslReason() {
  unsigned long e = ERR_peek_last_error();
  if (e == 0) return "";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "";
}

// Records the first certificate OpenSSL refuses; the handshake then fails.
int VerifyCallback(int ok, X509_STORE_CTX* store) {
  if (ok) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* log =
      ssl ? static_cast<TlsVerifyLog*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl))) : nullptr;
  if (log && log->first_error.empty())
    log->first_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
  return 0;
}

bool IsIpAddress(const std::string& host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

Status ConfigureTls(amqp_connection_state_t conn, const AmqpUrl& url, TlsVerifyLog* log,
                    amqp_socket_t** out) {
  amqp_socket_t* sock = amqp_ssl_socket_new(conn);  // owned by |conn| from here on
  if (!sock) return Status::IoError("cannot create a TLS socket: " + LastOpenSslReason());
  auto* ctx = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(sock));
  if (amqp_ssl_socket_set_ssl_versions(sock, AMQP_TLSv1_2, AMQP_TLSvLATEST) != AMQP_STATUS_OK)
    return Status::IoError("cannot require TLS 1.2 or later");
  // OpenSSL checks the host name during the handshake (it knows IP addresses in the
  // certificate's subjectAltName too, which rabbitmq-c's own check does not).
  amqp_ssl_socket_set_verify_hostname(sock, 0);
  amqp_ssl_socket_set_verify_peer(sock, url.verify_peer ? 1 : 0);
  if (url.verify_peer) {
    if (!url.cacertfile.empty()) {
      GROVE_RETURN_IF_ERROR(Readable(url.cacertfile, "cacertfile"));
      if (amqp_ssl_socket_set_cacert(sock, url.cacertfile.c_str()) != AMQP_STATUS_OK)
        return Status::Invalid(
            "cacertfile " + url.cacertfile +
            " holds no usable CA certificate (PEM expected): " + LastOpenSslReason());
    } else if (access(kSystemCaBundle, R_OK) == 0) {
      if (amqp_ssl_socket_set_cacert(sock, kSystemCaBundle) != AMQP_STATUS_OK)
        return Status::IoError(std::string("cannot load the system CA bundle ") + kSystemCaBundle +
                               ": " + LastOpenSslReason());
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return Status::IoError("no cacertfile given and no system CA certificates found");
    }
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    const std::string& name = url.VerifyName();
    int set = IsIpAddress(name) ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                                : X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    if (set != 1) return Status::Invalid("cannot check the server's name against '" + name + "'");
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_CTX_set_app_data(ctx, log);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyCallback);
  }
  if (!url.certfile.empty()) {
    GROVE_RETURN_IF_ERROR(Readable(url.certfile, "certfile"));
    GROVE_RETURN_IF_ERROR(Readable(url.keyfile, "keyfile"));
    if (amqp_ssl_socket_set_key(sock, url.certfile.c_str(), url.keyfile.c_str()) != AMQP_STATUS_OK)
      return Status::Invalid("cannot use client certificate " + url.certfile + " with key " +
                             url.keyfile + ": " + LastOpenSslReason());
  }
  *out = sock;
  return Status::Ok();
}

}  // namespace

Status NewTlsSocket(amqp_connection_state_t conn, const AmqpUrl& url, TlsVerifyLog* log,
                    amqp_socket_t** out) {
  Status st = ConfigureTls(conn, url, log, out);
  if (st.ok()) return st;
  // One line that says which broker (without its password) and what is wrong.
  std::string msg = url.Redacted() + ": " + st.message();
  return st.code() == Status::Code::kIo ? Status::IoError(msg) : Status::Invalid(msg);
}

bool IsTlsFailure(int rc) {
  return rc == AMQP_STATUS_SSL_ERROR || rc == AMQP_STATUS_SSL_CONNECTION_FAILED ||
         rc == AMQP_STATUS_SSL_PEER_VERIFY_FAILED || rc == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED;
}

std::string TlsFailureReason(int rc, const TlsVerifyLog& log, bool* config_error) {
  *config_error = true;
  if (!log.first_error.empty()) return "certificate verify failed: " + log.first_error;
  std::string reason = LastOpenSslReason();
  ERR_clear_error();
  // A TLS client talking to a plain AMQP listener reads "AMQP..." as a TLS record.
  if (reason == "wrong version number" || reason == "packet length too long" ||
      reason == "record layer failure")
    return reason + " (is the port a TLS listener? amqps:// defaults to 5671)";
  *config_error = false;
  return reason.empty() ? amqp_error_string2(rc) : reason;
}

}  // namespace grove::amqp
