#include "alert_engine.h"

#include <QObject>

namespace pb::gui {

QString metricName(AlertMetric metric)
{
    switch (metric) {
    case AlertMetric::ActiveUsers:
        return QObject::tr("active users");
    case AlertMetric::EventsPerSecond:
        return QObject::tr("events/s");
    case AlertMetric::ConsumerLag:
        return QObject::tr("consumer lag");
    case AlertMetric::BadEventsPerSecond:
        return QObject::tr("bad events/s");
    }
    return {};
}

QString AlertRule::describe() const
{
    return QObject::tr("%1 %2 %3")
        .arg(metricName(metric),
             comparison == AlertComparison::Above ? QObject::tr("above") : QObject::tr("below"),
             QString::number(threshold));
}

QString AlertEvent::text() const
{
    return raised ? QObject::tr("%1 (now %2)").arg(rule.describe(), QString::number(value, 'f', 1))
                  : QObject::tr("cleared: %1 (now %2)")
                        .arg(rule.describe(), QString::number(value, 'f', 1));
}

void AlertEngine::setRules(std::vector<AlertRule> rules)
{
    rules_ = std::move(rules);
    active_.assign(rules_.size(), false);
}

std::optional<double> AlertEngine::value(AlertMetric metric, const Snapshot &s)
{
    switch (metric) {
    case AlertMetric::ActiveUsers:
        return static_cast<double>(s.activeUsers);
    case AlertMetric::EventsPerSecond: {
        // The mean of the last 5 complete seconds: one quiet second is not "traffic stopped".
        if (s.perSecond.empty())
            return std::nullopt;
        std::int64_t sum = 0;
        int n = 0;
        for (auto it = s.perSecond.rbegin(); it != s.perSecond.rend() && n < 5; ++it, ++n)
            sum += it->count;
        return static_cast<double>(sum) / n;
    }
    case AlertMetric::ConsumerLag:
        if (s.consumerLag < 0)
            return std::nullopt;
        return static_cast<double>(s.consumerLag);
    case AlertMetric::BadEventsPerSecond:
        return std::nullopt; // needs two snapshots: see evaluate()
    }
    return std::nullopt;
}

std::vector<AlertEvent> AlertEngine::evaluate(const Snapshot &s)
{
    // Bad-event rate from the change of the total between two snapshots.
    std::optional<double> badRate;
    if (previousBad_ >= 0 && s.takenAtMs > previousBadAtMs_) {
        badRate_ = static_cast<double>(std::max<std::int64_t>(0, s.badEventsTotal - previousBad_)) *
                   1000.0 / static_cast<double>(s.takenAtMs - previousBadAtMs_);
        badRate = badRate_;
    }
    previousBad_ = s.badEventsTotal;
    previousBadAtMs_ = s.takenAtMs;

    std::vector<AlertEvent> events;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const auto &rule = rules_[i];
        if (!rule.enabled) {
            active_[i] = false;
            continue;
        }
        const auto v =
            rule.metric == AlertMetric::BadEventsPerSecond ? badRate : value(rule.metric, s);
        if (!v)
            continue;
        const bool violated =
            rule.comparison == AlertComparison::Above ? *v > rule.threshold : *v < rule.threshold;
        if (violated != active_[i]) {
            active_[i] = violated;
            events.push_back({s.takenAtMs, rule, *v, violated});
        }
    }
    return events;
}

} // namespace pb::gui
