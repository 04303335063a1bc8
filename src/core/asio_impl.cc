// The one translation unit that compiles Boost.Asio and Boost.Beast (separate compilation keeps
// full builds fast on two cores).
#include <boost/asio/impl/src.hpp>
#ifndef GROVE_ASIO_NO_SSL  // the Windows worker's build: no OpenSSL there, and no use for it
#include <boost/asio/ssl/impl/src.hpp>  // TLS for the IRC notifier
#endif
#include <boost/beast/src.hpp>
