#pragma once
// RFC 4180 CSV: quoting and the stats export (one tidy table: metric, key, time_utc, value).
// No I/O beyond the stream it is given.

#include "snapshot.h"

#include <ostream>
#include <string>
#include <string_view>

namespace pb {

// Quotes a field when it holds a comma, quote, CR or LF (quotes doubled), else returns it as is.
std::string csvField(std::string_view text);

// Writes the header row and one row per number in the snapshot, CRLF line ends (RFC 4180).
void writeSnapshotCsv(const Snapshot &snapshot, std::ostream &out);

} // namespace pb
