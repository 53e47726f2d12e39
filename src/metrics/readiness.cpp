#include "readiness.h"

namespace pb::metrics {

Readiness readiness(Phase phase, const AggregatorStats &stats)
{
    switch (phase) {
    case Phase::Starting:
        return {false, "not ready: starting (connecting to Redis and Kafka)"};
    case Phase::Stopped:
        return {false, "not ready: the aggregator has stopped"};
    case Phase::Running:
        break;
    }
    if (!stats.running)
        return {false, "not ready: not consuming (starting or stopping)"};
    if (!stats.redisUp)
        return {false, "not ready: Redis is unreachable"};
    if (stats.partitions.empty())
        return {true, "ready: waiting for a partition assignment"};
    return {true, "ready: holding " + std::to_string(stats.partitions.size()) + " partition(s)"};
}

} // namespace pb::metrics
