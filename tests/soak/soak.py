#!/usr/bin/env python3
"""Soak: the whole pipeline under a steady load for a long time, watching memory and lag.

Starts its own embedded broker (`pulseboard-cli broker`), redis-server and headless aggregator
(`pulseboard-cli aggregate --metrics`), runs the simulator at --rate for --minutes, and samples
every --interval seconds: the aggregator's RSS (/proc), Redis's used_memory and key count
(INFO memory, DBSIZE), the consumer lag and lost events (the aggregator's /metrics). Then it
lets the aggregator catch up, audits every key's TTL, writes samples.csv, soak.png,
summary.txt and summary.json to --out, prints the figures and a verdict, and exits 1 when the
verdict fails:

- exact: everything the simulator had acknowledged is counted, none lost, lag back to 0;
- aggregator memory flat: the RSS trend over the second half of the run stays under
  --rss-slope MB/min (librdkafka's prefetch and the batch make it move; it must not climb);
- Redis memory bounded by the TTLs: the keys without a TTL are the same fixed set at the end
  as after the first minute, and every other key expires within 2 h 05 min (the longest
  bucket, an hour, plus the hour it serves and the grace), so memory grows only until the
  oldest per-minute keys start expiring, 65 minutes in.

With --smoke (the ctest run, ~20 s) the memory verdicts are printed but not judged: too short.

Needs Debian's python3-redis and python3-matplotlib (scripts/install-deps.sh) and redis-server.
"""

import os
import sys

try:
    import redis
    import matplotlib
except ImportError:
    # A pyenv or venv python3 may shadow Debian's, which is where these packages live.
    if os.path.exists("/usr/bin/python3") and not os.environ.get("SOAK_REEXEC"):
        os.environ["SOAK_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)] + sys.argv[1:])
    sys.exit("soak.py needs python3-redis and python3-matplotlib "
             "(apt-get install python3-redis python3-matplotlib)")

import argparse
import csv
import ctypes
import datetime
import json
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)

TOPIC = "user-activity"
NAMESPACE = "pulseboard"
# Every time-bucketed key expires an hour and 5 minutes after its bucket ends; the longest
# bucket (rate:m, one hash per hour) ends up to an hour from now.
MAX_TTL_S = 125 * 60
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # Children get SIGKILL if the soak is killed outright, so nothing is left running.
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv, stdout, stderr, env=None):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            env=env, start_new_session=True, preexec_fn=_die_with_parent)


def stop(proc, timeout=15):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def scrape(url):
    """The aggregator's /metrics as {name: summed value}."""
    totals = {}
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if not line or line.startswith("#"):
                continue
            match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if match:
                totals[match.group(1)] = totals.get(match.group(1), 0.0) + float(match.group(3))
    return totals


