// The Redis connection against a real redis-server: binary safety, pipelining, error replies,
// timeouts, reconnects, passwords, and the embedded server's lifecycle.

#include "redis/embedded_redis.h"
#include "redis/redis_connection.h"

#include <QElapsedTimer>
#include <QtTest>
#include <thread>

#include <csignal>
#include <filesystem>

using namespace pb;
using namespace pb::redis;
using namespace std::chrono_literals;

class TestRedisConnection : public QObject {
    Q_OBJECT

    std::unique_ptr<EmbeddedRedis> server_;

private Q_SLOTS:
    void initTestCase() { server_ = std::make_unique<EmbeddedRedis>(); }

    void givenBinaryValues_whenStoredAndRead_thenEveryByteSurvives()
    {
        Connection c(server_->endpoint());
        const std::string value("a\0b\xff\r\n", 6);
        QCOMPARE(replyString(c.command({"SET", "bin", value}).get()), std::string("OK"));
        QCOMPARE(replyString(c.command({"GET", "bin"}).get()), value);
    }

    void givenAPipeline_whenSent_thenRepliesComeBackInOrder()
    {
        Connection c(server_->endpoint());
        c.command({"DEL", "n"});
        std::vector<Command> commands(1000, Command{"INCR", "n"});
        const auto replies = c.pipeline(commands);
        QCOMPARE(replies.size(), std::size_t(1000));
        for (std::size_t i = 0; i < replies.size(); ++i)
            QCOMPARE(replyInteger(replies[i].get()), static_cast<std::int64_t>(i + 1));
        QVERIFY(c.pipeline({}).empty());
    }

    void givenAWrongTypeCommand_whenSent_thenTheErrorReplyIsReturnedNotThrown()
    {
        Connection c(server_->endpoint());
        c.command({"SET", "s", "text"});
        const auto reply = c.command({"INCR", "s"});
        QCOMPARE(reply->type, REDIS_REPLY_ERROR);
        QVERIFY_THROWS_EXCEPTION(Error, throwIfError(reply.get(), "INCR"));
    }

    void givenASlowCommand_whenItOutlastsTheTimeout_thenARetriableErrorComesInTime()
    {
        Connection c(server_->endpoint(), {1000ms, 300ms});
        QElapsedTimer timer;
        timer.start();
        try {
            c.command({"DEBUG", "SLEEP", "2"});
            QFAIL("DEBUG SLEEP 2 returned within a 300 ms timeout");
        } catch (const Error &e) {
            QVERIFY(e.retriable());
        }
        QVERIFY2(timer.elapsed() < 1500, qPrintable(QString::number(timer.elapsed())));
        QVERIFY(!c.connected());
        std::this_thread::sleep_for(2s); // let the server finish sleeping
        QCOMPARE(replyString(c.command({"PING"}).get()), std::string("PONG"));
    }

    void givenTheServerRestarts_whenTheSameConnectionIsUsed_thenItFailsThenReconnects()
    {
        Connection c(server_->endpoint());
        c.connect();
        server_->stop();
        QElapsedTimer timer;
        timer.start();
        try {
            c.command({"PING"});
            QFAIL("a command to a stopped server succeeded");
        } catch (const Error &e) {
            QVERIFY(e.retriable());
            QVERIFY2(QString(e.what()).contains(QString::number(server_->port())), e.what());
        }
        QVERIFY(timer.elapsed() < 3000);
        server_->start();
        QCOMPARE(replyString(c.command({"PING"}).get()), std::string("PONG"));
    }

    void givenNobodyListens_whenConnecting_thenRefusedQuickly()
    {
        Endpoint e;
        e.port = pickFreeLoopbackPort();
        Connection c(e);
        QElapsedTimer timer;
        timer.start();
        try {
            c.connect();
            QFAIL("connected to a port nobody listens on");
        } catch (const Error &err) {
            QVERIFY(err.retriable());
            QVERIFY2(QString(err.what()).contains("refused"), err.what());
        }
        QVERIFY(timer.elapsed() < 3000);
    }

    void givenAPassword_whenWrongMissingOrRight_thenFatalFatalFine()
    {
        EmbeddedRedisOptions options;
        options.password = "pa ss\"word";
        EmbeddedRedis locked(options);
        auto e = locked.endpoint();
        e.password = "wrong";
        try {
            Connection(e).connect();
            QFAIL("a wrong password was accepted");
        } catch (const Error &err) {
            QVERIFY(!err.retriable());
            QVERIFY2(QString(err.what()).contains("password"), err.what());
        }
        e.password.clear();
        try {
            Connection(e).connect();
            QFAIL("no password was accepted");
        } catch (const Error &err) {
            QVERIFY(!err.retriable());
            QVERIFY2(QString(err.what()).contains("NOAUTH"), err.what());
        }
        Connection right(locked.endpoint());
        QCOMPARE(replyString(right.command({"PING"}).get()), std::string("PONG"));
    }

    void givenEndpointTexts_whenParsed_thenHostAndPortOrAClearError_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("host"); // empty: rejected
        QTest::addColumn<int>("port");
        QTest::newRow("host:port") << "redis.local:6380"
                                   << "redis.local" << 6380;
        QTest::newRow("host") << "redis.local"
                              << "redis.local" << 6379;
        QTest::newRow(":port") << ":7000"
                               << "127.0.0.1" << 7000;
        QTest::newRow("ipv6") << "[::1]:6390"
                              << "::1" << 6390;
        QTest::newRow("empty") << ""
                               << "" << 0;
        QTest::newRow("port 0") << "h:0"
                                << "" << 0;
        QTest::newRow("port too big") << "h:70000"
                                      << "" << 0;
        QTest::newRow("port not a number") << "h:abc"
                                           << "" << 0;
        QTest::newRow("bare ipv6") << "::1:6379"
                                   << "" << 0;
    }
    void givenEndpointTexts_whenParsed_thenHostAndPortOrAClearError()
    {
        QFETCH(QString, text);
        QFETCH(QString, host);
        QFETCH(int, port);
        if (host.isEmpty()) {
            QVERIFY_THROWS_EXCEPTION(Error, parseEndpoint(text.toStdString()));
            return;
        }
        const auto e = parseEndpoint(text.toStdString());
        QCOMPARE(QString::fromStdString(e.host), host);
        QCOMPARE(e.port, port);
    }

    void givenAnEmbeddedServer_whenDestroyed_thenTheChildAndItsDirectoryAreGone()
    {
        pid_t pid = 0;
        {
            EmbeddedRedis temporary;
            pid = temporary.pid();
            QVERIFY(::kill(pid, 0) == 0);
        }
        QVERIFY(::kill(pid, 0) != 0);
        QCOMPARE(errno, ESRCH);
    }

    void givenNoRedisServerBinary_whenStarting_thenTheErrorSaysWhatToInstall()
    {
        EmbeddedRedisOptions options;
        options.executable = "no-such-redis-server";
        try {
            EmbeddedRedis missing(options);
            QFAIL("started a server that does not exist");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains("apt-get install redis-server"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestRedisConnection)
#include "tst_redis_connection.moc"
