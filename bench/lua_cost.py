#!/usr/bin/python3
"""Redis time per field of the batch function, on synthetic batches shaped as BatchWriter::encode
makes them, measured inside a scratch redis-server (no Kafka, no aggregator).

Usage: /usr/bin/python3 bench/lua_cost.py [--events N] [--users U] [--calls C] [--repeat R]
                                          [VARIANT ...]
  VARIANT is NAME=FILE.lua (a library whose pb_apply_v3 takes ARGV as BatchWriter::encode writes
  it) or NAME=v1:FILE.lua (the pb_apply_v1 of commit a970188 and its own ARGV layout, e.g. from
  `git show a970188:resources/redis/pulseboard.lua > /tmp/v1.lua`). Default: v2=the library in
  resources/redis.

Each scenario starts from an empty Redis and applies C batches of N events in one minute:
  new     every event a new user (the catch-up worst case: every field is new, the hashes grow)
  repeat  users drawn from 1..U with 4 actions (the simulator's shape): after the first call
          most fields exist and every check reads a stored counter
Reported per variant and scenario, each per distinct field the batch writes
(BatchAggregate::fields()), the median over calls 2..C, the best of R rounds in which the
variants take turns:
  us/call, us/field  INFO commandstats: the FCALL's wall-clock time inside Redis
  cpu us/f           Redis's CPU time for it (INFO cpu, getrusage): what a busy machine inflates
                     least; 'cpu x' is its ratio to the first variant
  own us/f           what the function reports itself (its TIME at the end minus at the start)
A variant that appends 'phase=microseconds' strings to its reply gets them printed per field.
The machine is noisy: compare the variants of one run, as ratios.
"""
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = 'pulseboard:{all}:'
NOW_MINUTE = 29_000_000  # an epoch minute in 2025
ACTIONS = ['view', 'click', 'add_to_cart', 'purchase']
WEIGHTS = [0.70, 0.20, 0.06, 0.04]
PAGES = ['/p%d' % k for k in range(200)]
SEP = '\xff'


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Batch:
    """A pre-aggregated batch, as BatchAggregate holds it."""

    def __init__(self, events, user_of, rng):
        self.valid = events
        self.pages = {}
        self.page_minute = {}
        self.last_seen = {}
        self.actions = {}
        self.user_minute = {}
        self.seconds = {}
        base_ms = NOW_MINUTE * 60000
        self.now_ms = base_ms + 59_999
        self.feed = []
        for e in range(events):
            user = user_of(e)
            action = rng.choices(ACTIONS, WEIGHTS)[0]
            page = PAGES[min(int(rng.paretovariate(1.1)) - 1, len(PAGES) - 1)]
            ts = base_ms + e * 59_000 // max(events, 1)
            self.pages[page] = self.pages.get(page, 0) + 1
            self.page_minute[page] = self.page_minute.get(page, 0) + 1
            self.last_seen[user] = max(self.last_seen.get(user, 0), ts)
            self.actions[action] = self.actions.get(action, 0) + 1
            f = action + SEP + user
            self.user_minute[f] = self.user_minute.get(f, 0) + 1
            self.seconds[ts // 1000] = self.seconds.get(ts // 1000, 0) + 1
            if events - e <= 50:
                self.feed.append(('{"user_id":%s}' % user, 'bench/0', str(e), str(ts)))

    def fields(self):
        return (2 * len(self.pages) + len(self.last_seen) + len(self.actions) +
                len(self.user_minute) + len(self.seconds) + 1)

    @staticmethod
    def counts(d):
        out = [str(len(d))]
        for k, v in d.items():
            out += [str(k), str(v)]
        return out

    def encode_v2(self, call):
        """FCALL pb_apply_v3 as BatchWriter::encode writes it (seed keys on)."""
        keys = [NS + k for k in ('offsets', 'events_total', 'bad_total', 'lost_total', 'pages',
                                 'last_seen', 'actions', 'bad', 'feed', 'bad_feed', 'pages:h',
                                 'pages:h:state')]
        keys += ['top_pages', 'active_users']
        args = ['1', str(self.now_ms), '300000', '3600000', '300000', '1000', '1000000', '1000']
        args += ['1', 'bench/0', str(-1 if call == 0 else call * 1000), str((call + 1) * 1000)]
        args += [str(self.valid), '0', '0']
        args += self.counts(self.pages)
        keys.append(NS + 'pages:m:%d' % NOW_MINUTE)
        args += ['1', str(NOW_MINUTE)] + self.counts(self.page_minute)
        args += self.counts(self.last_seen)
        args += self.counts(self.actions)
        keys.append(NS + 'user_actions:m:%d' % NOW_MINUTE)
        args += ['1', str(NOW_MINUTE)] + self.counts(self.user_minute)
        for per, name, units in ((600, 'rate:s:', self.seconds),
                                 (60, 'rate:m:', {NOW_MINUTE: self.valid})):
            buckets = {}
            for unit, count in sorted(units.items()):
                buckets.setdefault(unit // per, {})[unit] = count
            args.append(str(len(buckets)))
            for b, us in buckets.items():
                keys.append(NS + name + str(b))
                args += [str(b)] + self.counts(us)
        args += ['0']  # bad by reason
        args += [str(len(self.feed))] + [x for e in self.feed for x in e]
        args += ['0']  # bad feed
        return ['FCALL', 'pb_apply_v3', str(len(keys))] + keys + args

    def encode_v1(self, call):
        """FCALL pb_apply_v1 as the BatchWriter of commit a970188 wrote it."""
        args = [NS, '1', str(self.now_ms), '300000', '3600000', '300000', '1000']
        args += ['1', 'bench/0', str(-1 if call == 0 else call * 1000), str((call + 1) * 1000)]
        args += [str(self.valid), '0', '0']
        args += self.counts(self.pages)
        args += ['1', str(NOW_MINUTE)] + self.counts(self.page_minute)
        args += self.counts(self.last_seen)
        args += self.counts(self.actions)
        args += ['1', str(NOW_MINUTE)] + self.counts(self.user_minute)
        args += self.counts(self.seconds)
        args += self.counts({NOW_MINUTE: self.valid})
        args += ['0']
        args += [str(len(self.feed))] + [x for e in self.feed for x in e]
        args += ['0']
        return ['FCALL', 'pb_apply_v1', '1', NS + 'offsets'] + args


def batches(scenario, events, users, calls, seed=7):
    rng = random.Random(seed)
    out = []
    for c in range(calls):
        if scenario == 'new':
            out.append(Batch(events, lambda e, c=c: str(c * events + e + 1), rng))
        else:
            out.append(Batch(events, lambda e: str(rng.randint(1, users)), rng))
    return out


def cpu_usec(r):
    info = r.info('cpu')
    return (info['used_cpu_user'] + info['used_cpu_sys']) * 1e6


def fcall_usec(r, command):
    """Redis's time for one FCALL: commandstats (wall clock inside the command), its CPU time
    (getrusage: not inflated when another process takes the core), the function's own report."""
    r.execute_command('CONFIG', 'RESETSTAT')
    before = cpu_usec(r)
    reply = r.execute_command(*command)
    cpu = cpu_usec(r) - before
    stats = r.info('commandstats').get('cmdstat_fcall')
    if not isinstance(reply, list) or reply[0] != 1:
        raise RuntimeError('not applied: %r' % (reply,))
    return stats['usec'], cpu, (reply[1] if len(reply) > 1 else None), reply[2:]


def main(argv):
    opts = {'--events': 20000, '--users': 10000, '--calls': 4, '--repeat': 3}
    variants = []
    i = 0
    while i < len(argv):
        if argv[i] in opts:
            opts[argv[i]] = int(argv[i + 1])
            i += 2
        elif '=' in argv[i]:
            name, spec = argv[i].split('=', 1)
            kind = 'v2'
            if spec.startswith('v1:'):
                kind, spec = 'v1', spec[3:]
            variants.append((name, kind, open(spec).read()))
            i += 1
        else:
            sys.exit(__doc__)
    if not variants:
        variants = [('v2', 'v2', open(os.path.join(ROOT, 'resources/redis/pulseboard.lua')).read())]

    work = tempfile.mkdtemp()
    port = free_port()
    server = subprocess.Popen(['redis-server', '--port', str(port), '--save', '',
                               '--appendonly', 'no', '--dir', work],
                              stdout=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port, decode_responses=False)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        print('events/call=%d users(repeat)=%d calls=%d best of %d' %
              (opts['--events'], opts['--users'], opts['--calls'], opts['--repeat']))
        print('%-14s %-7s %8s %10s %10s %10s %10s %7s' %
              ('variant', 'scen.', 'fields', 'us/call', 'us/field', 'cpu us/f', 'own us/f', 'cpu x'))
        for scenario in ('new', 'repeat'):
            data = batches(scenario, opts['--events'], opts['--users'], opts['--calls'])
            best = {}
            # the variants take turns, so that a noisy moment does not favour one of them
            for _ in range(opts['--repeat']):
                for name, kind, text in variants:
                    text = re.sub(r'#!lua name=\S+', '#!lua name=bench', text, count=1)
                    r.flushall()
                    r.execute_command('FUNCTION', 'LOAD', 'REPLACE', text)
                    per_call, cpus, own, fields, phases = [], [], [], [], []
                    for c, b in enumerate(data):
                        cmd = b.encode_v1(c) if kind == 'v1' else b.encode_v2(c)
                        usec, cpu, inside, marks = fcall_usec(r, cmd)
                        cpus.append(cpu)
                        phases.append(marks)
                        per_call.append(usec)
                        own.append(inside)
                        fields.append(b.fields())
                    med = statistics.median(per_call[1:] or per_call)
                    nf = statistics.median(fields[1:] or fields)
                    row = (med, nf, statistics.median(cpus[1:] or cpus),
                           statistics.median(own[1:] or own) / nf if own[0] is not None else None,
                           phases[1:] or phases)
                    if name not in best or row[2] < best[name][2]:
                        best[name] = row
            base = None
            for name, _, _ in variants:
                med, nf, cpu, own, phases = best[name]
                base = base or cpu
                print('%-14s %-7s %8d %10.0f %10.3f %10.3f %10s %7.2f' %
                      (name, scenario, nf, med, med / nf, cpu / nf,
                       '%.3f' % own if own is not None else '-', cpu / base))
                if phases and phases[0]:
                    # a variant that appends 'phase=microseconds' marks to its reply
                    names = [m.decode().split('=')[0] for m in phases[0]]
                    cols = [statistics.median(int(p[k].decode().split('=')[1]) for p in phases)
                            for k in range(len(names))]
                    print('    us/field by phase: ' +
                          ' '.join('%s=%.3f' % (n, c / nf) for n, c in zip(names, cols)))
            sys.stdout.flush()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main(sys.argv[1:])
