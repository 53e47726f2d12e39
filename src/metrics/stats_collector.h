#pragma once
// The pulseboard_* metric families of one aggregator, built from an AggregatorStats snapshot
// at each scrape (a custom prometheus-cpp Collectable, like the Go client's const metrics):
// the values are the aggregator's own counters, never a second count kept beside them, and a
// partition given away takes its lag series with it. Internal to pulseboard_metrics (it
// includes prometheus-cpp). Thread-safe when the source is.

#include "pipeline/aggregator.h"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <vector>

namespace pb::metrics {

// Every family, from `stats` (a default-constructed one before the aggregator exists: all
// counters 0, Redis and Kafka down).
std::vector<prometheus::MetricFamily> statsFamilies(const AggregatorStats &stats);

class StatsCollector : public prometheus::Collectable {
public:
    using Source = std::function<AggregatorStats()>;
    explicit StatsCollector(Source source)
        : source_(std::move(source))
    {
    }
    std::vector<prometheus::MetricFamily> Collect() const override
    {
        return statsFamilies(source_());
    }

private:
    Source source_;
};

} // namespace pb::metrics
