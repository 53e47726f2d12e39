#include "redis_connection.h"

#include "redis_error.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <ctime>
#include <poll.h>
#include <sys/time.h>

namespace pb::redis {

namespace {

// Never zero: hiredis reads a zero timeout as "wait forever".
std::chrono::milliseconds atLeastOneMs(std::chrono::milliseconds ms)
{
    return ms.count() < 1 ? std::chrono::milliseconds(1) : ms;
}

timeval toTimeval(std::chrono::milliseconds ms)
{
    ms = atLeastOneMs(ms);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

std::string msText(std::chrono::milliseconds ms)
{
    return std::to_string(atLeastOneMs(ms).count()) + " ms";
}

// hiredis 0.14 has no argv form that takes a std::string; build pointer + length arrays.
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

bool timedOut(const redisContext *ctx)
{
    const std::string_view text = ctx->errstr;
    return ctx->err == REDIS_ERR_IO &&
           (text.find("timed out") != std::string_view::npos ||
            text.find("temporarily unavailable") != std::string_view::npos);
}

Error withNote(const Error &error, const std::string &note)
{
    return {error.kind(), error.what() + note};
}

// hiredis 0.14 writes with write(2), which raises SIGPIPE when the server has gone away, and
// nothing in the process ignores SIGPIPE. While a guard lives, SIGPIPE is blocked in this
// thread; one raised meanwhile is taken off the pending set so the write just fails with EPIPE
// and becomes a Retriable error. Nests: an inner guard finds SIGPIPE blocked and does nothing.
class SigpipeGuard {
public:
    SigpipeGuard()
    {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t old;
        sigemptyset(&old);
        active_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old) == 0 && !sigismember(&old, SIGPIPE);
    }
    ~SigpipeGuard()
    {
        if (!active_)
            return;
        const int savedErrno = errno;
        sigset_t pending;
        sigemptyset(&pending);
        if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
            const timespec zero{};
            while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_UNBLOCK, &pipe_, nullptr);
        errno = savedErrno;
    }
    SigpipeGuard(const SigpipeGuard &) = delete;
    SigpipeGuard &operator=(const SigpipeGuard &) = delete;

private:
    sigset_t pipe_{};
    bool active_ = false;
};

const char *typeName(int type)
{
    switch (type) {
    case REDIS_REPLY_STRING:
        return "a string";
    case REDIS_REPLY_ARRAY:
        return "an array";
    case REDIS_REPLY_INTEGER:
        return "an integer";
    case REDIS_REPLY_NIL:
        return "nil";
    case REDIS_REPLY_STATUS:
        return "a status";
    case REDIS_REPLY_ERROR:
        return "an error";
    default:
        return "an unknown reply type";
    }
}

std::string_view textOf(const redisReply *reply)
{
    return reply->str ? std::string_view(reply->str, reply->len) : std::string_view();
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
        return Error(ErrorKind::Fatal,
                     "bad Redis address '" + std::string(text) + "' (" + why +
                         "): expected host:port, host, :port or [ipv6]:port, e.g. 127.0.0.1:6379");
    };
    if (text.empty())
        throw bad("empty");
    for (const char c : text)
        if (std::isspace(static_cast<unsigned char>(c)) ||
            std::iscntrl(static_cast<unsigned char>(c)))
            throw bad("contains a space or control character");
    std::string_view host = text;
    std::string_view port;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            throw bad("unclosed [");
        host = text.substr(1, close - 1);
        if (host.empty())
            throw bad("empty host between [ ]");
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                throw bad("unexpected text after ]");
            port = rest.substr(1);
            if (port.empty())
                throw bad("missing port after ':'");
        }
    } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
        if (text.find(':') != colon)
            throw bad("put IPv6 addresses in brackets: [::1]:6379");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (port.empty())
            throw bad("missing port after ':'");
    }
    Endpoint e;
    e.host = host.empty() ? "127.0.0.1" : std::string(host);
    if (!port.empty()) {
        int value = 0;
        const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc() || ptr != port.data() + port.size() || value < 1 || value > 65535)
            throw bad("the port must be a number from 1 to 65535, not '" + std::string(port) + "'");
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
    const auto where = endpoint_.toString();
    // A fresh context every time: hiredis 0.14's redisReconnect forgets the command timeout,
    // and a socket without SO_RCVTIMEO/SO_SNDTIMEO can block forever.
    ContextPtr ctx(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port,
                                           toTimeval(options_.connectTimeout)));
    if (!ctx || ctx->err) {
        auto error = errorFromContext(ctx.get(), where);
        if (ctx && timedOut(ctx.get()))
            error =
                withNote(error, ": no connection within the " + msText(options_.connectTimeout) +
                                    " connect timeout; check --redis host:port and any "
                                    "firewall in between");
        throw error;
    }
    // A failed setsockopt leaves ctx->err set, and hiredis then refuses every call: check both.
    if (redisEnableKeepAlive(ctx.get()) != REDIS_OK ||
        redisSetTimeout(ctx.get(), toTimeval(options_.commandTimeout)) != REDIS_OK)
        throw errorFromContext(ctx.get(), where);
    context_ = std::move(ctx);

    const auto check = [&](const Command &cmd, const std::string &context) {
        const auto reply = command(cmd); // throws (and drops the context) on I/O failure
        if (reply->type == REDIS_REPLY_ERROR) {
            context_.reset();
            throw errorFromReply(textOf(reply.get()), context);
        }
    };
    const std::string who = "Redis at " + where;
    if (!endpoint_.password.empty()) {
        if (endpoint_.username.empty())
            check({"AUTH", endpoint_.password}, who);
        else
            check({"AUTH", endpoint_.username, endpoint_.password}, who);
    }
    if (endpoint_.database != 0)
        check({"SELECT", std::to_string(endpoint_.database)},
              who + " (SELECT " + std::to_string(endpoint_.database) + ", check --redis-db)");
    // PING proves the server answers, and without a password, that it wants none (NOAUTH now
    // rather than on the first real command).
    check({"PING"}, who);
}

