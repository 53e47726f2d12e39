// The metrics listen address (parseListenAddress: IPV4:PORT, [IPV6]:PORT) on any text.
// Oracles: a result has a port from 1 to 65535 and a host; what toString() writes parses back
// to the same address.
#include "fuzz_check.h"
#include "metrics/listen_address.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto address = pb::metrics::parseListenAddress(asText(data, size));
    if (!address)
        return 0;
    FUZZ_CHECK(address->port >= 1 && !address->host.empty());
    const auto again = pb::metrics::parseListenAddress(address->toString());
    FUZZ_CHECK(again && again->host == address->host && again->port == address->port);
    return 0;
}
