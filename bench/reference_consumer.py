#!/usr/bin/python3
"""The original design's pipeline, kept as the benchmark reference: a kafka-python consumer that,
per event, parses the JSON and does INCR active_users and ZINCRBY top_pages 1 page with
redis-py, one round trip each. Run with Debian's python3-kafka and python3-redis.

usage: reference_consumer.py BROKERS TOPIC REDIS_HOST REDIS_PORT COUNT
"""
import json
import sys
import time

from kafka import KafkaConsumer
import redis


def main():
    brokers, topic, host, port, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    r = redis.Redis(host=host, port=port)
    r.ping()
    consumer = KafkaConsumer(topic, bootstrap_servers=brokers, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id="reference-%d" % time.time())
    n = 0
    first = None
    for message in consumer:
        if first is None:
            first = time.monotonic()
        event = json.loads(message.value)
        r.incr("active_users")
        r.zincrby("top_pages", 1, event["page"])
        n += 1
        if n >= count:
            break
    elapsed = time.monotonic() - first
    print("RESULT reference_events=%d reference_seconds=%.3f reference_eps=%.0f" % (n, elapsed, n / elapsed))
    consumer.close()


if __name__ == "__main__":
    main()
