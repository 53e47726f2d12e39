#include "csv.h"

#include "event.h"
#include "visible_text.h"

#include <array>
#include <cstdio>

namespace pb {

std::string csvField(std::string_view text)
{
    const auto cell = inertCell(visibleText(text));
    text = cell;
    if (text.find_first_of(",\"\r\n") == std::string_view::npos)
        return std::string(text);
    std::string quoted;
    quoted.reserve(text.size() + 2);
    quoted += '"';
    for (const char c : text) {
        if (c == '"')
            quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

void writeCsvHeader(std::ostream &out)
{
    out << "metric,key,time_utc,value\r\n";
}

void writeCsvRow(std::ostream &out, std::string_view metric, std::string_view key,
                 std::int64_t timeMs, std::int64_t value)
{
    out << csvField(metric) << ',' << csvField(key) << ',' << formatIso8601Ms(timeMs) << ','
        << value << "\r\n";
}

void writeCsvRow(std::ostream &out, std::string_view metric, std::string_view key,
                 std::int64_t timeMs, double value)
{
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%.1f", value);
    out << csvField(metric) << ',' << csvField(key) << ',' << formatIso8601Ms(timeMs) << ','
        << text.data() << "\r\n";
}

void writeSnapshotCsv(const Snapshot &s, std::ostream &out, bool withHeader)
{
    const auto row = [&out](std::string_view metric, std::string_view key, std::int64_t timeMs,
                            std::int64_t value) {
        writeCsvRow(out, metric, key, timeMs, value);
    };
    if (withHeader)
        writeCsvHeader(out);
    const auto at = s.takenAtMs;
    const auto windowKey = "window_" + std::to_string(s.activeWindow.count() / 1000) + "s";
    row("active_users", windowKey, at, s.activeUsers);
    row("active_users", "window_1800s", at, s.activeUsers30m);
    row("events_total", "", at, s.eventsTotal);
    row("bad_events_total", "", at, s.badEventsTotal);
    row("lost_events_total", "", at, s.lostEvents);
    if (s.consumerLag >= 0)
        row("consumer_lag", "", at, s.consumerLag);
    for (const auto &p : s.topPagesAllTime)
        row("page_views_all_time", p.name, at, p.count);
    for (const auto &p : s.topPagesLastHour)
        row("page_views_last_hour", p.name, at, p.count);
    for (const auto &a : s.actions)
        row("action_count", a.name, at, a.count);
    for (const auto &b : s.badByReason)
        row("bad_events", b.name, at, b.count);
    for (const auto &r : s.perSecond)
        row("events_per_second", "", r.epochSeconds * 1000, r.count);
    for (const auto &r : s.perMinute)
        row("events_per_minute", "", r.epochSeconds * 1000, r.count);
}

} // namespace pb
