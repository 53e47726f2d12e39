#include "csv.h"

#include "event.h"

namespace pb {

std::string csvField(std::string_view text)
{
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

namespace {

void row(std::ostream &out, std::string_view metric, std::string_view key, std::int64_t timeMs,
         std::int64_t value)
{
    out << metric << ',' << csvField(key) << ',' << formatIso8601Ms(timeMs) << ',' << value
        << "\r\n";
}

} // namespace

void writeSnapshotCsv(const Snapshot &s, std::ostream &out)
{
    out << "metric,key,time_utc,value\r\n";
    const auto at = s.takenAtMs;
    const auto windowKey = "window_" + std::to_string(s.activeWindow.count() / 1000) + "s";
    row(out, "active_users", windowKey, at, s.activeUsers);
    row(out, "active_users", "window_1800s", at, s.activeUsers30m);
    row(out, "events_total", "", at, s.eventsTotal);
    row(out, "bad_events_total", "", at, s.badEventsTotal);
    row(out, "lost_events_total", "", at, s.lostEvents);
    if (s.consumerLag >= 0)
        row(out, "consumer_lag", "", at, s.consumerLag);
    for (const auto &p : s.topPagesAllTime)
        row(out, "page_views_all_time", p.name, at, p.count);
    for (const auto &p : s.topPagesLastHour)
        row(out, "page_views_last_hour", p.name, at, p.count);
    for (const auto &a : s.actions)
        row(out, "action_count", a.name, at, a.count);
    for (const auto &b : s.badByReason)
        row(out, "bad_events", b.name, at, b.count);
    for (const auto &r : s.perSecond)
        row(out, "events_per_second", "", r.epochSeconds * 1000, r.count);
    for (const auto &r : s.perMinute)
        row(out, "events_per_minute", "", r.epochSeconds * 1000, r.count);
}

} // namespace pb
