#include "snapshot.h"

#include <algorithm>

namespace pb {

namespace {
constexpr std::size_t kKeysNamed = 5;
}

void SkippedFields::add(std::string_view key, std::int64_t n)
{
    count += n;
    if (std::find(keys.begin(), keys.end(), key) != keys.end())
        return;
    if (keys.size() < kKeysNamed)
        keys.emplace_back(key);
    else
        moreKeys = true;
}

std::string SkippedFields::text() const
{
    if (count == 0)
        return {};
    std::string text =
        "skipped " + std::to_string(count) + " malformed field" + (count == 1 ? "" : "s") + " in ";
    for (std::size_t i = 0; i < keys.size(); ++i)
        text += (i ? ", " : "") + keys[i];
    if (moreKeys)
        text += ", ...";
    return text + " (written by another program? the rest is shown)";
}

} // namespace pb
