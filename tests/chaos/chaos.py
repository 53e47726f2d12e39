#!/usr/bin/env python3
"""Chaos test: the aggregator counts every event exactly once into Redis, whatever happens.

Starts its own embedded broker and redis-server, streams events (1 % malformed) for the whole
run while aggregator processes are killed (fresh, mid-batch, during rebalances), added, stopped
and frozen past their session timeout, and Redis is killed, shut down, rolled back to an older
AOF and paused. Then it reads every record back from Kafka, recomputes every key of the
namespace in Python and compares each key, field and score exactly.

    chaos.py --short [--seed N] [--cli PATH]        ctest: 1.5 to 2 minutes
    chaos.py --minutes 10 [--seed N] [--cli PATH]   soak: faults every few seconds

The seed fixes the events and (in --short) the order of the faults; when they hit varies.

Exit 0 when Redis holds exactly what Kafka says it must, 1 otherwise.
Needs Debian's python3-kafka and python3-redis, and redis-server.
"""

import os
import sys

_NEEDS = "python3-kafka and python3-redis (apt-get install python3-kafka python3-redis)"

try:
    import kafka
    import redis
except ImportError as missing:
    # A pyenv or venv python3 may shadow Debian's, which is where these packages live.
    if os.path.exists("/usr/bin/python3") and not os.environ.get("CHAOS_REEXEC"):
        os.environ["CHAOS_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)] + sys.argv[1:])
    print(f"chaos: missing prerequisite ({missing}): install {_NEEDS}", file=sys.stderr)
    print("chaos: 0 passed, 1 failed")
    sys.exit(1)

import argparse
import collections
import ctypes
import datetime
import json
import logging
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

TOPIC = "chaos-activity"
DLQ_TOPIC = TOPIC + ".dlq"
PARTITIONS = 8
GROUP = "chaos"
NAMESPACE = "chaos"
PREFIX = NAMESPACE + ":{all}:"
SESSION_TIMEOUT_S = 3
MAX_AGGREGATORS = 3
AGGREGATOR_COMMAND_TIMEOUT_S = 5  # the aggregator's Redis command timeout (Aggregator ctor)

ACTIONS = ("view", "click", "add_to_cart", "purchase")
ACTION_WEIGHTS = (60, 25, 10, 5)
PAGE_COUNT = 100
INT_USERS = list(range(1, 2501)) + list(range(-20, 0))  # negative ids are valid integers too
STRING_USERS = [f"u{n}" for n in range(500)]
BAD_FRACTION = 0.01

# The embedded broker keeps about 5 MB per partition and then drops the oldest records, which
# would make the recomputation impossible: stay well below, whatever the mode.
PARTITION_BYTE_BUDGET = 3_000_000
PARTITION_BYTE_LIMIT = 4_000_000  # the producer stops early rather than cross this
RECORD_OVERHEAD_BYTES = 24  # record framing plus a share of its batch header

# Families of keys under PREFIX; the ones the recomputation does not check.
IGNORED_FAMILIES = {"feed", "bad_feed", "heartbeats", "heartbeat_times"}
COUNT_FAMILIES = ("events_total", "bad_total", "pages", "pages:m", "actions", "user_actions:m",
                  "rate:s", "rate:m", "bad")

# Validator limits (src/core/event.h).
MAX_USER_ID_BYTES = 128
MAX_ACTION_BYTES = 64
MAX_PAGE_BYTES = 2048
MAX_EPOCH_MS = 253_402_300_799_999
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


# ---- log -----------------------------------------------------------------------------------

class Log:
    """Timestamped lines, printed at once (a run that hangs still shows how it got there)."""

    def __init__(self):
        self.start = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.start

    def __call__(self, message):
        wall = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
        print(f"[{wall} +{self.elapsed():7.2f}s] {message}", flush=True)


# ---- processes -----------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Children get SIGKILL if this test is killed outright (a ctest timeout), so nothing leaks.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(argv, stdout, stderr):
    """A child in its own process group, so that a kill reaches everything it started."""
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                            start_new_session=True, preexec_fn=_die_with_parent)


def signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=8):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []
    return text[-lines:]


class StackError(Exception):
    """The test's own stack failed (not a finding about the aggregator)."""


# ---- stack: broker and Redis -----------------------------------------------------------------

class Broker:
    def __init__(self, cli, workdir):
        self.err_path = workdir / "broker.err"
        self.proc = spawn([cli, "broker", "--topic", TOPIC, "--partitions", str(PARTITIONS)],
                          subprocess.PIPE, open(self.err_path, "wb"))
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line:
            raise StackError("the broker printed no address: " + " | ".join(tail(self.err_path)))
        self.bootstrap = line

    def stop(self):
        signal_group(self.proc, signal.SIGKILL)
        self.proc.wait()


class RedisServer:
    """A redis-server with AOF on, restartable on the same port and directory."""

    def __init__(self, workdir, log):
        self.log = log
        self.port = free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir()
        self.proc = None
        self.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    @property
    def aof_dir(self):
        return self.dir / "appendonlydir"

    def start(self):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "everysec",
                "--save", "", "--enable-debug-command", "local",
                # No AOF rewrite mid-run: a rollback copies the AOF files while Redis appends.
                "--auto-aof-rewrite-percentage", "0",
                "--logfile", str(self.dir / "redis.log")]
        self.proc = spawn(argv, subprocess.DEVNULL, subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError(f"redis-server exited with {self.proc.returncode}: "
                                 + " | ".join(tail(self.dir / "redis.log")))
            try:
                if self.client(timeout=1).ping():
                    return
            except redis.RedisError:  # not listening yet, or still loading its AOF
                pass
            time.sleep(0.05)
        raise StackError("redis-server did not answer PING within 30 s")

    def client(self, timeout=10.0):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout)

    def kill(self):
        signal_group(self.proc, signal.SIGKILL)
        self.proc.wait()

    def shutdown(self):
        try:
            self.client().execute_command("SHUTDOWN")
        except redis.ConnectionError:
            pass  # the answer to a SHUTDOWN that worked
        self.proc.wait(timeout=30)

    def snapshot_aof(self, into):
        shutil.copytree(self.aof_dir, into)

    def restore_aof(self, snapshot):
        shutil.rmtree(self.aof_dir)
        shutil.copytree(snapshot, self.aof_dir)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill()


