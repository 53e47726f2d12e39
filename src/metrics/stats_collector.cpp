#include "stats_collector.h"

#include "core/event.h"

namespace pb::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type)
{
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

ClientMetric sample(MetricType type, double value, std::vector<ClientMetric::Label> labels = {})
{
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    return m;
}

MetricFamily single(std::string name, std::string help, MetricType type, double value)
{
    auto f = family(std::move(name), std::move(help), type);
    f.metric.push_back(sample(type, value));
    return f;
}

double num(std::int64_t v)
{
    return static_cast<double>(v);
}

} // namespace

std::vector<MetricFamily> statsFamilies(const AggregatorStats &s)
{
    constexpr auto counter = MetricType::Counter;
    constexpr auto gauge = MetricType::Gauge;
    std::vector<MetricFamily> out;
    out.push_back(single("pulseboard_events_total",
                         "Events read from Kafka and accounted in Redis, bad ones included.",
                         counter, num(s.validEvents + s.invalidEvents)));

    auto bad = family("pulseboard_bad_events_total",
                      "Events that failed validation, by reason (counted in Redis and forwarded "
                      "to the dead-letter topic).",
                      counter);
    for (std::size_t r = 0; r < s.invalidByReason.size(); ++r)
        bad.metric.push_back(
            sample(counter, num(s.invalidByReason[r]),
                   {{"reason", std::string(reasonName(static_cast<InvalidReason>(r)))}}));
    out.push_back(std::move(bad));

    out.push_back(single("pulseboard_dead_letter_forwards_total",
                         "Bad events forwarded to the dead-letter topic and acknowledged by Kafka.",
                         counter, num(s.invalidEvents)));
    out.push_back(
        single("pulseboard_batches_total", "Batches applied in Redis.", counter, num(s.batches)));
    out.push_back(single("pulseboard_rewinds_total",
                         "Batches dropped and re-read from the offsets in Redis (an outage, an "
                         "offset mismatch).",
                         counter, num(s.rewinds)));
    out.push_back(single("pulseboard_fenced_batches_total",
                         "Batches Redis refused because another member had applied further.",
                         counter, num(s.fenced)));
    out.push_back(single("pulseboard_lost_events_total",
                         "Events Kafka no longer had when their turn came (retention).", counter,
                         num(s.lostEvents)));

    auto lag =
        family("pulseboard_consumer_lag",
               "Events Kafka holds beyond what Redis has of each assigned partition.", gauge);
    for (const auto &p : s.partitions)
        if (p.lag >= 0)
            lag.metric.push_back(
                sample(gauge, num(p.lag),
                       {{"partition", std::to_string(p.partition)}, {"topic", p.topic}}));
    out.push_back(std::move(lag));
    out.push_back(single("pulseboard_assigned_partitions",
                         "Partitions this aggregator holds in its consumer group.", gauge,
                         num(static_cast<std::int64_t>(s.partitions.size()))));
    out.push_back(single("pulseboard_redis_up", "1 while Redis answers the aggregator, else 0.",
                         gauge, s.redisUp ? 1 : 0));
    out.push_back(single("pulseboard_kafka_up",
                         "1 while a Kafka broker is reachable for the aggregator, else 0.", gauge,
                         s.kafkaUp ? 1 : 0));
    return out;
}

} // namespace pb::metrics
