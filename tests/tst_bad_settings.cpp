// Every bad setting a user can give pulseboard-cli, against real servers that are wrong in that
// way: a host that does not resolve, a closed port, dropped packets, wrong or missing passwords,
// TLS on one side only, a server that is not Redis or Kafka (HTTP, silent, garbage), a missing
// topic, a Redis that evicts keys or is a read-only replica. Each must end with exit 1 and one
// line that names the cause and what to do, within the timeout that applies plus a margin, and
// no secret in anything printed. Controls show that the checks let good set-ups through. The
// rules behind the messages (librdkafka's reasons, Redis INFO) are checked without I/O too.

#include "kafka/kafka_client.h"
#include "redis/server_check.h"
#include "support/bad_servers.h"
#include "support/cli_run.h"

#include <QDateTime>
#include <QtTest>

#include <memory>

using namespace pb;
using namespace pb::test;

namespace {

// Generous: a loaded 2-core machine, on top of the timeout that applies.
constexpr int kMarginMs = 10000;
// pulseboard-cli's: Redis connect 2 s, commands 5 s; Kafka metadata probe 10 s.
constexpr int kRedisConnectMs = 2000;
constexpr int kRedisCommandMs = 5000;
constexpr int kKafkaProbeMs = 10000;

QString freeAddress()
{
    return "127.0.0.1:" + QString::number(redis::pickFreeLoopbackPort());
}

QString address(const redis::EmbeddedRedis &server)
{
    return QString::fromStdString(server.endpoint().toString());
}

QString secretOf(const redis::EmbeddedRedis &server)
{
    return QString::fromStdString(server.endpoint().password);
}

} // namespace

class TestBadSettings : public QObject {
    Q_OBJECT

    // Never shown by anything: every run has it as the Kafka password.
    const QString kafkaCanary_ =
        "kafka-canary-" + QString::number(QDateTime::currentMSecsSinceEpoch());
    const QString wrongRedisPassword_ =
        "wrong-redis-" + QString::number(QDateTime::currentMSecsSinceEpoch());

    std::unique_ptr<BadServers> servers_; // for the tables only: the rules need none

    BadServers &servers()
    {
        if (!servers_)
            servers_ = std::make_unique<BadServers>();
        return *servers_;
    }

    QProcessEnvironment environment(const QString &redisPassword) const
    {
        auto env = QProcessEnvironment::systemEnvironment();
        env.remove("PULSEBOARD_REDIS_PASSWORD");
        if (!redisPassword.isEmpty())
            env.insert("PULSEBOARD_REDIS_PASSWORD", redisPassword);
        env.insert("PULSEBOARD_KAFKA_PASSWORD", kafkaCanary_);
        return env;
    }

    // Columns of both tables.
    static void columns()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("redisPassword"); // PULSEBOARD_REDIS_PASSWORD; empty: unset
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QStringList>("expected"); // in stderr's last line (or stdout on 0)
        QTest::addColumn<int>("timeoutMs");        // the timeout that applies
    }

    // Runs the row; empty when it passed, else what went wrong.
    QString problemWithRow() const
    {
        QFETCH(QStringList, args);
        QFETCH(QString, redisPassword);
        QFETCH(int, exitCode);
        QFETCH(QStringList, expected);
        QFETCH(int, timeoutMs);
        const auto r = run(PULSEBOARD_CLI, args, 120000, environment(redisPassword));
        const auto all = r.out + r.err;
        if (r.exitCode != exitCode)
            return "exit " + QString::number(r.exitCode) + ": " + all;
        if (r.elapsedMs >= timeoutMs + kMarginMs)
            return "took " + QString::number(r.elapsedMs) + " ms: " + all;
        // One line says it all: the last on stderr for a failure, "pulseboard-cli COMMAND: ...".
        const auto said = exitCode == 0 ? r.out : r.err.trimmed().split('\n').last();
        if (exitCode != 0 && !said.startsWith("pulseboard-cli " + args.first() + ": "))
            return "not one line from pulseboard-cli " + args.first() + ": " + all;
        for (const auto &words : expected)
            if (!said.contains(words))
                return "'" + words + "' not in: " + said;
        if (all.contains(kafkaCanary_) || (!redisPassword.isEmpty() && all.contains(redisPassword)))
            return "a secret was shown: " + all;
        return {};
    }

