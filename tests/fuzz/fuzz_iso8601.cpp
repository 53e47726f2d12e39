// ISO-8601 / epoch ms (parseIso8601Ms, formatIso8601Ms) on any text. Oracles: a parsed time
// agrees with std::chrono's calendar; what format writes parses back to the same instant; a
// time written in format's own form comes back unchanged.
#include "core/event.h"
#include "fuzz_check.h"

#include <chrono>
#include <cstring>
#include <string>

namespace {

bool digit(char c)
{
    return c >= '0' && c <= '9';
}

int number(std::string_view s, std::size_t at, std::size_t n)
{
    int v = 0;
    for (std::size_t i = 0; i < n; ++i)
        v = v * 10 + (s[at + i] - '0');
    return v;
}

// The instant `text` names, by std::chrono: only called on text the parser accepted, so the
// fixed fields are digits; the fraction and the zone are read again here.
std::int64_t chronoMs(std::string_view t)
{
    using namespace std::chrono;
    const year_month_day date{year(number(t, 0, 4)), month(static_cast<unsigned>(number(t, 5, 2))),
                              day(static_cast<unsigned>(number(t, 8, 2)))};
    FUZZ_CHECK(date.ok());
    auto ms = duration_cast<milliseconds>(sys_days(date).time_since_epoch()).count();
    ms += (number(t, 11, 2) * 3600LL + number(t, 14, 2) * 60LL + number(t, 17, 2)) * 1000;
    std::size_t i = 19;
    if (i < t.size() && (t[i] == '.' || t[i] == ',')) {
        int scale = 100;
        for (++i; i < t.size() && digit(t[i]); ++i, scale /= 10)
            ms += (t[i] - '0') * scale;
    }
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
        const auto minutes =
            number(t, i + 1, 2) * 60 + number(t, t[i + 3] == ':' ? i + 4 : i + 3, 2);
        ms -= (t[i] == '+' ? 1 : -1) * minutes * 60'000LL;
    }
    return ms;
}

bool plainYear(const std::string &formatted)
{
    return formatted.front() != '+' && formatted.front() != '-';
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto text = asText(data, size);
    if (const auto ms = pb::parseIso8601Ms(text)) {
        FUZZ_CHECK(*ms == chronoMs(text));
        const auto formatted = pb::formatIso8601Ms(*ms);
        if (plainYear(formatted))
            FUZZ_CHECK(pb::parseIso8601Ms(formatted) == ms);
        const bool canonical = text.size() == 24 && text[10] == 'T' && text[19] == '.' &&
                               text[23] == 'Z' && text.substr(17, 2) != "60";
        if (canonical)
            FUZZ_CHECK(formatted == text);
    }

    // The same bytes as an epoch-ms value: any int64 formats, and back where the year has four
    // digits.
    std::int64_t epochMs = 0;
    std::memcpy(&epochMs, data, std::min(size, sizeof epochMs));
    const auto formatted = pb::formatIso8601Ms(epochMs);
    FUZZ_CHECK(formatted.back() == 'Z');
    if (plainYear(formatted)) {
        FUZZ_CHECK(formatted.size() == 24);
        FUZZ_CHECK(pb::parseIso8601Ms(formatted) == epochMs);
    }
    return 0;
}
