// Least privilege against a real redis-server: the lines pulseboard-cli redis-acl prints, applied
// as an admin, let the aggregator count exactly and the reader read, and neither do anything
// else: no keys outside the namespace, no FLUSHALL, no function or config changes. Functions are
// loaded once by redis-setup; an aggregator that finds none says so.

#include "redis/acl.h"
#include "support/cli_run.h"
#include "support/pipeline_fixture.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using namespace pb;
using namespace pb::redis;
using namespace pb::test;

class TestRedisAcl : public QObject {
    Q_OBJECT

    PipelineFixture f_;
    const std::string aggregatorPassword_ = "agg-" + std::to_string(nowMs());
    const std::string readerPassword_ = "read-" + std::to_string(nowMs());

    QProcessEnvironment as(const std::string &password) const
    {
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("PULSEBOARD_REDIS_PASSWORD", QString::fromStdString(password));
        return env;
    }

    Connection connectAs(const std::string &user, const std::string &password) const
    {
        auto e = f_.stack->redisEndpoint();
        e.username = user;
        e.password = password;
        Connection c(e);
        c.connect();
        return c;
    }

    static QByteArray refusal(Connection &c, const Command &command)
    {
        const auto reply = c.command(command);
        return reply->type == REDIS_REPLY_ERROR ? QByteArray(reply->str, int(reply->len))
                                                : QByteArray("allowed");
    }

private Q_SLOTS:
    void initTestCase()
    {
        f_.start();
        f_.nextCase();
        // The lines as the CLI prints them, applied by the admin (the embedded default user).
        for (const auto &[role, user, password] :
             {std::tuple{"aggregator", "pb-agg", aggregatorPassword_},
              std::tuple{"reader", "pb-read", readerPassword_}}) {
            const auto r = run(PULSEBOARD_CLI, {"redis-acl", "--role", role, "--user", user});
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            const auto expected = aclCommands(
                QString(role) == "reader" ? AclRole::Reader : AclRole::Aggregator, Schema{}, user);
            QVERIFY2(r.out.contains(QString::fromStdString(commandLine(expected[0]))),
                     qPrintable(r.out));
            for (const auto &line : r.out.split('\n'))
                QVERIFY2(line.startsWith('#') || !line.contains('>'), qPrintable(line));
            for (const auto &c : expected)
                throwIfError(f_.redisConnection->command(c).get(), "ACL SETUSER");
            throwIfError(
                f_.redisConnection->command({"ACL", "SETUSER", user, ">" + password}).get(),
                "ACL SETUSER password");
        }
    }

