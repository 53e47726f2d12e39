// ISO-8601 / RFC 3339 date-times <-> epoch milliseconds: plain calendar arithmetic, no locale,
// no time zone database, no timegm.
//
// Accepted: YYYY-MM-DD, then 'T', 't' or ' ', then hh:mm:ss, then an optional fraction of 1 to 9
// digits after '.' (or ISO's ',') truncated to milliseconds, then an optional zone: 'Z', 'z',
// +hh:mm, +hhmm, -hh:mm or -hhmm (hours 00-23, minutes 00-59). No zone means UTC.
// A leap second (ss = 60) is accepted and rolls forward: 23:59:60 is the next day's 00:00:00.
// Years 0000-9999; dates before 1970 give negative epoch milliseconds.

#include "event.h"

#include <array>

namespace pb {

namespace {

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
constexpr std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);                // [0, 399]
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; // [0, 365]
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

// Howard Hinnant's civil_from_days, the inverse of daysFromCivil.
constexpr Civil civilFromDays(std::int64_t z)
{
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {y + (m <= 2 ? 1 : 0), m, d};
}

static_assert(daysFromCivil(1970, 1, 1) == 0);
static_assert(daysFromCivil(2000, 3, 1) == 11017);
static_assert(daysFromCivil(1969, 12, 31) == -1);
static_assert(civilFromDays(-1).year == 1969 && civilFromDays(-1).day == 31);

constexpr bool isLeap(std::int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr unsigned daysInMonth(std::int64_t y, unsigned m)
{
    constexpr std::array<unsigned, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && isLeap(y) ? 29 : days[m - 1];
}

constexpr bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

// A cursor over the text; every read checks bounds.
struct Reader {
    std::string_view s;
    std::size_t pos = 0;

    bool atEnd() const { return pos == s.size(); }
    char peek() const { return pos < s.size() ? s[pos] : '\0'; }

    // Exactly n digits.
    bool digits(std::size_t n, unsigned &out)
    {
        if (s.size() - pos < n)
            return false;
        out = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const char c = s[pos + i];
            if (!isDigit(c))
                return false;
            out = out * 10 + static_cast<unsigned>(c - '0');
        }
        pos += n;
        return true;
    }

    bool expect(char c)
    {
        if (atEnd() || s[pos] != c)
            return false;
        ++pos;
        return true;
    }
};

// Writes n digits of value (zero-padded) at out.
char *putDigits(char *out, std::uint64_t value, int n)
{
    for (int i = n - 1; i >= 0; --i) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    return out + n;
}

} // namespace

std::optional<std::int64_t> parseIso8601Ms(std::string_view text)
{
    Reader r{text};
    unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!r.digits(4, year) || !r.expect('-') || !r.digits(2, month) || !r.expect('-') ||
        !r.digits(2, day))
        return std::nullopt;
    if (const char t = r.peek(); r.atEnd() || (t != 'T' && t != 't' && t != ' '))
        return std::nullopt;
    ++r.pos;
    if (!r.digits(2, hour) || !r.expect(':') || !r.digits(2, minute) || !r.expect(':') ||
        !r.digits(2, second))
        return std::nullopt;

    unsigned millis = 0;
    if (!r.atEnd() && (r.peek() == '.' || r.peek() == ',')) {
        ++r.pos;
        std::size_t fractionDigits = 0;
        while (!r.atEnd() && isDigit(r.peek())) {
            if (fractionDigits < 3)
                millis = millis * 10 + static_cast<unsigned>(r.peek() - '0');
            ++fractionDigits;
            ++r.pos;
        }
        if (fractionDigits == 0 || fractionDigits > 9)
            return std::nullopt;
        for (auto i = fractionDigits; i < 3; ++i)
            millis *= 10;
    }

    std::int64_t offsetMinutes = 0;
    if (!r.atEnd()) {
        const char zone = r.peek();
        ++r.pos;
        if (zone == '+' || zone == '-') {
            unsigned offsetHours = 0, offsetMins = 0;
            if (!r.digits(2, offsetHours))
                return std::nullopt;
            if (!r.atEnd() && r.peek() == ':')
                ++r.pos;
            if (!r.digits(2, offsetMins) || offsetHours > 23 || offsetMins > 59)
                return std::nullopt;
            offsetMinutes = static_cast<std::int64_t>(offsetHours * 60 + offsetMins);
            if (zone == '-')
                offsetMinutes = -offsetMinutes;
        } else if (zone != 'Z' && zone != 'z') {
            return std::nullopt;
        }
    }
    if (!r.atEnd())
        return std::nullopt;

    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return std::nullopt;

    const std::int64_t days = daysFromCivil(year, month, day);
    const std::int64_t seconds = days * 86400 + static_cast<std::int64_t>(hour) * 3600 +
                                 static_cast<std::int64_t>(minute) * 60 +
                                 static_cast<std::int64_t>(second) - offsetMinutes * 60;
    return seconds * 1000 + static_cast<std::int64_t>(millis);
}

std::string formatIso8601Ms(std::int64_t epochMs)
{
    constexpr std::int64_t msPerDay = 86'400'000;
    // Floor division without overflow, also at INT64_MIN.
    std::int64_t days = epochMs / msPerDay;
    std::int64_t remainder = epochMs % msPerDay;
    if (remainder < 0) {
        remainder += msPerDay;
        --days;
    }
    const auto msOfDay = static_cast<std::uint64_t>(remainder); // [0, msPerDay)
    const Civil date = civilFromDays(days);

    // "YYYY-MM-DDTHH:MM:SS.mmmZ"; a year outside 0000-9999 gets a sign and as many digits as
    // it needs (ISO 8601's expanded form), which only extreme inputs produce.
    std::array<char, 48> buf{};
    char *out = buf.data();
    const std::int64_t year = date.year;
    if (year < 0 || year > 9999) {
        *out++ = year < 0 ? '-' : '+';
        const auto magnitude =
            year < 0 ? 0 - static_cast<std::uint64_t>(year) : static_cast<std::uint64_t>(year);
        int width = 4;
        for (auto v = magnitude / 10000; v > 0; v /= 10)
            ++width;
        out = putDigits(out, magnitude, width);
    } else {
        out = putDigits(out, static_cast<std::uint64_t>(year), 4);
    }
    *out++ = '-';
    out = putDigits(out, date.month, 2);
    *out++ = '-';
    out = putDigits(out, date.day, 2);
    *out++ = 'T';
    out = putDigits(out, msOfDay / 3'600'000, 2);
    *out++ = ':';
    out = putDigits(out, msOfDay / 60'000 % 60, 2);
    *out++ = ':';
    out = putDigits(out, msOfDay / 1000 % 60, 2);
    *out++ = '.';
    out = putDigits(out, msOfDay % 1000, 3);
    *out++ = 'Z';
    return std::string(buf.data(), out);
}

} // namespace pb
