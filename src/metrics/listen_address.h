#pragma once
// Where the operations endpoints listen: an IP address and a port ("127.0.0.1:9464",
// "[::1]:9464", "0.0.0.0:9464"). Pure; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pb::metrics {

struct ListenAddress {
    std::string host; // an IPv4 address, or an IPv6 one without brackets
    std::uint16_t port = 0;

    bool ipv6() const { return host.find(':') != std::string::npos; }
    // "127.0.0.1:9464" or "[::1]:9464": what civetweb's listening_ports wants, and what to show.
    std::string toString() const;
};

// nullopt unless `text` is IPV4:PORT or [IPV6]:PORT with a port from 1 to 65535. No host
// names: a probe address must not depend on name resolution.
std::optional<ListenAddress> parseListenAddress(std::string_view text);

} // namespace pb::metrics
