#pragma once
// One blocking connection to Redis with timeouts on every call, AUTH/SELECT on (re)connect and
// pipelining. Not thread-safe: one per thread. Throws pb::Error (redis_error.h marks kinds).

#include "core/error.h"
#include "hiredis_handles.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pb::redis {

// TLS towards Redis (Redis 6+ with tls-port). Verification of the certificate chain and of the
// host name is on unless insecure is set.
struct TlsOptions {
    bool enabled = false;
    std::string caFile;     // PEM CA bundle; empty: the system's CA store
    std::string certFile;   // PEM client certificate (tls-auth-clients yes); empty: none
    std::string keyFile;    // PEM private key of certFile (unencrypted)
    std::string serverName; // SNI and the name checked in the certificate; empty: the host
    bool insecure = false;  // skip verification: chain and name (testing only)

    friend bool operator==(const TlsOptions &, const TlsOptions &) = default;
};

struct Endpoint {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string password; // empty: no AUTH
    std::string username; // Redis 6 ACL user; empty: "default"
    int database = 0;
    TlsOptions tls;

    std::string toString() const; // "host:port", or "rediss://host:port" with TLS
};

// "host:port", "host" (port 6379), ":port", "[v6]:port", or a URL as redis-cli -u takes it:
// redis://[user@]host[:port][/db] and rediss://... (TLS). Throws a Fatal Error on nonsense and
// on a password in the URL (it belongs in PULSEBOARD_REDIS_PASSWORD, not in argv).
Endpoint parseEndpoint(std::string_view text);

struct ConnectionOptions {
    std::chrono::milliseconds connectTimeout{2000};
    std::chrono::milliseconds commandTimeout{5000};
};

// A command is a list of arguments, binary safe.
using Command = std::vector<std::string>;

class Transport;
class TlsContext;

// One code path for plain TCP and TLS: hiredis encodes commands (redisFormatCommandArgv) and
// parses replies (its reader); the bytes go through a Transport (socket, optionally OpenSSL).
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
    // True when receive() would not wait: the reply (or an error) is there to read, in the
    // reader's buffer, decrypted inside OpenSSL or on the socket.
    bool replyReady() const;

    const Endpoint &endpoint() const { return endpoint_; }

private:
    void ensureConnected();
    void writeOut(const std::string &bytes, const char *what);
    ReplyPtr readReply(const char *what);
    [[noreturn]] void failIo(const char *what);

    Endpoint endpoint_;
    ConnectionOptions options_;
    std::unique_ptr<TlsContext> tls_; // built on first connect, kept for reconnects
    std::unique_ptr<Transport> transport_;
    ReaderPtr reader_;
    bool handshaking_ = false; // inside connect(): AUTH, SELECT, PING
};

// Helpers for reading replies; each throws a Fatal Error on an unexpected type.
std::int64_t replyInteger(const redisReply *reply); // integer, or string of digits
std::string replyString(const redisReply *reply);   // string/status; nil -> ""
bool replyIsNil(const redisReply *reply);
// Throws pb::Error (via redis_error.h) if the reply is an error reply.
void throwIfError(const redisReply *reply, std::string_view context);

} // namespace pb::redis
