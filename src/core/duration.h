#pragma once
// "500ms", "30s", "5m", "1h" or a bare number of seconds -> milliseconds. No I/O.

#include <chrono>
#include <optional>
#include <string_view>

namespace pb {

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

} // namespace pb
