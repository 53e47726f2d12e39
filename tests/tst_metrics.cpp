// The headless aggregator's operations endpoints against real engines: pulseboard-cli aggregate
// --metrics on the embedded broker and a real redis-server, scraped by Debian's prometheus
// server (a child on loopback), whose HTTP API must then show what was produced; /healthz and
// /readyz while Redis goes away and comes back; the packaged dashboard's queries and alert
// rules evaluated by that same Prometheus.

#include "metrics/listen_address.h"
#include "metrics/readiness.h"
#include "support/cli_run.h"
#include "support/pipeline_fixture.h"

#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QUrlQuery>
#include <QtTest>

#include <functional>

using namespace pb;
using namespace std::chrono_literals;

namespace {

struct HttpReply {
    int status = 0; // 0: no answer
    QByteArray body;
    QString contentType;
};

HttpReply httpGet(const QString &url, int timeoutMs = 5000)
{
    QNetworkAccessManager manager;
    manager.setProxy(QNetworkProxy::NoProxy); // loopback, whatever http_proxy says
    QNetworkRequest request{QUrl(url)};
    request.setTransferTimeout(timeoutMs);
    QNetworkReply *reply = manager.get(request);
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    loop.exec();
    HttpReply r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.body = reply->readAll();
    r.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toString();
    reply->deleteLater();
    return r;
}

// Polls `check` until it is true or `timeout` passes.
bool waitFor(const std::function<bool()> &check, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (check())
            return true;
        QTest::qWait(200);
    }
    return check();
}

// A child process that is stopped (SIGTERM, then SIGKILL) when the test is done with it.
class Child {
public:
    Child(const QString &program, const QStringList &args)
    {
        process_.setProcessChannelMode(QProcess::MergedChannels);
        process_.start(program, args);
    }
    ~Child() { stop(); }
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;

    bool started() { return process_.waitForStarted(5000); }
    bool running() const { return process_.state() == QProcess::Running; }
    // SIGTERM, then SIGKILL after `graceMs`.
    void stop(int graceMs = 15000)
    {
        if (process_.state() == QProcess::NotRunning)
            return;
        process_.terminate();
        if (!process_.waitForFinished(graceMs)) {
            process_.kill();
            process_.waitForFinished();
        }
    }
    QString output() { return QString::fromUtf8(process_.readAll()); }

private:
    QProcess process_;
};

// Debian's prometheus server on a free loopback port, scraping `target` every second under
// job="pulseboard", with the packaged alert rules loaded.
class Prometheus {
public:
    explicit Prometheus(const QString &target)
    {
        port_ = redis::pickFreeLoopbackPort();
        const auto config = dir_.filePath("prometheus.yml");
        QFile file(config);
        if (!file.open(QIODevice::WriteOnly))
            return;
        file.write(QStringLiteral("global:\n"
                                  "  scrape_interval: 1s\n"
                                  "  evaluation_interval: 1s\n"
                                  "rule_files:\n"
                                  "  - %1/packaging/prometheus/pulseboard-alerts.yml\n"
                                  "scrape_configs:\n"
                                  "  - job_name: pulseboard\n"
                                  "    static_configs:\n"
                                  "      - targets: ['%2']\n")
                       .arg(PULSEBOARD_SOURCE_DIR, target)
                       .toUtf8());
        file.close();
        child_ = std::make_unique<Child>(
            QStandardPaths::findExecutable("prometheus"),
            QStringList{"--config.file=" + config, "--storage.tsdb.path=" + dir_.filePath("data"),
                        "--web.listen-address=127.0.0.1:" + QString::number(port_),
                        "--log.level=warn"});
    }

    QString url(const QString &path) const
    {
        return "http://127.0.0.1:" + QString::number(port_) + path;
    }
    bool ready()
    {
        return child_ && child_->started() &&
               waitFor([&] { return httpGet(url("/-/ready")).status == 200; }, 30s);
    }
    QString output() { return child_ ? child_->output() : QString(); }

