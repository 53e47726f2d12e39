#!/usr/bin/env bash
# The monitoring files in packaging/ as an operator meets them: the alert rules pass promtool's
# check and its unit tests (each alert fires on the series that should fire it), and the
# Grafana dashboard is JSON with the expected panels, whose queries name only metrics the
# aggregator exports. (tst_metrics runs the same queries and rules on a real Prometheus.)
set -euo pipefail
source_dir=$1
command -v promtool >/dev/null || {
    echo "FAIL: promtool is not installed (Debian package prometheus; scripts/install-deps.sh installs it)"
    exit 1
}
promtool check rules "$source_dir/packaging/prometheus/pulseboard-alerts.yml"
promtool test rules "$source_dir/packaging/prometheus/pulseboard-alerts.test.yml"
python3 - "$source_dir" <<'PY'
import json, re, sys, pathlib
root = pathlib.Path(sys.argv[1])
dashboard = json.loads((root / "packaging/grafana/pulseboard-dashboard.json").read_text())
# What the aggregator exports: the names in the metrics library's sources.
exported = set()
for source in (root / "src/metrics").glob("*.cpp"):
    exported |= set(re.findall(r'"(pulseboard_[a-z_]+)"', source.read_text()))
for h in [n for n in exported if n.endswith("_seconds")]:
    exported |= {h + "_bucket", h + "_sum", h + "_count"}
assert "pulseboard_events_total" in exported, sorted(exported)

panels = {p["title"]: p for p in dashboard["panels"]}
expected = {
    "Event rate": ["rate(pulseboard_events_total"],
    "Consumer lag by partition": ["pulseboard_consumer_lag", "by (topic, partition)"],
    "Redis call time": ["histogram_quantile(0.99", "pulseboard_redis_call_duration_seconds_bucket"],
    "Bad events by reason": ["sum by (reason)", "rate(pulseboard_bad_events_total"],
    "Aggregators up": ["up{"],
    "Assigned partitions": ["pulseboard_assigned_partitions"],
    "Rewinds, fenced batches, lost events": ["pulseboard_rewinds_total", "pulseboard_fenced_batches_total",
                                             "pulseboard_lost_events_total"],
}
problems = []
for title, needles in expected.items():
    if title not in panels:
        problems.append(f"no panel titled {title!r}")
        continue
    exprs = " ".join(t["expr"] for t in panels[title]["targets"])
    problems += [f"{title!r}: no {n!r} in its queries" for n in needles if n not in exprs]
ids = [p["id"] for p in dashboard["panels"]]
if len(ids) != len(set(ids)):
    problems.append("panel ids repeat")
used = set()
for p in dashboard["panels"]:
    if not p.get("targets"):
        problems.append(f"{p['title']!r} has no query")
    for t in p.get("targets", []):
        used |= set(re.findall(r"pulseboard_[a-z_]+", t["expr"]))
rules = (root / "packaging/prometheus/pulseboard-alerts.yml").read_text()
used |= set(re.findall(r"pulseboard_[a-z_]+", rules))
problems += [f"{name} is used but the aggregator does not export it" for name in sorted(used - exported)]
if problems:
    print("FAIL:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"dashboard: {len(panels)} panels, {len(used)} metrics used, all exported")
PY
