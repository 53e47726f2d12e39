// pulseboard-cli as a user meets it: real processes, real embedded broker and redis-server.
// Bad input must give one clear line on stderr and a non-zero exit within seconds.

#include "pipeline/embedded_stack.h"
#include "redis/embedded_redis.h"
#include "redis/schema.h"
#include "redis/stats_reader.h"
#include "support/cli_run.h"
#include "support/kafka_test_client.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace pb;

namespace {

// pulseboard-cli with the test's environment (which holds the embedded Redis's password, see
// initTestCase), or with `environment` instead.
test::Run cli(const QStringList &args, int timeoutMs = 30000,
              const QProcessEnvironment &environment = QProcessEnvironment::systemEnvironment())
{
    return test::run(PULSEBOARD_CLI, args, timeoutMs, environment);
}

QString freePort()
{
    return QString::number(redis::pickFreeLoopbackPort());
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT

    std::unique_ptr<EmbeddedStack> stack_;
    QString brokers_;
    QString redis_;

private Q_SLOTS:
    void initTestCase()
    {
        stack_ = std::make_unique<EmbeddedStack>();
        brokers_ = QString::fromStdString(stack_->kafkaSettings().brokers);
        redis_ = QString::fromStdString(stack_->redisEndpoint().toString());
        qputenv("PULSEBOARD_REDIS_PASSWORD",
                QByteArray::fromStdString(stack_->redisEndpoint().password));
    }

    void givenNoCommand_whenRun_thenUsageAndExit2()
    {
        const auto r = cli({});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains("usage: pulseboard-cli COMMAND"));
    }

