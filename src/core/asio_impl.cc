// The one translation unit that compiles Boost.Asio and Boost.Beast (separate compilation keeps
// full builds fast on two cores).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>  // TLS for the IRC notifier
#include <boost/beast/src.hpp>