    // An instant query; an error status fails the test.
    QJsonObject query(const QString &promql)
    {
        QUrlQuery q;
        q.addQueryItem("query", promql);
        const auto r = httpGet(url("/api/v1/query?") + q.toString(QUrl::FullyEncoded));
        const auto json = QJsonDocument::fromJson(r.body).object();
        if (json[QStringLiteral("status")].toString() != "success")
            qWarning("query %s: HTTP %d %s", qPrintable(promql), r.status, r.body.constData());
        return json;
    }
    QJsonArray vector(const QString &promql)
    {
        return query(promql)[QStringLiteral("data")][QStringLiteral("result")].toArray();
    }
    // The value of a one-series answer; NaN when there is no series.
    double value(const QString &promql)
    {
        const auto result = vector(promql);
        if (result.isEmpty())
            return std::nan("");
        return result[0][QStringLiteral("value")][1].toString().toDouble();
    }

private:
    QTemporaryDir dir_;
    int port_ = 0;
    std::unique_ptr<Child> child_;
};

QString prometheusMissing()
{
    return QStandardPaths::findExecutable("prometheus").isEmpty()
               ? "Debian's prometheus server is not installed: apt-get install prometheus "
                 "(scripts/install-deps.sh installs it). This test needs a real Prometheus."
               : QString();
}

} // namespace

class TestMetrics : public QObject {
    Q_OBJECT

    test::PipelineFixture f_;
    int metricsPort_ = 0;

    QString metricsUrl(const QString &path) const
    {
        return "http://127.0.0.1:" + QString::number(metricsPort_) + path;
    }

    // pulseboard-cli aggregate on the case's topic, with --metrics on a free loopback port.
    std::unique_ptr<Child> startAggregator()
    {
        metricsPort_ = redis::pickFreeLoopbackPort();
        auto child = std::make_unique<Child>(
            PULSEBOARD_CLI,
            QStringList{"aggregate", "--brokers", QString::fromStdString(f_.brokers()), "--topic",
                        QString::fromStdString(f_.topic), "--group",
                        QString::fromStdString("group-" + f_.topic), "--redis",
                        QString::fromStdString(f_.stack->redisEndpoint().toString()), "--metrics",
                        "127.0.0.1:" + QString::number(metricsPort_)});
        return child;
    }

private Q_SLOTS:
    void initTestCase() { f_.start(); }