void Connection::ensureConnected()
{
    if (!context_)
        connect();
}

void Connection::failIo(const char *what)
{
    const auto where = endpoint_.toString();
    if (!context_)
        throw Error(ErrorKind::Retriable, "Redis at " + where + ": cannot " + what +
                                              ": the connection was lost; the next command "
                                              "reconnects");
    auto error = errorFromContext(context_.get(), where);
    if (context_->err == 0)
        error = Error(ErrorKind::Retriable,
                      "Redis at " + where + ": " + what + " failed for an unknown reason");
    else if (timedOut(context_.get()))
        error = withNote(error, ": no reply within the " + msText(options_.commandTimeout) +
                                    " command timeout (a slow command, a stalled server or a "
                                    "network problem); reconnecting");
    context_.reset(); // whatever was in flight is lost: the next call starts afresh
    throw error;
}

ReplyPtr Connection::command(const Command &args)
{
    ensureConnected();
    SigpipeGuard guard;
    std::vector<std::size_t> lengths;
    auto argv = argvOf(args, lengths);
    ReplyPtr reply(static_cast<redisReply *>(redisCommandArgv(
        context_.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply)
        failIo("run a command");
    return reply;
}

std::vector<ReplyPtr> Connection::pipeline(const std::vector<Command> &commands)
{
    std::vector<ReplyPtr> replies;
    if (commands.empty())
        return replies;
    ensureConnected();
    SigpipeGuard guard;
    std::vector<std::size_t> lengths;
    for (const auto &c : commands) {
        auto argv = argvOf(c, lengths);
        if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                                   lengths.data()) != REDIS_OK)
            failIo("queue a pipelined command");
    }
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) {
        void *raw = nullptr;
        // The first call writes the whole queue out, then each call reads one reply.
        if (redisGetReply(context_.get(), &raw) != REDIS_OK || !raw)
            failIo("run a pipeline");
        replies.emplace_back(static_cast<redisReply *>(raw));
    }
    return replies;
}

void Connection::send(const Command &args)
{
    ensureConnected();
    SigpipeGuard guard;
    std::vector<std::size_t> lengths;
    auto argv = argvOf(args, lengths);
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK)
        failIo("queue a command");
    int done = 0;
    while (!done)
        if (redisBufferWrite(context_.get(), &done) != REDIS_OK)
            failIo("send a command");
}

ReplyPtr Connection::receive()
{
    if (!context_)
        failIo("read a reply");
    SigpipeGuard guard;
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
    const int ready = ::poll(&fd, 1, 0);
    if (ready < 0)
        return errno != EINTR; // a broken descriptor: let receive() report it
    return ready > 0;
}

std::int64_t replyInteger(const redisReply *reply)
{
    if (!reply)
        throw Error(ErrorKind::Fatal, "no Redis reply where a number was expected");
    switch (reply->type) {
    case REDIS_REPLY_INTEGER:
        return reply->integer;
    case REDIS_REPLY_NIL:
        return 0; // GET of a counter nobody incremented yet
    case REDIS_REPLY_ERROR:
        throw errorFromReply(textOf(reply), "");
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: {
        auto text = textOf(reply);
        if (text.size() > 1 && text.front() == '+' && text[1] != '-')
            text.remove_prefix(1);
        const char *end = text.data() + text.size();
        std::int64_t value = 0;
        if (const auto [ptr, ec] = std::from_chars(text.data(), end, value);
            !text.empty() && ec == std::errc() && ptr == end)
            return value;
        // Sorted-set scores are doubles: Redis writes a whole 1e17 as "1e+17". Whole only.
        double d = 0;
        if (const auto [ptr, ec] = std::from_chars(text.data(), end, d);
            !text.empty() && ec == std::errc() && ptr == end && std::isfinite(d) &&
            d == std::trunc(d) && std::fabs(d) < 9.2e18)
            return static_cast<std::int64_t>(d);
        throw Error(ErrorKind::Fatal, "Redis answered '" + std::string(textOf(reply)) +
                                          "' where a number was expected");
    }
    default:
        throw Error(ErrorKind::Fatal, std::string("Redis answered ") + typeName(reply->type) +
                                          " where a number was expected");
    }
}

std::string replyString(const redisReply *reply)
{
    if (!reply)
        throw Error(ErrorKind::Fatal, "no Redis reply where a string was expected");
    switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return std::string(textOf(reply));
    case REDIS_REPLY_INTEGER: // a Lua number comes back as an integer
        return std::to_string(reply->integer);
    case REDIS_REPLY_NIL:
        return {};
    case REDIS_REPLY_ERROR:
        throw errorFromReply(textOf(reply), "");
    default:
        throw Error(ErrorKind::Fatal, std::string("Redis answered ") + typeName(reply->type) +
                                          " where a string was expected");
    }
}

bool replyIsNil(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_NIL;
}

void throwIfError(const redisReply *reply, std::string_view context)
{
    if (!reply)
        throw Error(ErrorKind::Fatal, "Redis (" + std::string(context) + "): no reply");
    if (reply->type == REDIS_REPLY_ERROR)
        throw errorFromReply(textOf(reply), context);
}

} // namespace pb::redis