    void givenEveryCommand_whenAskedForHelp_thenItExplainsItsFlags_data()
    {
        QTest::addColumn<QString>("command");
        QTest::addColumn<QString>("flag");
        QTest::newRow("broker") << "broker"
                                << "--partitions";
        QTest::newRow("create-topic") << "create-topic"
                                      << "--replication";
        QTest::newRow("simulate") << "simulate"
                                  << "--rate";
        QTest::newRow("aggregate") << "aggregate"
                                   << "--idle-exit";
        QTest::newRow("stats") << "stats"
                               << "--json";
        QTest::newRow("export") << "export"
                                << "--out";
        QTest::newRow("demo") << "demo"
                              << "--duration";
        QTest::newRow("watch") << "watch"
                               << "--alertmanager";
    }
    void givenEveryCommand_whenAskedForHelp_thenItExplainsItsFlags()
    {
        QFETCH(QString, command);
        QFETCH(QString, flag);
        const auto r = cli({command, "--help"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(flag), qPrintable(r.out));
    }

    void givenBadFlags_whenRun_thenOneClearLineAndExit2_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown flag") << QStringList{"stats", "--bogus"} << "Unknown option";
        QTest::newRow("bad rate") << QStringList{"simulate", "--rate", "fast"} << "--rate";
        QTest::newRow("bad duration")
            << QStringList{"aggregate", "--window", "5 minutes"} << "--window";
        QTest::newRow("window too long")
            << QStringList{"aggregate", "--window", "2h"} << "between 1s and 1h";
        QTest::newRow("bad redis address")
            << QStringList{"stats", "--redis", "localhost:99999"} << "port";
        QTest::newRow("bad kafka property")
            << QStringList{"simulate", "--kafka-opt", "nonsense"} << "key=value";
        QTest::newRow("export without --out") << QStringList{"export"} << "--out";
        QTest::newRow("watch without a rule") << QStringList{"watch"} << "--alert RULE";
        QTest::newRow("watch with a bad rule")
            << QStringList{"watch", "--alert", "lag>5"} << "unknown metric \"lag\"";
        QTest::newRow("watch with a bad URL")
            << QStringList{"watch", "--alert", "consumer_lag>5", "--webhook", "hooks.example.com"}
            << "--webhook: Enter an http:// or https:// URL";
        QTest::newRow("unknown command") << QStringList{"frobnicate"} << "unknown command";
    }
    void givenBadFlags_whenRun_thenOneClearLineAndExit2()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, expected);
        const auto r = cli(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
    }

    void givenUnreachableEndpoints_whenRun_thenTheyFailFastWithWhatToDo_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("expected");
        const auto deadRedis = "127.0.0.1:" + freePort();
        const auto deadKafka = "127.0.0.1:" + freePort();
        QTest::newRow("stats, no redis")
            << QStringList{"stats", "--redis", deadRedis} << "refused the connection";
        QTest::newRow("simulate, no kafka")
            << QStringList{"simulate", "--brokers", deadKafka, "--count", "1"}
            << "cannot reach Kafka";
        QTest::newRow("aggregate, no redis")
            << QStringList{"aggregate", "--brokers", brokers_, "--redis", deadRedis}
            << "refused the connection";
        QTest::newRow("aggregate, no kafka")
            << QStringList{"aggregate", "--brokers", deadKafka, "--redis", redis_}
            << "cannot reach Kafka";
        QTest::newRow("create-topic, no kafka")
            << QStringList{"create-topic", "--brokers", deadKafka} << "cannot reach Kafka";
        QTest::newRow("aggregate, missing topic")
            << QStringList{"aggregate", "--brokers", brokers_,       "--redis",
                           redis_,      "--topic",   "no-such-topic"}
            << "does not exist";
    }
    void givenUnreachableEndpoints_whenRun_thenTheyFailFastWithWhatToDo()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, expected);
        const auto r = cli(args);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
        QVERIFY2(r.elapsedMs < 15000, qPrintable(QString::number(r.elapsedMs)));
    }

    void givenAPasswordProtectedRedis_whenThePasswordIsWrongOrMissing_thenItSaysSo()
    {
        redis::EmbeddedRedisOptions options;
        options.password = "s3cret";
        redis::EmbeddedRedis locked(options);
        const auto address = QString::fromStdString(locked.endpoint().toString());
        auto r = cli({"stats", "--redis", address, "--redis-password", "wrong"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("password"), qPrintable(r.err));
        auto noPassword = QProcessEnvironment::systemEnvironment();
        noPassword.remove("PULSEBOARD_REDIS_PASSWORD");
        r = cli({"stats", "--redis", address}, 30000, noPassword);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("NOAUTH"), qPrintable(r.err));
        r = cli({"stats", "--redis", address, "--redis-password", "s3cret"});
        QCOMPARE(r.exitCode, 0);
    }

    void givenMalformedFieldsInRedis_whenRead_thenTheyAreSkippedCountedAndTheRestShown()
    {
        // Another program wrote into the namespace: numbers that are not, a bucket named by a
        // word, a key of the wrong type, a heartbeat that is not JSON, a feed entry with a bad
        // time. Each must be skipped and counted; everything else still shown.
        redis::Schema s;
        s.ns = "foreign";
        redis::Connection c(stack_->redisEndpoint());
        const auto nowSecond = QDateTime::currentSecsSinceEpoch();
        const auto bucket = std::to_string(nowSecond / redis::kSecondsPerRateBucket);
        const std::vector<redis::Command> writes = {
            {"SET", s.eventsTotal(), "12"},
            {"SET", s.badTotal(), "junk"},                      // 1
            {"HSET", s.actions(), "view", "7", "click", "NaN"}, // 1
            {"SET", s.badByReason(), "not a hash"},             // 1 (WRONGTYPE)
            {"HSET", s.key("rate:s:" + bucket), std::to_string(nowSecond - 2), "5", "abc", "1",
             std::to_string(nowSecond - 3), "x"},                              // 2
            {"HSET", s.heartbeats(), "agg-1", "{not json"},                    // 1
            {"XADD", s.feed(), "*", "raw", "{}", "ts", "soon", "offset", "3"}, // 1
        };
        for (const auto &w : writes)
            QCOMPARE(c.command(w)->type == REDIS_REPLY_ERROR, false);
        const auto r = cli({"stats", "--redis", redis_, "--namespace", "foreign", "--json"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.contains("skipped 6 malformed fields in "), qPrintable(r.err)); // no feed
        QVERIFY2(r.err.contains(QString::fromStdString(s.actions())), qPrintable(r.err));
        const auto o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o["events_total"].toInteger(), 12);
        QCOMPARE(o["bad_events_total"].toInteger(), 0);
        QCOMPARE(o["actions"].toArray().size(), 1);
        QCOMPARE(o["actions"].toArray()[0].toObject()["count"].toInteger(), 7);
        QCOMPARE(o["events_per_second"].toDouble(), 1.0); // 5 in the last 5 s
        QCOMPARE(o["skipped_fields"].toInteger(), 6);
        const auto text = cli({"stats", "--redis", redis_, "--namespace", "foreign"});
        QCOMPARE(text.exitCode, 0);
        QVERIFY2(text.out.contains("12 valid"), qPrintable(text.out));
        redis::StatsOptions withFeed;
        withFeed.schema = s;
        withFeed.feedEvents = 10; // as the dashboard reads
        const auto snap = redis::StatsReader(c, withFeed).read(nowSecond * 1000);
        QCOMPARE(snap.skipped.count, 7);
        QCOMPARE(snap.latestEvents.size(), std::size_t(1));
        QCOMPARE(snap.latestEvents[0].offset, 3);
        const auto csv = QTemporaryDir().filePath("x"); // a directory gone: export must say so
        QCOMPARE(
            cli({"export", "--redis", redis_, "--namespace", "foreign", "--out", csv}).exitCode, 1);
    }

    void givenKafkaSecrets_whenGiven_thenNeverEchoedAndCodeFromFilesRefused()
    {
        const QString secret = "Hunter2-" + QString::number(QDateTime::currentMSecsSinceEpoch());
        QTemporaryDir dir;
        const auto write = [&](const QString &name, const QByteArray &text) {
            QFile file(dir.filePath(name));
            file.open(QIODevice::WriteOnly);
            file.write(text);
            file.close();
            return file.fileName();
        };
        // A property without '=' may be a pasted password: not shown.
        auto r = cli({"create-topic", "--brokers", brokers_, "--kafka-opt", secret});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(!r.err.contains(secret) && r.err.contains("key=value"), qPrintable(r.err));

        // Code from a file only when allowed; the line is named, the value is not shown.
        const auto risky =
            write("risky.properties", "# a comment\n\nsasl.kerberos.kinit.cmd = touch " +
                                          dir.filePath("pwned").toUtf8() + "\n");
        r = cli({"create-topic", "--brokers", brokers_, "--kafka-config", risky});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("line 3") && r.err.contains("--kafka-config-allow-code"),
                 qPrintable(r.err));
        QVERIFY(!QFile::exists(dir.filePath("pwned")));

        // SASL PLAIN over plaintext, a password on the command line, a password file others can
        // read: each warned about, the password in none of it.
        const auto shared = write("shared.properties", "sasl.password=" + secret.toUtf8() + "\n");
        QFile::setPermissions(shared, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadOther);
        r = cli({"create-topic", "--brokers", "127.0.0.1:1", "--kafka-config", shared,
                 "--kafka-opt", "security.protocol=SASL_PLAINTEXT", "--kafka-opt",
                 "sasl.mechanism=PLAIN", "--kafka-opt", "sasl.username=u", "--kafka-opt",
                 "sasl.password=" + secret},
                20000);
        QVERIFY(r.exitCode != 0);
        QVERIFY2(!r.err.contains(secret), qPrintable(r.err));
        QVERIFY2(r.err.contains("chmod 600"), qPrintable(r.err));
        QVERIFY2(r.err.contains("(ps)"), qPrintable(r.err));
        QVERIFY2(r.err.contains("SASL PLAIN over plaintext"), qPrintable(r.err));
    }

    void givenTopicAdmin_whenTheTopicExists_thenThatIsSuccess()
    {
        // The embedded broker created user-activity with 4 partitions.
        auto r = cli({"create-topic", "--brokers", brokers_, "--partitions", "2"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("exists with 4 partitions"), qPrintable(r.out));
        r = cli({"create-topic", "--brokers", brokers_, "--partitions", "8"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("fewer than the 8"), qPrintable(r.err));
    }

    void givenSimulatedTraffic_whenAggregated_thenStatsJsonAndCsvShowIt()
    {
        auto r =
            cli({"simulate", "--brokers", brokers_, "--count", "3000", "--rate", "0", "--quiet"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("acknowledged 3000"), qPrintable(r.out));
        r = cli({"aggregate", "--brokers", brokers_, "--redis", redis_, "--idle-exit", "2s"},
                60000);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("aggregated 3000 valid"), qPrintable(r.out + r.err));

        r = cli({"stats", "--redis", redis_, "--json", "--user", "1"});
        QCOMPARE(r.exitCode, 0);
        const auto doc = QJsonDocument::fromJson(r.out.toUtf8());
        QVERIFY2(doc.isObject(), qPrintable(r.out));
        const auto o = doc.object();
        QCOMPARE(o["events_total"].toInteger(), 3000);
        QVERIFY(o["active_users"].toInteger() > 0);
        const auto pages = o["top_pages"].toArray();
        QVERIFY(!pages.isEmpty());
        qint64 previous = std::numeric_limits<qint64>::max();
        for (const auto &p : pages) {
            QVERIFY(!p.toObject()["page"].toString().isEmpty());
            QVERIFY(p.toObject()["count"].toInteger() <= previous); // most first
            previous = p.toObject()["count"].toInteger();
        }

        QTemporaryDir dir;
        const auto file = dir.filePath("stats.csv");
        r = cli({"export", "--redis", redis_, "--out", file});
        QCOMPARE(r.exitCode, 0);
        QFile csv(file);
        QVERIFY(csv.open(QIODevice::ReadOnly));
        const auto text = QString::fromUtf8(csv.readAll());
        QVERIFY(text.startsWith("metric,key,time_utc,value\r\n"));
        QVERIFY(text.contains(QRegularExpression("\r\nevents_total,,[0-9T:.-]+Z,3000\r\n")));
    }

    void givenTheBrokerCommand_whenStarted_thenItsFirstLineIsTheBootstrapAddress()
    {
        QProcess broker;
        broker.start(PULSEBOARD_CLI,
                     {"broker", "--topic", "a", "--topic", "b", "--partitions", "3"});
        QVERIFY(broker.waitForReadyRead(10000));
        const auto line = QString::fromUtf8(broker.readLine()).trimmed();
        QVERIFY2(QRegularExpression("^127\\.0\\.0\\.1:[0-9]+$").match(line).hasMatch(),
                 qPrintable(line));
        const auto r =
            cli({"create-topic", "--brokers", line, "--topic", "b", "--partitions", "3"});
        QVERIFY2(r.out.contains("exists with 3 partitions"), qPrintable(r.out + r.err));
        broker.terminate(); // SIGTERM: a clean stop
        QVERIFY(broker.waitForFinished(10000));
        QCOMPARE(broker.exitCode(), 0);
    }

    void givenAFaultScript_whenTheBrokerRunsIt_thenItAppliesAndLogsEachFault()
    {
        QTemporaryDir dir;
        const auto path = dir.filePath("faults.txt");
        QFile script(path);
        QVERIFY(script.open(QIODevice::WriteOnly));
        script.write("# a demo\ndown 2\nwait 300ms\nup 2\n\nleader user-activity 1 3  # moved\n"
                     "errors Fetch 2\nrtt 1 200ms\ndown 9\nheal\n");
        script.close();
        QProcess broker;
        broker.start(PULSEBOARD_CLI, {"broker", "--brokers", "3", "--fault-script", path});
        QVERIFY(broker.waitForReadyRead(10000));
        const auto bootstrap = QString::fromUtf8(broker.readLine()).trimmed().toStdString();
        QString err;
        QElapsedTimer timer;
        timer.start();
        while (!err.contains("fault script done") && timer.elapsed() < 15000) {
            broker.waitForReadyRead(200);
            err += QString::fromUtf8(broker.readAllStandardError());
        }
        for (const auto *expected :
             {"broker 2 down", "broker 2 up", "leader of user-activity/1 moved to broker 3",
              "Fetch: the next 2 request(s) fail with NOT_LEADER_FOR_PARTITION",
              "broker 1 answers 200 ms late", "there is no broker 9", "healed", "script done"})
            QVERIFY2(err.contains(expected), qPrintable(err));
        QCOMPARE(test::partitionLeader(bootstrap, "user-activity", 1), 3);
        broker.terminate();
        QVERIFY(broker.waitForFinished(10000));
        QCOMPARE(broker.exitCode(), 0);
    }

    void givenAWrongFaultScript_whenTheBrokerStarts_thenItNamesTheLineBeforeStarting()
    {
        QTemporaryDir dir;
        const auto path = dir.filePath("faults.txt");
        QFile script(path);
        QVERIFY(script.open(QIODevice::WriteOnly));
        script.write("down 2\nexplode 3\n");
        script.close();
        const auto r = cli({"broker", "--brokers", "3", "--fault-script", path});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.out.isEmpty(), qPrintable(r.out)); // no bootstrap address: not started
        QVERIFY2(r.err.contains("line 2") && r.err.contains("unknown command \"explode\""),
                 qPrintable(r.err));
    }

    void givenRandomFaults_whenTheBrokerRuns_thenItInjectsOneEveryInterval()
    {
        QProcess broker;
        broker.start(PULSEBOARD_CLI,
                     {"broker", "--brokers", "3", "--faults", "200ms", "--fault-seed", "11"});
        QVERIFY(broker.waitForStarted(10000));
        QString err;
        QElapsedTimer timer;
        timer.start();
        // Each line starts with its time: the first says what comes, then one per fault.
        while (err.count("Z  ") < 6 && timer.elapsed() < 15000) {
            broker.waitForReadyRead(200);
            err += QString::fromUtf8(broker.readAllStandardError());
        }
        QVERIFY2(err.contains("random faults every 200 ms, seed 11"), qPrintable(err));
        QVERIFY2(err.count("Z  ") >= 6, qPrintable(err));
        broker.terminate();
        QVERIFY(broker.waitForFinished(10000));
        QCOMPARE(broker.exitCode(), 0);
    }

    void givenTheDemo_whenRunForAFewSeconds_thenItShowsLiveNumbersAndExits0()
    {
        const auto r = cli({"demo", "--duration", "7s", "--rate", "500"}, 60000);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("active users"), qPrintable(r.out));
        const QRegularExpression finished("demo finished: ([0-9]+) events aggregated");
        const auto match = finished.match(r.out);
        QVERIFY2(match.hasMatch(), qPrintable(r.out + r.err));
        QVERIFY2(match.captured(1).toLongLong() > 0, qPrintable(r.out));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
