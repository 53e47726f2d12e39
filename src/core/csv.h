#pragma once
// RFC 4180 CSV: quoting and the stats export (one tidy table: metric, key, time_utc, value).
// No I/O beyond the stream it is given.

#include "snapshot.h"

#include <ostream>
#include <string>
#include <string_view>

namespace pb {

// A field as the export writes it: control and bidi characters (and backslashes) shown as escapes
// (visibleText(): a cell cannot reorder what follows it, nor drive a terminal that cats the
// file), a field that would start a spreadsheet formula made inert (inertCell()), then quoted
// when it holds a comma or quote (quotes doubled).
std::string csvField(std::string_view text);

// The export is one tidy table: metric, key, time_utc, value; CRLF line ends (RFC 4180).
void writeCsvHeader(std::ostream &out);
void writeCsvRow(std::ostream &out, std::string_view metric, std::string_view key,
                 std::int64_t timeMs, std::int64_t value);
void writeCsvRow(std::ostream &out, std::string_view metric, std::string_view key,
                 std::int64_t timeMs, double value); // one decimal

// One row per number in the snapshot, after the header row unless withHeader is false.
void writeSnapshotCsv(const Snapshot &snapshot, std::ostream &out, bool withHeader = true);

} // namespace pb
