#include "redis_error.h"

#include <hiredis/hiredis.h>

#include <string>

namespace pb::redis {

namespace {

bool startsWith(std::string_view text, std::string_view prefix)
{
    return text.substr(0, prefix.size()) == prefix;
}

bool contains(std::string_view text, std::string_view part)
{
    return text.find(part) != std::string_view::npos;
}

// The error code of a reply: its first word ("BUSY" in "BUSY Redis is busy...", and not the
// "BUSYGROUP" of XGROUP CREATE).
std::string_view code(std::string_view reply)
{
    return reply.substr(0, reply.find(' '));
}

// Who answered, for the start of a message: connect() passes "Redis at host:port"; other
// callers pass what they were doing ("HKEYS", "pb_apply_v1"), which becomes "Redis (HKEYS)".
std::string subject(std::string_view context)
{
    if (context.empty())
        return "Redis";
    if (startsWith(context, "Redis"))
        return std::string(context);
    return "Redis (" + std::string(context) + ")";
}

pb::Error redisError(ErrorKind kind, const std::string &message, ErrorCause cause,
                     const std::string &who, std::string_view detail)
{
    return {kind, message, {cause, ErrorSystem::Redis, who, std::string(detail)}};
}

} // namespace

pb::Error errorFromContext(const redisContext *ctx, std::string_view endpoint)
{
    if (!ctx)
        return {ErrorKind::Retriable,
                "Redis at " + std::string(endpoint) + ": out of memory creating the connection"};
    // hiredis puts strerror()/gai_strerror() text in errstr; errno itself may have moved on.
    return errorFromIo(ctx->err, ctx->errstr, endpoint);
}

pb::Error errorFromIo(int err, std::string_view errstr, std::string_view endpoint)
{
    const std::string where = "Redis at " + std::string(endpoint);
    const std::string text(errstr);
    if (contains(text, "not known") || contains(text, "name resolution") ||
        contains(text, "No address associated") || contains(text, "resolve"))
        // Retriable: a DNS blip looks the same as a typo, and retrying a typo is harmless.
        return redisError(ErrorKind::Retriable,
                          where + ": cannot resolve host (" + text +
                              "): check the host name in --redis host:port",
                          ErrorCause::Unreachable, where, "cannot resolve the host name: " + text);
    switch (err) {
    case REDIS_ERR_EOF:
        return redisError(ErrorKind::Retriable,
                          where + ": connection closed by the server (restarted, or it dropped an "
                                  "idle or over-limit client): reconnecting",
                          ErrorCause::Unreachable, where, "the server closed the connection");
    case REDIS_ERR_IO:
        if (contains(text, "refused"))
            return redisError(ErrorKind::Retriable,
                              where + " refused the connection: is redis-server running there? "
                                      "Check --redis host:port",
                              ErrorCause::Unreachable, where, "connection refused");
        if (contains(text, "timed out") || contains(text, "temporarily unavailable"))
            return redisError(ErrorKind::Retriable,
                              where + " did not answer in time (" + text + ")", ErrorCause::Timeout,
                              where, text);
        if (contains(text, "reset by peer") || contains(text, "Broken pipe"))
            return redisError(ErrorKind::Retriable,
                              where + ": connection closed (" + text + "): reconnecting",
                              ErrorCause::Unreachable, where, text);
        if (contains(text, "unreachable"))
            return redisError(ErrorKind::Retriable,
                              where + " is unreachable (" + text +
                                  "): check the network and --redis host:port",
                              ErrorCause::Unreachable, where, text);
        return redisError(ErrorKind::Retriable, where + ": I/O error: " + text,
                          ErrorCause::Unreachable, where, text);
    case REDIS_ERR_PROTOCOL:
        return redisError(ErrorKind::Fatal,
                          where + " does not speak the Redis protocol (" + text +
                              "): is --redis the right port? A TLS port needs rediss:// (or "
                              "--redis-tls)",
                          ErrorCause::Protocol, where, "it does not speak the Redis protocol");
    case REDIS_ERR_OOM:
        return {ErrorKind::Retriable, where + ": out of memory in the Redis client"};
    default:
        return {ErrorKind::Retriable, where + ": " + text};
    }
}

pb::Error errorFromTls(std::string_view text, std::string_view endpoint)
{
    const std::string where = "Redis at " + std::string(endpoint);
    const std::string said = " [" + std::string(text) + "]";
    const auto tls = [&](ErrorKind kind, const std::string &message, ErrorCause cause,
                         std::string_view detail) {
        return redisError(kind, message, cause, where, detail);
    };
    // Verification: a setting to change, not a moment to wait for.
    if (contains(text, "hostname mismatch") || contains(text, "IP address mismatch"))
        return tls(ErrorKind::Fatal,
                   where +
                       ": TLS certificate verify failed: the server's certificate is not "
                       "issued for this host name; connect by a name it lists, or pass "
                       "--redis-tls-server-name NAME" +
                       said,
                   ErrorCause::Config, "the server's certificate is not issued for this host name");
    if (contains(text, "certificate verify failed"))
        return tls(ErrorKind::Fatal,
                   where +
                       ": TLS certificate verify failed: the server's certificate is not "
                       "signed by a trusted CA; pass --redis-tls-ca FILE with the CA that "
                       "signed it" +
                       said,
                   ErrorCause::Config, "the server's certificate is not signed by a trusted CA");
    // The server wants a client certificate: TLS 1.3 says "certificate required", 1.2 a
    // handshake failure.
    if (contains(text, "certificate required") || contains(text, "alert handshake failure") ||
        contains(text, "peer did not return a certificate"))
        return tls(ErrorKind::Fatal,
                   where +
                       ": the server refused the TLS connection without a valid "
                       "client certificate (tls-auth-clients): pass "
                       "--redis-tls-cert FILE and --redis-tls-key FILE" +
                       said,
                   ErrorCause::Auth, "the server wants a client certificate");
    if (contains(text, "bad certificate") || contains(text, "unknown ca") ||
        contains(text, "certificate expired") || contains(text, "certificate unknown"))
        return tls(ErrorKind::Fatal,
                   where +
                       ": the server rejected the client certificate: check --redis-tls-cert "
                       "and --redis-tls-key against the server's tls-ca-cert-file" +
                       said,
                   ErrorCause::Auth, "the server rejected the client certificate");
    // Something that does not speak TLS answered the handshake, or answered nothing.
    if (contains(text, "wrong version number") || contains(text, "packet length too long") ||
        contains(text, "record layer failure") || contains(text, "unknown protocol") ||
        contains(text, "http request"))
        return tls(ErrorKind::Fatal,
                   where +
                       ": the TLS handshake failed: the server does not speak TLS on this "
                       "port; use redis:// (without --redis-tls) for a plain TCP port, or the "
                       "server's tls-port" +
                       said,
                   ErrorCause::Protocol, "the server does not speak TLS on this port");
    // Silence may be a stall as well as a plain TCP port waiting for a Redis command.
    if (contains(text, "TLS handshake timed out"))
        return tls(ErrorKind::Retriable,
                   where +
                       ": no answer to the TLS handshake: if this is a plain TCP port, use "
                       "redis:// (without --redis-tls)" +
                       said,
                   ErrorCause::Timeout, "no answer to the TLS handshake (a port without TLS?)");
    if (contains(text, "unsupported protocol") || contains(text, "no protocols available"))
        return tls(ErrorKind::Fatal,
                   where + ": the server offers no TLS version this client accepts (1.2 or newer)" +
                       said,
                   ErrorCause::Protocol,
                   "the server offers no TLS version this client accepts (1.2 or newer)");
    return tls(ErrorKind::Retriable, where + ": TLS error" + said, ErrorCause::Protocol, text);
}

pb::Error errorClosedBeforeAnswering(std::string_view endpoint)
{
    const auto where = "Redis at " + std::string(endpoint);
    return redisError(ErrorKind::Retriable,
                      where + ": Redis closed the connection before answering; does it expect TLS? "
                              "use rediss://host:port (or --redis-tls)",
                      ErrorCause::Protocol, where,
                      "the server closed the connection before answering, as a TLS port does with "
                      "plain text");
}

pb::Error errorConnectTimeout(std::string_view endpoint, std::string_view timeout)
{
    const auto where = "Redis at " + std::string(endpoint);
    return redisError(ErrorKind::Retriable,
                      where + " did not accept a connection within the " + std::string(timeout) +
                          " connect timeout (a wrong address, a host that is down, or a firewall "
                          "that drops the packets): check --redis host:port and any firewall in "
                          "between",
                      ErrorCause::Unreachable, where,
                      "no connection within " + std::string(timeout) +
                          ": a wrong address, a host that is down, or a firewall in between");
}

pb::Error errorNoAnswerToHandshake(std::string_view endpoint, std::string_view timeout)
{
    const auto where = "Redis at " + std::string(endpoint);
    return redisError(ErrorKind::Retriable,
                      where + " accepted the connection but did not answer PING within " +
                          std::string(timeout) +
                          ": is a Redis server listening on this port? Check --redis host:port "
                          "(a stalled Redis looks the same)",
                      ErrorCause::Timeout, where,
                      "connected, but no answer to PING: is a Redis server listening on this "
                      "port?");
}

pb::Error errorFromTlsSetup(std::string_view what, std::string_view file, std::string_view why)
{
    std::string flag;
    if (contains(what, "CA file"))
        flag = "--redis-tls-ca";
    else if (contains(what, "certificate"))
        flag = "--redis-tls-cert";
    else if (contains(what, "key"))
        flag = "--redis-tls-key";
    std::string message = "Redis TLS: cannot " + std::string(what);
    if (!file.empty())
        message += " '" + std::string(file) + "'";
    message += " (" + std::string(why.empty() ? "no reason given" : why) + ")";
    if (!flag.empty())
        message += ": check " + flag +
                   (flag == "--redis-tls-key" ? " (a readable, unencrypted PEM key)"
                                              : " (a readable PEM file)");
    return redisError(ErrorKind::Fatal, message, ErrorCause::Config, "Redis TLS",
                      "cannot " + std::string(what) +
                          (file.empty() ? "" : " '" + std::string(file) + "'") + " (" +
                          std::string(why.empty() ? "no reason given" : why) + ")");
}

pb::Error errorFromReply(std::string_view reply, std::string_view context)
{
    const std::string who = subject(context);
    const std::string said = " [Redis said: " + std::string(reply) + "]";
    const auto c = code(reply);
    const auto make = [&](ErrorKind kind, const std::string &message, ErrorCause cause,
                          std::string_view detail) {
        return redisError(kind, message, cause, who, detail);
    };

    // Authentication: retrying with the same settings cannot help.
    if (c == "NOAUTH")
        return make(ErrorKind::Fatal,
                    who + " requires a password (NOAUTH): pass --redis-password (or set "
                          "PULSEBOARD_REDIS_PASSWORD)",
                    ErrorCause::Auth, "the server wants a password");
    if (c == "WRONGPASS" || startsWith(reply, "ERR invalid password") ||
        contains(reply, "invalid username-password"))
        return make(ErrorKind::Fatal,
                    who +
                        ": wrong password (WRONGPASS/ERR invalid password): "
                        "check --redis-password (and --redis-user)" +
                        said,
                    ErrorCause::Auth, "wrong user name or password");
    if (contains(reply, "without any password configured"))
        return make(ErrorKind::Fatal,
                    who +
                        " has no password configured, but a password was given (AUTH failed): "
                        "drop --redis-password, or set requirepass on the server" +
                        said,
                    ErrorCause::Config, "the server has no password, but one was given");
    if (c == "NOPERM")
        return make(ErrorKind::Fatal,
                    who +
                        ": permission denied by the Redis ACL: grant the user "
                        "the command and keys, or use another --redis-user" +
                        said,
                    ErrorCause::Permission, reply);

    // Cluster redirects: this connection talks to one node.
    if (c == "MOVED" || c == "ASK")
        return make(ErrorKind::Fatal,
                    who +
                        ": Redis Cluster redirect: cluster mode is not supported by this "
                        "connection; point --redis at a standalone Redis" +
                        said,
                    ErrorCause::Config,
                    "a Redis Cluster node answered: cluster mode is not supported");

    // Transient server states: the same command can succeed later.
    if (c == "LOADING")
        return make(ErrorKind::Retriable,
                    who + " is loading its data set into memory (LOADING): retrying" + said,
                    ErrorCause::Busy, "loading its data set into memory");
    if (c == "BUSY")
        return make(ErrorKind::Retriable,
                    who + " is busy running a script or function (BUSY): retrying" + said,
                    ErrorCause::Busy, "busy running a script or function");
    if (c == "MASTERDOWN")
        return make(ErrorKind::Retriable,
                    who + ": the replica lost its primary (MASTERDOWN): retrying" + said,
                    ErrorCause::Busy, "the replica lost its primary");
    if (c == "READONLY")
        return make(ErrorKind::Retriable,
                    who +
                        " is a read-only replica (READONLY): point --redis at the primary; "
                        "retrying in case of a failover" +
                        said,
                    ErrorCause::Config, "a read-only replica: connect to the primary");
    if (c == "TRYAGAIN" || c == "CLUSTERDOWN")
        return make(ErrorKind::Retriable,
                    who + ": the cluster is not ready (" + std::string(c) + "): retrying" + said,
                    ErrorCause::Busy, "the cluster is not ready");
    if (c == "OOM")
        return make(ErrorKind::Retriable,
                    who +
                        " is out of memory (OOM, maxmemory reached): free memory or raise "
                        "maxmemory; retrying" +
                        said,
                    ErrorCause::Busy, "out of memory (maxmemory reached)");
    // A restarted Redis without persistence has no scripts or functions: the caller reloads.
    if (c == "NOSCRIPT" || contains(reply, "Function not found") ||
        contains(reply, "function not found"))
        return make(ErrorKind::Retriable, who + ": " + std::string(reply), ErrorCause::Unknown,
                    reply);

    return make(ErrorKind::Fatal, who + ": " + std::string(reply), ErrorCause::Unknown, reply);
}

} // namespace pb::redis
