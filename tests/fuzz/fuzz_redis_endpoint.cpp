// Redis addresses (parseEndpoint: host:port, [v6]:port, redis[s]://[user@]host[:port][/db]) on
// any text. Oracles: only pb::Error is thrown, and Fatal; a result is usable and what
// toString() writes parses back to the same server; a password in a URL never reaches the
// message (the message is the same whatever the password is).
#include "fuzz_check.h"
#include "redis/redis_connection.h"

#include <cctype>
#include <optional>
#include <string>

namespace {

// The message parseEndpoint throws, or nullopt if it accepts the text.
std::optional<std::string> failure(std::string_view text, pb::redis::Endpoint &out)
{
    try {
        out = pb::redis::parseEndpoint(text);
        return std::nullopt;
    } catch (const pb::Error &e) {
        FUZZ_CHECK(e.kind() == pb::ErrorKind::Fatal);
        return std::string(e.what());
    }
}

// Where the password sits in redis://user:password@host..., as parseEndpoint splits it.
std::optional<std::pair<std::size_t, std::size_t>> passwordSpan(std::string_view text)
{
    const auto scheme = text.find("://");
    if (scheme == std::string_view::npos)
        return std::nullopt;
    const auto start = scheme + 3;
    const auto authority = text.substr(start, text.find('/', start) - start);
    const auto at = authority.rfind('@');
    if (at == std::string_view::npos)
        return std::nullopt;
    const auto colon = authority.substr(0, at).find(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    return std::pair{start + colon + 1, at - colon - 1};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto text = asText(data, size);
    pb::redis::Endpoint endpoint;
    const auto message = failure(text, endpoint);
    if (!message) {
        FUZZ_CHECK(endpoint.port >= 1 && endpoint.port <= 65535);
        FUZZ_CHECK(!endpoint.host.empty() && endpoint.database >= 0);
        FUZZ_CHECK(endpoint.password.empty());
        pb::redis::Endpoint again;
        FUZZ_CHECK(!failure(endpoint.toString(), again));
        FUZZ_CHECK(again.host == endpoint.host && again.port == endpoint.port &&
                   again.tls.enabled == endpoint.tls.enabled);
        return 0;
    }
    const auto span = passwordSpan(text);
    if (!span)
        return 0;
    const auto password = text.substr(span->first, span->second);
    for (const char c : password)
        if (std::isspace(static_cast<unsigned char>(c)) ||
            std::iscntrl(static_cast<unsigned char>(c)))
            return 0; // refused for the space before the password is looked at
    std::string other(text);
    other.replace(span->first, span->second, std::string(span->second, 'Q'));
    pb::redis::Endpoint unused;
    FUZZ_CHECK(failure(other, unused) == message);
    return 0;
}