# ---- stack: aggregators ------------------------------------------------------------------------

class Aggregator:
    def __init__(self, number, proc, err_path):
        self.number = number
        self.proc = proc
        self.err_path = err_path
        self.frozen_until = None  # SIGSTOPped until then (monotonic)
        self.signalled = None     # the signal we sent it, if any

    @property
    def name(self):
        return f"aggregator #{self.number} (pid {self.proc.pid})"

    def alive(self):
        return self.proc.poll() is None


class AggregatorPool:
    def __init__(self, cli, workdir, bootstrap, redis_address, log):
        self.cli = cli
        self.workdir = workdir
        self.bootstrap = bootstrap
        self.redis_address = redis_address
        self.log = log
        self.all = []
        self.unexpected_exits = []  # (aggregator, return code) it exited with on its own
        self.crashes = []           # ... of those, killed by a signal we did not send
        self.changed_at = time.monotonic()  # last start, stop, freeze or thaw: a rebalance

    def start(self):
        number = len(self.all) + 1
        out = open(self.workdir / f"aggregator-{number}.out", "wb")
        err_path = self.workdir / f"aggregator-{number}.err"
        argv = [self.cli, "aggregate", "--brokers", self.bootstrap, "--topic", TOPIC,
                "--group", GROUP, "--redis", self.redis_address, "--namespace", NAMESPACE,
                "--session-timeout", f"{SESSION_TIMEOUT_S}s"]
        agg = Aggregator(number, spawn(argv, out, open(err_path, "wb")), err_path)
        self.all.append(agg)
        self.changed_at = time.monotonic()
        return agg

    def alive(self):
        return [a for a in self.all if a.alive()]

    def active(self):
        return [a for a in self.alive() if a.frozen_until is None]

    def send(self, agg, sig):
        agg.signalled = sig
        signal_group(agg.proc, sig)
        self.changed_at = time.monotonic()

    def kill(self, agg):
        self.send(agg, signal.SIGKILL)
        agg.proc.wait()

    def terminate(self, agg, timeout=30):
        """SIGTERM and wait: a clean stop flushes its batch and leaves the group."""
        if agg.frozen_until is not None:
            self.thaw(agg)
        self.send(agg, signal.SIGTERM)
        try:
            return agg.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.log(f"{agg.name} did not stop within {timeout} s of SIGTERM: SIGKILL")
            self.unexpected_exits.append((agg, "hung on SIGTERM"))
            self.kill(agg)
            return None

    def freeze(self, agg, seconds):
        signal_group(agg.proc, signal.SIGSTOP)
        agg.frozen_until = time.monotonic() + seconds
        self.changed_at = time.monotonic()

    def thaw(self, agg):
        signal_group(agg.proc, signal.SIGCONT)
        agg.frozen_until = None
        self.changed_at = time.monotonic()

    def reap(self):
        """Notes aggregators that exited without being told to."""
        for agg in self.all:
            if agg.alive() or agg.signalled is not None or getattr(agg, "reaped", False):
                continue
            agg.reaped = True
            rc = agg.proc.returncode
            self.unexpected_exits.append((agg, rc))
            if rc < 0:
                self.crashes.append((agg, rc))
            self.log(f"!! {agg.name} exited by itself with {rc}: "
                     + " | ".join(tail(agg.err_path, 3)))

    def stop_all(self):
        for agg in self.alive():
            if agg.frozen_until is not None:
                self.thaw(agg)
            self.send(agg, signal.SIGTERM)
        for agg in self.all:
            if agg.signalled == signal.SIGTERM and agg.alive():
                try:
                    rc = agg.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.log(f"!! {agg.name} did not stop within 30 s of SIGTERM: SIGKILL")
                    self.unexpected_exits.append((agg, "hung on SIGTERM"))
                    self.kill(agg)
                    continue
                if rc != 0:
                    self.log(f"!! {agg.name} exited with {rc} after SIGTERM")
                    self.unexpected_exits.append((agg, rc))

    def kill_all(self):
        for agg in self.alive():
            self.send(agg, signal.SIGKILL)
        for agg in self.all:
            agg.proc.wait()

    def print_tails(self, lines=6):
        for agg in self.all:
            text = tail(agg.err_path, lines)
            print(f"--- {agg.name}, rc {agg.proc.returncode}, {agg.err_path}")
            for line in text:
                print("    " + line)


# ---- producer ---------------------------------------------------------------------------------

def _field(name, value):
    return json.dumps(name) + ": " + json.dumps(value)


def _object(*fields):
    return ("{" + ", ".join(fields) + "}").encode()


# Malformed records and the reason the validator must give (reasonName in src/core/event.cpp).
MALFORMED = (
    (lambda u: b"not json at all", "not_json"),
    (lambda u: _object(_field("user_id", u), _field("action", "view"))[:-1], "not_json"),
    (lambda u: b"", "not_json"),
    (lambda u: b'{"user_id": 1, "action": "view", "page": "/p\xff"}', "invalid_utf8"),
    (lambda u: b"[1, 2, 3]", "not_object"),
    (lambda u: b'"just a string"', "not_object"),
    (lambda u: _object(_field("action", "view"), _field("page", "/p1")), "user_id_missing"),
    (lambda u: _object(_field("user_id", 1.5), _field("action", "view"), _field("page", "/p1")),
     "user_id_type"),
    (lambda u: _object(_field("user_id", True), _field("action", "view"), _field("page", "/p1")),
     "user_id_type"),
    (lambda u: _object(_field("user_id", None), _field("action", "view"), _field("page", "/p1")),
     "user_id_type"),
    (lambda u: _object(_field("user_id", ""), _field("action", "view"), _field("page", "/p1")),
     "user_id_range"),
    (lambda u: _object(_field("user_id", 10**20), _field("action", "view"), _field("page", "/p1")),
     "user_id_range"),
    (lambda u: _object(_field("user_id", u), _field("page", "/p1")), "action_missing"),
    (lambda u: _object(_field("user_id", u), _field("action", 7), _field("page", "/p1")),
     "action_type"),
    (lambda u: _object(_field("user_id", u), _field("action", ""), _field("page", "/p1")),
     "action_range"),
    (lambda u: _object(_field("user_id", u), _field("action", "view")), "page_missing"),
    (lambda u: _object(_field("user_id", u), _field("action", "view"), _field("page", 7)),
     "page_type"),
    (lambda u: _object(_field("user_id", u), _field("action", "view"), _field("page", "")),
     "page_range"),
    (lambda u: _object(_field("user_id", u), _field("action", "view"), _field("page", "/p1"),
                       _field("timestamp", 1.5)), "timestamp_type"),
    (lambda u: _object(_field("user_id", u), _field("action", "view"), _field("page", "/p1"),
                       _field("timestamp", "yesterday")), "timestamp_format"),
)


