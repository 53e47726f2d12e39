#include "listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace pb::metrics {

std::string ListenAddress::toString() const
{
    return (ipv6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<ListenAddress> parseListenAddress(std::string_view text)
{
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return std::nullopt;
    auto host = text.substr(0, colon);
    const auto portText = text.substr(colon + 1);
    unsigned port = 0;
    const auto [end, error] =
        std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (error != std::errc{} || end != portText.data() + portText.size() || portText.empty() ||
        port < 1 || port > 65535)
        return std::nullopt;
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (bracketed)
        host = host.substr(1, host.size() - 2);
    const std::string hostString(host);
    if (hostString.find('\0') != std::string::npos) // inet_pton would read only up to it
        return std::nullopt;
    unsigned char buffer[16];
    if (bracketed ? inet_pton(AF_INET6, hostString.c_str(), buffer) != 1
                  : inet_pton(AF_INET, hostString.c_str(), buffer) != 1)
        return std::nullopt;
    return ListenAddress{hostString, static_cast<std::uint16_t>(port)};
}

} // namespace pb::metrics
