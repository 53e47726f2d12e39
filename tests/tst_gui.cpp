// The desktop dashboard with real widgets (QT_QPA_PLATFORM=offscreen), a real embedded stack
// behind it, and real files.

#include "alerts_panel.h"
#include "control_panels.h"
#include "dashboard_export.h"
#include "dashboard_panels.h"
#include "error_text.h"
#include "kafka/kafka_client.h"
#include "live_events_panel.h"
#include "main_window.h"
#include "pipeline_controller.h"
#include "redis/embedded_redis.h"
#include "redis/redis_error.h"
#include "secret_store.h"
#include "settings_dialog.h"
#include "support/bad_servers.h"
#include "support/http_receiver.h"

#include <QChartView>
#include <QCheckBox>
#include <QDateTime>
#include <QElapsedTimer>
#include <QGraphicsScene>
#include <QGraphicsTextItem>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <sstream>

using namespace pb;
using namespace pb::gui;
using namespace std::chrono_literals;

namespace {

Snapshot knownSnapshot(std::int64_t at)
{
    Snapshot s;
    s.takenAtMs = at;
    s.activeWindow = 5min;
    s.activeUsers = 1234;
    s.activeUsers30m = 2345;
    s.eventsTotal = 98765;
    s.badEventsTotal = 12;
    s.consumerLag = 7;
    s.topPagesAllTime = {{"/home", 500}, {"/cart", 300}, {"/a,\"b\"", 100}};
    s.topPagesLastHour = {{"/cart", 30}, {"/home", 20}};
    s.actions = {{"view", 900}, {"click", 100}};
    s.badByReason = {{"not_json", 12}};
    for (int i = 0; i < 5; ++i)
        s.perSecond.push_back({at / 1000 - 5 + i, 10});
    return s;
}

QByteArray fileBytes(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

class TestGui : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<QSettings> settings_;
    std::unique_ptr<PipelineController> controller_;
    std::unique_ptr<SecretStore> secrets_;
    std::unique_ptr<MainWindow> window_;
    std::unique_ptr<test::BadServers> badServers_; // for the bad-settings tables only

    test::BadServers &badServers()
    {
        if (!badServers_)
            badServers_ = std::make_unique<test::BadServers>();
        return *badServers_;
    }

    // Clicks "Test connection" (which: "redis" or "kafka"); empty when the verdict is as the
    // row expects, else what differs.
    static QString problemWithVerdict(SettingsDialog &dialog, const QString &which, bool ok,
                                      const QStringList &expected, const QString &field,
                                      const QString &secret, int timeoutMs)
    {
        QSignalSpy verdict(&dialog, &SettingsDialog::verdict);
        QElapsedTimer timer;
        timer.start();
        dialog.findChild<QPushButton *>(which == "redis" ? "testRedis" : "testKafka")->click();
        // The UI thread stays free: the verdict arrives as an event while it waits.
        if (!verdict.wait(timeoutMs + 10000))
            return "no verdict within " + QString::number(timeoutMs + 10000) + " ms";
        const auto took = timer.elapsed();
        const auto message = verdict.first().at(2).toString();
        if (verdict.first().at(0).toString() != which || verdict.first().at(1).toBool() != ok)
            return QString(ok ? "failed" : "passed") + ": " + message;
        for (const auto &words : expected)
            if (!message.contains(words))
                return "'" + words + "' not in: " + message;
        if (message.contains("--"))
            return "a command-line flag in the dashboard's words: " + message;
        if (!secret.isEmpty() && message.contains(secret))
            return "the password was shown: " + message;
        if (dialog.fieldToFix() != field)
            return "field to fix '" + dialog.fieldToFix() + "', not '" + field + "'";
        if (took >= timeoutMs + 10000)
            return "took " + QString::number(took) + " ms";
        return {};
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        settings_ =
            std::make_unique<QSettings>(dir_.filePath("pulseboard.ini"), QSettings::IniFormat);
        controller_ = std::make_unique<PipelineController>();
        secrets_ = std::make_unique<SecretStore>("Pulseboard-test");
        QSignalSpy ready(controller_.get(), &PipelineController::endpointsReady);
        window_ = std::make_unique<MainWindow>(*controller_, *settings_, *secrets_);
        window_->resize(1280, 800);
        window_->show();
        QVERIFY2(ready.wait(20000), "the embedded stack did not come up");
        QVERIFY(window_->windowTitle().contains("Embedded"));
    }

    void cleanupTestCase()
    {
        window_.reset();
        secrets_.reset();
        controller_.reset();
    }

    void givenSettings_whenSavedAndLoaded_thenEverythingButThePasswordsRoundTrips()
    {
        AppSettings a;
        a.mode = StackMode::External;
        a.kafkaBrokers = "k1:9092,k2:9093";
        a.topic = "clicks";
        a.group = "g1";
        a.saslMechanism = "SCRAM-SHA-256";
        a.saslUsername = "alice";
        a.saslPassword = "kafka-secret-123";
        a.redisHost = "redis.internal";
        a.redisPort = 6380;
        a.redisPassword = "redis-secret-456";
        a.redisDatabase = 3;
        a.windowSeconds = 600;
        a.refreshMs = 500;
        a.aggregatorThreads = 3;
        a.embeddedPartitions = 8;
        const auto path = dir_.filePath("roundtrip.ini");
        {
            QSettings s(path, QSettings::IniFormat);
            a.save(s);
        }
        QSettings s(path, QSettings::IniFormat);
        auto loaded = AppSettings::load(s);
        QCOMPARE(loaded.saslPassword, QString());
        QCOMPARE(loaded.redisPassword, QString());
        loaded.saslPassword = a.saslPassword;
        loaded.redisPassword = a.redisPassword;
        QVERIFY(loaded == a);
        const auto bytes = fileBytes(path);
        QVERIFY(bytes.contains("redis.internal"));
        QVERIFY(!bytes.contains("kafka-secret-123"));
        QVERIFY(!bytes.contains("redis-secret-456"));
    }

    void givenBadFields_whenEdited_thenTheReasonShowsNextToThemAndOkIsDisabled()
    {
        AppSettings a;
        a.mode = StackMode::External;
        a.kafkaBrokers = "kafka1";
        a.topic = "bad topic!";
        SettingsDialog dialog(a);
        QVERIFY(dialog.errorFor("kafka/brokers").contains("port"));
        QVERIFY(dialog.errorFor("kafka/topic").contains("letters"));
        QVERIFY(!dialog.acceptable());
        auto *brokers = dialog.findChild<QLineEdit *>("kafkaBrokers");
        auto *topic = dialog.findChild<QLineEdit *>("topic");
        QVERIFY(brokers && topic);
        brokers->setText("kafka1:9092");
        topic->setText("user-activity");
        QCOMPARE(dialog.errorFor("kafka/brokers"), QString());
        QVERIFY(dialog.acceptable());
        QCOMPARE(dialog.settings().kafkaBrokers, QString("kafka1:9092"));
        brokers->setText("kafka1:99999");
        QVERIFY(dialog.errorFor("kafka/brokers").contains("65535"));
        QVERIFY(!dialog.acceptable());
    }

    void givenAnUnreachableRedis_whenTested_thenTheVerdictSaysSoWithoutFreezing()
    {
        AppSettings a;
        a.mode = StackMode::External;
        a.redisHost = "127.0.0.1";
        a.redisPort = 1; // nobody listens there
        SettingsDialog dialog(a);
        QSignalSpy verdict(&dialog, &SettingsDialog::verdict);
        dialog.testRedis();
        QVERIFY(verdict.wait(10000));
        QCOMPARE(verdict.first().at(0).toString(), QString("redis"));
        QCOMPARE(verdict.first().at(1).toBool(), false);
        QVERIFY(verdict.first().at(2).toString().contains("refused"));
    }

    void givenAWebhookReceiver_whenSendTestAlertClicked_thenItGetsOneAndTheVerdictShows()
    {
        test::Receiver receiver({200});
        AppSettings a;
        a.webhookUrl = receiver.url("/hook?token=T0K3N");
        SettingsDialog dialog(a);
        QSignalSpy verdict(&dialog, &SettingsDialog::verdict);
        auto *button = dialog.findChild<QPushButton *>("sendTestAlert");
        QVERIFY(button->isEnabled());
        button->click();
        QVERIFY(!button->isEnabled()); // until the verdict: the click returned at once
        QVERIFY(verdict.wait(15000));
        QCOMPARE(verdict.first().at(0).toString(), QString("alerts"));
        QVERIFY2(verdict.first().at(1).toBool(), qPrintable(verdict.first().at(2).toString()));
        const auto shown = dialog.findChild<QLabel *>("alertVerdict")->text();
        QVERIFY2(shown.contains("accepted the test alert"), qPrintable(shown));
        QVERIFY(!shown.contains("T0K3N"));
        QCOMPARE(receiver.requests.size(), 1);
        QCOMPARE(
            QJsonDocument::fromJson(receiver.requests[0].body)["alerts"][0]["labels"]["alertname"]
                .toString(),
            QString("PulseboardTestAlert"));
        QVERIFY(button->isEnabled());
    }

    void givenABadAlertUrl_whenTyped_thenTheFieldSaysWhyAndOkAndTestAreOff()
    {
        SettingsDialog dialog(AppSettings{});
        auto *button = dialog.findChild<QPushButton *>("sendTestAlert");
        QVERIFY(!button->isEnabled()); // no URL yet
        dialog.findChild<QLineEdit *>("alertmanagerUrl")->setText("localhost:9093");
        QVERIFY(dialog.errorFor("alerts/alertmanagerUrl").contains("http://"));
        QVERIFY(!dialog.acceptable());
        QVERIFY(!button->isEnabled());
        dialog.findChild<QLineEdit *>("alertmanagerUrl")->setText("http://localhost:9093");
        QVERIFY(dialog.errorFor("alerts/alertmanagerUrl").isEmpty());
        QVERIFY(dialog.acceptable());
        QVERIFY(button->isEnabled());
        QCOMPARE(dialog.settings().alertmanagerUrl, QString("http://localhost:9093"));
    }

    void givenAWebhook_whenAnAlertIsRaisedAndCleared_thenBothArePostedAndTheStatusSaysSo()
    {
        test::Receiver receiver({200});
        AlertsPanel panel;
        alerts::DeliveryOptions options;
        options.webhook = QUrl(receiver.url());
        panel.setDelivery(options);
        panel.setRules({{AlertMetric::EventsPerSecond, AlertComparison::Below, 5, true}});
        auto quiet = knownSnapshot(1700000000000);
        for (auto &p : quiet.perSecond)
            p.count = 0;
        panel.evaluate(quiet);
        panel.evaluate(knownSnapshot(1700000001000));
        QVERIFY(QTest::qWaitFor([&] { return receiver.requests.size() == 2; }, 15000));
        const auto fired = QJsonDocument::fromJson(receiver.requests[0].body);
        const auto cleared = QJsonDocument::fromJson(receiver.requests[1].body);
        QCOMPARE(fired["status"].toString(), QString("firing"));
        QCOMPARE(fired["alerts"][0]["labels"]["alertname"].toString(),
                 QString("PulseboardEventsPerSecondBelow"));
        QCOMPARE(cleared["status"].toString(), QString("resolved"));
        QVERIFY(QTest::qWaitFor(
            [&] { return panel.deliveryStatus().contains("resolved delivered to webhook"); },
            15000));
    }

    void givenAnUnreachableWebhook_whenAnAlertIsRaised_thenThePanelShowsTheFailure()
    {
        AlertsPanel panel;
        alerts::DeliveryOptions options;
        options.webhook = QUrl("http://127.0.0.1:1/hook");
        options.attempts = 2;
        options.firstRetry = 10ms;
        panel.setDelivery(options);
        panel.setRules({{AlertMetric::ActiveUsers, AlertComparison::Above, 10, true}});
        panel.evaluate(knownSnapshot(1700000000000)); // 1234 active users
        QVERIFY(QTest::qWaitFor([&] { return panel.deliveryStatus().contains("NOT delivered"); },
                                15000));
        QVERIFY2(panel.deliveryStatus().contains("connection refused"),
                 qPrintable(panel.deliveryStatus()));
    }

    void givenEngineErrors_whenShown_thenInTheDashboardsWordsPointingAtTheField_data()
    {
        QTest::addColumn<int>("which");
        QTest::addColumn<QString>("guiWords");
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("cliFlag");
        QTest::newRow("NOAUTH") << 0 << "refused the login"
                                << "redis/password"
                                << "--redis-password";
        QTest::newRow("WRONGPASS") << 1 << "wrong user name or password"
                                   << "redis/password"
                                   << "--redis-password";
        QTest::newRow("NOPERM") << 2 << "may not do what Pulseboard needs"
                                << "redis/username"
                                << "--redis-user";
        QTest::newRow("refused") << 3 << "cannot be reached"
                                 << "redis/host"
                                 << "--redis";
        QTest::newRow("untrusted CA") << 4 << "not signed by a trusted CA"
                                      << "redis/tlsCaFile"
                                      << "--redis-tls-ca";
        QTest::newRow("TLS port, plain client") << 5 << "as a TLS port does"
                                                << "redis/host"
                                                << "rediss://";
        QTest::newRow("Kafka SASL") << 6 << "refused the login"
                                    << "kafka/saslPassword"
                                    << "SASL";
        QTest::newRow("Kafka topic ACL") << 7 << "may not do what Pulseboard needs"
                                         << "kafka/saslUsername"
                                         << "ACL";
        QTest::newRow("Redis LOADING") << 8 << "cannot serve now"
                                       << ""
                                       << "LOADING";
    }

    void givenEngineErrors_whenShown_thenInTheDashboardsWordsPointingAtTheField()
    {
        QFETCH(int, which);
        QFETCH(QString, guiWords);
        QFETCH(QString, field);
        QFETCH(QString, cliFlag);
        // Each from the one place that translates the library's errors.
        const std::vector<Error> errors = {
            redis::errorFromReply("NOAUTH Authentication required.", "Redis at 127.0.0.1:6379"),
            redis::errorFromReply("WRONGPASS invalid username-password pair", "Redis at r:1"),
            redis::errorFromReply("NOPERM this user has no permissions to run the 'fcall' command",
                                  "Redis at r:1"),
            redis::errorFromIo(REDIS_ERR_IO, "Connection refused", "127.0.0.1:1"),
            redis::errorFromTls("certificate verify failed", "r:6380"),
            redis::errorClosedBeforeAnswering("r:6380"),
            kafka::kafkaError(RD_KAFKA_RESP_ERR__AUTHENTICATION, "joining the group"),
            kafka::kafkaError(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "fetching"),
            redis::errorFromReply("LOADING Redis is loading the dataset in memory", "Redis at r:1"),
        };
        const auto &e = errors.at(static_cast<std::size_t>(which));
        const auto gui = errorText(e);
        QVERIFY2(gui.contains(guiWords), qPrintable(gui));
        QVERIFY2(!gui.contains("--"), qPrintable(gui)); // no command-line flags in the GUI
        QCOMPARE(settingsField(e), field);
        QVERIFY2(QString::fromUtf8(e.what()).contains(cliFlag), e.what()); // the CLI's advice
    }

    void givenAWrongRedisPassword_whenTested_thenTheVerdictPointsAtThePasswordField()
    {
        redis::EmbeddedRedisOptions options;
        options.password = "right-one";
        redis::EmbeddedRedis locked(options);
        AppSettings a;
        a.mode = StackMode::External;
        a.redisHost = "127.0.0.1";
        a.redisPort = locked.port();
        a.redisPassword = "wrong-one";
        SettingsDialog dialog(a);
        QSignalSpy verdict(&dialog, &SettingsDialog::verdict);
        dialog.testRedis();
        QVERIFY(verdict.wait(10000));
        QCOMPARE(verdict.first().at(1).toBool(), false);
        const auto message = verdict.first().at(2).toString();
        QVERIFY2(message.contains("Settings ▸ Redis") && !message.contains("--"),
                 qPrintable(message));
        QVERIFY2(!message.contains("wrong-one"), qPrintable(message));
        QCOMPARE(dialog.fieldToFix(), QString("redis/password"));
    }

    void givenTlsSettings_whenSavedAndLoaded_thenTheyRoundTripAndReachRedisAndKafka()
    {
        AppSettings a;
        a.mode = StackMode::External;
        a.kafkaSsl = true; // no CA file: librdkafka uses the system store
        a.sslCertFile = "/etc/pb/kafka-client.pem";
        a.sslKeyFile = "/etc/pb/kafka-client.key";
        a.redisHost = "redis.internal";
        a.redisUsername = "pulse";
        a.redisPassword = "tls-secret-321";
        a.redisTls = true;
        a.redisTlsCaFile = "/etc/pb/redis-ca.pem";
        a.redisTlsCertFile = "/etc/pb/redis-client.pem";
        a.redisTlsKeyFile = "/etc/pb/redis-client.key";
        a.redisTlsServerName = "redis.example.internal";
        a.redisTlsVerify = false;
        const auto path = dir_.filePath("tls.ini");
        {
            QSettings s(path, QSettings::IniFormat);
            a.save(s);
        }
        QSettings s(path, QSettings::IniFormat);
        auto loaded = AppSettings::load(s);
        QCOMPARE(loaded.redisPassword, QString());
        loaded.redisPassword = a.redisPassword;
        QVERIFY(loaded == a);
        QVERIFY(!fileBytes(path).contains("tls-secret-321"));

        const auto e = a.redisEndpoint();
        QCOMPARE(e.username, std::string("pulse"));
        QVERIFY(e.tls.enabled && e.tls.insecure);
        QCOMPARE(e.tls.caFile, std::string("/etc/pb/redis-ca.pem"));
        QCOMPARE(e.tls.certFile, std::string("/etc/pb/redis-client.pem"));
        QCOMPARE(e.tls.keyFile, std::string("/etc/pb/redis-client.key"));
        QCOMPARE(e.tls.serverName, std::string("redis.example.internal"));
        SettingsDialog dialog(a); // the pane shows it, and hands it back
        QCOMPARE(dialog.settings().redisTlsServerName, QString("redis.example.internal"));
        QVERIFY(!AppSettings().redisTls && AppSettings().redisTlsVerify); // the defaults

        const auto k = a.kafkaSettings().properties;
        const auto has = [&](const std::string &key, const std::string &value) {
            return std::find(k.begin(), k.end(), std::pair(key, value)) != k.end();
        };
        QVERIFY(has("security.protocol", "SSL"));
        QVERIFY(has("ssl.certificate.location", "/etc/pb/kafka-client.pem"));
        QVERIFY(has("ssl.key.location", "/etc/pb/kafka-client.key"));
        QVERIFY(std::none_of(k.begin(), k.end(),
                             [](const auto &p) { return p.first == "ssl.ca.location"; }));
        a.sslCaFile = "/etc/pb/kafka-ca.pem";
        a.saslMechanism = "PLAIN";
        const auto withCa = a.kafkaSettings().properties;
        QVERIFY(std::find(withCa.begin(), withCa.end(),
                          std::pair<std::string, std::string>(
                              "ssl.ca.location", "/etc/pb/kafka-ca.pem")) != withCa.end());
        QVERIFY(std::find(withCa.begin(), withCa.end(),
                          std::pair<std::string, std::string>("security.protocol", "SASL_SSL")) !=
                withCa.end());

        // Settings written before the SSL switch: a CA file meant SSL.
        QSettings old(dir_.filePath("old.ini"), QSettings::IniFormat);
        old.setValue("kafka/sslCaFile", "/etc/pb/kafka-ca.pem");
        QVERIFY(AppSettings::load(old).kafkaSsl);
    }

    void givenSaslPlainOverPlaintext_whenChosen_thenTheDialogWarnsUntilSslIsOn()
    {
        AppSettings a;
        a.mode = StackMode::External;
        a.saslMechanism = "PLAIN";
        a.saslUsername = "operator";
        SettingsDialog dialog(a);
        auto *warning = dialog.findChild<QLabel *>("kafkaSecurityWarning");
        auto *kafkaSsl = dialog.findChild<QCheckBox *>("kafkaSsl");
        QVERIFY(warning && kafkaSsl);
        QCOMPARE(warning->textFormat(), Qt::PlainText);
        QVERIFY(!kafkaSsl->isChecked());
        QVERIFY2(!warning->isHidden() && warning->text().contains("SASL PLAIN over plaintext"),
                 qPrintable(warning->text()));
        QVERIFY(dialog.acceptable()); // a warning, not a refusal
        kafkaSsl->setChecked(true);
        QVERIFY2(warning->isHidden(), qPrintable(warning->text()));
    }

    void givenTlsFileFields_whenEdited_thenEachProblemShowsNextToItsField()
    {
        AppSettings a;
        a.mode = StackMode::External;
        SettingsDialog dialog(a);
        auto *redisTls = dialog.findChild<QCheckBox *>("redisTls");
        auto *verify = dialog.findChild<QCheckBox *>("redisTlsVerify");
        auto *ca = dialog.findChild<QLineEdit *>("redisTlsCaFile");
        auto *cert = dialog.findChild<QLineEdit *>("redisTlsCertFile");
        auto *key = dialog.findChild<QLineEdit *>("redisTlsKeyFile");
        auto *user = dialog.findChild<QLineEdit *>("redisUsername");
        auto *kafkaSsl = dialog.findChild<QCheckBox *>("kafkaSsl");
        auto *kafkaCert = dialog.findChild<QLineEdit *>("sslCertFile");
        QVERIFY(redisTls && verify && ca && cert && key && user && kafkaSsl && kafkaCert);
        QVERIFY(!redisTls->isChecked());
        QVERIFY(verify->isChecked()); // verification on by default
        QVERIFY(!ca->isEnabled());    // greyed out until TLS is on
        QVERIFY(dialog.acceptable());

        redisTls->setChecked(true);
        QVERIFY(ca->isEnabled() && verify->isEnabled());
        QVERIFY(dialog.acceptable()); // no CA file: the system store
        QVERIFY(dialog.settings().redisEndpoint().tls.enabled);
        QVERIFY(!dialog.settings().redisEndpoint().tls.insecure);

        ca->setText(dir_.filePath("no-such-ca.pem"));
        QVERIFY2(dialog.errorFor("redis/tlsCaFile").contains("no-such-ca.pem"),
                 qPrintable(dialog.errorFor("redis/tlsCaFile")));
        QVERIFY(!dialog.acceptable());
        const auto readable = dir_.filePath("readable.pem");
        {
            QFile f(readable);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("-----BEGIN CERTIFICATE-----\n");
        }
        ca->setText(readable);
        QCOMPARE(dialog.errorFor("redis/tlsCaFile"), QString());
        cert->setText(readable);
        QVERIFY(dialog.errorFor("redis/tlsKeyFile").contains("private key"));
        QVERIFY(!dialog.acceptable());
        key->setText(readable);
        QVERIFY(dialog.acceptable());
        cert->clear();
        QVERIFY(dialog.errorFor("redis/tlsCertFile").contains("certificate"));
        cert->setText(readable);
        verify->setChecked(false);
        QVERIFY(dialog.settings().redisEndpoint().tls.insecure);

        user->setText("has space");
        QVERIFY(dialog.errorFor("redis/username").contains("spaces"));
        user->setText("pulse");
        QCOMPARE(dialog.settings().redisEndpoint().username, std::string("pulse"));

        // Off again: the files stay, greyed out and not checked.
        cert->setText(dir_.filePath("gone.pem"));
        QVERIFY(!dialog.acceptable());
        redisTls->setChecked(false);
        QVERIFY(!cert->isEnabled());
        QVERIFY(dialog.acceptable());
        QVERIFY(!dialog.settings().redisEndpoint().tls.enabled);

        // Kafka SSL: the same rules, under the Kafka field names.
        QVERIFY(!kafkaCert->isEnabled());
        kafkaSsl->setChecked(true);
        kafkaCert->setText(dir_.filePath("gone.pem"));
        QVERIFY(dialog.errorFor("kafka/sslCertFile").contains("gone.pem"));
        QVERIFY(dialog.errorFor("kafka/sslKeyFile").contains("private key"));
        QVERIFY(!dialog.acceptable());
    }

    void givenTlsOnAPlainRedis_whenTested_thenTheVerdictSaysTheHandshakeFailed()
    {
        redis::EmbeddedRedis plain; // no TLS port
        AppSettings a;
        a.mode = StackMode::External;
        a.redisHost = "127.0.0.1";
        a.redisPort = plain.port();
        a.redisTls = true;
        SettingsDialog dialog(a);
        QSignalSpy verdict(&dialog, &SettingsDialog::verdict);
        dialog.findChild<QPushButton *>("testRedis")->click();
        QVERIFY(verdict.wait(10000));
        QCOMPARE(verdict.first().at(1).toBool(), false);
        const auto message = verdict.first().at(2).toString();
        QVERIFY2(message.contains("TLS handshake") && message.contains("rediss://127.0.0.1"),
                 qPrintable(message));
    }

    void givenBadRedisSettings_whenTested_thenTheVerdictSaysWhatToFixInTime_data()
    {
        QTest::addColumn<int>("port"); // on 127.0.0.1; 0: the host is "no-such-host.invalid"
        QTest::addColumn<QString>("password");
        QTest::addColumn<bool>("tls");
        QTest::addColumn<int>("aggregators");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QStringList>("expected");
        QTest::addColumn<QString>("field");
        auto &s = badServers();
        const QString wrong = "wrong-" + QString::number(QDateTime::currentMSecsSinceEpoch());
        const auto secret = [](const redis::EmbeddedRedis &r) {
            return QString::fromStdString(r.endpoint().password);
        };
        const auto free = redis::pickFreeLoopbackPort();
        const QString settings = "Settings ▸ Redis";
        QTest::newRow("host that does not resolve")
            << 0 << "" << false << 1 << false
            << QStringList{"cannot be reached", "cannot resolve", settings} << "redis/host";
        QTest::newRow("closed port") << free << "" << false << 1 << false
                                     << QStringList{"connection refused", settings} << "redis/host";
        QTest::newRow("packets dropped")
            << s.drop.port() << "" << false << 1 << false
            << QStringList{"no connection within 3000 ms", "firewall", settings} << "redis/host";
        QTest::newRow("wrong password")
            << s.locked.port() << wrong << false << 1 << false
            << QStringList{"refused the login", "wrong user name or password", settings}
            << "redis/password";
        QTest::newRow("no password")
            << s.locked.port() << "" << false << 1 << false
            << QStringList{"the server wants a password", settings} << "redis/password";
        QTest::newRow("a password where none is set")
            << s.open.port() << wrong << false << 1 << false
            << QStringList{"has no password, but one was given", settings} << "redis/password";
        QTest::newRow("TLS port, plain configured")
            << s.tls.port() << "" << false << 1 << false
            << QStringList{"as a TLS port does", "is TLS (SSL) set as the server expects"}
            << "redis/host";
        QTest::newRow("plain port, TLS configured")
            << s.locked.port() << secret(s.locked) << true << 1 << false
            << QStringList{"no answer to the TLS handshake (a port without TLS?)", settings} << "";
        QTest::newRow("HTTP server")
            << s.http.port() << "" << false << 1 << false
            << QStringList{"does not speak the Redis protocol", "Is it the right port"}
            << "redis/host";
        QTest::newRow("silent server")
            << s.silent.port() << "" << false << 1 << false
            << QStringList{"is a Redis server listening on this port", settings} << "";
        QTest::newRow("garbage") << s.garbage.port() << "" << false << 1 << false
                                 << QStringList{"does not speak the Redis protocol"}
                                 << "redis/host";
        QTest::newRow("allkeys-lru")
            << s.allKeys->port() << secret(*s.allKeys) << false << 1 << false
            << QStringList{"evicts keys when full (maxmemory-policy allkeys-lru",
                           "breaks exactly-once", "administrator has to change that"}
            << "redis/host";
        QTest::newRow("volatile-lru")
            << s.volatileKeys->port() << secret(*s.volatileKeys) << false << 1 << false
            << QStringList{"maxmemory-policy volatile-lru", "silently lose counts"} << "redis/host";
        QTest::newRow("read-only replica")
            << s.replica->port() << secret(*s.replica) << false << 1 << false
            << QStringList{"a read-only replica of 127.0.0.1:" + QString::number(s.locked.port()),
                           "connect to the primary", settings}
            << "redis/host";
        QTest::newRow("read-only replica, no aggregators")
            << s.replica->port() << secret(*s.replica) << false << 0 << true
            << QStringList{"answered PONG", "Fine for reading; aggregators could not write"} << "";
        QTest::newRow("control: noeviction")
            << s.noEviction->port() << secret(*s.noEviction) << false << 1 << true
            << QStringList{"answered PONG."} << "";
    }

    void givenBadRedisSettings_whenTested_thenTheVerdictSaysWhatToFixInTime()
    {
        QFETCH(int, port);
        QFETCH(QString, password);
        QFETCH(bool, tls);
        QFETCH(int, aggregators);
        QFETCH(bool, ok);
        QFETCH(QStringList, expected);
        QFETCH(QString, field);
        AppSettings a;
        a.mode = StackMode::External;
        a.redisHost = port == 0 ? "no-such-host.invalid" : "127.0.0.1";
        a.redisPort = port == 0 ? 6379 : port;
        a.redisPassword = password;
        a.redisTls = tls;
        a.aggregatorThreads = aggregators;
        SettingsDialog dialog(a);
        dialog.show();
        const auto problem = problemWithVerdict(dialog, "redis", ok, expected, field, password,
                                                5000); // its connect and command timeouts
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }

    void givenBadKafkaSettings_whenTested_thenTheVerdictSaysWhatToFixInTime_data()
    {
        QTest::addColumn<QString>("brokers");
        QTest::addColumn<QString>("topic");
        QTest::addColumn<bool>("sasl");
        QTest::addColumn<bool>("ssl");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QStringList>("expected");
        QTest::addColumn<QString>("field");
        auto &s = badServers();
        const auto at = [](int port) {
            return "127.0.0.1:" + QString::number(port);
        };
        const QString topic = "user-activity";
        const QString settings = "Settings ▸ Kafka";
        QTest::newRow("host that does not resolve")
            << "no-such-host.invalid:9092" << topic << false << false << false
            << QStringList{"cannot be reached", "cannot resolve", settings} << "kafka/brokers";
        QTest::newRow("closed port")
            << at(redis::pickFreeLoopbackPort()) << topic << false << false << false
            << QStringList{"cannot be reached", "connection refused", settings} << "kafka/brokers";
        QTest::newRow("packets dropped")
            << s.drop.address() << topic << false << false << false
            << QStringList{"cannot be reached", "firewall", settings} << "kafka/brokers";
        QTest::newRow("wrong SASL password")
            << s.kafkaSasl.address() << topic << true << false << false
            << QStringList{"refused the login: wrong user name, password or SASL mechanism",
                           settings}
            << "kafka/saslPassword";
        QTest::newRow("SASL on a listener without it")
            << s.brokers << topic << true << false << false
            << QStringList{"does not offer this SASL mechanism", settings} << "kafka/saslMechanism";
        QTest::newRow("TLS listener, plain configured")
            << at(s.tls.port()) << topic << false << false << false
            << QStringList{"a TLS (SSL) listener", "is TLS (SSL) set as the server expects"}
            << "kafka/brokers";
        QTest::newRow("plain listener, TLS configured")
            << s.brokers << topic << false << true << false
            << QStringList{"the TLS (SSL) handshake failed", settings} << "kafka/brokers";
        QTest::newRow("HTTP server")
            << s.http.address() << topic << false << false << false
            << QStringList{"does not speak the Kafka protocol"} << "kafka/brokers";
        QTest::newRow("silent server")
            << s.silent.address() << topic << false << false << false
            << QStringList{"never answered the first Kafka request", settings} << "";
        QTest::newRow("garbage") << s.garbage.address() << topic << false << false << false
                                 << QStringList{"does not speak the Kafka protocol"}
                                 << "kafka/brokers";
        QTest::newRow("missing topic")
            << s.brokers << "no-such-topic" << false << false << false
            << QStringList{"Topic \"no-such-topic\" does not exist", settings} << "kafka/topic";
        QTest::newRow("control") << s.brokers << topic << false << false << true
                                 << QStringList{"topic \"user-activity\" has 4 partition(s)"} << "";
    }

    void givenBadKafkaSettings_whenTested_thenTheVerdictSaysWhatToFixInTime()
    {
        QFETCH(QString, brokers);
        QFETCH(QString, topic);
        QFETCH(bool, sasl);
        QFETCH(bool, ssl);
        QFETCH(bool, ok);
        QFETCH(QStringList, expected);
        QFETCH(QString, field);
        AppSettings a;
        a.mode = StackMode::External;
        a.kafkaBrokers = brokers;
        a.topic = topic;
        const QString secret = "kafka-" + QString::number(QDateTime::currentMSecsSinceEpoch());
        if (sasl) {
            a.saslMechanism = "SCRAM-SHA-256";
            a.saslUsername = "u";
            a.saslPassword = secret;
        }
        a.kafkaSsl = ssl;
        SettingsDialog dialog(a);
        dialog.show();
        const auto problem =
            problemWithVerdict(dialog, "kafka", ok, expected, field, secret, 8000); // its probe
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }

    void givenPasswords_whenAppliedThroughTheWindow_thenTheSettingsFileNeverHoldsThem()
    {
        auto a = AppSettings::load(*settings_);
        a.redisPassword = "never-on-disk-789";
        a.saslPassword = "never-on-disk-012";
        window_->applySettings(a); // embedded mode: the passwords are kept, not used
        settings_->sync();
        const auto bytes = fileBytes(settings_->fileName());
        QVERIFY(!bytes.isEmpty());
        QVERIFY(!bytes.contains("never-on-disk"));
        // No keychain service runs here: the window says the passwords live for the session.
        QTRY_VERIFY_WITH_TIMEOUT(!secrets_->available(), 10000);
        QVERIFY(window_->keychainNote().contains("session only"));
    }

    void givenAKnownSnapshot_whenExportedAsCsv_thenTheFileMatchesByteForByte()
    {
        const std::int64_t t = 1696161600000; // 2023-10-01T12:00:00Z
        std::vector<Sample> samples{{t - 1000, 10, 20, 1.5, 3, 0}, {t, 11, 21, 2.0, -1, 1}};
        Snapshot s;
        s.takenAtMs = t;
        s.activeWindow = 5min;
        s.topPagesAllTime = {{"/x,y", 2}};
        std::ostringstream out;
        writeDashboardCsv(samples, s, out);
        const std::string expected = "metric,key,time_utc,value\r\n"
                                     "active_users,window_300s,2023-10-01T11:59:59.000Z,10\r\n"
                                     "active_users,window_1800s,2023-10-01T11:59:59.000Z,20\r\n"
                                     "events_per_second_3s,,2023-10-01T11:59:59.000Z,1.5\r\n"
                                     "consumer_lag,,2023-10-01T11:59:59.000Z,3\r\n"
                                     "bad_events_total,,2023-10-01T11:59:59.000Z,0\r\n"
                                     "active_users,window_300s,2023-10-01T12:00:00.000Z,11\r\n"
                                     "active_users,window_1800s,2023-10-01T12:00:00.000Z,21\r\n"
                                     "events_per_second_3s,,2023-10-01T12:00:00.000Z,2.0\r\n"
                                     "bad_events_total,,2023-10-01T12:00:00.000Z,1\r\n"
                                     "active_users,window_300s,2023-10-01T12:00:00.000Z,0\r\n"
                                     "active_users,window_1800s,2023-10-01T12:00:00.000Z,0\r\n"
                                     "events_total,,2023-10-01T12:00:00.000Z,0\r\n"
                                     "bad_events_total,,2023-10-01T12:00:00.000Z,0\r\n"
                                     "lost_events_total,,2023-10-01T12:00:00.000Z,0\r\n"
                                     "page_views_all_time,\"/x,y\",2023-10-01T12:00:00.000Z,2\r\n";
        QCOMPARE(out.str(), expected);

        // The window's File > Export CSV writes the same bytes for what it has gathered.
        const auto path = dir_.filePath("export.csv");
        QSignalSpy done(window_.get(), &MainWindow::exportFinished);
        window_->exportCsv(path);
        QVERIFY(done.wait(10000));
        QVERIFY2(done.first().at(0).toBool(), qPrintable(done.first().at(1).toString()));
        const auto bytes = fileBytes(path);
        QVERIFY(bytes.startsWith("metric,key,time_utc,value\r\n"));
        QVERIFY(bytes.contains("\r\nactive_users,window_"));
    }

    void givenARule_whenTheThresholdIsCrossed_thenOneAlertIsRaisedAndLaterCleared()
    {
        AlertsPanel panel;
        panel.setRules({{AlertMetric::EventsPerSecond, AlertComparison::Below, 5, true}});
        QSignalSpy raised(&panel, &AlertsPanel::alertRaised);
        auto quiet = knownSnapshot(1700000000000);
        for (auto &p : quiet.perSecond)
            p.count = 0;
        panel.evaluate(quiet);
        QCOMPARE(raised.count(), 1);
        QVERIFY(raised.first().first().toString().contains("events/s below 5"));
        panel.evaluate(quiet); // still breached: no second alert
        QCOMPARE(raised.count(), 1);
        panel.evaluate(knownSnapshot(1700000001000)); // 10/s again
        QCOMPARE(raised.count(), 1);
        QCOMPARE(panel.alertCount(), 2); // raised, then cleared
    }

    void givenABadEventBurst_whenEvaluated_thenTheBadRateRuleFires()
    {
        AlertsPanel panel;
        panel.setRules({{AlertMetric::BadEventsPerSecond, AlertComparison::Above, 10, true}});
        QSignalSpy raised(&panel, &AlertsPanel::alertRaised);
        auto s = knownSnapshot(1700000000000);
        panel.evaluate(s);
        s.takenAtMs += 1000;
        s.badEventsTotal += 50; // 50 bad events in one second
        panel.evaluate(s);
        QCOMPARE(raised.count(), 1);
    }

    void givenASnapshot_whenShown_thenTilesChartsAndTopPagesUpdate()
    {
        History history;
        KpiPanel kpi;
        ChartsPanel charts(history);
        TopPagesPanel pages;
        const auto s1 = knownSnapshot(1700000000000);
        auto s2 = knownSnapshot(1700000001000);
        s2.activeUsers = 1300;
        for (const auto &s : {s1, s2}) {
            history.append(s);
            kpi.showSnapshot(s);
            charts.scheduleRefresh();
            pages.showSnapshot(s);
        }
        QCOMPARE(kpi.valueText("activeUsers"), QLocale().toString(1300));
        QCOMPARE(kpi.valueText("activeUsers30m"), QLocale().toString(2345));
        QCOMPARE(kpi.valueText("eventsPerSecond"), QLocale().toString(10.0, 'f', 1));
        QCOMPARE(kpi.valueText("consumerLag"), QLocale().toString(7));
        QTRY_COMPARE(charts.pointCount(), 2);
        QCOMPARE(pages.pages(), (QStringList{"/home", "/cart", "/a,\"b\""}));

        // The actions legend stays short however large the counts grow.
        ActionsPanel actions;
        actions.showSnapshot(s2);
        QCOMPARE(actions.sliceLabels(), (QStringList{"view: 900 (90 %)", "click: 100 (10 %)"}));
        auto big = s2;
        big.actions = {{"view", 2520035}, {"add_to_cart", 215307}, {"share", 9876}};
        actions.showSnapshot(big);
        const QLocale l;
        QCOMPARE(
            actions.sliceLabels(),
            (QStringList{"view: " + l.toString(2.52, 'f', 2) + " M (92 %)",
                         "add_to_cart: 215 k (8 %)", "share: " + l.toString(9876) + " (0 %)"}));

        // Paused charts keep what they show while the history goes on.
        charts.setPaused(true);
        history.append(knownSnapshot(1700000002000));
        charts.scheduleRefresh();
        QTest::qWait(100);
        QCOMPARE(charts.pointCount(), 2);
        charts.setPaused(false);
        QTRY_COMPARE(charts.pointCount(), 3);
    }

    void givenHostileNames_whenShown_thenChartsAndLabelsShowTheLiteralText()
    {
        // Page, action and user names are data: markup is not rendered (Qt Charts renders its
        // labels as HTML), and controls and bidi overrides show as escapes.
        Snapshot s = knownSnapshot(1700000000000);
        s.topPagesAllTime = {{"<b>x</b>", 3}, {"\x1b[31mRED", 2}, {"a\rb", 1}};
        s.actions = {{"<i>click</i>", 5},
                     {"\xe2\x80\xae"
                      "evil",
                      4}};
        TopPagesPanel pages;
        pages.showSnapshot(s);
        ActionsPanel actions;
        actions.showSnapshot(s);
        actions.resize(1600, 1000); // room for whole labels: Qt Charts elides long ones
        pages.resize(1600, 1000);
        actions.show();
        pages.show();
        QCoreApplication::processEvents();
        const auto texts = [](QWidget &panel) {
            QStringList all;
            for (auto *view : panel.findChildren<QChartView *>())
                for (auto *item : view->scene()->items())
                    if (auto *text = dynamic_cast<QGraphicsTextItem *>(item))
                        all << text->toPlainText();
            return all;
        };
        const auto shownPages = texts(pages);
        QVERIFY2(shownPages.contains("<b>x</b>"), qPrintable(shownPages.join(" | ")));
        QVERIFY2(shownPages.contains("\\x1b[31mRED"), qPrintable(shownPages.join(" | ")));
        QVERIFY2(shownPages.contains("a\\x0db"), qPrintable(shownPages.join(" | ")));
        const auto shownActions = texts(actions).join(" | ");
        QVERIFY2(shownActions.contains("<i>click</i>: 5"), qPrintable(shownActions));
        QVERIFY2(shownActions.contains("\\u{202e}evil: 4"), qPrintable(shownActions));

        actions.showUser({"<b>u</b>\x1b[2J", {{"<i>click</i>", 2}}, 2, 1700000000000, {}});
        const auto *label = actions.findChild<QLabel *>("userResult");
        QVERIFY(label);
        QCOMPARE(label->textFormat(), Qt::PlainText);
        QVERIFY2(label->text().contains("User <b>u</b>\\x1b[2J: 2 events"),
                 qPrintable(label->text()));
    }

    void givenLiveEvents_whenFiltered_thenOnlyMatchingRowsShow()
    {
        LiveEventsPanel panel;
        Snapshot s;
        s.latestEvents = {
            {"3-0", 1700000000000, R"({"user_id":7,"action":"view","page":"/home"})", "t/0", 3, {}},
            {"2-0",
             1700000000000,
             R"({"user_id":8,"action":"click","page":"/cart"})",
             "t/1",
             2,
             {}},
            {"1-0",
             1700000000000,
             R"({"user_id":7,"action":"click","page":"/home"})",
             "t/0",
             1,
             {}}};
        s.latestBadEvents = {{"9-0", 1700000000000, "oops", "t/2", 9, "not_json"}};
        panel.showSnapshot(s);
        QCOMPARE(panel.visibleEvents(), 3);
        QCOMPARE(panel.visibleBadEvents(), 1);
        panel.setFilters("7", "click", "");
        QCOMPARE(panel.visibleEvents(), 1);
        panel.setFilters("", "", "/HOME"); // case-insensitive
        QCOMPARE(panel.visibleEvents(), 2);
        panel.setFilters("", "", "");
        QCOMPARE(panel.visibleEvents(), 3);
    }

    void givenTheHistory_whenFarMoreSnapshotsArrive_thenMemoryStaysBounded()
    {
        History history(100);
        for (int i = 0; i < 1000; ++i)
            history.append(knownSnapshot(1700000000000 + i * 1000));
        QCOMPARE(history.size(), std::size_t(100));
        QCOMPARE(history.at(0).timeMs, 1700000000000 + 900 * 1000);
    }

    void givenTheEmbeddedStack_whenTheSimulatorButtonIsClicked_thenRealTrafficFlowsAndStops()
    {
        auto *button = window_->simulator()->button();
        QVERIFY(button->text().startsWith("Start"));
        QSignalSpy finished(controller_.get(), &PipelineController::simulatorFinished);
        QTest::mouseClick(button, Qt::LeftButton);
        QVERIFY(button->text().startsWith("Stop"));
        // Events go simulator -> embedded Kafka -> aggregator thread -> Redis -> snapshot.
        QTRY_VERIFY_WITH_TIMEOUT(
            window_->history().latest() && window_->history().latest()->activeUsers > 0, 30000);
        QTest::mouseClick(button, Qt::LeftButton);
        QVERIFY(finished.wait(30000));
        const auto stats = finished.first().at(0).value<kafka::SimulatorStats>();
        QVERIFY(stats.sent > 0);
        QCOMPARE(stats.acknowledged, stats.sent);
        QVERIFY(button->text().startsWith("Start"));
        // Everything sent is aggregated (and nothing twice).
        const auto sent = QLocale().toString(static_cast<qlonglong>(stats.sent));
        QTRY_COMPARE_WITH_TIMEOUT(window_->kpi()->valueText("eventsTotal"), sent, 20000);
    }

    void givenRedisGoesAway_whenTheDashboardNotices_thenABannerSaysSoAndClearsWhenBack()
    {
        QVERIFY(!window_->bannerVisible());
        controller_->stopEmbeddedRedis();
        QTRY_VERIFY_WITH_TIMEOUT(window_->bannerVisible(), 10000);
        QVERIFY2(window_->bannerText().contains("recovers by itself when Redis is back"),
                 qPrintable(window_->bannerText()));
        controller_->startEmbeddedRedis();
        QTRY_VERIFY_WITH_TIMEOUT(!window_->bannerVisible(), 15000);
        // And the numbers flow again without a restart.
        QSignalSpy shown(window_.get(), &MainWindow::snapshotShown);
        QVERIFY(shown.wait(5000));
    }

    void givenRedisWantsAPassword_whenTheAggregatorsGiveUp_thenTheySayWhyAndShutDownCleanly()
    {
        // A real redis-server that wants a password the settings do not give: every aggregator
        // fails with NOAUTH (fatal), and its thread ends on its own. The controller still says
        // why, restarts them when asked, and shuts down cleanly: it used to reach the workers
        // after their threads had deleted them (std::system_error from a freed mutex, abort).
        redis::EmbeddedRedisOptions redisOptions;
        redisOptions.password = "not-given-to-the-gui";
        redis::EmbeddedRedis redis(redisOptions);
        AppSettings settings;
        settings.mode = StackMode::External;
        settings.kafkaBrokers = QString::fromStdString(controller_->kafkaSettings().brokers);
        settings.redisHost = "127.0.0.1";
        settings.redisPort = redis.port();
        settings.aggregatorThreads = 3;
        auto controller = std::make_unique<PipelineController>();
        QSignalSpy stopped(controller.get(), &PipelineController::aggregatorStopped);
        for (int attempt = 1; attempt <= 2; ++attempt) {
            controller->apply(settings); // again: stops the ones that gave up, starts new ones
            QTRY_COMPARE_WITH_TIMEOUT(stopped.count(), 3 * attempt, 20000);
            for (const auto &args : std::as_const(stopped))
                QVERIFY2(args.at(0).toString().contains("refused the login"),
                         qPrintable(args.at(0).toString()));
            const auto statuses = controller->aggregatorStatuses();
            QCOMPARE(statuses.size(), 3);
            for (const auto &status : statuses) {
                QVERIFY(!status.running);
                QVERIFY2(status.lastError.contains("refused the login"),
                         qPrintable(status.lastError));
            }
        }
        controller.reset();
    }
};

QTEST_MAIN(TestGui)
#include "tst_gui.moc"
