#include "rules.h"

#include <QRegularExpression>

#include <QObject>

namespace pb::alerts {

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

QString metricKey(AlertMetric metric)
{
    switch (metric) {
    case AlertMetric::ActiveUsers:
        return QStringLiteral("active_users");
    case AlertMetric::EventsPerSecond:
        return QStringLiteral("events_per_second");
    case AlertMetric::ConsumerLag:
        return QStringLiteral("consumer_lag");
    case AlertMetric::BadEventsPerSecond:
        return QStringLiteral("bad_events_per_second");
    }
    return {};
}

QString alertName(const AlertRule &rule)
{
    QString name = QStringLiteral("Pulseboard");
    for (const auto &word : metricKey(rule.metric).split('_'))
        name += word.left(1).toUpper() + word.mid(1);
    return name + (rule.comparison == AlertComparison::Above ? QStringLiteral("Above")
                                                             : QStringLiteral("Below"));
}

std::optional<AlertRule> parseRule(const QString &text, QString *error)
{
    static const QRegularExpression form(R"(^\s*([a-z_-]+)\s*([<>])\s*([0-9]+(\.[0-9]+)?)\s*$)");
    const auto m = form.match(text.toLower());
    if (!m.hasMatch()) {
        *error = QObject::tr("\"%1\" is not a rule: write METRIC>NUMBER or METRIC<NUMBER, "
                             "e.g. consumer_lag>10000")
                     .arg(text);
        return std::nullopt;
    }
    const auto key = m.captured(1).replace('-', '_');
    for (auto metric : {AlertMetric::ActiveUsers, AlertMetric::EventsPerSecond,
                        AlertMetric::ConsumerLag, AlertMetric::BadEventsPerSecond}) {
        if (metricKey(metric) == key)
            return AlertRule{metric,
                             m.captured(2) == ">" ? AlertComparison::Above : AlertComparison::Below,
                             m.captured(3).toDouble(), true};
    }
    *error = QObject::tr("unknown metric \"%1\": one of active_users, events_per_second, "
                         "consumer_lag, bad_events_per_second")
                 .arg(key);
    return std::nullopt;
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

std::vector<AlertEvent> AlertEngine::setRules(std::vector<AlertRule> rules, std::int64_t nowMs)
{
    std::vector<AlertEvent> cleared;
    std::vector<bool> active(rules.size(), false);
    std::vector<double> lastValue(rules.size(), 0);
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        if (i < rules.size() && rules[i] == rules_[i]) {
            active[i] = active_[i];
            lastValue[i] = lastValue_[i];
        } else if (active_[i]) {
            cleared.push_back({nowMs, rules_[i], lastValue_[i], false});
        }
    }
    rules_ = std::move(rules);
    active_ = std::move(active);
    lastValue_ = std::move(lastValue);
    return cleared;
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
            if (active_[i])
                events.push_back({s.takenAtMs, rule, lastValue_[i], false});
            active_[i] = false;
            continue;
        }
        const auto v =
            rule.metric == AlertMetric::BadEventsPerSecond ? badRate : value(rule.metric, s);
        if (!v)
            continue;
        lastValue_[i] = *v;
        const bool violated =
            rule.comparison == AlertComparison::Above ? *v > rule.threshold : *v < rule.threshold;
        if (violated != active_[i]) {
            active_[i] = violated;
            events.push_back({s.takenAtMs, rule, *v, violated});
        }
    }
    return events;
}

} // namespace pb::alerts
