// libcurl (7.88) opens its sockets without SOCK_CLOEXEC; this makes a handle open them with it,
// so that a step's command started meanwhile cannot inherit one (the spawn also closes every
// descriptor above stderr in the child: this is the other half of the same rule).
#pragma once

#include <curl/curl.h>
#include <sys/socket.h>

namespace grove {

inline curl_socket_t OpenCloexecSocket(void*, curlsocktype, struct curl_sockaddr* addr) {
  return ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

inline void UseCloexecSockets(CURL* curl) {
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &OpenCloexecSocket);
}

}  // namespace grove
