#pragma once
// The alert rules live in src/alerts (shared with `pulseboard-cli watch`); the GUI's names.

#include "alerts/rules.h"

namespace pb::gui {

using alerts::AlertComparison;
using alerts::AlertEngine;
using alerts::AlertEvent;
using alerts::AlertMetric;
using alerts::AlertRule;
using alerts::metricName;

} // namespace pb::gui