    void givenNoFunctions_whenTheLeastPrivilegeAggregatorStarts_thenItSaysToRunRedisSetup()
    {
        throwIfError(f_.redisConnection->command({"FUNCTION", "FLUSH"}).get(), "FUNCTION FLUSH");
        const auto r = run(PULSEBOARD_CLI,
                           {"aggregate", "--brokers", QString::fromStdString(f_.brokers()),
                            "--topic", QString::fromStdString(f_.topic), "--redis",
                            QString::fromStdString(f_.stack->redisEndpoint().toString()),
                            "--redis-user", "pb-agg", "--idle-exit", "2s"},
                           60000, as(aggregatorPassword_));
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("pulseboard-cli redis-setup"), qPrintable(r.err));
        QVERIFY2(!r.err.contains(QString::fromStdString(aggregatorPassword_)), qPrintable(r.err));
    }

    void givenRedisSetupByTheAdmin_whenTheRolesWork_thenTheCountIsExactAndTheReaderReadsIt()
    {
        const auto redis = QString::fromStdString(f_.stack->redisEndpoint().toString());
        auto r = run(PULSEBOARD_CLI, {"redis-setup", "--redis", redis}); // the admin's password
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto w = makeWorkload(20000, 1, 91, nowMs(), true);
        produceAll(f_.brokers(), f_.topic, w.records);
        r = run(PULSEBOARD_CLI,
                {"aggregate", "--brokers", QString::fromStdString(f_.brokers()), "--topic",
                 QString::fromStdString(f_.topic), "--group",
                 QString::fromStdString("group-" + f_.topic), "--redis", redis, "--redis-user",
                 "pb-agg", "--event-time", "payload", "--batch-events", "300", "--idle-exit", "2s"},
                120000, as(aggregatorPassword_));
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        f_.verifyExact(w.expected, nowMs());

        r = run(PULSEBOARD_CLI, {"stats", "--redis", redis, "--redis-user", "pb-read", "--json"},
                30000, as(readerPassword_));
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o["events_total"].toInteger(), w.expected.valid);
        QCOMPARE(o["skipped_fields"].toInteger(), 0);
    }

    void givenNoSeedKeys_whenTheAggregatorRunsUnderItsNarrowerAcl_thenNoGlobalKeyIsWritten()
    {
        const auto redis = QString::fromStdString(f_.stack->redisEndpoint().toString());
        Schema narrow;
        narrow.seedKeys = false;
        for (const auto &c : aclCommands(AclRole::Aggregator, narrow, "pb-narrow"))
            throwIfError(f_.redisConnection->command(c).get(), "ACL SETUSER");
        throwIfError(
            f_.redisConnection->command({"ACL", "SETUSER", "pb-narrow", ">narrow-pw"}).get(),
            "ACL SETUSER password");
        auto r = run(PULSEBOARD_CLI, {"redis-setup", "--redis", redis});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const auto w = makeWorkload(3000, 0, 5, nowMs(), true);
        produceAll(f_.brokers(), f_.topic, w.records);
        r = run(PULSEBOARD_CLI,
                {"aggregate", "--brokers", QString::fromStdString(f_.brokers()), "--topic",
                 QString::fromStdString(f_.topic), "--redis", redis, "--redis-user", "pb-narrow",
                 "--no-seed-keys", "--event-time", "payload", "--idle-exit", "2s"},
                120000, as("narrow-pw"));
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QCOMPARE(replyInteger(
                     f_.redisConnection->command({"EXISTS", "top_pages", "active_users"}).get()),
                 0);
        QCOMPARE(replyInteger(f_.redisConnection->command({"GET", Schema{}.eventsTotal()}).get()),
                 w.expected.valid);
    }

    void givenTheAggregatorUser_whenRedisEvictsOrInfoIsRefused_thenItStopsOrSaysItCannotCheck()
    {
        const auto redis = QString::fromStdString(f_.stack->redisEndpoint().toString());
        auto r = run(PULSEBOARD_CLI, {"redis-setup", "--redis", redis});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QStringList aggregate{"aggregate",
                                    "--brokers",
                                    QString::fromStdString(f_.brokers()),
                                    "--topic",
                                    QString::fromStdString(f_.topic),
                                    "--redis",
                                    redis,
                                    "--redis-user",
                                    "pb-agg",
                                    "--idle-exit",
                                    "2s"};
        // Its ACL lets it read INFO: an evicting Redis is refused under it as under the admin.
        throwIfError(
            f_.redisConnection->command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}).get(),
            "CONFIG SET");
        r = run(PULSEBOARD_CLI, aggregate, 60000, as(aggregatorPassword_));
        throwIfError(
            f_.redisConnection->command({"CONFIG", "SET", "maxmemory-policy", "noeviction"}).get(),
            "CONFIG SET");
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("maxmemory-policy allkeys-lru"), qPrintable(r.err));
        // A user from an older redis-acl (no +info) still aggregates, and says what it could not
        // check.
        throwIfError(f_.redisConnection->command({"ACL", "SETUSER", "pb-agg", "-info"}).get(),
                     "ACL SETUSER");
        r = run(PULSEBOARD_CLI, aggregate, 60000, as(aggregatorPassword_));
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err));
        QVERIFY2(r.err.contains("cannot check that Redis") &&
                     r.err.contains("grant the user +info"),
                 qPrintable(r.err));
        QVERIFY2(!r.err.contains(QString::fromStdString(aggregatorPassword_)), qPrintable(r.err));
    }

    void givenEitherRole_whenItStepsOutsideItsJob_thenRedisRefuses_data()
    {
        QTest::addColumn<QString>("user");
        QTest::addColumn<QStringList>("command");
        const QString inside = QString::fromStdString(Schema{}.key("x"));
        for (const QString user : {"pb-agg", "pb-read"}) {
            const auto row = [&](const char *name, const QStringList &command) {
                QTest::newRow(qPrintable(user + ": " + name)) << user << command;
            };
            row("a key outside the namespace", {"SET", "elsewhere", "1"});
            row("FLUSHALL", {"FLUSHALL"});
            row("FLUSHDB", {"FLUSHDB"});
            row("FUNCTION LOAD", {"FUNCTION", "LOAD", "REPLACE", "#!lua name=x\n"});
            row("FUNCTION DELETE", {"FUNCTION", "DELETE", "pulseboard"});
            row("CONFIG SET", {"CONFIG", "SET", "maxmemory", "1"});
            row("KEYS", {"KEYS", "*"});
            row("DEL in the namespace", {"DEL", inside});
            row("EVAL", {"EVAL", "return 1", "0"});
            row("ACL", {"ACL", "SETUSER", user, "+@all"});
            row("SHUTDOWN", {"SHUTDOWN", "NOSAVE"});
        }
        QTest::newRow("pb-read: HSET in the namespace")
            << "pb-read" << QStringList{"HSET", inside, "f", "1"};
        QTest::newRow("pb-read: FCALL") << "pb-read" << QStringList{"FCALL", "pb_leave_v3", "0"};
    }

    void givenEitherRole_whenItStepsOutsideItsJob_thenRedisRefuses()
    {
        QFETCH(QString, user);
        QFETCH(QStringList, command);
        auto c =
            connectAs(user.toStdString(), user == "pb-agg" ? aggregatorPassword_ : readerPassword_);
        Command args;
        for (const auto &a : command)
            args.push_back(a.toStdString());
        const auto answer = refusal(c, args);
        QVERIFY2(answer.startsWith("NOPERM"), answer.constData());
    }
};

QTEST_GUILESS_MAIN(TestRedisAcl)
#include "tst_redis_acl.moc"
