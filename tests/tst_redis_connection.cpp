// The Redis connection against a real redis-server: binary safety, pipelining, error replies,
// timeouts, reconnects, passwords, error classification, and the embedded server's lifecycle.
// A missing redis-server fails the test (initTestCase) rather than skipping it.

#include "redis/embedded_redis.h"
#include "redis/redis_connection.h"
#include "redis/redis_error.h"
#include "support/catch_error.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QtTest>

#include <arpa/inet.h>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <optional>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace pb;
using namespace pb::redis;
using pb::test::catchError;
using namespace std::chrono_literals;

namespace {

// A loopback TCP socket that listens but whose owner decides what (if anything) it answers.
class Listener {
public:
    Listener()
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
            ::listen(fd_, 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
            throw std::runtime_error("cannot listen on loopback");
        port_ = ntohs(addr.sin_port);
    }
    ~Listener() { ::close(fd_); }
    Listener(const Listener &) = delete;
    Listener &operator=(const Listener &) = delete;
    int fd() const { return fd_; }
    int port() const { return port_; }

private:
    int fd_ = -1;
    int port_ = 0;
};

Endpoint loopbackEndpoint(int port)
{
    Endpoint e;
    e.port = port;
    return e;
}

std::string pong(Connection &c)
{
    return replyString(c.command({"PING"}).get());
}

// redis-server chdirs into its --dir: the temporary directory of an EmbeddedRedis.
std::filesystem::path serverDirectory(pid_t pid)
{
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec);
}