    void givenProducedEvents_whenPrometheusScrapes_thenItShowsThemAndLagZero()
    {
        f_.nextCase(); // a fresh topic and an empty Redis
        // given: events, bad ones of every reason among them, in the topic
        const auto missing = prometheusMissing();
        if (!missing.isEmpty())
            QFAIL(qPrintable(missing));
        auto workload = test::makeWorkload(3000, 2, 14, test::nowMs(), false);
        test::produceAll(f_.brokers(), f_.topic, workload.records);
        const auto produced = static_cast<double>(workload.records.size());

        // when: an aggregator serves /metrics and Prometheus scrapes it every second
        auto aggregator = startAggregator();
        QVERIFY(aggregator->started());
        Prometheus prometheus("127.0.0.1:" + QString::number(metricsPort_));
        QVERIFY2(prometheus.ready(),
                 qPrintable("prometheus did not start: " + prometheus.output()));

        // then: its API has every event, and the lag of each partition drops to 0
        QVERIFY2(
            waitFor([&] { return prometheus.value("pulseboard_events_total") == produced; }, 60s),
            qPrintable(QString("pulseboard_events_total is %1, expected %2; aggregator: %3")
                           .arg(prometheus.value("pulseboard_events_total"))
                           .arg(produced)
                           .arg(aggregator->output())));
        QVERIFY(
            waitFor([&] { return prometheus.value("sum(pulseboard_consumer_lag)") == 0; }, 30s));
        QCOMPARE(prometheus.value("count(pulseboard_consumer_lag)"), 4.0);
        QCOMPARE(prometheus.value("pulseboard_assigned_partitions"), 4.0);
        QCOMPARE(prometheus.value("up{job=\"pulseboard\"}"), 1.0);
        QCOMPARE(prometheus.value("pulseboard_redis_up"), 1.0);
        QCOMPARE(prometheus.value("pulseboard_kafka_up"), 1.0);
        const auto bad = static_cast<double>(workload.expected.bad());
        QCOMPARE(prometheus.value("pulseboard_dead_letter_forwards_total"), bad);
        QCOMPARE(prometheus.value("sum(pulseboard_bad_events_total)"), bad);
        const auto byReason = prometheus.vector("pulseboard_bad_events_total");
        QCOMPARE(byReason.size(), static_cast<qsizetype>(kInvalidReasonCount));
        for (const auto &series : byReason) {
            const auto reason =
                series[QStringLiteral("metric")][QStringLiteral("reason")].toString().toStdString();
            const auto it = workload.expected.badReasons.find(reason);
            const double expected =
                it == workload.expected.badReasons.end() ? 0 : static_cast<double>(it->second);
            QCOMPARE(series[QStringLiteral("value")][1].toString().toDouble(), expected);
        }
        const auto batches = prometheus.value("pulseboard_batches_total");
        QVERIFY(batches >= 1);
        QCOMPARE(prometheus.value("pulseboard_redis_call_duration_seconds_count"), batches);
        QCOMPARE(prometheus.value("pulseboard_build_info"), 1.0);
        QCOMPARE(
            prometheus
                .vector(
                    "pulseboard_build_info")[0][QStringLiteral("metric")][QStringLiteral("version")]
                .toString(),
            QStringLiteral(PULSEBOARD_VERSION));
        for (const auto *name : {"pulseboard_rewinds_total", "pulseboard_fenced_batches_total",
                                 "pulseboard_lost_events_total"})
            QCOMPARE(prometheus.value(name), 0.0);

        // and the exposition itself passes promtool's lint and holds no secret
        const auto text = httpGet(metricsUrl("/metrics"));
        QCOMPARE(text.status, 200);
        QVERIFY(text.contentType.startsWith("text/plain; version=0.0.4"));
        QVERIFY(!text.body.contains(QByteArray::fromStdString(f_.stack->redisEndpoint().password)));
        QProcess promtool;
        promtool.start(QStandardPaths::findExecutable("promtool"), {"check", "metrics"});
        QVERIFY(promtool.waitForStarted());
        promtool.write(text.body);
        promtool.closeWriteChannel();
        QVERIFY(promtool.waitForFinished());
        QVERIFY2(promtool.exitCode() == 0, promtool.readAll().constData());
    }

    void givenTheDashboardAndAlertRules_whenPrometheusRunsThem_thenEveryQueryAnswers()
    {
        f_.nextCase(); // a fresh topic and an empty Redis
        // given: an aggregator that has counted some events, scraped by Prometheus with the
        // packaged alert rules loaded
        const auto missing = prometheusMissing();
        if (!missing.isEmpty())
            QFAIL(qPrintable(missing));
        auto workload = test::makeWorkload(500, 1, 15, test::nowMs(), false);
        test::produceAll(f_.brokers(), f_.topic, workload.records);
        auto aggregator = startAggregator();
        QVERIFY(aggregator->started());
        Prometheus prometheus("127.0.0.1:" + QString::number(metricsPort_));
        QVERIFY2(prometheus.ready(),
                 qPrintable("prometheus did not start: " + prometheus.output()));
        const auto produced = static_cast<double>(workload.records.size());
        QVERIFY(
            waitFor([&] { return prometheus.value("pulseboard_events_total") == produced; }, 60s));
        QTest::qWait(3000); // a few more scrapes, for the rates

        // when: each of the dashboard's queries runs (Grafana's variables filled in)
        QFile file(PULSEBOARD_SOURCE_DIR "/packaging/grafana/pulseboard-dashboard.json");
        QVERIFY(file.open(QIODevice::ReadOnly));
        const auto dashboard = QJsonDocument::fromJson(file.readAll()).object();
        QVERIFY(dashboard[QStringLiteral("panels")].toArray().size() >= 8);
        // then: each is valid PromQL, and those over counters and gauges that exist from the
        // start have data
        for (const auto &panel : dashboard[QStringLiteral("panels")].toArray()) {
            for (const auto &target : panel[QStringLiteral("targets")].toArray()) {
                auto expr = target[QStringLiteral("expr")].toString();
                expr.replace("$__rate_interval", "30s").replace("$job", "pulseboard");
                const auto answer = prometheus.query(expr);
                QVERIFY2(answer[QStringLiteral("status")].toString() == "success",
                         qPrintable(expr));
                const bool mayBeEmpty = expr.contains(") > 0") || expr.contains("histogram");
                QVERIFY2(mayBeEmpty || !answer[QStringLiteral("data")][QStringLiteral("result")]
                                            .toArray()
                                            .isEmpty(),
                         qPrintable(panel[QStringLiteral("title")].toString() + ": no data for " +
                                    expr));
            }
        }
        // and every alert rule evaluates without error, none firing on a healthy aggregator
        QVERIFY(waitFor(
            [&] {
                const auto groups =
                    QJsonDocument::fromJson(httpGet(prometheus.url("/api/v1/rules")).body)
                        .object()[QStringLiteral("data")][QStringLiteral("groups")]
                        .toArray();
                if (groups.isEmpty())
                    return false;
                for (const auto &rule : groups[0][QStringLiteral("rules")].toArray())
                    if (rule[QStringLiteral("health")].toString() != "ok")
                        return false;
                return true;
            },
            20s));
        QCOMPARE(prometheus.vector("ALERTS{alertstate=\"firing\"}").size(), 0);
    }

