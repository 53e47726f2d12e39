// Alert delivery against real peers: Debian's prometheus-alertmanager on a free loopback port,
// and a small HTTP server in this test standing in for a webhook receiver (answering as told:
// 2xx, 5xx, or nothing at all). The rules' parsing and the payloads are checked as data.

#include "alerts/delivery.h"
#include "alerts/rules.h"
#include "redis/embedded_redis.h"
#include "redis/schema.h"
#include "support/http_receiver.h"

#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QUrlQuery>
#include <QtTest>

#include <functional>
#include <memory>

using namespace pb::alerts;
using namespace std::chrono_literals;
using pb::test::Receiver;

namespace {

bool waitFor(const std::function<bool()> &check, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (check())
            return true;
        QTest::qWait(100);
    }
    return check();
}

int freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

QByteArray httpGet(const QString &url)
{
    QNetworkAccessManager manager;
    manager.setProxy(QNetworkProxy::NoProxy);
    QNetworkRequest request{QUrl(url)};
    request.setTransferTimeout(5000);
    QNetworkReply *reply = manager.get(request);
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    const auto body = reply->error() == QNetworkReply::NoError ? reply->readAll() : QByteArray();
    reply->deleteLater();
    return body;
}

// Debian's Alertmanager with a receiver that sends nowhere, no clustering, on a free port.
class Alertmanager {
public:
    Alertmanager()
    {
        port_ = freePort();
        QFile config(dir_.filePath("alertmanager.yml"));
        if (!config.open(QIODevice::WriteOnly))
            return;
        config.write("route:\n  receiver: nowhere\nreceivers:\n  - name: nowhere\n");
        config.close();
        process_.setProcessChannelMode(QProcess::MergedChannels);
        process_.start(binary(), {"--config.file=" + config.fileName(),
                                  "--storage.path=" + dir_.filePath("data"),
                                  "--web.listen-address=127.0.0.1:" + QString::number(port_),
                                  "--cluster.listen-address=", "--log.level=warn"});
    }
    ~Alertmanager()
    {
        process_.terminate();
        if (!process_.waitForFinished(10000))
            process_.kill();
        process_.waitForFinished();
    }
    static QString binary()
    {
        const auto onPath = QStandardPaths::findExecutable("prometheus-alertmanager");
        return onPath.isEmpty() ? QStringLiteral("/usr/bin/prometheus-alertmanager") : onPath;
    }
    QString url() const { return "http://127.0.0.1:" + QString::number(port_); }
    bool ready()
    {
        return process_.waitForStarted(5000) &&
               waitFor([&] { return httpGet(url() + "/-/ready").startsWith("OK"); }, 30s);
    }
    QString output() { return QString::fromUtf8(process_.readAll()); }
    // The alerts Alertmanager lists (GET /api/v2/alerts: the active ones) named `alertname`.
    QJsonArray alerts(const QString &alertname)
    {
        QUrlQuery q;
        q.addQueryItem("filter", "alertname=\"" + alertname + "\"");
        return QJsonDocument::fromJson(
                   httpGet(url() + "/api/v2/alerts?" + q.toString(QUrl::FullyEncoded)))
            .array();
    }

private:
    QTemporaryDir dir_;
    int port_ = 0;
    QProcess process_;
};

DeliveryOptions quick()
{
    DeliveryOptions o;
    o.timeout = 2s;
    o.attempts = 3;
    o.firstRetry = 50ms;
    o.instance = "test-host";
    return o;
}

AlertEvent lagEvent(bool raised, double value)
{
    return {QDateTime::currentMSecsSinceEpoch(),
            {AlertMetric::ConsumerLag, AlertComparison::Above, 100, true},
            value,
            raised};
}

} // namespace

