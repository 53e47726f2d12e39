#include "duration.h"

#include <charconv>
#include <cstdint>

namespace pb {

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text)
{
    double value = 0;
    const auto *end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || !(value >= 0)) // also refuses "nan", which compares false
        return std::nullopt;
    const std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
    double factor = 0;
    if (unit.empty() || unit == "s")
        factor = 1000;
    else if (unit == "ms")
        factor = 1;
    else if (unit == "m" || unit == "min")
        factor = 60'000;
    else if (unit == "h")
        factor = 3'600'000;
    else
        return std::nullopt;
    const double ms = value * factor;
    if (ms > 1e15)
        return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

} // namespace pb
