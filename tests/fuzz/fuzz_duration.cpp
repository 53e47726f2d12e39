// Durations (parseDuration: "500ms", "30s", "5m", "1h", bare seconds) on any text. Oracles: a
// result is within 0 .. 1e15 ms and reads back the same when written in ms; plain digits are
// seconds.
#include "core/duration.h"
#include "fuzz_check.h"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto text = asText(data, size);
    const auto d = pb::parseDuration(text);
    if (d) {
        FUZZ_CHECK(d->count() >= 0 && d->count() <= 1'000'000'000'000'000);
        FUZZ_CHECK(pb::parseDuration(std::to_string(d->count()) + "ms") == d);
    }
    if (!text.empty() && text.size() <= 9 &&
        text.find_first_not_of("0123456789") == std::string_view::npos)
        FUZZ_CHECK(d && d->count() == std::stoll(std::string(text)) * 1000);
    return 0;
}