    void givenRunningAggregator_whenRedisStops_thenReadyz503UntilItIsBack()
    {
        f_.nextCase(); // a fresh topic and an empty Redis
        // given: an aggregator holding its partitions
        auto aggregator = startAggregator();
        QVERIFY(aggregator->started());
        QVERIFY2(waitFor([&] { return httpGet(metricsUrl("/healthz")).status == 200; }, 10s),
                 qPrintable(aggregator->output()));
        QCOMPARE(httpGet(metricsUrl("/healthz")).body, QByteArray("ok\n"));
        QVERIFY2(waitFor(
                     [&] {
                         const auto r = httpGet(metricsUrl("/readyz"));
                         return r.status == 200 && r.body.contains("holding 4 partition(s)");
                     },
                     30s),
                 httpGet(metricsUrl("/readyz")).body.constData());
        // ... as the docker-compose healthcheck sees it, too
        QFile compose(PULSEBOARD_SOURCE_DIR "/docker-compose.yml");
        QVERIFY(compose.open(QIODevice::ReadOnly));
        const auto match = QRegularExpression(R"re("bash", "-c", "(.*/readyz.*)"\])re")
                               .match(QString::fromUtf8(compose.readAll()));
        QVERIFY2(match.hasMatch(), "docker-compose.yml: no /readyz healthcheck for the aggregator");
        auto healthcheck = match.captured(1);
        healthcheck.replace("\\\\", "\\").replace("9464", QString::number(metricsPort_));
        QCOMPARE(test::run("bash", {"-c", healthcheck}, 10000).exitCode, 0);

        // when: Redis stops
        f_.stack->redis().stop();

        // then: /readyz says so in one line without secrets, /healthz still answers, the
        // metrics show Redis down, and the compose healthcheck fails
        QVERIFY(waitFor([&] { return httpGet(metricsUrl("/readyz")).status == 503; }, 15s));
        const auto notReady = httpGet(metricsUrl("/readyz")).body;
        QCOMPARE(notReady, QByteArray("not ready: Redis is unreachable\n"));
        QCOMPARE(httpGet(metricsUrl("/healthz")).status, 200);
        QVERIFY(httpGet(metricsUrl("/metrics")).body.contains("\npulseboard_redis_up 0\n"));
        QVERIFY(test::run("bash", {"-c", healthcheck}, 10000).exitCode != 0);

        // and: ready again once Redis is back (empty: functions re-loaded)
        f_.stack->redis().start();
        QVERIFY2(waitFor([&] { return httpGet(metricsUrl("/readyz")).status == 200; }, 30s),
                 httpGet(metricsUrl("/readyz")).body.constData());
        QVERIFY(httpGet(metricsUrl("/metrics")).body.contains("\npulseboard_redis_up 1\n"));

        // and: once stopped, it stops serving
        aggregator->stop();
        QCOMPARE(httpGet(metricsUrl("/healthz"), 2000).status, 0);
    }