class EventSource:
    """Seeded events: (key, value, the reason it is invalid or None)."""

    def __init__(self, rng):
        self.rng = rng
        self.page_weights = [1 / (n + 1) for n in range(PAGE_COUNT)]

    def user(self):
        """(canonical id, the JSON value written): 123 and "123" are one user."""
        if self.rng.random() < 0.85:
            uid = self.rng.choice(INT_USERS)
            return str(uid), uid if self.rng.random() < 0.8 else str(uid)
        uid = self.rng.choice(STRING_USERS)
        return uid, uid

    def next(self):
        canonical, uid = self.user()
        key = canonical.encode()
        if self.rng.random() < BAD_FRACTION:
            make, reason = self.rng.choice(MALFORMED)
            return key, make(uid), reason
        rng = self.rng
        action = rng.choices(ACTIONS, ACTION_WEIGHTS)[0]
        page = "/p%d" % rng.choices(range(PAGE_COUNT), self.page_weights)[0]
        fields = [_field("user_id", uid), _field("action", action), _field("page", page)]
        extra = rng.random()
        if extra < 0.04:  # a payload time: validated, but the Kafka timestamp counts
            fields.append(_field("timestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
        elif extra < 0.07:
            fields.append(_field("timestamp", int(time.time() * 1000) - rng.randrange(10**7)))
        elif extra < 0.09:
            fields.append(_field("ref", {"campaign": "x", "tags": [1, 2.5, None, True]}))
        elif extra < 0.10:  # a duplicate key: the first one wins
            fields.append(_field("page", "/duplicate"))
        if rng.random() < 0.2:
            rng.shuffle(fields)
        return key, _object(*fields), None


def average_record_bytes(seed):
    source = EventSource(random.Random(seed))
    sample = [source.next() for _ in range(2000)]
    return sum(len(k) + len(v) for k, v, _ in sample) / len(sample) + RECORD_OVERHEAD_BYTES


class Producer(threading.Thread):
    """Streams events at a steady rate until stopped, counting what Kafka acknowledged."""

    def __init__(self, bootstrap, rate, seed, log):
        super().__init__(name="producer", daemon=True)
        self.rate = rate
        self.source = EventSource(random.Random(seed))
        self.log = log
        # About a dozen records per partition and batch: the embedded broker finds a fetch's
        # message set by a linear search, so many tiny ones make reading back slow.
        linger_ms = int(min(500, max(20, 12 * PARTITIONS * 1000 / rate)))
        self.kafka = kafka.KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                         linger_ms=linger_ms, retries=0)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.sent = 0
        self.delivered = collections.Counter()  # reason (None: valid) -> records
        self.failed = 0
        self.partition_bytes = collections.Counter()
        self.error = None

    def run(self):
        try:
            started = time.monotonic()
            while not self.stopping.is_set():
                due = int((time.monotonic() - started) * self.rate)
                while self.sent < due:
                    self.send_one()
                if max(self.partition_bytes.values(), default=0) >= PARTITION_BYTE_LIMIT:
                    self.log("!! producer: a partition nears the broker's retention; stopping early")
                    break
                time.sleep(0.01)
        except Exception as e:  # reported by the main thread
            self.error = e

    def send_one(self):
        key, value, reason = self.source.next()
        size = len(key) + len(value) + RECORD_OVERHEAD_BYTES

        def delivered(metadata):
            with self.lock:
                self.delivered[reason] += 1
                self.partition_bytes[metadata.partition] += size

        def failed(_error):
            with self.lock:
                self.failed += 1

        self.kafka.send(TOPIC, key=key, value=value).add_callback(delivered).add_errback(failed)
        self.sent += 1

    def finish(self):
        self.stopping.set()
        self.join()
        self.kafka.flush(timeout=60)
        self.kafka.close(timeout=10)
        if self.error:
            raise StackError(f"producer failed: {self.error!r}")


# ---- faults -------------------------------------------------------------------------------------

# What each mode must inject at least (the rest is drawn at random).
SHORT_PLAN = (["kill_fresh"] * 2 + ["kill_mid_batch"] * 3 + ["kill_rebalance"] * 3
              + ["kill_random", "sigterm", "sigterm", "scale_up", "scale_up", "redis_kill",
                 "redis_shutdown", "redis_rollback", "debug_sleep", "redis_stall",
                 "client_pause", "zombie"])
RANDOM_WEIGHTS = {
    "kill_mid_batch": 3, "kill_rebalance": 2, "kill_fresh": 1, "kill_random": 2, "sigterm": 1,
    "scale_up": 1.5, "zombie": 1, "redis_kill": 0.5, "redis_shutdown": 0.3,
    "redis_rollback": 0.5, "debug_sleep": 0.5, "redis_stall": 0.3, "client_pause": 0.5,
}


class Chaos:
    def __init__(self, pool, redis_server, workdir, rng, log):
        self.pool = pool
        self.redis = redis_server
        self.workdir = workdir
        self.rng = rng
        self.log = log
        self.counts = collections.Counter()
        self.sleepers = []
        self.redis_down = False  # an aggregator started now would exit: Redis is checked first

    # -- helpers

    def start(self, why):
        if len(self.pool.alive()) >= MAX_AGGREGATORS:
            return None
        agg = self.pool.start()
        self.counts["starts"] += 1
        self.log(f"start {agg.name}: {why} ({len(self.pool.alive())} running)")
        return agg

    def kill(self, agg, why):
        self.pool.kill(agg)
        self.counts["kills"] += 1
        self.log(f"SIGKILL {agg.name}: {why} ({len(self.pool.alive())} left)")

    def pick_active(self):
        active = self.pool.active()
        return self.rng.choice(active) if active else None

    def pause(self, seconds):
        """Sleeps while keeping the pool supervised."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick()
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def quiet(self, seconds, why):
        """No membership changes for a while: a rebalance would re-read every stored offset
        and hide whether the aggregators notice a fault through the compare-and-set alone."""
        self.log(f"quiet for {seconds:.1f} s: {why}")
        self.pause(seconds)

    def settle(self, seconds=4.0):
        """Waits until the group has been stable for `seconds` (a join takes about 3 s) and a
        batch was just applied: a fault that follows hits batches in flight, not a rebalance."""
        self.pause(max(0.0, self.pool.changed_at + seconds - time.monotonic()))
        return self.wait_for_batch()

    def tick(self):
        now = time.monotonic()
        for agg in self.pool.alive():
            if agg.frozen_until is not None and now >= agg.frozen_until:
                self.pool.thaw(agg)
                self.log(f"SIGCONT {agg.name}: the zombie wakes up")
        self.pool.reap()
        if (not self.pool.active() and len(self.pool.alive()) < MAX_AGGREGATORS
                and not self.redis_down):
            self.start("none running")

    def wait_for_batch(self, timeout=3.0):
        """Returns once events_total changes: a batch was just applied, the next is in hand."""
        try:
            client = self.redis.client(timeout=timeout)
            before = client.get(PREFIX + "events_total")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                now = client.get(PREFIX + "events_total")
                if now != before:
                    return before, now
                time.sleep(0.002)
        except redis.RedisError:
            pass
        return None

    def thaw_all(self):
        for agg in self.pool.alive():
            if agg.frozen_until is not None:
                self.pool.thaw(agg)
                self.log(f"SIGCONT {agg.name}: faults are over")

    def wait_sleepers(self):
        for thread in self.sleepers:
            thread.join()

    # -- faults

    def run(self, fault):
        getattr(self, "fault_" + fault)()
        self.tick()

    def fault_kill_fresh(self):
        if len(self.pool.alive()) >= MAX_AGGREGATORS:
            self.kill(self.pick_active(), "making room")
        agg = self.start("to be killed young")
        age = self.rng.uniform(0.05, 2.0)
        self.pause(age)
        self.kill(agg, f"{age:.2f} s after it started")
        self.start("replacement")

    def fault_kill_mid_batch(self):
        change = self.wait_for_batch(timeout=8)  # the group may be rebalancing
        if change is None:
            self.log("no batch applied within 8 s; killing anyway")
        delay = self.rng.uniform(0, 0.03)
        time.sleep(delay)
        agg = self.pick_active()
        if agg is None:
            return
        what = (f"events_total {int(change[0] or 0)} -> {int(change[1])}, +{delay * 1000:.0f} ms"
                if change else "no batch seen")
        self.kill(agg, f"mid-batch ({what})")
        self.start("replacement")

    def fault_kill_rebalance(self):
        if self.start("joins: the group rebalances"):
            cause = "a member joined"
        else:  # full: a clean leave makes the group rebalance at once
            self.fault_sigterm()
            cause = "a member left"
        wait = self.rng.uniform(0.2, 5.0)
        self.pause(wait)
        agg = self.pick_active()
        if agg is None:
            return
        self.kill(agg, f"during the rebalance, {wait:.1f} s after {cause}")
        self.start("replacement")

    def fault_kill_random(self):
        agg = self.pick_active()
        if agg:
            self.kill(agg, "at a random moment")
            self.start("replacement")

    def fault_scale_up(self):
        if not self.start("extra instance"):
            self.fault_sigterm()

    def fault_sigterm(self):
        if len(self.pool.active()) < 2:
            self.start("so that one can stop")
            self.pause(self.rng.uniform(0, 3))
        agg = self.pick_active()
        if agg is None:
            return
        started = time.monotonic()
        rc = self.pool.terminate(agg)
        self.counts["sigterms"] += 1
        self.log(f"SIGTERM {agg.name}: exited {rc} after {time.monotonic() - started:.1f} s "
                 f"({len(self.pool.alive())} running)")
        if rc not in (0, None):
            self.pool.unexpected_exits.append((agg, rc))

    def fault_zombie(self):
        if any(a.frozen_until is not None for a in self.pool.alive()):
            return self.fault_kill_random()  # one zombie at a time: someone must keep counting
        if len(self.pool.active()) < 2:
            self.start("to take over from the zombie")
            self.pause(self.rng.uniform(0.5, 2))
        # Right after a batch: it likely wakes up with the next one in hand, and writes it
        # before it learns that its partitions are gone.
        self.settle()
        time.sleep(self.rng.uniform(0, 0.03))
        agg = self.pick_active()
        if agg is None:
            return
        seconds = self.rng.uniform(2 * SESSION_TIMEOUT_S, 4 * SESSION_TIMEOUT_S)
        self.pool.freeze(agg, seconds)
        self.counts["zombies"] += 1
        self.log(f"SIGSTOP {agg.name} for {seconds:.1f} s (session timeout {SESSION_TIMEOUT_S} s)")

    def counted(self):
        """Events Redis has counted (valid and bad), or None when it does not answer."""
        try:
            values = self.redis.client(timeout=2).mget(PREFIX + "events_total", PREFIX + "bad_total")
        except redis.RedisError:
            return None
        return sum(int(v or 0) for v in values)

    def restart_redis(self, stop, why, busy=True):
        if busy:
            self.settle()
        before = self.counted()
        self.redis_down = True
        stop()
        self.counts["redis_restarts"] += 1
        down = self.rng.uniform(0.2, 2.0)
        self.log(f"Redis {why}; down for {down:.1f} s")
        self.pause(down)
        self.redis.start()
        self.redis_down = False
        self.log(f"Redis is back, holding {self.counted()} counted events ({before} before)")
        if busy:
            self.quiet(self.rng.uniform(2.5, 4), "the aggregators must notice through the offsets")

    def fault_redis_kill(self):
        self.restart_redis(self.redis.kill, "SIGKILLed (AOF everysec: may come back a second older)")

    def fault_redis_shutdown(self):
        self.restart_redis(self.redis.shutdown, "SHUTDOWN")

    def snapshot_redis(self):
        """A copy of Redis's AOF as of now, to restart it from later: Redis comes back older."""
        path = self.workdir / f"aof-snapshot-{time.monotonic_ns()}"
        self.redis.snapshot_aof(path)
        self.log("Redis AOF copied")
        return path

    def rollback_redis(self, snapshot, why, busy=True):
        def kill_and_restore():
            self.redis.kill()
            self.redis.restore_aof(snapshot)

        self.restart_redis(kill_and_restore, why, busy)
        shutil.rmtree(snapshot)

    def fault_redis_rollback(self):
        self.settle()
        snapshot = self.snapshot_redis()
        age = self.rng.uniform(0.5, 3.0)
        self.pause(age)
        self.rollback_redis(snapshot, f"SIGKILLed and restored {age:.1f} s older")

    def sleep_redis(self, seconds):
        def sleeper():
            try:
                self.redis.client(timeout=seconds + 10).execute_command("DEBUG", "SLEEP", seconds)
            except redis.RedisError as e:
                self.log(f"DEBUG SLEEP failed: {e}")

        thread = threading.Thread(target=sleeper, daemon=True)
        self.sleepers.append(thread)
        thread.start()
        self.counts["pauses"] += 1

    def fault_debug_sleep(self):
        self.sleep_redis(2)
        self.log("Redis DEBUG SLEEP 2")

    def fault_redis_stall(self):
        # Longer than the aggregator's command timeout: it cannot tell whether its batch was
        # applied, and Redis applies it after the aggregator gave up on it.
        seconds = AGGREGATOR_COMMAND_TIMEOUT_S + 1
        self.settle()
        self.sleep_redis(seconds)
        self.log(f"Redis DEBUG SLEEP {seconds} (past the aggregator's command timeout)")
        self.quiet(seconds + self.rng.uniform(1, 3), "a batch may be applied after its timeout")

    def fault_client_pause(self):
        try:
            self.redis.client().execute_command("CLIENT", "PAUSE", 2000, "WRITE")
            self.counts["pauses"] += 1
            self.log("Redis CLIENT PAUSE 2000 WRITE")
        except redis.RedisError as e:
            self.log(f"CLIENT PAUSE failed: {e}")


def inject_faults(chaos, plan, seconds, gap, rng, log):
    """Faults at random moments for `seconds`, and until every planned one has happened."""
    plan = list(plan)
    rng.shuffle(plan)
    names, weights = zip(*RANDOM_WEIGHTS.items())
    end = time.monotonic() + seconds
    while time.monotonic() < end or plan:
        if plan and (rng.random() < 0.6 or time.monotonic() >= end):
            fault = plan.pop()
        else:
            fault = rng.choices(names, weights)[0]
        chaos.run(fault)
        chaos.pause(rng.uniform(*gap))
    log("faults over")


# ---- waiting for the aggregators ----------------------------------------------------------------

def partition_field(partition):
    return f"{TOPIC}/{partition}"


def stored_offsets(redis_server):
    raw = redis_server.client().hgetall(PREFIX + "offsets")
    return {k.decode(): int(v) for k, v in raw.items()}


def wait_until_counted(chaos, redis_server, end_offsets, deadline_s, log):
    want = {partition_field(p): n for p, n in end_offsets.items() if n > 0}
    deadline = time.monotonic() + deadline_s
    stored = {}
    while time.monotonic() < deadline:
        try:
            stored = stored_offsets(redis_server)
        except redis.RedisError:
            pass
        if stored == want:
            log(f"every partition counted up to its end: {sum(want.values())} records")
            return None
        chaos.pause(0.25)
    behind = {f: (stored.get(f), n) for f, n in want.items() if stored.get(f) != n}
    return (f"offsets did not reach the partitions' ends within {deadline_s} s; "
            f"(stored, end) per partition behind: {behind}; "
            f"{len(chaos.pool.alive())} aggregator(s) running")


# ---- oracle: what Redis must hold, from every record in Kafka ---------------------------------

def partitions_of(topic):
    return [kafka.TopicPartition(topic, p) for p in range(PARTITIONS)]


def read_topic(bootstrap, topic):
    """Every record of the topic, from offset 0 to its end."""
    consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                   max_partition_fetch_bytes=8 * 1024 * 1024)
    try:
        tps = partitions_of(topic)
        begin = consumer.beginning_offsets(tps)
        end = consumer.end_offsets(tps)
        if any(begin[tp] != 0 for tp in tps):
            raise StackError(f"{topic}: the broker's retention dropped records "
                             f"(beginning offsets {begin}); the run wrote too much")
        consumer.assign(tps)
        consumer.seek_to_beginning()
        ends = {tp.partition: n for tp, n in end.items()}
        records = []
        deadline = time.monotonic() + 300
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise StackError(f"reading {topic} back took over 300 s")
            for batch in consumer.poll(timeout_ms=500, max_records=50000).values():
                records.extend(r for r in batch if r.offset < ends[r.partition])
        return records, ends
    finally:
        consumer.close()


