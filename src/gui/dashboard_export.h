#pragma once
// The dashboard's CSV export: the gathered time series and the latest snapshot, as one tidy
// RFC 4180 table (metric, key, time_utc, value) — the same format as pulseboard-cli export.
// Pure: writes to the stream it is given; the main window runs it off the UI thread.

#include "history.h"

#include <functional>
#include <ostream>
#include <vector>

namespace pb::gui {

// progress(done, total) is called every few thousand rows.
void writeDashboardCsv(const std::vector<Sample> &samples, const Snapshot &snapshot,
                       std::ostream &out,
                       const std::function<void(std::size_t, std::size_t)> &progress = {});

std::vector<Sample> samplesOf(const History &history);

} // namespace pb::gui