class TestAlertDelivery : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void givenRuleTexts_whenParsed_thenMetricComparisonAndThresholdOrAReason()
    {
        QString error;
        const auto rule = parseRule(" consumer-lag > 10000 ", &error);
        QVERIFY2(rule, qPrintable(error));
        QCOMPARE(rule->metric, AlertMetric::ConsumerLag);
        QCOMPARE(rule->comparison, AlertComparison::Above);
        QCOMPARE(rule->threshold, 10000.0);
        QVERIFY(rule->enabled);
        QCOMPARE(parseRule("events_per_second<0.5", &error)->comparison, AlertComparison::Below);
        QVERIFY(!parseRule("lag>5", &error));
        QVERIFY2(error.contains("unknown metric"), qPrintable(error));
        QVERIFY(!parseRule("consumer_lag=5", &error));
        QVERIFY2(error.contains("METRIC>NUMBER"), qPrintable(error));
        QCOMPARE(alertName(*rule), QStringLiteral("PulseboardConsumerLagAbove"));
    }

    void givenAnActiveAlert_whenItsRuleChanges_thenItIsCleared()
    {
        AlertEngine engine;
        const AlertRule rule{AlertMetric::ConsumerLag, AlertComparison::Above, 100, true};
        engine.setRules({rule});
        pb::Snapshot s;
        s.takenAtMs = 1000;
        s.consumerLag = 500;
        QCOMPARE(engine.evaluate(s).size(), std::size_t{1});
        // Unchanged rules keep their state: no second raise, no clear.
        QVERIFY(engine.setRules({rule}, 2000).empty());
        QVERIFY(engine.evaluate(s).empty());
        auto changed = rule;
        changed.threshold = 1000;
        const auto cleared = engine.setRules({changed}, 3000);
        QCOMPARE(cleared.size(), std::size_t{1});
        QVERIFY(!cleared[0].raised);
        QCOMPARE(cleared[0].rule, rule);
        QCOMPARE(cleared[0].value, 500.0);
    }

    void givenHostileText_whenPayloadsAreBuilt_thenItIsJsonData()
    {
        auto notice = noticeFor(lagEvent(true, 123));
        notice.summary = "<b>\"quoted\"</b>\n\\ {\"x\":1}";
        const auto am = QJsonDocument::fromJson(alertmanagerPayload({notice})).array();
        QCOMPARE(am.size(), 1);
        QCOMPARE(am[0]["annotations"]["summary"].toString(), notice.summary);
        QCOMPARE(am[0]["labels"]["alertname"].toString(), "PulseboardConsumerLagAbove");
        QVERIFY(am[0]["startsAt"].toString().endsWith('Z'));
        QVERIFY(!am[0].toObject().contains("endsAt"));
        const auto hook = QJsonDocument::fromJson(webhookPayload(notice)).object();
        QCOMPARE(hook["status"].toString(), "firing");
        QCOMPARE(hook["alerts"][0]["annotations"]["summary"].toString(), notice.summary);
        const auto resolved =
            QJsonDocument::fromJson(webhookPayload(noticeFor(lagEvent(false, 1))));
        QCOMPARE(resolved["status"].toString(), "resolved");
        QVERIFY(!resolved["alerts"][0]["endsAt"].toString().isEmpty());
    }

    void givenUrlsWithSecrets_whenRedacted_thenOnlySchemeHostAndPortRemain()
    {
        QCOMPARE(redactedUrl(QUrl("https://bob:s3cret@hooks.example.com:8443/T0/B0/tok?k=v")),
                 "https://hooks.example.com:8443");
        QVERIFY(checkTargetUrl("").isEmpty());
        QVERIFY(checkTargetUrl("http://127.0.0.1:9093").isEmpty());
        QVERIFY(!checkTargetUrl("ftp://x").isEmpty());
        QVERIFY(!checkTargetUrl("not a url").isEmpty());
    }

    void givenAlertmanager_whenAnAlertFiresAndClears_thenItsApiShowsItThenNot()
    {
        if (!QFile::exists(Alertmanager::binary()))
            QFAIL("Debian's prometheus-alertmanager is not installed: apt-get install "
                  "prometheus-alertmanager (scripts/install-deps.sh installs it). This test needs "
                  "a real Alertmanager.");
        Alertmanager am;
        QVERIFY2(am.ready(), qPrintable("alertmanager did not start: " + am.output()));
        AlertSender sender;
        QSignalSpy statuses(&sender, &AlertSender::status);
        auto options = quick();
        options.alertmanager = QUrl(am.url());
        sender.configure(options);

        sender.deliver(noticeFor(lagEvent(true, 5000)));
        QVERIFY2(waitFor([&] { return am.alerts("PulseboardConsumerLagAbove").size() == 1; }, 20s),
                 qPrintable(sender.lastStatus().text));
        const auto alert = am.alerts("PulseboardConsumerLagAbove")[0].toObject();
        QCOMPARE(alert["labels"]["instance"].toString(), "test-host");
        QCOMPARE(alert["labels"]["severity"].toString(), "warning");
        QCOMPARE(alert["labels"]["metric"].toString(), "consumer_lag");
        QCOMPARE(alert["status"]["state"].toString(), "active");
        QVERIFY(alert["annotations"]["summary"].toString().contains("consumer lag above 100"));
        QVERIFY(sender.lastStatus().ok);

        sender.deliver(noticeFor(lagEvent(false, 10)));
        QVERIFY2(waitFor([&] { return am.alerts("PulseboardConsumerLagAbove").isEmpty(); }, 20s),
                 qPrintable(sender.lastStatus().text));
        QVERIFY(waitFor([&] { return sender.lastStatus().sent == 2; }, 10s));
        QCOMPARE(sender.lastStatus().failed, 0);

        // The test button's alert: listed, with the instance label.
        QSignalSpy verdicts(&sender, &AlertSender::testFinished);
        const auto id = sender.sendTest();
        QVERIFY(verdicts.wait(15000));
        QCOMPARE(verdicts[0][0].toULongLong(), id);
        QVERIFY2(verdicts[0][1].toBool(), qPrintable(verdicts[0][2].toString()));
        QVERIFY(verdicts[0][2].toString().contains("accepted the test alert"));
        QVERIFY(waitFor([&] { return am.alerts("PulseboardTestAlert").size() == 1; }, 10s));
    }

    void givenFiringAlerts_whenTheResendPeriodPasses_thenAlertmanagerHearsAgain()
    {
        Receiver receiver({200});
        AlertSender sender;
        auto options = quick();
        options.alertmanager = QUrl(receiver.url("/am"));
        options.resend = 200ms;
        sender.configure(options);
        sender.deliver(noticeFor(lagEvent(true, 5000)));
        QVERIFY(waitFor([&] { return receiver.requests.size() >= 3; }, 10s));
        QVERIFY(receiver.requests[0].head.startsWith("POST /am/api/v2/alerts "));
        const auto resent = QJsonDocument::fromJson(receiver.requests[2].body).array();
        QCOMPARE(resent.size(), 1);
        QCOMPARE(resent[0]["labels"]["alertname"].toString(), "PulseboardConsumerLagAbove");
        // Once resolved, re-sends stop: the last request is the resolution.
        sender.deliver(noticeFor(lagEvent(false, 1)));
        QVERIFY(waitFor([&] { return receiver.requests.last().body.contains("\"endsAt\""); }, 10s));
        const auto count = receiver.requests.size();
        QTest::qWait(1000);
        QCOMPARE(receiver.requests.size(), count);
    }

    void givenAFailingWebhook_whenItRecovers_thenTheNoticeIsRetriedAndDelivered()
    {
        Receiver receiver({503, 503, 200});
        AlertSender sender;
        QSignalSpy statuses(&sender, &AlertSender::status);
        auto options = quick();
        options.webhook = QUrl(receiver.url());
        sender.configure(options);
        sender.deliver(noticeFor(lagEvent(true, 5000)));
        QVERIFY(waitFor([&] { return sender.lastStatus().sent == 1; }, 10s));
        QCOMPARE(receiver.requests.size(), 3);
        QCOMPARE(receiver.requests[0].body, receiver.requests[2].body);
        QCOMPARE(QJsonDocument::fromJson(receiver.requests[2].body)["status"].toString(), "firing");
        bool sawRetry = false;
        for (const auto &args : statuses)
            sawRetry = sawRetry || args[0].value<DeliveryStatus>().text.contains("HTTP 503");
        QVERIFY(sawRetry);
        QVERIFY(sender.lastStatus().ok);
    }

    void givenASilentWebhookWithSecrets_whenEveryAttemptTimesOut_thenFailureShownNotSecrets()
    {
        Receiver receiver({0});
        AlertSender sender;
        auto options = quick();
        options.timeout = 300ms;
        options.attempts = 2;
        auto url = QUrl(receiver.url("/hook/T0K3N?key=s3cr3t"));
        url.setUserInfo("bob:pa55word");
        options.webhook = url;
        sender.configure(options);
        sender.deliver(noticeFor(lagEvent(true, 5000)));
        QVERIFY(waitFor([&] { return sender.lastStatus().failed == 1; }, 10s));
        const auto text = sender.lastStatus().text;
        QVERIFY(!sender.lastStatus().ok);
        QVERIFY2(text.contains("NOT delivered") && text.contains("no answer within 0.3 s"),
                 qPrintable(text));
        for (const auto *secret : {"T0K3N", "s3cr3t", "pa55word", "bob"})
            QVERIFY2(!text.contains(secret), qPrintable(text));
        QCOMPARE(receiver.requests.size(), 2);
        QVERIFY(receiver.requests[0].head.startsWith("POST /hook/T0K3N?key=s3cr3t "));
        QVERIFY(receiver.requests[0].head.contains("Authorization: Basic " +
                                                   QByteArray("bob:pa55word").toBase64()));
    }

    void givenAStuckWebhook_whenTheQueueOverflows_thenTheOldestIsDroppedAndSaid()
    {
        Receiver receiver({0});
        AlertSender sender;
        auto options = quick();
        options.timeout = 60s; // the first stays in flight
        options.queueLimit = 2;
        options.webhook = QUrl(receiver.url());
        sender.configure(options);
        for (double v : {1.0, 2.0, 3.0, 4.0})
            sender.deliver(noticeFor(lagEvent(v > 2, v)));
        QVERIFY(waitFor([&] { return sender.lastStatus().dropped == 1; }, 10s));
        QVERIFY2(sender.lastStatus().text.contains("dropped the oldest notice"),
                 qPrintable(sender.lastStatus().text));
        QCOMPARE(sender.lastStatus().queued, 2);
    }

    void givenCliWatch_whenTheRuleBreaksThenHolds_thenAlertmanagerShowsItFiringThenResolved()
    {
        if (!QFile::exists(Alertmanager::binary()))
            QFAIL("Debian's prometheus-alertmanager is not installed: apt-get install "
                  "prometheus-alertmanager (scripts/install-deps.sh installs it).");
        Alertmanager am;
        QVERIFY2(am.ready(), qPrintable("alertmanager did not start: " + am.output()));
        pb::redis::EmbeddedRedis redis;
        QProcess watch;
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("PULSEBOARD_REDIS_PASSWORD", QString::fromStdString(redis.endpoint().password));
        watch.setProcessEnvironment(env);
        watch.start(PULSEBOARD_CLI,
                    {"watch", "--redis", "127.0.0.1:" + QString::number(redis.port()), "--alert",
                     "active_users<1", "--alertmanager", am.url(), "--instance", "cli-test",
                     "--interval", "200ms"});
        QVERIFY(watch.waitForStarted(5000));
        // An empty Redis: no active users, the rule breaks.
        const auto firing = [&] {
            const auto list = am.alerts("PulseboardActiveUsersBelow");
            return list.size() == 1 && list[0]["labels"]["instance"].toString() == "cli-test";
        };
        QVERIFY2(waitFor(firing, 20s), watch.readAllStandardError().constData());
        // One user seen now: the rule holds again, and the alert resolves.
        pb::redis::Connection c(redis.endpoint());
        c.connect();
        c.command({"ZADD", pb::redis::Schema{}.lastSeen(),
                   std::to_string(QDateTime::currentMSecsSinceEpoch()), "u1"});
        QVERIFY2(waitFor([&] { return am.alerts("PulseboardActiveUsersBelow").isEmpty(); }, 20s),
                 watch.readAllStandardError().constData());
        watch.terminate();
        QVERIFY(watch.waitForFinished(10000));
        QCOMPARE(watch.exitStatus(), QProcess::NormalExit);
        QCOMPARE(watch.exitCode(), 0);
        const auto out = watch.readAllStandardOutput();
        QVERIFY2(out.contains("FIRING PulseboardActiveUsersBelow") &&
                     out.contains("RESOLVED PulseboardActiveUsersBelow"),
                 out.constData());
    }

    void givenNothingListening_whenTestAlertSent_thenTheVerdictSaysConnectionRefused()
    {
        AlertSender sender;
        auto options = quick();
        options.alertmanager = QUrl("http://127.0.0.1:" + QString::number(freePort()));
        sender.configure(options);
        QSignalSpy verdicts(&sender, &AlertSender::testFinished);
        sender.sendTest();
        QVERIFY(verdicts.wait(15000));
        QVERIFY(!verdicts[0][1].toBool());
        QVERIFY2(verdicts[0][2].toString().contains("connection refused"),
                 qPrintable(verdicts[0][2].toString()));
    }
};

QTEST_GUILESS_MAIN(TestAlertDelivery)
#include "tst_alert_delivery.moc"
