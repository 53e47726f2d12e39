#include "redis_connection.h"

#include "redis_error.h"
#include "redis_transport.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>

namespace pb::redis {

namespace {

// Never zero: poll(2) with 0 would fail every wait at once.
std::chrono::milliseconds atLeastOneMs(std::chrono::milliseconds ms)
{
    return ms.count() < 1 ? std::chrono::milliseconds(1) : ms;
}

std::string msText(std::chrono::milliseconds ms)
{
    return std::to_string(atLeastOneMs(ms).count()) + " ms";
}

// One command in RESP, encoded by hiredis (binary safe).
std::string format(const Command &args)
{
    std::vector<const char *> argv;
    std::vector<std::size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const auto &a : args) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    char *raw = nullptr;
    const int length =
        redisFormatCommandArgv(&raw, static_cast<int>(argv.size()), argv.data(), lengths.data());
    const FormattedCommandPtr text(raw);
    if (length < 0 || !text)
        throw Error(ErrorKind::Retriable, "out of memory encoding a Redis command");
    return {text.get(), static_cast<std::size_t>(length)};
}

Error withNote(const Error &error, const std::string &note)
{
    return {error.kind(),
            error.what() + note,
            {error.cause(), error.system(), error.subject(), error.detail()}};
}

// OpenSSL writes with write(2), which raises SIGPIPE when the server has gone away, and
// nothing in the process ignores SIGPIPE (plain TCP uses send(MSG_NOSIGNAL)). While a guard
// lives, SIGPIPE is blocked in this thread; one raised meanwhile is taken off the pending set so
// the write just fails with EPIPE and becomes a Retriable error. Nests: an inner guard finds
// SIGPIPE blocked and does nothing.
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
    const auto hostPort = host.find(':') != std::string::npos
                              ? "[" + host + "]:" + std::to_string(port)
                              : host + ":" + std::to_string(port);
    return tls.enabled ? "rediss://" + hostPort : hostPort;
}

