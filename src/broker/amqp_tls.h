// TLS for AmqpConnection: rabbitmq-c's OpenSSL socket, set up from an amqps:// AmqpUrl.
//
// rabbitmq-c checks the peer only after the handshake and keeps OpenSSL's reason to itself, so
// a wrong CA would surface as "SSL peer cert verification failed" with nothing to act on.
// Instead the verification is done by OpenSSL during the handshake (SSL_VERIFY_PEER, with the
// expected host name or IP address in the context's verify parameters) and a verify callback
// records why a certificate was refused, for a one-line error that names the problem.
#pragma once

#include <amqp.h>

#include <string>

#include "broker/amqp_url.h"
#include "core/status.h"

namespace grove::amqp {

// Why OpenSSL refused the peer's certificate. Lives as long as the connection (the SSL context
// points at it), so keep it beside the amqp_connection_state_t that owns the socket.
struct TlsVerifyLog {
  std::string first_error;
};

// Creates the SSL socket of |conn| (owned by |conn|, freed with it) configured for |url|:
// CA file or the system bundle, client certificate, verification mode, expected name, TLS 1.2+.
// Errors name the file or setting at fault.
Status NewTlsSocket(amqp_connection_state_t conn, const AmqpUrl& url, TlsVerifyLog* log,
                    amqp_socket_t** out);

// True when |rc| (from amqp_socket_open_noblock) is a TLS failure rather than a TCP one.
bool IsTlsFailure(int rc);

// The reason of a failed TLS handshake, e.g. "certificate verify failed: unable to get local
// issuer certificate". Call right after the failed open, on the same thread (it reads
// OpenSSL's per-thread error queue). *config_error tells a failure that stays until the
// configuration changes (a certificate the CA does not vouch for, a port that does not speak
// TLS) from one worth retrying (the connection cut mid-handshake).
std::string TlsFailureReason(int rc, const TlsVerifyLog& log, bool* config_error);

}  // namespace grove::amqp
