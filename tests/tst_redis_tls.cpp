// Redis over TLS against Debian's redis-server with a tls-port and certificates made here with
// the openssl CLI: commands, pipelines and split round trips; every way the handshake can go
// wrong, each failing clearly within the connect timeout; the CLI's flags; and the whole
// pipeline (pulseboard-cli aggregate over rediss://) compared with a recomputation.
// A missing openssl CLI or a redis-server without TLS fails the test; nothing is skipped.

#include "redis/embedded_redis.h"
#include "redis/redis_connection.h"
#include "support/catch_error.h"
#include "support/cli_run.h"
#include "support/pipeline_fixture.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <optional>
#include <thread>

using namespace pb;
using namespace pb::redis;
using pb::test::catchError;
using namespace pb::test;
using namespace std::chrono_literals;

namespace {

constexpr auto kConnectTimeout = 2000ms;
constexpr qint64 kSlackMs = 1500; // a loaded 2-core machine, on top of the timeout

// A test CA, a server certificate for localhost and 127.0.0.1 signed by it, a client
// certificate signed by it, and an unrelated second CA; made with the openssl CLI.
struct Certificates {
    QString ca, server, serverKey, client, clientKey, otherCa;
};

// Empty string: fine; otherwise what went wrong.
QString makeCertificates(const QTemporaryDir &dir, Certificates &c)
{
    if (QStandardPaths::findExecutable("openssl").isEmpty())
        return "the openssl CLI is not installed (apt-get install openssl; "
               "scripts/install-deps.sh does it)";
    const auto path = [&](const QString &name) {
        return dir.filePath(name);
    };
    const QStringList ecKey{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
    const auto makeCa = [&](const char *name, const char *cn) -> QString {
        const auto r =
            run("openssl", QStringList{"req", "-x509"} + ecKey +
                               QStringList{"-keyout", path(QString(name) + ".key"), "-out",
                                           path(QString(name) + ".pem"), "-days", "2", "-subj",
                                           QString("/CN=") + cn, "-addext",
                                           "basicConstraints=critical,CA:TRUE", "-addext",
                                           "keyUsage=critical,keyCertSign,cRLSign"});
        return r.exitCode == 0 ? QString() : "openssl req (CA " + QString(name) + "): " + r.err;
    };
    const auto makeLeaf = [&](const char *name, const char *cn, const char *extensions) {
        QFile ext(path(QString(name) + ".ext"));
        if (!ext.open(QIODevice::WriteOnly) || ext.write(extensions) < 0)
            return QString("cannot write ") + name + ".ext";
        ext.close();
        const auto key = path(QString(name) + ".key");
        const auto csr = path(QString(name) + ".csr");
        auto r = run("openssl",
                     QStringList{"req"} + ecKey +
                         QStringList{"-keyout", key, "-out", csr, "-subj", QString("/CN=") + cn});
        if (r.exitCode != 0)
            return "openssl req (" + QString(name) + "): " + r.err;
        r = run("openssl", {"x509", "-req", "-in", csr, "-CA", path("ca.pem"), "-CAkey",
                            path("ca.key"), "-CAcreateserial", "-out", path(QString(name) + ".pem"),
                            "-days", "2", "-extfile", ext.fileName()});
        return r.exitCode == 0 ? QString() : "openssl x509 (" + QString(name) + "): " + r.err;
    };
    for (const auto &problem :
         {makeCa("ca", "Pulseboard Test CA"), makeCa("other-ca", "Unrelated Test CA"),
          makeLeaf("server", "localhost",
                   "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                   "extendedKeyUsage=serverAuth\n"),
          makeLeaf("client", "pulseboard-client",
                   "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")})
        if (!problem.isEmpty())
            return problem;
    c = {path("ca.pem"),     path("server.pem"), path("server.key"),
         path("client.pem"), path("client.key"), path("other-ca.pem")};
    return {};
}

// Debian's redis-server with only a TLS port (--port 0), on a free loopback port.
class TlsRedisServer {
public:
    TlsRedisServer(const Certificates &c, const QString &dir, bool authClients)
        : certificates_(c)
    {
        port_ = pickFreeLoopbackPort();
        process_.setProcessChannelMode(QProcess::MergedChannels);
        process_.start("redis-server", {"--port",
                                        "0",
                                        "--tls-port",
                                        QString::number(port_),
                                        "--bind",
                                        "127.0.0.1",
                                        "--tls-cert-file",
                                        c.server,
                                        "--tls-key-file",
                                        c.serverKey,
                                        "--tls-ca-cert-file",
                                        c.ca,
                                        "--tls-auth-clients",
                                        authClients ? "yes" : "no",
                                        "--dir",
                                        dir,
                                        "--save",
                                        "",
                                        "--appendonly",
                                        "no",
                                        "--protected-mode",
                                        "no",
                                        "--enable-debug-command",
                                        "local"});
    }
    ~TlsRedisServer()
    {
        process_.terminate();
        if (!process_.waitForFinished(5000)) {
            process_.kill();
            process_.waitForFinished();
        }
    }
    TlsRedisServer(const TlsRedisServer &) = delete;
    TlsRedisServer &operator=(const TlsRedisServer &) = delete;

    // Empty string when it answers PING over TLS within 5 s; otherwise why not.
    QString waitUntilUp()
    {
        if (!process_.waitForStarted(5000))
            return "cannot start redis-server: " + process_.errorString() +
                   " (apt-get install redis-server)";
        QString last;
        QElapsedTimer timer;
        timer.start();
        while (timer.elapsed() < 5000) {
            if (process_.state() == QProcess::NotRunning)
                return "redis-server exited at start (is it built with TLS?): " +
                       QString::fromUtf8(process_.readAll());
            try {
                Connection probe(endpoint(true), {500ms, 1000ms});
                probe.connect();
                return {};
            } catch (const Error &e) {
                last = QString::fromUtf8(e.what());
            }
            std::this_thread::sleep_for(50ms);
        }
        return "redis-server did not answer over TLS within 5 s: " + last + "\n" +
               QString::fromUtf8(process_.readAll());
    }

    int port() const { return port_; }

    // 127.0.0.1 with TLS, verified against the test CA (and the client certificate if asked).
    Endpoint endpoint(bool withClientCertificate = false) const
    {
        Endpoint e;
        e.host = "127.0.0.1";
        e.port = port_;
        e.tls.enabled = true;
        e.tls.caFile = certificates_.ca.toStdString();
        if (withClientCertificate) {
            e.tls.certFile = certificates_.client.toStdString();
            e.tls.keyFile = certificates_.clientKey.toStdString();
        }
        return e;
    }

private:
    Certificates certificates_;
    QProcess process_;
    int port_ = 0;
};

// The connect() of a Connection with the tests' connect timeout, timed.
Caught connectFailure(const Endpoint &e)
{
    return catchError([&] { Connection(e, {kConnectTimeout, kConnectTimeout}).connect(); });
}

} // namespace

class TestRedisTls : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    Certificates certs_;
    std::unique_ptr<TlsRedisServer> server_;

    // Asserts that the connect failed within the timeout, with every expected word.
    void verifyFailure(const Caught &caught, const QStringList &words, bool retriable)
    {
        QVERIFY2(caught.error, "connected, but it should have failed");
        qInfo("%lld ms: %s", caught.ms, qPrintable(caught.message()));
        QVERIFY2(caught.ms < kConnectTimeout.count() + kSlackMs,
                 qPrintable(QString("took %1 ms: %2").arg(caught.ms).arg(caught.message())));
        for (const auto &word : words)
            QVERIFY2(caught.message().contains(word, Qt::CaseInsensitive),
                     qPrintable("'" + word + "' missing from: " + caught.message()));
        QCOMPARE(caught.error->retriable(), retriable);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        const auto problem = makeCertificates(dir_, certs_);
        QVERIFY2(problem.isEmpty(), qPrintable("cannot make test certificates: " + problem));
        server_ = std::make_unique<TlsRedisServer>(certs_, dir_.path(), false);
        const auto down = server_->waitUntilUp();
        QVERIFY2(down.isEmpty(), qPrintable(down));
    }

    void givenTlsRedis_whenCommandsPipelinesAndSplitRoundTripsRun_thenAllWork()
    {
        Connection c(server_->endpoint());
        QCOMPARE(replyString(c.command({"PING"}).get()), std::string("PONG"));

        // 10 MB: many TLS records each way.
        std::string big(10 * 1024 * 1024, '\0');
        for (std::size_t i = 0; i < big.size(); ++i)
            big[i] = static_cast<char>(i * 131 % 251);
        QCOMPARE(replyString(c.command({"SET", "big", big}).get()), std::string("OK"));
        QVERIFY(replyString(c.command({"GET", "big"}).get()) == big);

        c.command({"DEL", "n"});
        const auto replies = c.pipeline(std::vector<Command>(1000, Command{"INCR", "n"}));
        QCOMPARE(replies.size(), std::size_t(1000));
        for (std::size_t i = 0; i < replies.size(); ++i)
            QCOMPARE(replyInteger(replies[i].get()), static_cast<std::int64_t>(i + 1));

        // send/receive: replyReady() turns true once the reply is there, and the reply of a big
        // value is read whole even when OpenSSL holds part of it already decrypted.
        c.send({"DEBUG", "SLEEP", "0.2"});
        QVERIFY(!c.replyReady());
        QElapsedTimer timer;
        timer.start();
        while (!c.replyReady() && timer.elapsed() < 3000)
            std::this_thread::sleep_for(1ms);
        QVERIFY(c.replyReady());
        QCOMPARE(replyString(c.receive().get()), std::string("OK"));
        c.send({"GET", "big"});
        while (!c.replyReady() && timer.elapsed() < 6000)
            std::this_thread::sleep_for(1ms);
        QVERIFY(replyString(c.receive().get()) == big);
        QCOMPARE(replyString(c.command({"ECHO", "after"}).get()), std::string("after"));

        // By name, as the certificate says, and reconnecting after a disconnect.
        auto byName = server_->endpoint();
        byName.host = "localhost";
        Connection named(byName);
        QCOMPARE(replyString(named.command({"GET", "n"}).get()), std::string("1000"));
        named.disconnect();
        QCOMPARE(replyString(named.command({"GET", "n"}).get()), std::string("1000"));
    }

    void givenAnUnrelatedCa_whenConnecting_thenCertificateVerifyFailedInTime()
    {
        auto e = server_->endpoint();
        e.tls.caFile = certs_.otherCa.toStdString();
        verifyFailure(connectFailure(e), {"certificate verify failed", "--redis-tls-ca"}, false);
        // Without a CA file the system store is used: it does not know the test CA either.
        e.tls.caFile.clear();
        verifyFailure(connectFailure(e), {"certificate verify failed", "--redis-tls-ca"}, false);
    }

    void givenAWrongServerName_whenConnecting_thenTheHostNameCheckFails()
    {
        auto e = server_->endpoint();
        e.tls.serverName = "wrong.example";
        verifyFailure(connectFailure(e),
                      {"certificate verify failed", "hostname mismatch", "--redis-tls-server-name"},
                      false);
        // The right name works from an address, too.
        e.tls.serverName = "localhost";
        QVERIFY2(!connectFailure(e).error, qPrintable(connectFailure(e).message()));
    }

    void givenAPlaintextClient_whenConnectingToTheTlsPort_thenItSaysUseRediss()
    {
        auto e = server_->endpoint();
        e.tls = {};
        verifyFailure(connectFailure(e), {"closed the connection", "expect TLS", "rediss://"},
                      true);
    }

    void givenATlsClient_whenConnectingToAPlaintextPort_thenItSaysTheServerDoesNotSpeakTls()
    {
        EmbeddedRedis plain;
        auto e = plain.endpoint();
        e.tls.enabled = true;
        e.tls.caFile = certs_.ca.toStdString();
        // redis-server may wait for the end of an inline command (no answer: Retriable) or
        // answer an error that is no TLS record (Fatal): either way the message says what to do.
        const auto caught = connectFailure(e);
        verifyFailure(caught, {"TLS handshake", "redis://"},
                      caught.error && caught.error->retriable());
    }

    void givenClientAuthentication_whenNoClientCertificate_thenRefusedAndTheRightOneWorks()
    {
        TlsRedisServer strict(certs_, dir_.path(), true);
        const auto down = strict.waitUntilUp(); // with the client certificate
        QVERIFY2(down.isEmpty(), qPrintable(down));
        verifyFailure(connectFailure(strict.endpoint(false)),
                      {"client certificate", "--redis-tls-cert", "--redis-tls-key"}, false);

        Connection right(strict.endpoint(true));
        QCOMPARE(replyString(right.command({"PING"}).get()), std::string("PONG"));
    }

    void givenInsecure_whenTheCaIsWrong_thenItConnectsAnyway()
    {
        auto e = server_->endpoint();
        e.tls.caFile = certs_.otherCa.toStdString();
        e.tls.serverName = "wrong.example";
        e.tls.insecure = true;
        Connection c(e);
        QCOMPARE(replyString(c.command({"PING"}).get()), std::string("PONG"));

        // The CLI warns on stderr, once.
        const auto r =
            run(PULSEBOARD_CLI,
                {"stats", "--redis", QString("rediss://127.0.0.1:%1").arg(server_->port()),
                 "--redis-tls-ca", certs_.otherCa, "--redis-tls-insecure", "--json"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(r.err.count("--redis-tls-insecure"), 1);
        QVERIFY2(r.err.contains("not verified"), qPrintable(r.err));
    }

    void givenBadTlsFiles_whenConnecting_thenAFatalErrorNamesTheFileAndFlag()
    {
        auto e = server_->endpoint();
        e.tls.caFile = dir_.filePath("missing-ca.pem").toStdString();
        verifyFailure(connectFailure(e), {"CA file", "missing-ca.pem", "--redis-tls-ca"}, false);
        e = server_->endpoint(true);
        e.tls.keyFile = certs_.otherCa.toStdString(); // a certificate, not a key
        verifyFailure(connectFailure(e), {"client key", "--redis-tls-key"}, false);
        e = server_->endpoint(true);
        e.tls.keyFile = dir_.filePath("other-ca.key").toStdString(); // a key, but another's
        verifyFailure(connectFailure(e), {"does not belong", "--redis-tls-key"}, false);
    }

    void givenTheCli_whenTlsFlagsAndUrlsAreGiven_thenTheyConnectOrSayWhatIsWrong()
    {
        const auto url = QString("rediss://localhost:%1").arg(server_->port());
        auto r = run(PULSEBOARD_CLI, {"stats", "--redis", url, "--redis-tls-ca", certs_.ca});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        r = run(PULSEBOARD_CLI, {"stats", "--redis", QString("127.0.0.1:%1").arg(server_->port()),
                                 "--redis-tls", "--redis-tls-ca", certs_.ca});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        r = run(PULSEBOARD_CLI, {"stats", "--redis", url});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("--redis-tls-ca"), qPrintable(r.err));
        // A password in the URL is refused before anything connects, and never echoed.
        r = run(PULSEBOARD_CLI,
                {"stats", "--redis",
                 QString("rediss://alice:hunter2@localhost:%1/2").arg(server_->port())});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("PULSEBOARD_REDIS_PASSWORD"), qPrintable(r.err));
        QVERIFY2(!r.err.contains("hunter2"), qPrintable(r.err));
        r = run(PULSEBOARD_CLI,
                {"stats", "--redis", "127.0.0.1:6379", "--redis-tls-ca", certs_.ca});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("rediss://"), qPrintable(r.err));
        r = run(PULSEBOARD_CLI, {"stats", "--help"});
        QVERIFY2(r.out.contains("rediss://") && r.out.contains("--redis-tls-server-name"),
                 qPrintable(r.out));
    }