def end_offsets(bootstrap):
    consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        return {tp.partition: n for tp, n in consumer.end_offsets(partitions_of(TOPIC)).items()}
    finally:
        consumer.close()


_ISO8601 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                      r"(Z|[+-]\d{2}:?\d{2})?$")


def iso8601_ok(text):
    match = _ISO8601.match(text)
    if not match:
        return False
    try:
        datetime.datetime(*(int(g) for g in match.groups()[:6]))
    except ValueError:
        return False
    return True


def _first_key_wins(pairs):
    result = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result


def _reject_constant(name):
    raise ValueError(name)  # NaN and Infinity are not JSON


def _text_problem(doc, name, limit):
    if name not in doc:
        return name + "_missing"
    if not isinstance(doc[name], str):
        return name + "_type"
    if not 0 < len(doc[name].encode()) <= limit:
        return name + "_range"
    return None


def classify(value):
    """(reason, None) for an invalid record, (None, (user, action, page)) for a valid one.

    The rules of src/core/event.cpp, for the kinds of record this test writes."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8", None
    try:
        doc = json.loads(text, object_pairs_hook=_first_key_wins, parse_constant=_reject_constant)
    except ValueError:
        return "not_json", None
    if not isinstance(doc, dict):
        return "not_object", None
    if "user_id" not in doc:
        return "user_id_missing", None
    uid = doc["user_id"]
    if isinstance(uid, bool) or not isinstance(uid, (int, str)):
        return "user_id_type", None
    if isinstance(uid, int):
        if not INT64_MIN <= uid <= INT64_MAX:
            return "user_id_range", None
        uid = str(uid)
    elif not 0 < len(uid.encode()) <= MAX_USER_ID_BYTES:
        return "user_id_range", None
    for name, limit in (("action", MAX_ACTION_BYTES), ("page", MAX_PAGE_BYTES)):
        problem = _text_problem(doc, name, limit)
        if problem:
            return problem, None
    stamp = doc.get("timestamp")
    if stamp is not None:
        if isinstance(stamp, bool) or not isinstance(stamp, (int, str)):
            return "timestamp_type", None
        if isinstance(stamp, int) and not 0 <= stamp <= MAX_EPOCH_MS:
            return "timestamp_format", None
        if isinstance(stamp, str) and not iso8601_ok(stamp):
            return "timestamp_format", None
    return None, (uid, doc["action"], doc["page"])


class Keys:
    """Redis keys as Python values: name -> (type, value); int for strings, dicts otherwise."""

    def __init__(self):
        self.keys = {}

    def _get(self, name, kind):
        return self.keys.setdefault(name, (kind, collections.Counter()))[1]

    def incr(self, name, by=1):
        _, value = self.keys.get(name, ("string", 0))
        self.keys[name] = ("string", value + by)

    def hincr(self, name, field, by=1):
        self._get(name, "hash")[field] += by

    def zincr(self, name, member, by=1):
        self._get(name, "zset")[member] += by

    def zmax(self, name, member, score):
        zset = self._get(name, "zset")
        zset[member] = max(zset.get(member, score), score)


def recompute(records, verdicts, ends, log):
    """What every key under PREFIX must hold after counting `records` exactly once."""
    want = Keys()
    newest = 0
    for record, (reason, event) in zip(records, verdicts):
        if reason:
            want.incr(PREFIX + "bad_total")
            want.hincr(PREFIX + "bad", reason.encode())
            continue
        user, action, page = event
        ms = record.timestamp  # event time: the Kafka record timestamp
        if ms < 0:
            raise StackError(f"record {record.partition}/{record.offset} has no timestamp")
        newest = max(newest, ms)
        second, minute = ms // 1000, ms // 60000
        want.incr(PREFIX + "events_total")
        want.zincr(PREFIX + "pages", page.encode())
        want.zincr(f"{PREFIX}pages:m:{minute}", page.encode())
        want.zmax(PREFIX + "last_seen", user.encode(), ms)
        want.hincr(PREFIX + "actions", action.encode())
        want.hincr(f"{PREFIX}user_actions:m:{minute}", action.encode() + b"\xff" + user.encode())
        want.hincr(f"{PREFIX}rate:s:{second // 600}", str(second).encode())
        want.hincr(f"{PREFIX}rate:m:{minute // 60}", str(minute).encode())
    for partition, end in ends.items():
        if end > 0:
            want.hincr(PREFIX + "offsets", partition_field(partition).encode(), end)
    # Buckets hold only events within the hour before they were counted; ours are all fresh.
    if newest and newest - min(r.timestamp for r in records) > 55 * 60 * 1000:
        log("!! events span over 55 minutes: the per-minute buckets no longer hold them all")
    return want.keys


def expect_hour_set(want, have):
    """The hour set the functions keep: the sum of the minutes after its state's `through`
    (the newest minute whose retirement began; the sets of minutes at or before it are gone),
    plus what is left to retire of the last one. Read with every aggregator stopped."""
    state = have.get(PREFIX + "pages:h:state")
    if state is None:
        return
    through = state[1].get(b"through")
    if not isinstance(through, int):
        return  # compare() reports the state as it differs from the one expected below
    want[PREFIX + "pages:h:state"] = ("hash", {b"through": through})
    hour = collections.Counter()
    for name in list(want):
        match = re.fullmatch(re.escape(PREFIX) + r"pages:m:(-?\d+)", name)
        if not match:
            continue
        if int(match.group(1)) > through:
            hour.update(want[name][1])
        elif name not in have:
            del want[name]  # retired
    retiring = have.get(PREFIX + "pages:retiring")
    if retiring is not None and retiring[0] == "zset":
        want[PREFIX + "pages:retiring"] = retiring
        hour.update(retiring[1])
    hour = +hour
    if hour:
        want[PREFIX + "pages:h"] = ("zset", hour)


def dlq_differences(bootstrap, records, verdicts):
    """Every invalid record reached the dead-letter topic at least once, unchanged."""
    forwarded = collections.defaultdict(list)
    for record in read_topic(bootstrap, DLQ_TOPIC)[0]:
        headers = dict(record.headers)
        forwarded[headers.get("pulseboard.source", b"").decode()].append(
            (record.value, headers.get("pulseboard.reason", b"").decode()))
    diffs, duplicates = [], 0
    for record, (reason, _) in zip(records, verdicts):
        if not reason:
            continue
        source = f"{TOPIC}/{record.partition}/{record.offset}"
        copies = forwarded.get(source, [])
        duplicates += max(0, len(copies) - 1)
        if not copies:
            diffs.append(("dlq", DLQ_TOPIC, source, reason, "missing"))
        elif any(copy != (record.value, reason) for copy in copies):
            diffs.append(("dlq", DLQ_TOPIC, source, (record.value, reason), copies))
    return diffs, duplicates


# ---- comparison -----------------------------------------------------------------------------------

def read_redis(client):
    """Every key in Redis, in Keys' shape (streams as their length)."""
    keys = {}
    for raw in client.scan_iter(count=1000):
        name = raw.decode("latin-1")
        kind = client.type(raw).decode()
        if kind == "string":
            value = client.get(raw)
            keys[name] = (kind, int(value) if value.lstrip(b"-").isdigit() else value)
        elif kind == "hash":
            keys[name] = (kind, {f: _number(v) for f, v in client.hgetall(raw).items()})
        elif kind == "zset":
            keys[name] = (kind, {m: _number(s) for m, s in client.zrange(raw, 0, -1,
                                                                           withscores=True)})
        elif kind == "stream":
            keys[name] = (kind, client.xlen(raw))
        else:
            keys[name] = (kind, None)
    return keys


