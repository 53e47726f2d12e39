#pragma once
// Threshold alerts on the live numbers: edge-triggered (an alert is raised when a rule starts
// being violated and cleared when it stops), so a steady breach does not flood the operator.
// Pure logic, no Qt widgets: the alerts panel shows it, the tests drive it.

#include "core/snapshot.h"

#include <QString>

#include <cstdint>
#include <optional>
#include <vector>

namespace pb::gui {

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

class AlertEngine {
public:
    void setRules(std::vector<AlertRule> rules);
    const std::vector<AlertRule> &rules() const { return rules_; }

    // Evaluates every enabled rule on a snapshot; returns the alerts raised or cleared by it.
    std::vector<AlertEvent> evaluate(const Snapshot &snapshot);
    // The value a rule's metric has in a snapshot; nullopt when unknown (e.g. lag with no
    // aggregator alive).
    static std::optional<double> value(AlertMetric metric, const Snapshot &snapshot);

private:
    std::vector<AlertRule> rules_;
    std::vector<bool> active_;
    std::int64_t previousBad_ = -1;
    std::int64_t previousBadAtMs_ = 0;
    double badRate_ = 0;
};

} // namespace pb::gui
