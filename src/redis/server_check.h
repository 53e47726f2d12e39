#pragma once
// Whether a Redis server can hold Pulseboard's aggregates exactly: the aggregator writes only to
// a primary (a replica refuses writes, or loses them at its next resync) that never evicts keys.
// Under allkeys-* an evicted offsets hash makes everything count again and an evicted counter
// loses counts; under volatile-* the per-minute keys (they have a TTL) vanish early, and the
// last hour's numbers with them, without a word. Only noeviction keeps every count.
// parseInfo() and unfitForAggregates() are pure (thread-safe); readServerFacts() is as
// thread-safe as its Connection.

#include "core/error.h"
#include "redis_connection.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pb::redis {

struct ServerFacts {
    bool known = false;         // INFO answered (an ACL without +info refuses it)
    std::string role;           // "master" or "slave"
    bool readOnly = true;       // a replica's replica-read-only
    std::string primary;        // a replica's primary, "host:port"
    std::string evictionPolicy; // maxmemory_policy, e.g. "noeviction"
    std::int64_t maxMemory = 0; // bytes; 0: no limit
    std::string refusal;        // when !known: what Redis answered instead
};

// The fields above from the text of INFO replication and INFO memory (known = true).
ServerFacts parseInfo(std::string_view info);

// Why this server cannot hold the aggregates, as a Fatal Error that says what to do; nullopt when
// it can or when the facts are unknown. `endpoint` as Endpoint::toString().
std::optional<Error> unfitForAggregates(const ServerFacts &facts, std::string_view endpoint);

// INFO replication and INFO memory in one round trip. NOPERM (a least-privilege user from an
// older `redis-acl`) or an unknown INFO (renamed away) gives known = false rather than an
// error. Throws pb::Error on I/O failure and on other error replies.
ServerFacts readServerFacts(Connection &connection);

// What an operator reads when the facts are unknown: what could not be checked and why.
std::string uncheckedNotice(const ServerFacts &facts, std::string_view endpoint);

} // namespace pb::redis