    void givenBadOrTakenMetricsAddress_whenAggregate_thenOneClearLine()
    {
        const auto help = test::run(PULSEBOARD_CLI, {"aggregate", "--help"});
        QVERIFY(help.out.contains("--metrics") && help.out.contains("127.0.0.1:9464"));
        for (const auto *bad : {"localhost:9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000",
                                "300.1.1.1:9464", "::1:9464"}) {
            const auto r = test::run(PULSEBOARD_CLI, {"aggregate", "--metrics", bad});
            QCOMPARE(r.exitCode, 2);
            QVERIFY2(r.err.contains("--metrics wants IP:PORT"), qPrintable(r.err));
        }
        QTcpServer taken;
        QVERIFY(taken.listen(QHostAddress::LocalHost));
        const auto address = "127.0.0.1:" + QString::number(taken.serverPort());
        const auto r = test::run(
            PULSEBOARD_CLI,
            {"aggregate", "--brokers", QString::fromStdString(f_.brokers()), "--redis",
             QString::fromStdString(f_.stack->redisEndpoint().toString()), "--metrics", address});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("cannot listen on " + address), qPrintable(r.err));
        QCOMPARE(r.err.trimmed().count('\n'), 0);
    }

    void givenAddresses_whenParsed_thenOnlyIpAndPortPass()
    {
        const auto v4 = metrics::parseListenAddress("127.0.0.1:9464");
        QVERIFY(v4);
        QCOMPARE(v4->host, std::string("127.0.0.1"));
        QCOMPARE(v4->port, std::uint16_t{9464});
        QCOMPARE(v4->toString(), std::string("127.0.0.1:9464"));
        const auto v6 = metrics::parseListenAddress("[::1]:9464");
        QVERIFY(v6);
        QCOMPARE(v6->toString(), std::string("[::1]:9464"));
        QVERIFY(metrics::parseListenAddress("0.0.0.0:1"));
        for (const auto *bad : {"", ":9464", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536",
                                "localhost:9464", "[::1]", "::1:9464", "127.0.0.1:9464 "})
            QVERIFY2(!metrics::parseListenAddress(bad), bad);
        // Found by fuzzing: a NUL byte ended the address inet_pton checked, not the host kept.
        QVERIFY(!metrics::parseListenAddress(std::string_view("0.0.0.0\0[::]:1:94", 17)));
    }

    void givenAggregatorStates_whenReadinessAsked_thenItFollowsTheRule()
    {
        AggregatorStats stats;
        stats.running = true;
        stats.redisUp = true;
        using metrics::Phase;
        QVERIFY(!metrics::readiness(Phase::Starting, stats).ready);
        QVERIFY(!metrics::readiness(Phase::Stopped, stats).ready);
        const auto waiting = metrics::readiness(Phase::Running, stats);
        QVERIFY(waiting.ready);
        QCOMPARE(waiting.reason, std::string("ready: waiting for a partition assignment"));
        stats.partitions.resize(3);
        QCOMPARE(metrics::readiness(Phase::Running, stats).reason,
                 std::string("ready: holding 3 partition(s)"));
        stats.kafkaUp = false; // still waiting for its partitions: not a reason to restart it
        QVERIFY(metrics::readiness(Phase::Running, stats).ready);
        stats.lastError = "Redis: WRONGPASS secret-ish text";
        stats.redisUp = false;
        const auto down = metrics::readiness(Phase::Running, stats);
        QVERIFY(!down.ready);
        QCOMPARE(down.reason, std::string("not ready: Redis is unreachable"));
        stats.redisUp = true;
        stats.running = false;
        QVERIFY(!metrics::readiness(Phase::Running, stats).ready);
    }
};

QTEST_GUILESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