std::string readAll(const std::filesystem::path &file)
{
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

class TestRedisConnection : public QObject {
    Q_OBJECT

    std::unique_ptr<EmbeddedRedis> server_;

private Q_SLOTS:
    void initTestCase()
    {
        try {
            EmbeddedRedisOptions options;
            options.debugCommands = true; // DEBUG SLEEP stands in for a slow server
            server_ = std::make_unique<EmbeddedRedis>(options);
        } catch (const Error &e) {
            QFAIL(qPrintable(QStringLiteral("cannot start the embedded redis-server these tests "
                                            "need: %1")
                                 .arg(QString::fromUtf8(e.what()))));
        }
        QVERIFY(server_->running());
        QVERIFY(server_->port() > 0);
    }

    // ---- basics ---------------------------------------------------------------------------

    void givenAServer_whenPinged_thenPongAndConnectedUntilDisconnect()
    {
        Connection c(server_->endpoint());
        QVERIFY(!c.connected());
        QCOMPARE(pong(c), std::string("PONG"));
        QVERIFY(c.connected());
        c.disconnect();
        QVERIFY(!c.connected());
        QCOMPARE(pong(c), std::string("PONG")); // reconnects lazily
        QVERIFY(c.connected());
    }

    void givenBinaryValues_whenStoredAndRead_thenEveryByteSurvives()
    {
        Connection c(server_->endpoint());
        const std::string key("bin\0key\xff", 8);
        const std::string value("a\0b\xff\r\n\0", 7);
        QCOMPARE(replyString(c.command({"SET", key, value}).get()), std::string("OK"));
        const auto reply = c.command({"GET", key});
        QCOMPARE(reply->type, REDIS_REPLY_STRING);
        QCOMPARE(reply->len, value.size());
        QCOMPARE(replyString(reply.get()), value);
        // The plain key without the bytes after \0 is another key.
        QVERIFY(replyIsNil(c.command({"GET", "bin"}).get()));

        std::string big(1 << 20, '\0');
        for (std::size_t i = 0; i < big.size(); ++i)
            big[i] = static_cast<char>(i * 31 % 256);
        c.command({"SET", "big", big});
        QCOMPARE(replyString(c.command({"GET", "big"}).get()), big);
        QCOMPARE(replyString(c.command({"GET", "empty-value-key"}).get()), std::string());
        c.command({"SET", "empty", ""});
        const auto empty = c.command({"GET", "empty"});
        QCOMPARE(empty->type, REDIS_REPLY_STRING);
        QCOMPARE(empty->len, std::size_t(0));
    }

    void givenAPipelineOf1000Incrs_whenSent_thenRepliesComeBackInOrder()
    {
        Connection c(server_->endpoint());
        c.command({"DEL", "n"});
        const std::vector<Command> commands(1000, Command{"INCR", "n"});
        const auto replies = c.pipeline(commands);
        QCOMPARE(replies.size(), std::size_t(1000));
        for (std::size_t i = 0; i < replies.size(); ++i)
            QCOMPARE(replyInteger(replies[i].get()), static_cast<std::int64_t>(i + 1));
        QCOMPARE(replyInteger(c.command({"GET", "n"}).get()), std::int64_t(1000));
    }

    void givenAnEmptyPipeline_whenSent_thenNothingHappensAndNoConnectionIsMade()
    {
        Connection dead(loopbackEndpoint(pickFreeLoopbackPort()));
        const auto caught = catchError([&] { QVERIFY(dead.pipeline({}).empty()); });
        QVERIFY2(!caught.error, qPrintable(caught.message()));
        QVERIFY(!dead.connected());
    }

    void givenAPipelineWithAFailingCommand_whenSent_thenTheErrorIsOneReplyAmongOthers()
    {
        Connection c(server_->endpoint());
        c.command({"SET", "text", "abc"});
        const auto replies =
            c.pipeline({{"SET", "p1", "1"}, {"INCR", "text"}, {"INCR", "p1"}, {"GET", "nope"}});
        QCOMPARE(replies.size(), std::size_t(4));
        QCOMPARE(replyString(replies[0].get()), std::string("OK"));
        QCOMPARE(replies[1]->type, REDIS_REPLY_ERROR);
        QCOMPARE(replyInteger(replies[2].get()), std::int64_t(2));
        QVERIFY(replyIsNil(replies[3].get()));
    }

    void givenAWrongTypeCommand_whenSent_thenTheErrorReplyIsReturnedNotThrown()
    {
        Connection c(server_->endpoint());
        c.command({"SET", "s", "text"});
        ReplyPtr reply;
        const auto sent = catchError([&] { reply = c.command({"INCR", "s"}); });
        QVERIFY2(!sent.error, qPrintable(sent.message()));
        QCOMPARE(reply->type, REDIS_REPLY_ERROR);
        QVERIFY(std::string(reply->str, reply->len).find("not an integer") != std::string::npos);
        QVERIFY(c.connected()); // an error reply is not an I/O failure

        const auto thrown = catchError([&] { throwIfError(reply.get(), "INCR s"); });
        QVERIFY(thrown.error);
        QVERIFY(!thrown.error->retriable());
        QVERIFY2(thrown.message().contains("INCR s") && thrown.message().contains("not an integer"),
                 qPrintable(thrown.message()));
        QCOMPARE(pong(c), std::string("PONG"));
    }

    void givenSendAndReceive_whenSplit_thenTheReplyIsReadyLaterAndMatches()
    {
        Connection c(server_->endpoint());
        c.send({"ECHO", "split"});
        QElapsedTimer timer;
        timer.start();
        while (!c.replyReady() && timer.elapsed() < 3000)
            std::this_thread::sleep_for(1ms);
        QVERIFY(c.replyReady());
        QCOMPARE(replyString(c.receive().get()), std::string("split"));

        Connection never(server_->endpoint());
        const auto caught = catchError([&] { never.receive(); });
        QVERIFY(caught.error);
        QVERIFY(caught.error->retriable());
    }

    // ---- reply helpers ----------------------------------------------------------------------

    void givenReplies_whenReadAsNumbersAndStrings_thenConvertedOrFatal()
    {
        Connection c(server_->endpoint());
        c.command({"DEL", "missing"});
        QCOMPARE(replyInteger(c.command({"GET", "missing"}).get()), std::int64_t(0)); // nil
        QCOMPARE(replyString(c.command({"GET", "missing"}).get()), std::string());
        c.command({"SET", "neg", "-42"});
        QCOMPARE(replyInteger(c.command({"GET", "neg"}).get()), std::int64_t(-42));
        c.command({"SET", "pos", "+7"});
        QCOMPARE(replyInteger(c.command({"GET", "pos"}).get()), std::int64_t(7));
        c.command({"SET", "max", "9223372036854775807"});
        QCOMPARE(replyInteger(c.command({"GET", "max"}).get()), INT64_MAX);
        c.command({"DEL", "counter-s"});
        QCOMPARE(replyString(c.command({"INCRBY", "counter-s", "5"}).get()), std::string("5"));

        c.command({"ZADD", "z", "3", "a"});
        QCOMPARE(replyInteger(c.command({"ZSCORE", "z", "a"}).get()), std::int64_t(3));

        for (const char *bad : {"abc", "12abc", "", "3.5", "+"}) {
            c.command({"SET", "bad", bad});
            const auto caught = catchError([&] { replyInteger(c.command({"GET", "bad"}).get()); });
            QVERIFY2(caught.error, bad);
            QVERIFY(!caught.error->retriable());
            QVERIFY2(caught.message().contains("number"), qPrintable(caught.message()));
        }
        const auto array = c.command({"ZRANGE", "z", "0", "-1"});
        QVERIFY(catchError([&] { replyString(array.get()); }).error);
        QVERIFY(catchError([&] { replyInteger(array.get()); }).error);
        QVERIFY(!replyIsNil(array.get()));
    }

    // ---- timeouts and outages -----------------------------------------------------------------

    void givenASlowCommand_whenItOutlastsTheTimeout_thenARetriableErrorComesInTime()
    {
        Connection c(server_->endpoint(), {1000ms, 300ms});
        c.connect();
        const auto caught = catchError([&] { c.command({"DEBUG", "SLEEP", "2"}); });
        QVERIFY2(caught.error, "DEBUG SLEEP 2 returned within a 300 ms timeout");
        QVERIFY(caught.error->retriable());
        QVERIFY2(caught.message().contains("300 ms"), qPrintable(caught.message()));
        QVERIFY2(caught.message().contains(QString::fromStdString(server_->endpoint().toString())),
                 qPrintable(caught.message()));
        QVERIFY2(caught.ms < 1000, qPrintable(QString::number(caught.ms)));
        QVERIFY(!c.connected());
        // A patient connection waits out the rest of the sleep; then the first one reconnects.
        Connection patient(server_->endpoint(), {1000ms, 5000ms});
        QCOMPARE(pong(patient), std::string("PONG"));
        QCOMPARE(pong(c), std::string("PONG"));
    }

    void givenAServerThatNeverAnswers_whenConnecting_thenTheCommandTimeoutEndsIt()
    {
        Listener silent; // accepts in the kernel, never replies
        Connection c(loopbackEndpoint(silent.port()), {1000ms, 300ms});
        const auto caught = catchError([&] { c.connect(); });
        QVERIFY(caught.error);
        QVERIFY(caught.error->retriable());
        QVERIFY2(caught.message().contains("did not answer PING within 300 ms"),
                 qPrintable(caught.message()));
        QCOMPARE(caught.error->cause(), ErrorCause::Timeout);
        QVERIFY2(caught.ms < 1500, qPrintable(QString::number(caught.ms)));
        QVERIFY(!c.connected());
    }

    void givenSomethingElseOnThePort_whenConnecting_thenAFatalProtocolError()
    {
        Listener http;
        std::thread answer([&] {
            const int client = ::accept(http.fd(), nullptr, nullptr);
            if (client < 0)
                return;
            const char text[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
            [[maybe_unused]] const auto n = ::write(client, text, sizeof text - 1);
            std::this_thread::sleep_for(500ms);
            ::close(client);
        });
        Connection c(loopbackEndpoint(http.port()), {1000ms, 2000ms});
        const auto caught = catchError([&] { c.connect(); });
        answer.join();
        QVERIFY(caught.error);
        QVERIFY(!caught.error->retriable());
        QVERIFY2(caught.message().contains("does not speak the Redis protocol"),
                 qPrintable(caught.message()));
    }

    void givenTheServerRestarts_whenTheSameConnectionIsUsed_thenItFailsThenReconnects()
    {
        const auto where = QString::fromStdString(server_->endpoint().toString());
        const int port = server_->port();
        const pid_t before = server_->pid();
        Connection c(server_->endpoint());
        c.command({"SET", "survivor", "1"});
        server_->stop();
        QVERIFY(!server_->running());
        server_->stop(); // twice is fine
        QCOMPARE(::kill(before, 0), -1);

        for (int i = 0; i < 2; ++i) { // once on the old socket, once reconnecting
            const auto caught = catchError([&] { c.command({"PING"}); });
            QVERIFY2(caught.error, "a command to a stopped server succeeded");
            QVERIFY(caught.error->retriable());
            QVERIFY2(caught.message().contains(where), qPrintable(caught.message()));
            QVERIFY2(caught.ms < 3000, qPrintable(QString::number(caught.ms)));
            QVERIFY(!c.connected());
        }

        server_->start();
        QVERIFY(server_->running());
        QCOMPARE(server_->port(), port);
        QVERIFY(server_->pid() != before);
        QCOMPARE(pong(c), std::string("PONG"));
        QVERIFY(replyIsNil(c.command({"GET", "survivor"}).get())); // no persistence
    }

    void givenADeadServer_whenABigPipelineIsWritten_thenARetriableErrorAndNoSigpipe()
    {
        EmbeddedRedis doomed;
        Connection c(doomed.endpoint());
        c.connect();
        doomed.stop();
        // Megabytes into a socket whose peer is gone: write(2) fails with EPIPE, which kills
        // the process with SIGPIPE unless the connection keeps it away.
        const std::string chunk(64 * 1024, 'x');
        const std::vector<Command> commands(200, Command{"SET", "k", chunk});
        const auto caught = catchError([&] { c.pipeline(commands); });
        QVERIFY(caught.error);
        QVERIFY(caught.error->retriable());
        QVERIFY(!c.connected());
        sigset_t mask;
        sigset_t pending;
        pthread_sigmask(SIG_BLOCK, nullptr, &mask);
        sigpending(&pending);
        QVERIFY(!sigismember(&mask, SIGPIPE));    // the mask is back as it was
        QVERIFY(!sigismember(&pending, SIGPIPE)); // and nothing is left to fire later
    }

    void givenNobodyListens_whenConnecting_thenRefusedQuickly()
    {
        const auto e = loopbackEndpoint(pickFreeLoopbackPort());
        Connection c(e);
        const auto caught = catchError([&] { c.connect(); });
        QVERIFY2(caught.error, "connected to a port nobody listens on");
        QVERIFY(caught.error->retriable());
        QVERIFY2(caught.message().contains("refused the connection"), qPrintable(caught.message()));
        QVERIFY2(caught.message().contains(QString::fromStdString(e.toString())),
                 qPrintable(caught.message()));
        QVERIFY2(caught.message().contains("--redis"), qPrintable(caught.message()));
        QVERIFY2(caught.ms < 3000, qPrintable(QString::number(caught.ms)));
        QVERIFY(!c.connected());
    }

    void givenAnUnknownHost_whenConnecting_thenCannotResolveAndRetriable()
    {
        Endpoint e;
        e.host = "no-such-host.invalid";
        Connection c(e, {1000ms, 1000ms});
        const auto caught = catchError([&] { c.connect(); });
        QVERIFY(caught.error);
        QVERIFY(caught.error->retriable());
        QVERIFY2(caught.message().contains("cannot resolve host"), qPrintable(caught.message()));
        QVERIFY2(caught.message().contains("no-such-host.invalid"), qPrintable(caught.message()));
    }

    // ---- authentication and databases ---------------------------------------------------------

    void givenAPassword_whenWrongMissingOrRight_thenFatalFatalFine()
    {
        EmbeddedRedisOptions options;
        options.password = "pa ss\"word\\";
        EmbeddedRedis locked(options);
        auto e = locked.endpoint();
        QCOMPARE(e.password, options.password);
        const auto where = QString::fromStdString(e.toString());

        e.password = "wrong";
        auto caught = catchError([&] { Connection(e).connect(); });
        QVERIFY2(caught.error, "a wrong password was accepted");
        QVERIFY(!caught.error->retriable());
        QVERIFY2(caught.message().contains("wrong password") &&
                     caught.message().contains("--redis-password") &&
                     caught.message().contains(where),
                 qPrintable(caught.message()));

        e.password.clear();
        caught = catchError([&] { Connection(e).connect(); });
        QVERIFY2(caught.error, "no password was accepted");
        QVERIFY(!caught.error->retriable());
        QVERIFY2(caught.message().contains("NOAUTH") &&
                     caught.message().contains("requires a password") &&
                     caught.message().contains(where),
                 qPrintable(caught.message()));

        Connection right(locked.endpoint());
        QCOMPARE(pong(right), std::string("PONG"));

        e = locked.endpoint();
        e.username = "default"; // AUTH user password (Redis 6 ACL form)
        Connection acl(e);
        QCOMPARE(pong(acl), std::string("PONG"));
        e.username = "nobody";
        caught = catchError([&] { Connection(e).connect(); });
        QVERIFY(caught.error);
        QVERIFY(!caught.error->retriable());
        QVERIFY2(caught.message().contains("password"), qPrintable(caught.message()));
    }

    void givenTheEmbeddedRedis_whenAnotherClientComes_thenItNeedsThePasswordAndDebugIsOff()
    {
        EmbeddedRedis embedded; // as the dashboard and the demo start it
        auto e = embedded.endpoint();
        QCOMPARE(e.password.size(), std::size_t(64)); // 32 random bytes
        QVERIFY(e.password != EmbeddedRedis().endpoint().password);
        const auto file = embedded.passwordFile();
        QCOMPARE(QFileInfo(QString::fromStdString(file.string())).permissions().toInt() & 0x0077,
                 0);
        QFile saved(QString::fromStdString(file.string()));
        QVERIFY(saved.open(QIODevice::ReadOnly));
        QCOMPARE(saved.readAll().toStdString(), e.password);

        auto stranger = e;
        stranger.password.clear();
        const auto caught = catchError([&] { Connection(stranger).connect(); });
        QVERIFY2(caught.message().contains("NOAUTH"), qPrintable(caught.message()));
        Connection owner(e);
        const auto debug = owner.command({"DEBUG", "SLEEP", "0"});
        QCOMPARE(debug->type, REDIS_REPLY_ERROR);
        QVERIFY2(std::string_view(debug->str, debug->len).find("DEBUG command not allowed") !=
                     std::string_view::npos,
                 debug->str);
    }

    void givenAServerWithoutPassword_whenAPasswordIsGiven_thenAFatalClearError()
    {
        EmbeddedRedisOptions options;
        options.requirePassword = false;
        EmbeddedRedis open(options);
        auto e = open.endpoint();
        e.password = "unneeded";
        const auto caught = catchError([&] { Connection(e).connect(); });
        QVERIFY(caught.error);
        QVERIFY(!caught.error->retriable());
        QVERIFY2(caught.message().contains("no password configured"), qPrintable(caught.message()));
    }

    void givenADatabaseNumber_whenConnected_thenKeysLiveInThatDatabase()
    {
        auto e = server_->endpoint();
        e.database = 5;
        Connection five(e);
        five.command({"SET", "db-key", "five"});
        Connection zero(server_->endpoint());
        zero.command({"DEL", "db-key"});
        QVERIFY(replyIsNil(zero.command({"GET", "db-key"}).get()));
        five.disconnect(); // the database is selected again on reconnect
        QCOMPARE(replyString(five.command({"GET", "db-key"}).get()), std::string("five"));

        e.database = 9999;
        const auto caught = catchError([&] { Connection(e).connect(); });
        QVERIFY(caught.error);
        QVERIFY(!caught.error->retriable());
        QVERIFY2(caught.message().contains("SELECT 9999"), qPrintable(caught.message()));
    }

    // ---- endpoints and error classification --------------------------------------------------

    void givenEndpointTexts_whenParsed_thenHostAndPortOrAClearError_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("host"); // empty: rejected
        QTest::addColumn<int>("port");
        QTest::newRow("host:port") << "redis.local:6380"
                                   << "redis.local" << 6380;
        QTest::newRow("host") << "redis.local"
                              << "redis.local" << 6379;
        QTest::newRow("ip:port") << "10.0.0.7:1"
                                 << "10.0.0.7" << 1;
        QTest::newRow("max port") << "h:65535"
                                  << "h" << 65535;
        QTest::newRow(":port") << ":7000"
                               << "127.0.0.1" << 7000;
        QTest::newRow("ipv6:port") << "[::1]:6390"
                                   << "::1" << 6390;
        QTest::newRow("ipv6") << "[fe80::1]"
                              << "fe80::1" << 6379;
        QTest::newRow("empty") << ""
                               << "" << 0;
        QTest::newRow("port 0") << "h:0"
                                << "" << 0;
        QTest::newRow("port too big") << "h:70000"
                                      << "" << 0;
        QTest::newRow("port huge") << "h:99999999999999999999"
                                   << "" << 0;
        QTest::newRow("negative port") << "h:-1"
                                       << "" << 0;
        QTest::newRow("port not a number") << "h:abc"
                                           << "" << 0;
        QTest::newRow("port with junk") << "h:63 79"
                                        << "" << 0;
        QTest::newRow("missing port") << "h:"
                                      << "" << 0;
        QTest::newRow("bare ipv6") << "::1:6379"
                                   << "" << 0;
        QTest::newRow("unclosed bracket") << "[::1:6379"
                                          << "" << 0;
        QTest::newRow("empty brackets") << "[]:6379"
                                        << "" << 0;
        QTest::newRow("junk after bracket") << "[::1]6379"
                                            << "" << 0;
        QTest::newRow("space in host") << "my host:6379"
                                       << "" << 0;
        // Found by fuzzing: the host "[" did not survive toString().
        QTest::newRow("bracket in brackets") << "[[]:1"
                                             << "" << 0;
        QTest::newRow("bracket in host") << "a]b:1"
                                         << "" << 0;
    }
    void givenEndpointTexts_whenParsed_thenHostAndPortOrAClearError()
    {
        QFETCH(QString, text);
        QFETCH(QString, host);
        QFETCH(int, port);
        if (host.isEmpty()) {
            const auto caught = catchError([&] { parseEndpoint(text.toStdString()); });
            QVERIFY2(caught.error, "accepted");
            QVERIFY(!caught.error->retriable());
            QVERIFY2(caught.message().contains("'" + text + "'"), qPrintable(caught.message()));
            QVERIFY2(caught.message().contains("host:port"), qPrintable(caught.message()));
            return;
        }
        const auto e = parseEndpoint(text.toStdString());
        QCOMPARE(QString::fromStdString(e.host), host);
        QCOMPARE(e.port, port);
        QVERIFY(e.password.empty());
        QCOMPARE(e.database, 0);
        // toString() round-trips.
        const auto again = parseEndpoint(e.toString());
        QCOMPARE(again.host, e.host);
        QCOMPARE(again.port, e.port);
    }

    void givenRedisUrls_whenParsed_thenEveryFieldOrAClearError_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("port");
        QTest::addColumn<QString>("user");
        QTest::addColumn<int>("database");
        QTest::addColumn<bool>("tls");
        QTest::addColumn<QString>("error"); // non-empty: rejected with this in the message
        QTest::newRow("redis host") << "redis://cache.local"
                                    << "cache.local" << 6379 << "" << 0 << false << "";
        QTest::newRow("redis host:port/db") << "redis://cache.local:6380/3"
                                            << "cache.local" << 6380 << "" << 3 << false << "";
        QTest::newRow("rediss") << "rediss://cache.local"
                                << "cache.local" << 6379 << "" << 0 << true << "";
        QTest::newRow("rediss user") << "rediss://alice@cache.local:6390/0"
                                     << "cache.local" << 6390 << "alice" << 0 << true << "";
        QTest::newRow("rediss ipv6") << "rediss://[::1]:6390"
                                     << "::1" << 6390 << "" << 0 << true << "";
        QTest::newRow("trailing slash") << "redis://h:1/"
                                        << "h" << 1 << "" << 0 << false << "";
        QTest::newRow("no host, port") << "redis://:7000"
                                       << "127.0.0.1" << 7000 << "" << 0 << false << "";
        QTest::newRow("password") << "redis://alice:s3cret@h:6379"
                                  << "" << 0 << "" << 0 << false << "PULSEBOARD_REDIS_PASSWORD";
        QTest::newRow("password, no user")
            << "rediss://:s3cret@h/2"
            << "" << 0 << "" << 0 << false << "PULSEBOARD_REDIS_PASSWORD";
        QTest::newRow("password with @")
            << "redis://alice:s3c@ret@h"
            << "" << 0 << "" << 0 << false << "PULSEBOARD_REDIS_PASSWORD";
        QTest::newRow("unknown scheme") << "http://h:6379"
                                        << "" << 0 << "" << 0 << false << "unknown scheme";
        QTest::newRow("unix socket") << "unix:///tmp/redis.sock"
                                     << "" << 0 << "" << 0 << false << "unix";
        QTest::newRow("no host") << "redis://"
                                 << "" << 0 << "" << 0 << false << "no host";
        QTest::newRow("bad db") << "redis://h/x"
                                << "" << 0 << "" << 0 << false << "database number";
        QTest::newRow("negative db") << "redis://h/-1"
                                     << "" << 0 << "" << 0 << false << "database number";
        QTest::newRow("bad port") << "rediss://h:99999"
                                  << "" << 0 << "" << 0 << false << "1 to 65535";
        QTest::newRow("query") << "redis://h:1?timeout=3"
                               << "" << 0 << "" << 0 << false << "not supported";
        QTest::newRow("user without URL") << "alice@h:6379"
                                          << "" << 0 << "" << 0 << false << "URL form";
    }
    void givenRedisUrls_whenParsed_thenEveryFieldOrAClearError()
    {
        QFETCH(QString, text);
        QFETCH(QString, host);
        QFETCH(int, port);
        QFETCH(QString, user);
        QFETCH(int, database);
        QFETCH(bool, tls);
        QFETCH(QString, error);
        if (!error.isEmpty()) {
            const auto caught = catchError([&] { parseEndpoint(text.toStdString()); });
            QVERIFY2(caught.error, "accepted");
            QVERIFY(!caught.error->retriable());
            QVERIFY2(caught.message().contains(error), qPrintable(caught.message()));
            QVERIFY2(!caught.message().contains("s3c"), qPrintable(caught.message())); // secret
            return;
        }
        const auto e = parseEndpoint(text.toStdString());
        QCOMPARE(QString::fromStdString(e.host), host);
        QCOMPARE(e.port, port);
        QCOMPARE(QString::fromStdString(e.username), user);
        QCOMPARE(e.database, database);
        QCOMPARE(e.tls.enabled, tls);
        QVERIFY(e.password.empty());
        // The TLS defaults: verify, the system CA store, the host as the name.
        QVERIFY(!e.tls.insecure);
        QVERIFY(e.tls.caFile.empty() && e.tls.serverName.empty());
        const auto again = parseEndpoint(e.toString()); // "rediss://host:port" with TLS
        QCOMPARE(again.host, e.host);
        QCOMPARE(again.port, e.port);
        QCOMPARE(again.tls.enabled, e.tls.enabled);
    }

    void givenErrorReplies_whenClassified_thenKindAndAdvice_data()
    {
        QTest::addColumn<QString>("reply");
        QTest::addColumn<bool>("retriable");
        QTest::addColumn<QString>("expected");
        QTest::newRow("NOAUTH") << "NOAUTH Authentication required." << false
                                << "requires a password (NOAUTH)";
        QTest::newRow("WRONGPASS")
            << "WRONGPASS invalid username-password pair or user is disabled." << false
            << "wrong password";
        QTest::newRow("ERR invalid password")
            << "ERR invalid password" << false << "--redis-password";
        QTest::newRow("AUTH without password")
            << "ERR AUTH <password> called without any password configured for the default "
               "user. Are you sure your configuration is correct?"
            << false << "no password configured";
        QTest::newRow("LOADING") << "LOADING Redis is loading the dataset in memory" << true
                                 << "LOADING";
        QTest::newRow("BUSY") << "BUSY Redis is busy running a script." << true << "BUSY";
        QTest::newRow("BUSYGROUP")
            << "BUSYGROUP Consumer Group name already exists" << false << "BUSYGROUP";
        QTest::newRow("MASTERDOWN")
            << "MASTERDOWN Link with MASTER is down" << true << "MASTERDOWN";
        QTest::newRow("READONLY") << "READONLY You can't write against a read only replica." << true
                                  << "READONLY";
        QTest::newRow("TRYAGAIN") << "TRYAGAIN Multiple keys request during rehashing" << true
                                  << "TRYAGAIN";
        QTest::newRow("CLUSTERDOWN") << "CLUSTERDOWN The cluster is down" << true << "CLUSTERDOWN";
        QTest::newRow("MOVED") << "MOVED 3999 127.0.0.1:6381" << false
                               << "cluster mode is not supported";
        QTest::newRow("ASK") << "ASK 3999 127.0.0.1:6381" << false
                             << "cluster mode is not supported";
        QTest::newRow("OOM") << "OOM command not allowed when used memory > 'maxmemory'." << true
                             << "maxmemory";
        QTest::newRow("NOSCRIPT") << "NOSCRIPT No matching script. Please use EVAL." << true
                                  << "NOSCRIPT No matching script. Please use EVAL.";
        QTest::newRow("function not found")
            << "ERR Function not found" << true << "ERR Function not found";
        QTest::newRow("WRONGTYPE")
            << "WRONGTYPE Operation against a key holding the wrong kind of value" << false
            << "WRONGTYPE Operation against a key";
        QTest::newRow("unknown command")
            << "ERR unknown command 'FOO'" << false << "ERR unknown command 'FOO'";
    }
    void givenErrorReplies_whenClassified_thenKindAndAdvice()
    {
        QFETCH(QString, reply);
        QFETCH(bool, retriable);
        QFETCH(QString, expected);
        const auto text = reply.toStdString();
        const auto error = errorFromReply(text, "HSET stats");
        QCOMPARE(error.retriable(), retriable);
        const auto message = QString::fromUtf8(error.what());
        QVERIFY2(message.contains(expected), qPrintable(message));
        QVERIFY2(message.contains("HSET stats"), qPrintable(message));
    }

    void givenContextFailures_whenClassified_thenKindAndAdvice_data()
    {
        QTest::addColumn<int>("err");
        QTest::addColumn<QString>("errstr");
        QTest::addColumn<bool>("retriable");
        QTest::addColumn<QString>("expected");
        QTest::newRow("refused") << REDIS_ERR_IO << "Connection refused" << true
                                 << "refused the connection: is redis-server running there?";
        QTest::newRow("eof") << REDIS_ERR_EOF << "Server closed the connection" << true
                             << "connection closed";
        QTest::newRow("reset") << REDIS_ERR_IO << "Connection reset by peer" << true
                               << "connection closed";
        QTest::newRow("read timeout") << REDIS_ERR_IO << "Resource temporarily unavailable" << true
                                      << "did not answer in time";
        QTest::newRow("connect timeout")
            << REDIS_ERR_IO << "Connection timed out" << true << "did not answer in time";
        QTest::newRow("dns") << REDIS_ERR_OTHER << "Name or service not known" << true
                             << "cannot resolve host";
        QTest::newRow("dns blip") << REDIS_ERR_OTHER << "Temporary failure in name resolution"
                                  << true << "cannot resolve host";
        QTest::newRow("protocol") << REDIS_ERR_PROTOCOL
                                  << "Protocol error, got \"H\" as reply type byte" << false
                                  << "does not speak the Redis protocol";
    }
    void givenContextFailures_whenClassified_thenKindAndAdvice()
    {
        QFETCH(int, err);
        QFETCH(QString, errstr);
        QFETCH(bool, retriable);
        QFETCH(QString, expected);
        redisContext ctx{};
        ctx.err = err;
        std::strncpy(ctx.errstr, errstr.toUtf8().constData(), sizeof ctx.errstr - 1);
        const auto error = errorFromContext(&ctx, "10.1.2.3:6390");
        QCOMPARE(error.retriable(), retriable);
        const auto message = QString::fromUtf8(error.what());
        QVERIFY2(message.contains(expected), qPrintable(message));
        QVERIFY2(message.contains("Redis at 10.1.2.3:6390"), qPrintable(message));

        QVERIFY(errorFromContext(nullptr, "h:1").retriable());
    }

    // ---- the embedded server itself ---------------------------------------------------------

    void givenAnEmbeddedServerWithPassword_whenRunning_thenThePasswordStaysOutOfArgv()
    {
        EmbeddedRedisOptions options;
        options.password = "hunter2-secret";
        EmbeddedRedis locked(options);
        const auto cmdline = readAll("/proc/" + std::to_string(locked.pid()) + "/cmdline");
        QVERIFY(!cmdline.empty());
        QVERIFY2(cmdline.find("hunter2") == std::string::npos, cmdline.c_str());
        const auto dir = serverDirectory(locked.pid());
        QVERIFY2(std::filesystem::exists(dir / "redis.conf"), dir.c_str());
        struct stat st {};
        QCOMPARE(::stat((dir / "redis.conf").c_str(), &st), 0);
        QCOMPARE(st.st_mode & 0077u, 0u); // only we can read the password
        QVERIFY(std::filesystem::exists(dir / "redis.log"));
    }

    void givenAnEmbeddedServer_whenDestroyed_thenTheChildAndItsDirectoryAreGone()
    {
        pid_t pid = 0;
        std::filesystem::path dir;
        {
            EmbeddedRedis temporary;
            pid = temporary.pid();
            QVERIFY(pid > 0);
            QCOMPARE(::kill(pid, 0), 0);
            dir = serverDirectory(pid);
            QVERIFY2(dir.filename().string().rfind("pulseboard-redis-", 0) == 0, dir.c_str());
            QVERIFY(std::filesystem::is_directory(dir));
            Connection c(temporary.endpoint());
            QCOMPARE(pong(c), std::string("PONG"));
        }
        errno = 0;
        QCOMPARE(::kill(pid, 0), -1);
        QCOMPARE(errno, ESRCH);
        QVERIFY2(!std::filesystem::exists(dir), dir.c_str());
    }

    void givenATakenPort_whenStartingThere_thenAFatalErrorNamesThePort()
    {
        Listener squatter;
        EmbeddedRedisOptions options;
        options.port = squatter.port();
        options.startTimeout = 1000ms;
        const auto caught = catchError([&] { EmbeddedRedis blocked(options); });
        QVERIFY(caught.error);
        QVERIFY(!caught.error->retriable());
        QVERIFY2(caught.message().contains("in use") &&
                     caught.message().contains(QString::number(squatter.port())),
                 qPrintable(caught.message()));
        QVERIFY2(caught.ms < 5000, qPrintable(QString::number(caught.ms)));
    }

    void givenNoRedisServerBinary_whenStarting_thenTheErrorSaysWhatToInstall()
    {
        EmbeddedRedisOptions options;
        options.executable = "no-such-redis-server";
        const auto caught = catchError([&] { EmbeddedRedis missing(options); });
        QVERIFY2(caught.error, "started a server that does not exist");
        QVERIFY(!caught.error->retriable());
        QVERIFY2(caught.message().contains("apt-get install redis-server"),
                 qPrintable(caught.message()));
    }

    void givenAnExecutableThatIsNotRedis_whenStarting_thenTheLogTailIsInTheError()
    {
        EmbeddedRedisOptions options;
        options.executable = "/bin/false";
        options.startTimeout = 2000ms;
        const auto caught = catchError([&] { EmbeddedRedis fake(options); });
        QVERIFY(caught.error);
        QVERIFY(!caught.error->retriable());
        QVERIFY2(caught.message().contains("exited with status 1 at start"),
                 qPrintable(caught.message()));
        QVERIFY2(caught.ms < 3000, qPrintable(QString::number(caught.ms)));
    }

    void cleanupTestCase() { server_.reset(); }
};

QTEST_GUILESS_MAIN(TestRedisConnection)
#include "tst_redis_connection.moc"
