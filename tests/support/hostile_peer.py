#!/usr/bin/env python3
"""A server that is wrong for Pulseboard, on a free loopback port, for the bad-settings tests.

    hostile_peer.py MODE        prints the port on the first line, serves until stdin closes

Modes:
  silent      accepts and reads, never says a word (a stalled server, or one that waits for
              its own protocol)
  http        answers anything with an HTTP 400, as a web server on the wrong port does
  garbage     sends random bytes as soon as a client connects
  drop        connections are never accepted and new ones get no answer at all, as behind a
              firewall that drops packets (a full listen queue: the kernel drops the SYNs)
  kafka-sasl  a Kafka broker as far as a SASL login goes (ApiVersions, SaslHandshake, then
              SaslAuthenticate), and it refuses every login, as a broker does a wrong password

Only the standard library: it runs with any python3.
"""

import os
import socket
import struct
import sys
import threading


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def kafka_string(text):
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def api_versions_body(version):
    # ApiVersions 0-3, SaslHandshake 0-1, SaslAuthenticate 0: all a SASL login needs.
    apis = [(18, 0, 3), (17, 0, 1), (36, 0, 0)]
    if version >= 3:  # flexible: compact array, tagged fields
        body = struct.pack(">h", 0) + bytes([len(apis) + 1])
        for key, low, high in apis:
            body += struct.pack(">hhh", key, low, high) + b"\x00"
        return body + struct.pack(">i", 0) + b"\x00"
    body = struct.pack(">hi", 0, len(apis))
    for key, low, high in apis:
        body += struct.pack(">hhh", key, low, high)
    return body + (struct.pack(">i", 0) if version >= 1 else b"")


def kafka_sasl(conn):
    while True:
        size = struct.unpack(">i", read_exactly(conn, 4))[0]
        request = read_exactly(conn, size)
        key, version, correlation = struct.unpack(">hhi", request[:8])
        if key == 18:
            body = api_versions_body(version)
        elif key == 17:  # SaslHandshake: PLAIN and SCRAM offered
            body = struct.pack(">hi", 0, 3)
            for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
                body += kafka_string(mechanism)
        elif key == 36:  # SaslAuthenticate: 58 = SASL_AUTHENTICATION_FAILED
            body = (struct.pack(">h", 58)
                    + kafka_string("Authentication failed: Invalid username or password")
                    + struct.pack(">i", 0))
        else:
            return
        conn.sendall(struct.pack(">ii", len(body) + 4, correlation) + body)


def serve(conn, mode):
    try:
        if mode == "silent":
            while conn.recv(4096):
                pass
        elif mode == "http":
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
        elif mode == "garbage":
            conn.sendall(os.urandom(4096))
            while conn.recv(4096):
                pass
        elif mode == "kafka-sasl":
            kafka_sasl(conn)
    except (OSError, EOFError):
        pass
    finally:
        conn.close()


def main():
    modes = ("silent", "http", "garbage", "drop", "kafka-sasl")
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        sys.exit("usage: hostile_peer.py " + "|".join(modes))
    mode = sys.argv[1]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0 if mode == "drop" else 16)
    port = listener.getsockname()[1]
    keep = []
    if mode == "drop":
        # One connection fills the queue of a listener that never accepts: later SYNs are
        # dropped, so clients wait for their connect timeout.
        filler = socket.socket()
        filler.connect(("127.0.0.1", port))
        keep.append(filler)
    print(port, flush=True)

    def accept():
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn, mode), daemon=True).start()

    if mode != "drop":
        threading.Thread(target=accept, daemon=True).start()
    # Gone with whoever started us: stdin closes when the test ends, however it ends.
    sys.stdin.read()


if __name__ == "__main__":
    main()
