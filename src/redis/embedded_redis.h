#pragma once
// A redis-server child process on a free loopback port with its own temporary directory; the
// embedded default and the test fixture. The child dies with us (PR_SET_PDEATHSIG), and the
// destructor stops it and removes the directory. Thread-safe: no (own it from one thread).
// PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the process: own it from a
// thread that lives as long as you need the server (the GUI keeps a dedicated one).

#include "redis_connection.h"

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/types.h>

namespace pb::redis {

// Locked down by default: any local user can reach a loopback port, so the server wants a
// password (a random one unless given) and refuses DEBUG; protected mode stays on.
struct EmbeddedRedisOptions {
    std::string executable = "redis-server"; // looked up on PATH
    std::string password;                    // requirepass; empty: a random one
    int port = 0;                            // 0: pick a free loopback port
    std::chrono::milliseconds startTimeout{5000};
    bool debugCommands = false;  // tests that need DEBUG SLEEP turn it on
    bool requirePassword = true; // tests of a server without one turn it off
};

class EmbeddedRedis {
public:
    // Starts the server and waits until it answers PING; throws pb::Error (Fatal) with what to
    // do when redis-server is missing or does not come up.
    explicit EmbeddedRedis(EmbeddedRedisOptions options = {});
    ~EmbeddedRedis();
    EmbeddedRedis(const EmbeddedRedis &) = delete;
    EmbeddedRedis &operator=(const EmbeddedRedis &) = delete;

    Endpoint endpoint() const; // with the password
    int port() const { return port_; }
    // A file (0600, in a 0700 directory) holding the password alone, for other programs of the
    // same user: PULSEBOARD_REDIS_PASSWORD=$(cat FILE) pulseboard-cli stats --redis ...
    std::filesystem::path passwordFile() const { return dir_ / "password"; }
    pid_t pid() const { return pid_; }

    // For outage tests: stop the server (SIGTERM, wait) and start it again on the same port
    // with an empty data set (no persistence, like a real Redis restarted without it).
    void stop();
    void start();
    bool running() const { return pid_ > 0; }

private:
    EmbeddedRedisOptions options_;
    std::filesystem::path dir_;
    int port_ = 0;
    pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int pickFreeLoopbackPort();

} // namespace pb::redis