private Q_SLOTS:
    void givenBadRedisSettings_whenTheCliRuns_thenOneLineSaysWhatToDoInTime_data()
    {
        columns();
        auto &s = servers();
        const auto stats = [](const QString &redis) {
            return QStringList{"stats", "--redis", redis};
        };
        const auto aggregate = [&s](const QString &redis) {
            return QStringList{"aggregate", "--brokers",    s.brokers,     "--redis", redis,
                               "--group",   "bad-settings", "--idle-exit", "1s"};
        };
        const auto locked = address(s.locked);
        const auto lockedSecret = secretOf(s.locked);
        const auto tlsPort = QString::number(s.tls.port());
        QTest::newRow("host that does not resolve")
            << stats("no-such-host.invalid:6379") << "" << 1
            << QStringList{"cannot resolve host", "check the host name in --redis"}
            << kRedisConnectMs;
        QTest::newRow("closed port")
            << stats(freeAddress()) << "" << 1
            << QStringList{"refused the connection", "Check --redis host:port"} << kRedisConnectMs;
        QTest::newRow("packets dropped")
            << stats(s.drop.address()) << "" << 1
            << QStringList{"did not accept a connection within the 2000 ms",
                           "check --redis host:port and any firewall"}
            << kRedisConnectMs;
        QTest::newRow("wrong password")
            << stats(locked) << wrongRedisPassword_ << 1
            << QStringList{"wrong password", "check --redis-password"} << kRedisCommandMs;
        QTest::newRow("no password")
            << stats(locked) << "" << 1
            << QStringList{"requires a password (NOAUTH)", "PULSEBOARD_REDIS_PASSWORD"}
            << kRedisCommandMs;
        QTest::newRow("a password where none is set")
            << stats(address(s.open)) << wrongRedisPassword_ << 1
            << QStringList{"has no password configured", "drop --redis-password"}
            << kRedisCommandMs;
        QTest::newRow("TLS port, plain configured")
            << stats("127.0.0.1:" + tlsPort) << "" << 1
            << QStringList{"closed the connection before answering", "use rediss://host:port"}
            << kRedisCommandMs;
        QTest::newRow("plain port, TLS configured")
            << stats("rediss://" + locked) << lockedSecret << 1
            << QStringList{"no answer to the TLS handshake", "use redis:// (without --redis-tls)"}
            << kRedisConnectMs;
        QTest::newRow("HTTP server")
            << stats(s.http.address()) << "" << 1
            << QStringList{"does not speak the Redis protocol", "is --redis the right port?"}
            << kRedisCommandMs;
        QTest::newRow("silent server")
            << stats(s.silent.address()) << "" << 1
            << QStringList{"did not answer PING within 5000 ms",
                           "is a Redis server listening on this port? Check --redis"}
            << kRedisCommandMs;
        QTest::newRow("garbage") << stats(s.garbage.address()) << "" << 1
                                 << QStringList{"does not speak the Redis protocol",
                                                "is --redis the right port?"}
                                 << kRedisCommandMs;
        QTest::newRow("aggregate: allkeys-lru")
            << aggregate(address(*s.allKeys)) << secretOf(*s.allKeys) << 1
            << QStringList{"evicts keys when it is full (maxmemory-policy allkeys-lru, "
                           "maxmemory 10 MB)",
                           "exactly-once cannot hold", "set maxmemory-policy noeviction"}
            << kRedisCommandMs;
        QTest::newRow("aggregate: volatile-lru")
            << aggregate(address(*s.volatileKeys)) << secretOf(*s.volatileKeys) << 1
            << QStringList{"evicts keys that have a TTL", "maxmemory-policy volatile-lru",
                           "silently lose counts", "set maxmemory-policy noeviction"}
            << kRedisCommandMs;
        QTest::newRow("aggregate: read-only replica")
            << aggregate(address(*s.replica)) << secretOf(*s.replica) << 1
            << QStringList{"is a read-only replica of " + locked, "point --redis at " + locked}
            << kRedisCommandMs;
        // Controls: the same checks let these through.
        QTest::newRow("control: aggregate, maxmemory with noeviction")
            << aggregate(address(*s.noEviction)) << secretOf(*s.noEviction) << 0
            << QStringList{"aggregated 0 valid"} << kKafkaProbeMs;
        QTest::newRow("control: stats from the replica")
            << stats(address(*s.replica)) << secretOf(*s.replica) << 0 << QStringList{"valid"}
            << kRedisCommandMs;
    }
    void givenBadRedisSettings_whenTheCliRuns_thenOneLineSaysWhatToDoInTime()
    {
        const auto problem = problemWithRow();
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }

    void givenBadKafkaSettings_whenTheCliRuns_thenOneLineSaysWhatToDoInTime_data()
    {
        columns();
        auto &s = servers();
        const auto simulate = [](const QString &brokers, const QStringList &more = {}) {
            return QStringList{"simulate", "--brokers", brokers, "--count", "1"} + more;
        };
        const QStringList sasl{"--kafka-opt", "security.protocol=SASL_PLAINTEXT",
                               "--kafka-opt", "sasl.mechanism=SCRAM-SHA-256",
                               "--kafka-opt", "sasl.username=u"};
        const auto redis = address(s.locked);
        const auto redisSecret = secretOf(s.locked);
        QTest::newRow("host that does not resolve")
            << simulate("no-such-host.invalid:9092") << "" << 1
            << QStringList{"cannot reach Kafka", "cannot resolve the host name",
                           "check the host names in --brokers"}
            << kKafkaProbeMs;
        QTest::newRow("closed port") << simulate(freeAddress()) << "" << 1
                                     << QStringList{"cannot reach Kafka", "connection refused",
                                                    "check the host and port in --brokers"}
                                     << kKafkaProbeMs;
        QTest::newRow("packets dropped")
            << simulate(s.drop.address()) << "" << 1
            << QStringList{"cannot reach Kafka", "no connection",
                           "check the host and port in --brokers and any firewall"}
            << kKafkaProbeMs;
        QTest::newRow("wrong SASL password")
            << simulate(s.kafkaSasl.address(), sasl) << "" << 1
            << QStringList{"wrong user name, password or SASL mechanism",
                           "check sasl.username, the password (PULSEBOARD_KAFKA_PASSWORD"}
            << kKafkaProbeMs;
        QTest::newRow("SASL on a listener without it")
            << simulate(s.brokers, sasl) << "" << 1
            << QStringList{"does not offer this SASL mechanism", "check sasl.mechanism"}
            << kKafkaProbeMs;
        QTest::newRow("TLS listener, plain configured")
            << simulate("127.0.0.1:" + QString::number(s.tls.port())) << "" << 1
            << QStringList{"a TLS (SSL) listener", "pass --kafka-opt security.protocol=SSL"}
            << kKafkaProbeMs;
        QTest::newRow("plain listener, TLS configured")
            << simulate(s.brokers, {"--kafka-opt", "security.protocol=SSL"}) << "" << 1
            << QStringList{"the TLS (SSL) handshake failed", "security.protocol=PLAINTEXT"}
            << kKafkaProbeMs;
        QTest::newRow("HTTP server")
            << simulate(s.http.address()) << "" << 1
            << QStringList{"does not speak the Kafka protocol", "check the port in --brokers"}
            << kKafkaProbeMs;
        QTest::newRow("silent server")
            << simulate(s.silent.address()) << "" << 1
            << QStringList{"never answered the first Kafka request", "check the port in --brokers"}
            << kKafkaProbeMs;
        QTest::newRow("garbage") << simulate(s.garbage.address()) << "" << 1
                                 << QStringList{"does not speak the Kafka protocol",
                                                "check the port in --brokers"}
                                 << kKafkaProbeMs;
        QTest::newRow("missing topic")
            << simulate(s.brokers, {"--topic", "no-such-topic"}) << "" << 1
            << QStringList{"topic no-such-topic does not exist",
                           "create it (pulseboard-cli create-topic) or check --topic"}
            << kKafkaProbeMs;
        QTest::newRow("aggregate: missing topic")
            << QStringList{"aggregate", "--brokers", s.brokers,      "--redis",
                           redis,       "--topic",   "no-such-topic"}
            << redisSecret << 1 << QStringList{"topic no-such-topic does not exist", "create it"}
            << kKafkaProbeMs;
        QTest::newRow("aggregate: HTTP server")
            << QStringList{"aggregate", "--brokers", s.http.address(), "--redis", redis}
            << redisSecret << 1
            << QStringList{"does not speak the Kafka protocol", "check the port in --brokers"}
            << kKafkaProbeMs;
        QTest::newRow("control: simulate")
            << simulate(s.brokers) << "" << 0 << QStringList{"acknowledged 1"} << kKafkaProbeMs;
    }
    void givenBadKafkaSettings_whenTheCliRuns_thenOneLineSaysWhatToDoInTime()
    {
        const auto problem = problemWithRow();
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }

    void givenInfoFromRedis_whenJudged_thenOnlyAPrimaryThatNeverEvictsIsFit_data()
    {
        QTest::addColumn<QString>("info");
        QTest::addColumn<bool>("fit");
        QTest::addColumn<QString>("expected");
        const QString primary = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n";
        const auto memory = [](const char *bytes, const char *policy) {
            return QString(
                       "# Memory\r\nused_memory:1000\r\nmaxmemory:%1\r\nmaxmemory_policy:%2\r\n")
                .arg(bytes, policy);
        };
        QTest::newRow("defaults") << primary + memory("0", "noeviction") << true << "";
        QTest::newRow("limit, noeviction")
            << primary + memory("10485760", "noeviction") << true << "";
        for (const char *policy : {"allkeys-lru", "allkeys-lfu", "allkeys-random"})
            QTest::newRow(policy) << primary + memory("10485760", policy) << false
                                  << QString("exactly-once cannot hold");
        for (const char *policy :
             {"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"})
            QTest::newRow(policy) << primary + memory("10485760", policy) << false
                                  << QString("silently lose counts");
        QTest::newRow("evicting, no limit yet")
            << primary + memory("0", "allkeys-lru") << false << "as soon as one is set";
        QTest::newRow("read-only replica")
            << "role:slave\r\nmaster_host:10.0.0.5\r\nmaster_port:6380\r\nslave_read_only:1\r\n" +
                   memory("0", "noeviction")
            << false << "read-only replica of 10.0.0.5:6380";
        QTest::newRow("writable replica")
            << "role:slave\r\nmaster_host:::1\r\nmaster_port:6380\r\nslave_read_only:0\r\n" +
                   memory("0", "noeviction")
            << false << "lost at its next resync; point --redis at [::1]:6380";
    }
    void givenInfoFromRedis_whenJudged_thenOnlyAPrimaryThatNeverEvictsIsFit()
    {
        QFETCH(QString, info);
        QFETCH(bool, fit);
        QFETCH(QString, expected);
        const auto facts = redis::parseInfo(info.toStdString());
        QVERIFY(facts.known);
        const auto unfit = redis::unfitForAggregates(facts, "r:1");
        QCOMPARE(!unfit.has_value(), fit);
        if (unfit) {
            QVERIFY(!unfit->retriable());
            QVERIFY2(QString(unfit->what()).contains(expected), unfit->what());
            QVERIFY(!unfit->detail().empty());
        }
        // Unknown facts (INFO refused) are no verdict: the aggregator says it could not check.
        QVERIFY(!redis::unfitForAggregates(redis::ServerFacts{}, "r:1"));
    }

    void givenLibrdkafkaReasons_whenDiagnosed_thenTheCauseAndWhatToDo_data()
    {
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("reason");
        QTest::addColumn<int>("cause");
        QTest::addColumn<QString>("expected");
        const auto row = [](const char *name, rd_kafka_resp_err_t code, const char *reason,
                            ErrorCause cause, const char *expected) {
            QTest::newRow(name) << int(code) << reason << int(cause) << expected;
        };
        row("refused", RD_KAFKA_RESP_ERR__TRANSPORT,
            "b:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused",
            ErrorCause::Unreachable, "connection refused");
        row("resolve", RD_KAFKA_RESP_ERR__RESOLVE, "Failed to resolve 'x:9092'",
            ErrorCause::Unreachable, "cannot resolve");
        row("dropped", RD_KAFKA_RESP_ERR__TRANSPORT,
            "Connection setup timed out in state CONNECT (after 5004ms in state CONNECT)",
            ErrorCause::Unreachable, "firewall");
        row("silent", RD_KAFKA_RESP_ERR__TRANSPORT,
            "Connection setup timed out in state APIVERSION_QUERY", ErrorCause::Timeout,
            "never answered");
        row("http", RD_KAFKA_RESP_ERR__BAD_MSG,
            "Receive failed: Invalid response size 1213486160 (0..100000000)", ErrorCause::Protocol,
            "does not speak the Kafka protocol");
        row("tls listener", RD_KAFKA_RESP_ERR__TRANSPORT,
            "Disconnected while requesting ApiVersion: might be caused by incorrect "
            "security.protocol configuration (connecting to a SSL listener?)",
            ErrorCause::Protocol, "security.protocol=SSL");
        row("plain listener", RD_KAFKA_RESP_ERR__TRANSPORT,
            "Disconnected (after 0ms in state SSL_HANDSHAKE)", ErrorCause::Protocol,
            "security.protocol=PLAINTEXT");
        row("untrusted certificate", RD_KAFKA_RESP_ERR__SSL,
            "SSL handshake failed: certificate verify failed", ErrorCause::Config,
            "ssl.ca.location");
        row("wrong password", RD_KAFKA_RESP_ERR__AUTHENTICATION,
            "SASL authentication error: Authentication failed", ErrorCause::Auth,
            "PULSEBOARD_KAFKA_PASSWORD");
        row("no SASL", RD_KAFKA_RESP_ERR__AUTHENTICATION,
            "SASL Handshake not supported by broker (required by mechanism PLAIN)",
            ErrorCause::Config, "sasl.mechanism");
        row("topic ACL", RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
            "Broker: Topic "
            "authorization failed",
            ErrorCause::Permission, "");
    }
    void givenLibrdkafkaReasons_whenDiagnosed_thenTheCauseAndWhatToDo()
    {
        QFETCH(int, code);
        QFETCH(QString, reason);
        QFETCH(int, cause);
        QFETCH(QString, expected);
        const auto d =
            kafka::diagnose(static_cast<rd_kafka_resp_err_t>(code), reason.toStdString());
        QCOMPARE(int(d.cause), cause);
        QVERIFY2(QString::fromStdString(d.what + " " + d.advice).contains(expected),
                 qPrintable(QString::fromStdString(d.what + " / " + d.advice)));
    }

    void givenATrackerThatSawTheCause_whenAllBrokersGoDown_thenTheCauseIsKept()
    {
        kafka::ErrorTracker tracker;
        tracker.record(RD_KAFKA_RESP_ERR__TRANSPORT, "Invalid response size 1213486160");
        tracker.record(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down");
        QCOMPARE(tracker.tellingReason, std::string("Invalid response size 1213486160"));
        QCOMPARE(tracker.lastError, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN); // "Kafka down" still
        tracker.record(RD_KAFKA_RESP_ERR__AUTHENTICATION, "SASL authentication error");
        tracker.record(RD_KAFKA_RESP_ERR__TRANSPORT, "Connection refused");
        QCOMPARE(tracker.tellingError, RD_KAFKA_RESP_ERR__AUTHENTICATION);
    }
};

QTEST_GUILESS_MAIN(TestBadSettings)
#include "tst_bad_settings.moc"
