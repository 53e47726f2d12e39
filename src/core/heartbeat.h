#pragma once
// An aggregator's heartbeat document (a value of the heartbeats hash in Redis): the aggregator
// writes it, every dashboard reads it; both ends live here. Pure functions, thread-safe.

#include "snapshot.h"

#include <optional>
#include <string>
#include <string_view>

namespace pb {

std::string encodeHeartbeat(const AggregatorHealth &health);
// nullopt when the document is not a heartbeat (malformed JSON, not an object).
std::optional<AggregatorHealth> decodeHeartbeat(std::string_view json);

} // namespace pb
