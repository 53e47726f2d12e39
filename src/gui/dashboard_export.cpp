#include "dashboard_export.h"

#include "core/csv.h"

#include <string>

namespace pb::gui {

std::vector<Sample> samplesOf(const History &history)
{
    std::vector<Sample> samples;
    samples.reserve(history.size());
    for (std::size_t i = 0; i < history.size(); ++i)
        samples.push_back(history.at(i));
    return samples;
}

void writeDashboardCsv(const std::vector<Sample> &samples, const Snapshot &snapshot,
                       std::ostream &out,
                       const std::function<void(std::size_t, std::size_t)> &progress)
{
    writeCsvHeader(out);
    const auto window = "window_" + std::to_string(snapshot.activeWindow.count() / 1000) + "s";
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const auto &s = samples[i];
        writeCsvRow(out, "active_users", window, s.timeMs, s.activeUsers);
        writeCsvRow(out, "active_users", "window_1800s", s.timeMs, s.activeUsers30m);
        writeCsvRow(out, "events_per_second_3s", "", s.timeMs, s.eventsPerSecond);
        if (s.consumerLag >= 0)
            writeCsvRow(out, "consumer_lag", "", s.timeMs, s.consumerLag);
        writeCsvRow(out, "bad_events_total", "", s.timeMs, s.badEventsTotal);
        if (progress && i % 2000 == 0)
            progress(i, samples.size());
    }
    writeSnapshotCsv(snapshot, out, false);
    if (progress)
        progress(samples.size(), samples.size());
}

} // namespace pb::gui
