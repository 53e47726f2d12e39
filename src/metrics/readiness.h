#pragma once
// The /readyz rule, apart from any I/O: ready while the aggregator is in its consume loop
// (holding partitions or waiting for an assignment) and Redis answers (its functions are loaded
// when the aggregator starts and re-loaded by the writer whenever Redis reports them missing;
// a failed re-load ends run()). Kafka being down does not make it unready: it keeps waiting
// for its partitions, and kafka_up tells operators. Pure; thread-safe.

#include "pipeline/aggregator.h"

#include <string>

namespace pb::metrics {

enum class Phase {
    Starting, // connecting to Redis and Kafka, no aggregator yet
    Running,  // an aggregator is attached
    Stopped,  // it is gone (stopping, or failed)
};

struct Readiness {
    bool ready = false;
    // One line, from fixed phrases and numbers only: never an error text, which could carry
    // an address or a credential.
    std::string reason;
};

Readiness readiness(Phase phase, const AggregatorStats &stats);

} // namespace pb::metrics