namespace {

const char *const kAddressForms =
    "expected host:port, host, :port, [ipv6]:port or redis[s]://[user@]host[:port][/db], e.g. "
    "127.0.0.1:6379";

// host:port, host, :port, [v6]:port; `shown` is what error messages quote.
Endpoint parseHostPort(std::string_view text, const std::string &shown)
{
    const auto bad = [&](const std::string &why) {
        return Error(ErrorKind::Fatal,
                     "bad Redis address '" + shown + "' (" + why + "): " + kAddressForms);
    };
    std::string_view host = text;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
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
    // "[[]:1" would keep the host "[", which toString() cannot write back.
    if (host.find_first_of("[]") != std::string_view::npos)
        throw bad("brackets go only around an IPv6 address");
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

// redis://[user@]host[:port][/db] and rediss://... as redis-cli -u takes them.
Endpoint parseUrl(std::string_view text, std::string_view scheme)
{
    auto rest = text.substr(scheme.size() + 3);
    const auto slash = rest.find('/');
    const auto authority = rest.substr(0, slash);
    const auto path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    std::string_view user;
    std::string_view hostPort = authority;
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        user = authority.substr(0, at);
        hostPort = authority.substr(at + 1);
        // Never echo the URL: it holds the password.
        if (user.find(':') != std::string_view::npos)
            throw Error(ErrorKind::Fatal,
                        "a password in the Redis URL is refused (it would show in ps and the "
                        "shell history): write " +
                            std::string(scheme) + "://" +
                            std::string(user.substr(0, user.find(':'))) +
                            (user.find(':') ? "@" : "") + std::string(hostPort) +
                            (slash == std::string_view::npos ? "" : "/" + std::string(path)) +
                            " and set the PULSEBOARD_REDIS_PASSWORD environment variable");
    }
    const std::string shown(text);
    const auto bad = [&](const std::string &why) {
        return Error(ErrorKind::Fatal,
                     "bad Redis address '" + shown + "' (" + why + "): " + kAddressForms);
    };
    if (hostPort.empty())
        throw bad("no host");
    if (rest.find_first_of("?#") != std::string_view::npos)
        throw bad("query and fragment parameters are not supported");
    if (user.find('@') != std::string_view::npos)
        throw bad("more than one @");
    auto e = parseHostPort(hostPort, shown);
    e.username = std::string(user);
    if (!path.empty()) {
        int db = -1;
        const auto [ptr, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
        if (ec != std::errc() || ptr != path.data() + path.size() || db < 0)
            throw bad("the path must be a database number, not '/" + std::string(path) + "'");
        e.database = db;
    }
    e.tls.enabled = scheme == "rediss";
    return e;
}

} // namespace

Endpoint parseEndpoint(std::string_view text)
{
    // Checked before anything quotes the text: a URL may carry a password.
    const auto schemeEnd = text.find("://");
    if (schemeEnd != std::string_view::npos) {
        const auto scheme = text.substr(0, schemeEnd);
        for (const char c : text)
            if (std::isspace(static_cast<unsigned char>(c)) ||
                std::iscntrl(static_cast<unsigned char>(c)))
                throw Error(ErrorKind::Fatal, "bad Redis URL (it contains a space or control "
                                              "character): " +
                                                  std::string(kAddressForms));
        if (scheme != "redis" && scheme != "rediss")
            throw Error(ErrorKind::Fatal, "bad Redis address: unknown scheme '" +
                                              std::string(scheme) + "://' (" + kAddressForms +
                                              "; unix sockets are not supported)");
        return parseUrl(text, scheme);
    }
    const std::string shown(text);
    if (text.empty())
        throw Error(ErrorKind::Fatal,
                    "bad Redis address '' (empty): " + std::string(kAddressForms));
    for (const char c : text)
        if (std::isspace(static_cast<unsigned char>(c)) ||
            std::iscntrl(static_cast<unsigned char>(c)))
            throw Error(ErrorKind::Fatal,
                        "bad Redis address '" + shown +
                            "' (contains a space or control character): " + kAddressForms);
    if (text.find('@') != std::string_view::npos || text.find('/') != std::string_view::npos)
        throw Error(ErrorKind::Fatal,
                    "bad Redis address '" + shown +
                        "' (a user or database needs the URL form): " + kAddressForms);
    return parseHostPort(text, shown);
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
    return transport_ != nullptr;
}

void Connection::disconnect()
{
    transport_.reset();
    reader_.reset();
}

void Connection::connect()
{
    disconnect();
    const auto where = endpoint_.toString();
    if (endpoint_.tls.enabled && !tls_)
        tls_ = std::make_unique<TlsContext>(endpoint_.tls); // Fatal on a bad file
    SigpipeGuard guard;
    auto transport = std::make_unique<Transport>();
    if (!transport->open(endpoint_, tls_.get(), atLeastOneMs(options_.connectTimeout))) {
        const auto failure = transport->failure();
        const auto &text = transport->failureText();
        if (failure == TransportFailure::Tls)
            throw errorFromTls(text, where);
        if (failure == TransportFailure::Timeout) {
            const std::string note = ": no connection within the " +
                                     msText(options_.connectTimeout) + " connect timeout";
            if (transport->tls())
                throw withNote(errorFromTls(text, where), note);
            throw errorConnectTimeout(where, msText(options_.connectTimeout));
        }
        throw errorFromIo(failure == TransportFailure::Resolve ? REDIS_ERR_OTHER
                          : failure == TransportFailure::Eof   ? REDIS_ERR_EOF
                                                               : REDIS_ERR_IO,
                          text, where);
    }
    ReaderPtr reader(redisReaderCreate());
    if (!reader)
        throw errorFromIo(REDIS_ERR_OOM, "Out of memory", where);
    transport_ = std::move(transport);
    reader_ = std::move(reader);

    struct Handshaking {
        bool &flag;
        explicit Handshaking(bool &f)
            : flag(f)
        {
            flag = true;
        }
        ~Handshaking() { flag = false; }
        Handshaking(const Handshaking &) = delete;
        Handshaking &operator=(const Handshaking &) = delete;
    } handshaking(handshaking_);
    const auto check = [&](const Command &cmd, const std::string &context) {
        const auto reply = command(cmd); // throws (and drops the connection) on I/O failure
        if (reply->type == REDIS_REPLY_ERROR) {
            disconnect();
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
    if (!transport_)
        connect();
}

void Connection::failIo(const char *what)
{
    const auto where = endpoint_.toString();
    if (!transport_)
        throw Error(ErrorKind::Retriable, "Redis at " + where + ": cannot " + what +
                                              ": the connection was lost; the next command "
                                              "reconnects");
    const auto failure = transport_->failure();
    const auto text = transport_->failureText();
    const bool tls = transport_->tls();
    disconnect(); // whatever was in flight is lost: the next call starts afresh
    switch (failure) {
    case TransportFailure::Tls:
        throw errorFromTls(text, where);
    case TransportFailure::Timeout:
        // Connected, and not a word back to AUTH or PING: a stalled Redis, or not Redis at all.
        if (handshaking_)
            throw errorNoAnswerToHandshake(where, msText(options_.commandTimeout));
        throw withNote(errorFromIo(REDIS_ERR_IO, text, where),
                       ": no reply within the " + msText(options_.commandTimeout) +
                           " command timeout (a slow command, a stalled server or a network "
                           "problem); reconnecting");
    case TransportFailure::Eof:
    case TransportFailure::Io:
        // A TLS port hangs up on the plain-text AUTH/PING without a word.
        if (handshaking_ && !tls)
            throw errorClosedBeforeAnswering(where);
        throw errorFromIo(failure == TransportFailure::Eof ? REDIS_ERR_EOF : REDIS_ERR_IO, text,
                          where);
    case TransportFailure::Resolve:
        throw errorFromIo(REDIS_ERR_OTHER, text, where);
    case TransportFailure::None:
        break;
    }
    throw Error(ErrorKind::Retriable,
                "Redis at " + where + ": " + what + " failed for an unknown reason");
}

void Connection::writeOut(const std::string &bytes, const char *what)
{
    if (!transport_->write(bytes, atLeastOneMs(options_.commandTimeout)))
        failIo(what);
}

ReplyPtr Connection::readReply(const char *what)
{
    for (;;) {
        void *raw = nullptr;
        if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
            const std::string text = reader_->errstr;
            disconnect();
            throw errorFromIo(REDIS_ERR_PROTOCOL, text, endpoint_.toString());
        }
        if (raw)
            return ReplyPtr(static_cast<redisReply *>(raw));
        char buffer[16 * 1024];
        const auto n =
            transport_->read(buffer, sizeof buffer, atLeastOneMs(options_.commandTimeout));
        if (n == 0)
            failIo(what);
        if (redisReaderFeed(reader_.get(), buffer, n) != REDIS_OK) {
            disconnect();
            throw errorFromIo(REDIS_ERR_OOM, "Out of memory", endpoint_.toString());
        }
    }
}

ReplyPtr Connection::command(const Command &args)
{
    ensureConnected();
    SigpipeGuard guard;
    writeOut(format(args), "run a command");
    return readReply("run a command");
}

std::vector<ReplyPtr> Connection::pipeline(const std::vector<Command> &commands)
{
    std::vector<ReplyPtr> replies;
    if (commands.empty())
        return replies;
    ensureConnected();
    SigpipeGuard guard;
    std::string out;
    for (const auto &c : commands)
        out += format(c);
    writeOut(out, "run a pipeline");
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i)
        replies.push_back(readReply("run a pipeline"));
    return replies;
}

void Connection::send(const Command &args)
{
    ensureConnected();
    SigpipeGuard guard;
    writeOut(format(args), "send a command");
}

ReplyPtr Connection::receive()
{
    if (!transport_)
        failIo("read a reply");
    SigpipeGuard guard;
    return readReply("read a reply");
}

bool Connection::replyReady() const
{
    if (!transport_)
        return true; // receive() will say what went wrong at once
    // Bytes the reader holds but has not turned into a reply yet (the rest may be on its way).
    if (reader_->pos < reader_->len)
        return true;
    return transport_->readable();
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
