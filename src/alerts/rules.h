#pragma once
// Threshold alerts on the live numbers: edge-triggered (an alert is raised when a rule starts
// being violated and cleared when it stops), so a steady breach does not flood the operator.
// Pure logic, no I/O and no widgets: the dashboard's alerts panel and `pulseboard-cli watch`
// both evaluate their rules with it. Not thread-safe: one engine per thread.

#include "core/snapshot.h"

#include <QString>

#include <cstdint>
#include <optional>
#include <vector>

namespace pb::alerts {

enum class AlertMetric { ActiveUsers, EventsPerSecond, ConsumerLag, BadEventsPerSecond };
enum class AlertComparison { Above, Below };

struct AlertRule {
    AlertMetric metric = AlertMetric::ActiveUsers;
    AlertComparison comparison = AlertComparison::Above;
    double threshold = 0;
    bool enabled = false;

    QString describe() const; // "events/s below 10"
    friend bool operator==(const AlertRule &, const AlertRule &) = default;
};

struct AlertEvent {
    std::int64_t timeMs = 0;
    AlertRule rule;
    double value = 0;
    bool raised = true; // false: the condition cleared
    QString text() const;
};

QString metricName(AlertMetric metric);
// The metric's stable name in labels and on the command line, e.g. "consumer_lag".
QString metricKey(AlertMetric metric);
// Alertmanager's alertname of a rule, e.g. "PulseboardConsumerLagAbove".
QString alertName(const AlertRule &rule);
// A rule from "consumer_lag>10000" (also "-" for "_", and spaces); nullopt with *error set.
std::optional<AlertRule> parseRule(const QString &text, QString *error);

class AlertEngine {
public:
    // Rules left unchanged at the same place keep their state; an active alert whose rule is
    // changed, disabled or removed is returned as cleared (so that no receiver keeps it firing).
    std::vector<AlertEvent> setRules(std::vector<AlertRule> rules, std::int64_t nowMs = 0);
    const std::vector<AlertRule> &rules() const { return rules_; }

    // Evaluates every enabled rule on a snapshot; returns the alerts raised or cleared by it.
    std::vector<AlertEvent> evaluate(const Snapshot &snapshot);
    // The value a rule's metric has in a snapshot; nullopt when unknown (e.g. lag with no
    // aggregator alive).
    static std::optional<double> value(AlertMetric metric, const Snapshot &snapshot);

private:
    std::vector<AlertRule> rules_;
    std::vector<bool> active_;
    std::vector<double> lastValue_;
    std::int64_t previousBad_ = -1;
    std::int64_t previousBadAtMs_ = 0;
    double badRate_ = 0;
};

} // namespace pb::alerts
