#pragma once
// One blocking connection to Redis with timeouts on every call, AUTH/SELECT on (re)connect and
// pipelining. Not thread-safe: one per thread. Throws pb::Error (redis_error.h marks kinds).

#include "core/error.h"
#include "hiredis_handles.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pb::redis {

struct Endpoint {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string password; // empty: no AUTH
    std::string username; // Redis 6 ACL user; empty: "default"
    int database = 0;

    std::string toString() const; // "host:port"
};

// "host:port" or "host" (port 6379) or "[v6]:port" -> Endpoint; throws Fatal Error on nonsense.
Endpoint parseEndpoint(std::string_view text);

struct ConnectionOptions {
    std::chrono::milliseconds connectTimeout{2000};
    std::chrono::milliseconds commandTimeout{5000};
};

// A command is a list of arguments, binary safe.
using Command = std::vector<std::string>;

class Connection {
public:
    explicit Connection(Endpoint endpoint, ConnectionOptions options = {});
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;
    Connection(Connection &&) noexcept;
    Connection &operator=(Connection &&) noexcept;
    ~Connection();

    // Connects (or reconnects after a failure) and authenticates; throws on failure.
    void connect();
    bool connected() const;
    // Drops the connection; the next command reconnects.
    void disconnect();

    // One command, one reply. An error reply is returned as a reply of type REDIS_REPLY_ERROR,
    // not thrown; I/O failures are thrown (Retriable) and drop the connection.
    ReplyPtr command(const Command &args);
    // Sends all commands then reads all replies: one round trip.
    std::vector<ReplyPtr> pipeline(const std::vector<Command> &commands);
    // Split round trip: send() writes a command out, receive() reads its reply later, so the
    // caller can work while Redis does. One outstanding command at a time.
    void send(const Command &args);
    ReplyPtr receive();
    // True when receive() would not wait: the reply (or an error) is there to read.
    bool replyReady() const;

    const Endpoint &endpoint() const { return endpoint_; }

private:
    void ensureConnected();
    [[noreturn]] void failIo(const char *what);

    Endpoint endpoint_;
    ConnectionOptions options_;
    ContextPtr context_;
};

// Helpers for reading replies; each throws a Fatal Error on an unexpected type.
std::int64_t replyInteger(const redisReply *reply); // integer, or string of digits
std::string replyString(const redisReply *reply);   // string/status; nil -> ""
bool replyIsNil(const redisReply *reply);
// Throws pb::Error (via redis_error.h) if the reply is an error reply.
void throwIfError(const redisReply *reply, std::string_view context);

} // namespace pb::redis