    void givenTlsRedis_whenTheCliAggregates_thenTheResultIsExact()
    {
        PipelineFixture f;
        f.start();
        qunsetenv("PULSEBOARD_REDIS_PASSWORD"); // the fixture's; this TLS server wants none
        // Every check of the fixture reads Redis through this TLS connection.
        f.redisConnection = std::make_unique<Connection>(server_->endpoint());
        f.nextCase();
        const auto w = makeWorkload(20000, 1, 77, nowMs(), true);
        produceAll(f.brokers(), f.topic, w.records);
        const auto r = run(
            PULSEBOARD_CLI,
            {"aggregate", "--brokers", QString::fromStdString(f.brokers()), "--topic",
             QString::fromStdString(f.topic), "--group", QString::fromStdString("group-" + f.topic),
             "--redis", QString("rediss://localhost:%1").arg(server_->port()), "--redis-tls-ca",
             certs_.ca, "--event-time", "payload", "--batch-events", "300", "--idle-exit", "2s"},
            120000);
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QVERIFY2(r.out.contains(QString("aggregated %1 valid").arg(w.expected.valid)),
                 qPrintable(r.out + r.err));
        f.verifyExact(w.expected, nowMs());
    }

    void cleanupTestCase() { server_.reset(); }
};

QTEST_GUILESS_MAIN(TestRedisTls)
#include "tst_redis_tls.moc"
