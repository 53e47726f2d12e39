#include "redis_connection.h"

#include "redis_error.h"

#include <charconv>
#include <poll.h>
#include <sys/time.h>

namespace pb::redis {

namespace {

timeval toTimeval(std::chrono::milliseconds ms)
{
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

std::vector<const char *> argvOf(const Command &args, std::vector<std::size_t> &lengths)
{
    std::vector<const char *> argv;
    argv.reserve(args.size());
    lengths.clear();
    lengths.reserve(args.size());
    for (const auto &a : args) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    return argv;
}

} // namespace

std::string Endpoint::toString() const
{
    if (host.find(':') != std::string::npos)
        return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

Endpoint parseEndpoint(std::string_view text)
{
    const auto bad = [&](const std::string &why) {
        return Error(ErrorKind::Fatal, "bad Redis address '" + std::string(text) + "' (" + why +
                                           "): expected host:port, e.g. 127.0.0.1:6379");
    };
    Endpoint e;
    if (text.empty())
        throw bad("empty");
    std::string_view host = text;
    std::string_view port;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            throw bad("unclosed [");
        host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                throw bad("junk after ]");
            port = rest.substr(1);
        }
    } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
        if (text.find(':') != colon)
            throw bad("put IPv6 addresses in brackets: [::1]:6379");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (port.empty())
            throw bad("missing port after ':'");
    }
    e.host = host.empty() ? "127.0.0.1" : std::string(host);
    if (!port.empty()) {
        int value = 0;
        const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc() || ptr != port.data() + port.size() || value < 1 || value > 65535)
            throw bad("the port must be a number from 1 to 65535");
        e.port = value;
    }
    return e;
}

Connection::Connection(Endpoint endpoint, ConnectionOptions options)
    : endpoint_(std::move(endpoint))
    , options_(options)
{
}

Connection::Connection(Connection &&) noexcept = default;
Connection &Connection::operator=(Connection &&) noexcept = default;
Connection::~Connection() = default;

bool Connection::connected() const
{
    return context_ != nullptr;
}

void Connection::disconnect()
{
    context_.reset();
}

void Connection::connect()
{
    context_.reset();
    // A fresh context each time: hiredis 0.14's redisReconnect drops the command timeout.
    ContextPtr ctx(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port,
                                           toTimeval(options_.connectTimeout)));
    if (!ctx || ctx->err)
        throw errorFromContext(ctx.get(), endpoint_.toString());
    const auto tv = toTimeval(options_.commandTimeout);
    if (redisSetTimeout(ctx.get(), tv) != REDIS_OK)
        throw errorFromContext(ctx.get(), endpoint_.toString());
    redisEnableKeepAlive(ctx.get());
    context_ = std::move(ctx);

    const auto check = [&](const Command &cmd, std::string_view what) {
        const auto reply = command(cmd);
        if (reply->type == REDIS_REPLY_ERROR) {
            const auto error = errorFromReply({reply->str, reply->len}, what);
            context_.reset();
            throw error;
        }
    };
    if (!endpoint_.password.empty()) {
        if (endpoint_.username.empty())
            check({"AUTH", endpoint_.password}, "AUTH");
        else
            check({"AUTH", endpoint_.username, endpoint_.password}, "AUTH");
    }
    if (endpoint_.database != 0)
        check({"SELECT", std::to_string(endpoint_.database)}, "SELECT");
    // PING proves the server answers (and, with no password, that it needs none).
    check({"PING"}, "PING");
}

void Connection::ensureConnected()
{
    if (!context_)
        connect();
}

void Connection::failIo(const char *what)
{
    if (!context_)
        throw Error(ErrorKind::Retriable, "Redis at " + endpoint_.toString() +
                                              ": no connection to " + what +
                                              " on (it was lost): retrying");
    auto error = errorFromContext(context_.get(), endpoint_.toString());
    context_.reset();
    throw error;
}

ReplyPtr Connection::command(const Command &args)
{
    ensureConnected();
    std::vector<std::size_t> lengths;
    auto argv = argvOf(args, lengths);
    ReplyPtr reply(static_cast<redisReply *>(redisCommandArgv(
        context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply)
        failIo("command");
    return reply;
}

std::vector<ReplyPtr> Connection::pipeline(const std::vector<Command> &commands)
{
    std::vector<ReplyPtr> replies;
    if (commands.empty())
        return replies;
    ensureConnected();
    std::vector<std::size_t> lengths;
    for (const auto &c : commands) {
        auto argv = argvOf(c, lengths);
        if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                                   lengths.data()) != REDIS_OK)
            failIo("append");
    }
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) {
        void *raw = nullptr;
        if (redisGetReply(context_.get(), &raw) != REDIS_OK || !raw)
            failIo("pipeline");
        replies.emplace_back(static_cast<redisReply *>(raw));
    }
    return replies;
}

void Connection::send(const Command &args)
{
    ensureConnected();
    std::vector<std::size_t> lengths;
    auto argv = argvOf(args, lengths);
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK)
        failIo("append");
    int done = 0;
    while (!done)
        if (redisBufferWrite(context_.get(), &done) != REDIS_OK)
            failIo("send");
}

ReplyPtr Connection::receive()
{
    if (!context_)
        failIo("read a reply");
    void *raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || !raw)
        failIo("read a reply");
    return ReplyPtr(static_cast<redisReply *>(raw));
}

bool Connection::replyReady() const
{
    if (!context_)
        return true; // receive() will say what went wrong at once
    pollfd fd{context_->fd, POLLIN, 0};
    return ::poll(&fd, 1, 0) != 0;
}

std::int64_t replyInteger(const redisReply *reply)
{
    if (reply->type == REDIS_REPLY_INTEGER)
        return reply->integer;
    if (reply->type == REDIS_REPLY_NIL)
        return 0; // GET of a counter nobody incremented yet
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS) {
        std::int64_t value = 0;
        const char *end = reply->str + reply->len;
        const auto [ptr, ec] = std::from_chars(reply->str, end, value);
        if (ec == std::errc() && ptr == end)
            return value;
        // Sorted-set scores come as strings like "3" or "3.5"; counts are whole.
        double d = 0;
        const auto [dptr, dec] = std::from_chars(reply->str, end, d);
        if (dec == std::errc() && dptr == end)
            return static_cast<std::int64_t>(d);
    }
    throw Error(ErrorKind::Fatal, "Redis answered '" +
                                      std::string(reply->str ? reply->str : "?", reply->len) +
                                      "' where a number was expected");
}

std::string replyString(const redisReply *reply)
{
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
        reply->type == REDIS_REPLY_ERROR)
        return {reply->str, reply->len};
    if (reply->type == REDIS_REPLY_INTEGER)
        return std::to_string(reply->integer);
    if (reply->type == REDIS_REPLY_NIL)
        return {};
    throw Error(ErrorKind::Fatal, "Redis answered an array where a string was expected");
}

bool replyIsNil(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_NIL;
}

void throwIfError(const redisReply *reply, std::string_view context)
{
    if (reply->type == REDIS_REPLY_ERROR)
        throw errorFromReply({reply->str, reply->len}, context);
}

} // namespace pb::redis