def slope_per_minute(points):
    """Least-squares slope of (seconds, value) points, per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60.0 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var


class Stack:
    def __init__(self, cli, out, partitions):
        self.cli = cli
        self.out = out
        self.broker = self.redis_server = self.aggregator = self.simulator = None
        self.password = secrets.token_hex(16)
        self.env = dict(os.environ, PULSEBOARD_REDIS_PASSWORD=self.password)
        self.partitions = partitions

    def start(self):
        self.broker = spawn([self.cli, "broker", "--topic", TOPIC, "--partitions",
                             str(self.partitions)], subprocess.PIPE,
                            open(self.out / "broker.log", "w"))
        self.bootstrap = self.broker.stdout.readline().decode().strip()
        if not self.bootstrap:
            raise RuntimeError("the embedded broker did not start: see broker.log")

        self.redis_dir = Path(tempfile.mkdtemp(prefix="pulseboard-soak-redis-"))
        self.redis_port = free_port()
        conf = self.redis_dir / "redis.conf"
        # The password goes in a 0600 file, never on a command line.
        conf.touch(mode=0o600)
        conf.write_text(f"port {self.redis_port}\nbind 127.0.0.1\ndir {self.redis_dir}\n"
                        f"save \"\"\nappendonly no\nrequirepass {self.password}\n")
        self.redis_server = spawn(["redis-server", str(conf)],
                                  open(self.out / "redis.log", "w"), subprocess.STDOUT)
        self.redis = redis.Redis(host="127.0.0.1", port=self.redis_port,
                                 password=self.password, socket_timeout=10)
        deadline = time.time() + 15
        while True:
            try:
                self.redis.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.time() > deadline:
                    raise RuntimeError("redis-server did not start: see redis.log")
                time.sleep(0.1)

        self.metrics_port = free_port()
        self.metrics = f"http://127.0.0.1:{self.metrics_port}"
        self.aggregator = spawn(
            [self.cli, "aggregate", "--brokers", self.bootstrap, "--topic", TOPIC,
             "--redis", f"127.0.0.1:{self.redis_port}",
             "--metrics", f"127.0.0.1:{self.metrics_port}"],
            open(self.out / "aggregator.out", "w"), open(self.out / "aggregator.log", "w"),
            self.env)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(self.metrics + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.aggregator.poll() is not None or time.time() > deadline:
                raise RuntimeError("the aggregator did not become ready: see aggregator.log")
            time.sleep(0.2)

    def simulate(self, rate, seconds, users):
        self.simulator = spawn(
            [self.cli, "simulate", "--brokers", self.bootstrap, "--topic", TOPIC,
             "--rate", str(rate), "--duration", f"{int(round(seconds))}s", "--users", str(users),
             "--quiet"],
            open(self.out / "simulator.out", "w"), open(self.out / "simulator.log", "w"))

    def close(self):
        for proc in (self.simulator, self.aggregator, self.broker, self.redis_server):
            stop(proc)
        if self.redis_server is not None:
            shutil.rmtree(self.redis_dir, ignore_errors=True)


def acknowledged(out):
    """What the simulator says Kafka acknowledged, once it has finished (-1 before)."""
    found = re.findall(r"acknowledged (\d+)", (out / "simulator.out").read_text())
    return int(found[-1]) if found else -1


def counted(r):
    return sum(int(r.get(f"{NAMESPACE}:{{all}}:{key}") or 0)
               for key in ("events_total", "bad_total"))


def audit_keys(r):
    """The keys without a TTL (names, counted by their shape) and the longest TTL of the rest."""
    fixed, longest, count = set(), 0, 0
    names = list(r.scan_iter(count=1000))
    pipe = r.pipeline(transaction=False)
    for name in names:
        pipe.ttl(name)
    for name, ttl in zip(names, pipe.execute()):
        count += 1
        if ttl == -1:
            # Digits are bucket numbers: a family, not a key of its own.
            fixed.add(re.sub(r"[0-9]+", "N", name.decode(errors="replace")))
        else:
            longest = max(longest, ttl)
    return sorted(fixed), longest, count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cli", required=True, help="path to pulseboard-cli")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=50000, help="events per second")
    parser.add_argument("--out", default=None, help="directory for the figures (default: "
                        "soak-YYYYmmdd-HHMMSS in the current directory)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--rss-slope", type=float, default=2.0,
                        help="largest RSS trend in MB/min accepted as flat")
    parser.add_argument("--smoke", action="store_true",
                        help="a short run: judge exactness only")
    args = parser.parse_args()

    out = Path(args.out or datetime.datetime.now().strftime("soak-%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)
    seconds = args.minutes * 60
    stack = Stack(os.path.abspath(args.cli), out, args.partitions)
    samples = []
    fixed_after_warmup = None
    try:
        stack.start()
        print(f"soak: {args.minutes:g} min at {args.rate} events/s, {args.partitions} partitions, "
              f"{args.users} users; broker {stack.bootstrap}, Redis 127.0.0.1:{stack.redis_port},"
              f" metrics {stack.metrics}; figures in {out}", flush=True)
        started = time.time()
        stack.simulate(args.rate, seconds, args.users)
        warmup = min(60.0, seconds / 2)
        drain_deadline = None
        while True:
            now = time.time() - started
            m = scrape(stack.metrics + "/metrics")
            info = stack.redis.info("memory")
            sample = {
                "t": round(now, 1),
                "phase": "load" if stack.simulator.poll() is None else "drain",
                "rss_mb": round(rss_mb(stack.aggregator.pid), 1),
                "redis_used_mb": round(info["used_memory"] / 2**20, 2),
                "redis_keys": stack.redis.dbsize(),
                "lag": int(m.get("pulseboard_consumer_lag", 0)),
                "events": int(m.get("pulseboard_events_total", 0)),
                "lost": int(m.get("pulseboard_lost_events_total", 0)),
            }
            samples.append(sample)
            print("  {t:7.1f}s {phase:5} rss {rss_mb:7.1f} MB  redis {redis_used_mb:7.2f} MB "
                  "{redis_keys:5} keys  lag {lag:8}  events {events:10}  lost {lost}"
                  .format(**sample), flush=True)
            if fixed_after_warmup is None and now >= warmup:
                fixed_after_warmup = audit_keys(stack.redis)[0]
            if stack.aggregator.poll() is not None:
                raise RuntimeError("the aggregator exited: see aggregator.log")
            if sample["phase"] == "drain":
                # Done once Redis holds everything Kafka acknowledged (lag 0 alone may come a
                # batch before its write), or after two minutes of trying.
                drain_deadline = drain_deadline or time.time() + 120
                acked = acknowledged(out)  # -1: the simulator failed (see simulator.log)
                if acked < 0 or (sample["lag"] == 0 and counted(stack.redis) >= acked) \
                        or time.time() > drain_deadline:
                    break
            time.sleep(max(0.0, args.interval - (time.time() - started - now)))

        acked = acknowledged(out)
        total = counted(stack.redis)
        fixed_end, longest_ttl, keys_end = audit_keys(stack.redis)
    finally:
        stack.close()

    with open(out / "samples.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(samples[0].keys()))
        writer.writeheader()
        writer.writerows(samples)

    load = [s for s in samples if s["phase"] == "load"] or samples
    duration = load[-1]["t"]
    second_half = [(s["t"], s["rss_mb"]) for s in load if s["t"] >= duration / 2]
    after_warmup = [s for s in load if s["t"] >= min(60.0, duration / 2)] or load
    redis_points = [(s["t"], s["redis_used_mb"]) for s in after_warmup]
    figures = {
        "minutes": round(duration / 60, 2),
        "rate": args.rate,
        "acknowledged": acked,
        "counted": total,
        "lost": samples[-1]["lost"],
        "rss_start_mb": load[0]["rss_mb"],
        "rss_end_mb": load[-1]["rss_mb"],
        "rss_max_mb": max(s["rss_mb"] for s in samples),
        "rss_slope_mb_per_min_second_half": round(slope_per_minute(second_half), 2),
        "redis_used_max_mb": max(s["redis_used_mb"] for s in samples),
        "redis_used_end_mb": samples[-1]["redis_used_mb"],
        "redis_growth_mb_per_min": round(slope_per_minute(redis_points), 2),
        "redis_keys_end": keys_end,
        "keys_without_ttl": fixed_end,
        "longest_ttl_s": longest_ttl,
        "lag_max": max(s["lag"] for s in samples),
        "lag_final": samples[-1]["lag"],
    }
    # Until the oldest per-minute keys expire (65 min), memory grows by about the same each
    # minute; after that it stays there.
    figures["redis_projected_plateau_mb"] = round(
        figures["redis_used_end_mb"]
        + max(0.0, figures["redis_growth_mb_per_min"]) * max(0.0, 65 - duration / 60), 1)

    checks = [
        ("exact: every acknowledged event counted", acked > 0 and total == acked,
         f"{total} counted of {acked} acknowledged"),
        ("no event lost", figures["lost"] == 0, f"lost {figures['lost']}"),
        ("caught up", figures["lag_final"] == 0, f"final lag {figures['lag_final']}"),
    ]
    memory = [
        ("aggregator memory flat",
         abs(figures["rss_slope_mb_per_min_second_half"]) <= args.rss_slope,
         f"RSS trend {figures['rss_slope_mb_per_min_second_half']:+.2f} MB/min over the second "
         f"half (limit {args.rss_slope:g})"),
        ("Redis memory bounded by the TTLs",
         fixed_after_warmup is not None and fixed_end == fixed_after_warmup
         and longest_ttl <= MAX_TTL_S,
         f"{len(fixed_end)} key families without TTL, unchanged since the first minute: "
         f"{fixed_end == fixed_after_warmup}; longest TTL {longest_ttl} s (limit {MAX_TTL_S}); "
         f"growth {figures['redis_growth_mb_per_min']:+.2f} MB/min until the first expiries, "
         f"plateau ~{figures['redis_projected_plateau_mb']} MB"),
    ]
    if not args.smoke:
        checks += memory

    plot(samples, out / "soak.png", args)

    lines = [f"soak: {figures['minutes']} min of load at {args.rate} events/s",
             f"  aggregator RSS: start {figures['rss_start_mb']} MB, end {figures['rss_end_mb']}"
             f" MB, max {figures['rss_max_mb']} MB, trend over the second half "
             f"{figures['rss_slope_mb_per_min_second_half']:+.2f} MB/min",
             f"  Redis used_memory: max {figures['redis_used_max_mb']} MB, end "
             f"{figures['redis_used_end_mb']} MB, {figures['redis_growth_mb_per_min']:+.2f} "
             f"MB/min, projected plateau ~{figures['redis_projected_plateau_mb']} MB; "
             f"{keys_end} keys, longest TTL {longest_ttl} s",
             f"  keys without TTL: {', '.join(fixed_end)}",
             f"  consumer lag: max {figures['lag_max']}, final {figures['lag_final']}",
             f"  events: {acked} acknowledged by Kafka, {total} counted, "
             f"{figures['lost']} lost",
             "verdict:"]
    for name, ok, why in checks:
        lines.append(f"  {'PASS' if ok else 'FAIL'}  {name}: {why}")
    if args.smoke:
        for name, ok, why in memory:
            lines.append(f"  (not judged in a smoke run)  {name}: {why}")
    text = "\n".join(lines)
    print(text)
    (out / "summary.txt").write_text(text + "\n")
    figures["verdict"] = {name: ok for name, ok, _ in checks}
    (out / "summary.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(ok for _, ok, _ in checks) else 1


def plot(samples, path, args):
    minutes = [s["t"] / 60 for s in samples]
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    series = [("rss_mb", "aggregator RSS (MB)"), ("redis_used_mb", "Redis used_memory (MB)"),
              ("redis_keys", "Redis keys"), ("lag", "consumer lag (events)")]
    load_end = max((s["t"] for s in samples if s["phase"] == "load"), default=0) / 60
    for ax, (key, label) in zip(axes, series):
        ax.plot(minutes, [s[key] for s in samples], lw=1.2)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.axvline(load_end, color="grey", ls="--", lw=0.8)
        ax.set_ylim(bottom=0)
    axes[-1].set_xlabel("minutes (dashed: simulator stops)")
    fig.suptitle(f"Pulseboard soak: {args.rate} events/s, {args.partitions} partitions, "
                 f"{args.users} users")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        sys.exit(f"soak: {e}")