def _number(value):
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def family(name):
    if not name.startswith(PREFIX):
        return "outside namespace"
    return re.sub(r":-?\d+$", "", name[len(PREFIX):])


def _show(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value


def compare(want, have):
    """(family, key, field, expected, actual) for each difference."""
    diffs = []
    for name in sorted(set(want) | set(have)):
        fam = family(name)
        if fam in IGNORED_FAMILIES:
            continue
        if name not in want:
            if not (fam == "lost_total" and have[name] == ("string", 0)):
                diffs.append(("unexpected key", name, None, "absent", have[name][0]))
            continue
        if name not in have:
            diffs.append((fam, name, None, want[name][0], "missing"))
            continue
        (kind, expected), (actual_kind, actual) = want[name], have[name]
        if kind != actual_kind:
            diffs.append((fam, name, "(type)", kind, actual_kind))
        elif kind == "string":
            if expected != actual:
                diffs.append((fam, name, None, expected, actual))
        else:
            for field in sorted(set(expected) | set(actual)):
                if expected.get(field, 0) != actual.get(field, 0):
                    diffs.append((fam, name, _show(field), expected.get(field, "absent"),
                                  actual.get(field, "absent")))
    return diffs


def family_totals(keys):
    totals = collections.Counter()
    for name, (kind, value) in keys.items():
        fam = family(name)
        if fam not in COUNT_FAMILIES:
            continue
        if kind == "string" and isinstance(value, int):
            totals[fam] += value
        elif isinstance(value, dict):
            totals[fam] += sum(v for v in value.values() if isinstance(v, (int, float)))
    return totals


# ---- run ---------------------------------------------------------------------------------------

class Mode:
    def __init__(self, args):
        if args.minutes is None:
            # The plan alone, in random order at random moments: about 80 s of faults.
            self.name, self.fault_seconds, self.plan = "short", 0, SHORT_PLAN
            self.gap, self.drain_deadline = (0.5, 2.0), 120
            self.produce_seconds = 110
        else:
            self.name, self.fault_seconds = f"soak {args.minutes} min", args.minutes * 60
            self.plan = SHORT_PLAN * max(1, args.minutes // 3)
            self.gap, self.drain_deadline = (1.0, 4.0), 300
            self.produce_seconds = self.fault_seconds + 60  # the last fault may overrun
        self.settle_seconds = 5  # events after the last fault: every partition moves on


def choose_rate(args, mode, seed):
    """Events per second, lowered so that no partition nears the broker's retention."""
    if args.rate:
        return args.rate
    budget = (PARTITION_BYTE_BUDGET * PARTITIONS
              / (average_record_bytes(seed) * mode.produce_seconds))
    return int(min(2000, budget * 0.85))  # keys do not split exactly evenly


def check_prerequisites(cli):
    if not shutil.which("redis-server"):
        return "redis-server not found (apt-get install redis-server)"
    if not (cli and os.access(cli, os.X_OK)):
        return f"pulseboard-cli not found at {cli} (build it, or pass --cli PATH)"
    return None


class Stack:
    """The broker, Redis and the aggregators of one run; close() kills whatever is left."""

    def __init__(self, cli, workdir, log):
        self.broker = self.redis = self.pool = None
        try:
            self.broker = Broker(cli, workdir)
            self.redis = RedisServer(workdir, log)
            self.pool = AggregatorPool(cli, workdir, self.broker.bootstrap, self.redis.address,
                                       log)
        except BaseException:
            self.close()
            raise
        log(f"broker at {self.broker.bootstrap}, Redis at {self.redis.address}")

    def close(self):
        if self.pool:
            self.pool.kill_all()
        if self.redis:
            self.redis.stop()
        if self.broker:
            self.broker.stop()


def stream_with_faults(stack, chaos, producer, mode, args, log):
    """Produces and injects faults, then waits until everything is counted and stops the
    aggregators. Returns what went wrong in waiting, or None."""
    producer.start()
    chaos.start("first instance")
    inject_faults(chaos, mode.plan, mode.fault_seconds, mode.gap, chaos.rng, log)
    chaos.thaw_all()
    chaos.wait_sleepers()
    chaos.pause(mode.settle_seconds / 2)
    snapshot = chaos.snapshot_redis()
    chaos.pause(mode.settle_seconds / 2)
    producer.finish()
    log(f"producer stopped: {producer.sent} sent, {sum(producer.delivered.values())} "
        f"acknowledged, {producer.failed} failed; largest partition about "
        f"{max(producer.partition_bytes.values(), default=0) / 1e6:.2f} MB")

    ends = end_offsets(stack.broker.bootstrap)
    stuck = wait_until_counted(chaos, stack.redis, ends, mode.drain_deadline, log)
    if not stuck:
        # Last, Redis comes back older while no events come: nothing new to read, so only the
        # aggregators' own check of what Redis holds can notice what it lost.
        chaos.rollback_redis(snapshot, "SIGKILLed and restored older while no events come",
                             busy=False)
        stuck = wait_until_counted(chaos, stack.redis, ends, 30, log)
    stack.pool.stop_all()
    log(f"aggregators stopped ({len(stack.pool.all)} started in all)")
    return stuck


class Verdict:
    """Redis against the recomputation from Kafka."""

    def __init__(self, stack, producer, log):
        have = read_redis(stack.redis.client(timeout=60))
        self.records, ends = read_topic(stack.broker.bootstrap, TOPIC)
        log(f"read back {len(self.records)} records")
        verdicts = [classify(record.value) for record in self.records]
        self.reasons = collections.Counter(reason for reason, _ in verdicts)
        want = recompute(self.records, verdicts, ends, log)
        expect_hour_set(want, have)
        self.diffs = compare(want, have)
        dlq_diffs, dlq_duplicates = dlq_differences(stack.broker.bootstrap, self.records,
                                                    verdicts)
        self.diffs += dlq_diffs
        log(f"compared {len(want)} keys; dead-letter topic: {dlq_duplicates} duplicate(s) "
            f"(allowed: at least once)")
        self.expected, self.actual = family_totals(want), family_totals(have)

        self.problems = []
        if producer.failed == 0 and dict(producer.delivered) != dict(self.reasons):
            self.problems.append(f"the test's oracle disagrees with its generator: "
                                 f"{dict(self.reasons)} vs {dict(producer.delivered)}")
        for agg, rc in stack.pool.crashes:
            self.problems.append(f"{agg.name} crashed with signal {-rc}")

    def lost(self):
        return sum(max(0, self.expected[f] - self.actual[f]) for f in COUNT_FAMILIES)

    def double_counted(self):
        return sum(max(0, self.actual[f] - self.expected[f]) for f in COUNT_FAMILIES)

    def print(self):
        if self.diffs:
            by_family = collections.Counter(d[0] for d in self.diffs)
            print(f"chaos: {len(self.diffs)} difference(s): "
                  + ", ".join(f"{f} {n}" for f, n in by_family.most_common()))
            print(f"  {'family':<16} {'key':<34} {'field':<24} {'expected':>12} {'actual':>12}")
            for fam, key, field, expected, actual in self.diffs[:20]:
                print(f"  {fam:<16} {key:<34} {str(field):<24} {str(expected):>12} "
                      f"{str(actual):>12}")
            for fam in COUNT_FAMILIES:
                if self.expected[fam] != self.actual[fam]:
                    print(f"  total of {fam}: expected {self.expected[fam]}, "
                          f"actual {self.actual[fam]}")
        for problem in self.problems:
            print("chaos: " + problem)


def summary_line(seed, mode, chaos, verdict, log):
    n = chaos.counts
    valid = verdict.reasons[None]
    counted = verdict.actual["events_total"] + verdict.actual["bad_total"]
    return (f"seed={seed} mode={mode.name!r} duration={log.elapsed():.1f}s "
            f"kills={n['kills']} sigterms={n['sigterms']} starts={n['starts']} "
            f"redis_restarts={n['redis_restarts']} pauses={n['pauses']} zombies={n['zombies']} "
            f"produced={len(verdict.records)} (valid={valid} bad={len(verdict.records) - valid}) "
            f"counted={counted} lost={verdict.lost()} double_counted={verdict.double_counted()} "
            f"differences={len(verdict.diffs)} "
            f"unexpected_exits={len(chaos.pool.unexpected_exits)}")


def run(args, seed, workdir, log):
    """Returns (passed, summary line)."""
    mode = Mode(args)
    rate = choose_rate(args, mode, seed)
    log(f"seed {seed}, mode {mode.name}, {rate} events/s, work dir {workdir}")
    # A copy of its own: the build may replace the binary while the test runs.
    cli = shutil.copy(args.cli, workdir / "pulseboard-cli")
    stack = Stack(cli, workdir, log)
    producer = None
    try:
        chaos = Chaos(stack.pool, stack.redis, workdir, random.Random(seed), log)
        producer = Producer(stack.broker.bootstrap, rate, seed, log)
        stuck = stream_with_faults(stack, chaos, producer, mode, args, log)
        verdict = Verdict(stack, producer, log)
        if stuck:
            verdict.problems.insert(0, stuck)
        verdict.print()
        if stack.pool.unexpected_exits:
            log(f"!! {len(stack.pool.unexpected_exits)} aggregator(s) exited without being told "
                f"to, or badly after SIGTERM: "
                + ", ".join(f"#{a.number}: {rc}" for a, rc in stack.pool.unexpected_exits))
        passed = not verdict.diffs and not verdict.problems
        if not passed:
            stack.pool.print_tails()
        return passed, summary_line(seed, mode, chaos, verdict, log)
    except BaseException:
        stack.pool.print_tails()
        raise
    finally:
        if producer and producer.is_alive():
            producer.stopping.set()
        stack.close()



def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--short", action="store_true", help="the ctest run: 1.5 to 2 minutes")
    group.add_argument("--minutes", type=int, help="soak: inject faults for this many minutes")
    parser.add_argument("--seed", type=int, help="random seed (default: a new one, printed)")
    parser.add_argument("--cli", default=str(Path(__file__).resolve().parents[2]
                                             / "build/release/src/cli/pulseboard-cli"),
                        help="the pulseboard-cli binary")
    parser.add_argument("--rate", type=int, help="events per second (default: 2000, or lower "
                                                 "when the run would fill the broker's retention)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir, even on success")
    args = parser.parse_args()
    if args.minutes is not None and not 1 <= args.minutes <= 50:
        parser.error("--minutes wants 1 to 50 (the per-minute buckets hold the last hour only)")
    return args


def main():
    args = parse_args()
    problem = check_prerequisites(args.cli)
    if problem:
        print(f"chaos: missing prerequisite: {problem}", file=sys.stderr)
        print("chaos: 0 passed, 1 failed")
        return 1
    logging.basicConfig(level=logging.CRITICAL)  # kafka-python's retries are not news here
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(f"chaos: stopped by signal {signum}"))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    log = Log()
    workdir = Path(tempfile.mkdtemp(prefix="pulseboard-chaos-"))
    passed, summary = False, f"seed={seed} aborted"
    try:
        passed, summary = run(args, seed, workdir, log)
    except StackError as e:
        print(f"chaos: the test's stack failed: {e}")
    finally:
        print(f"chaos: {summary}")
        if passed and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"chaos: work dir kept: {workdir}  (rerun: --seed {seed})")
        print(f"chaos: {1 if passed else 0} passed, {0 if passed else 1} failed", flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
