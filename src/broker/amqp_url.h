// AmqpUrl: a RabbitMQ broker URL, "amqp://user:pass@host:port/vhost" or, for TLS,
// "amqps://user:pass@host:port/vhost?cacertfile=/etc/grove/ca.pem".
//
// Kept apart from AmqpConnection so that the config loader can validate a URL (with the line of
// grove.lua) without opening anything.
#pragma once

#include <string>

#include "core/status.h"

namespace grove::amqp {

// Defaults: guest, guest, localhost, 5672 (5671 for amqps), "/". The vhost is URL-encoded
// ("%2f" is "/"). The query takes the TLS parameters of RabbitMQ's URI spec
// (https://www.rabbitmq.com/uri-query-parameters.html) that a client needs: cacertfile,
// certfile, keyfile, verify (verify_peer | verify_none), server_name_indication. They are only
// accepted with amqps:// (a plain connection that names a CA is a mistake, not a wish); any
// other parameter is an error rather than silently ignored.
struct AmqpUrl {
  std::string host = "localhost";
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";

  bool tls = false;         // amqps://
  std::string cacertfile;   // empty: the system's CA bundle
  std::string certfile;     // client certificate (PEM), with keyfile
  std::string keyfile;      // its private key (PEM)
  bool verify_peer = true;  // verify=verify_none turns certificate checks off
  std::string server_name;  // the name the server's certificate must match (default host)

  static Status Parse(const std::string& url, AmqpUrl* out);
  // For logs: the password is never shown; everything else (query included) is.
  std::string Redacted() const;
  // server_name, or host when it is empty.
  const std::string& VerifyName() const { return server_name.empty() ? host : server_name; }
};

}  // namespace grove::amqp
