#include "redis_error.h"

#include <hiredis/hiredis.h>

#include <cerrno>
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

} // namespace

pb::Error errorFromContext(const redisContext *ctx, std::string_view endpoint)
{
    const std::string where = "Redis at " + std::string(endpoint);
    if (!ctx)
        return {ErrorKind::Retriable, where + ": out of memory creating the connection"};
    const std::string text = ctx->errstr;
    if (contains(text, "Name or service not known") || contains(text, "not known") ||
        contains(text, "resolve") || contains(text, "Temporary failure in name resolution"))
        return {ErrorKind::Retriable,
                where + ": cannot resolve the host name (" + text + "): check the host"};
    switch (ctx->err) {
    case REDIS_ERR_EOF:
        return {ErrorKind::Retriable, where + " closed the connection (restarting, or "
                                              "a timeout or limit on the server side)"};
    case REDIS_ERR_IO:
        if (contains(text, "refused") || errno == ECONNREFUSED)
            return {ErrorKind::Retriable, where + " refused the connection: is redis-server "
                                                  "running there? Check the host and port"};
        if (contains(text, "timed out") || contains(text, "Resource temporarily unavailable") ||
            errno == EAGAIN || errno == ETIMEDOUT)
            return {ErrorKind::Retriable, where + " did not answer in time (" + text +
                                              "): check the host, port and firewall"};
        return {ErrorKind::Retriable, where + ": " + text};
    case REDIS_ERR_PROTOCOL:
        return {ErrorKind::Fatal, where + " does not speak the Redis protocol (" + text +
                                      "): is this the right port, and is it plain TCP?"};
    default:
        return {ErrorKind::Retriable, where + ": " + text};
    }
}

pb::Error errorFromReply(std::string_view reply, std::string_view context)
{
    std::string message = "Redis: " + std::string(context) + ": " + std::string(reply);
    if (startsWith(reply, "NOAUTH"))
        return {ErrorKind::Fatal, "Redis requires a password (NOAUTH): give it with "
                                  "--redis-password or PULSEBOARD_REDIS_PASSWORD"};
    if (startsWith(reply, "WRONGPASS") || contains(reply, "invalid password") ||
        contains(reply, "invalid username-password"))
        return {ErrorKind::Fatal,
                "Redis refused the password (" + std::string(reply) + "): check the password"};
    if (contains(reply, "without any password configured") ||
        contains(reply, "called without any password"))
        return {ErrorKind::Fatal, "Redis has no password set but one was given: remove the "
                                  "password from the settings"};
    if (startsWith(reply, "NOPERM"))
        return {ErrorKind::Fatal, message + " (the Redis ACL user lacks a permission)"};
    if (startsWith(reply, "LOADING") || startsWith(reply, "BUSY") ||
        startsWith(reply, "MASTERDOWN") || startsWith(reply, "TRYAGAIN") ||
        startsWith(reply, "CLUSTERDOWN") || startsWith(reply, "OOM") ||
        startsWith(reply, "READONLY") || contains(reply, "Function not found") ||
        startsWith(reply, "NOSCRIPT"))
        return {ErrorKind::Retriable, message};
    if (startsWith(reply, "MOVED") || startsWith(reply, "ASK"))
        return {ErrorKind::Fatal, "Redis answered with a cluster redirect (" + std::string(reply) +
                                      "): Redis Cluster is not supported by this connection yet"};
    return {ErrorKind::Fatal, message};
}

} // namespace pb::redis
