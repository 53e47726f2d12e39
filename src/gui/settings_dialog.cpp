#include "settings_dialog.h"

#include "ui_settings_dialog.h"

#include "error_text.h"

#include "alerts/delivery.h"

#include "kafka/kafka_client.h"
#include "redis/redis_connection.h"
#include "redis/server_check.h"

#include <QCheckBox>
#include <QFileDialog>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QThreadPool>

namespace pb::gui {

SettingsDialog::SettingsDialog(const AppSettings &s, QWidget *parent)
    : QDialog(parent)
    , ui_(std::make_unique<Ui::SettingsDialog>())
{
    ui_->setupUi(this);
    ui_->saslMechanism->addItems({"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"});
    ui_->saslMechanism->setItemText(0, tr("none"));
    errorLabels_ = {
        {"kafka/brokers", ui_->errorKafkaBrokers},
        {"kafka/topic", ui_->errorTopic},
        {"kafka/group", ui_->errorGroup},
        {"kafka/saslMechanism", ui_->errorSaslMechanism},
        {"kafka/saslUsername", ui_->errorSaslUsername},
        {"kafka/sslCaFile", ui_->errorSslCaFile},
        {"kafka/sslCertFile", ui_->errorSslCertFile},
        {"kafka/sslKeyFile", ui_->errorSslKeyFile},
        {"redis/host", ui_->errorRedisHost},
        {"redis/port", ui_->errorRedisPort},
        {"redis/username", ui_->errorRedisUsername},
        {"redis/database", ui_->errorRedisDatabase},
        {"redis/tlsCaFile", ui_->errorRedisTlsCaFile},
        {"redis/tlsCertFile", ui_->errorRedisTlsCertFile},
        {"redis/tlsKeyFile", ui_->errorRedisTlsKeyFile},
        {"stats/windowSeconds", ui_->errorWindowSeconds},
        {"stats/refreshMs", ui_->errorRefreshMs},
        {"pipeline/aggregatorThreads", ui_->errorAggregatorThreads},
        {"pipeline/embeddedPartitions", ui_->errorEmbeddedPartitions},
        {"alerts/alertmanagerUrl", ui_->errorAlertmanagerUrl},
        {"alerts/webhookUrl", ui_->errorWebhookUrl},
    };
    inputs_ = {
        {"kafka/brokers", ui_->kafkaBrokers},
        {"kafka/topic", ui_->topic},
        {"kafka/saslUsername", ui_->saslUsername},
        {"kafka/saslPassword", ui_->saslPassword},
        {"redis/host", ui_->redisHost},
        {"redis/username", ui_->redisUsername},
        {"redis/password", ui_->redisPassword},
        {"redis/tlsCaFile", ui_->redisTlsCaFile},
        {"redis/tlsCertFile", ui_->redisTlsCertFile},
        {"redis/tlsKeyFile", ui_->redisTlsKeyFile},
        {"alerts/alertmanagerUrl", ui_->alertmanagerUrl},
        {"alerts/webhookUrl", ui_->webhookUrl},
    };

    (s.mode == StackMode::Embedded ? ui_->modeEmbedded : ui_->modeExternal)->setChecked(true);
    ui_->kafkaBrokers->setText(s.kafkaBrokers);
    ui_->topic->setText(s.topic);
    ui_->group->setText(s.group);
    ui_->saslMechanism->setCurrentIndex(std::max<int>(
        0, ui_->saslMechanism->findText(s.saslMechanism.isEmpty() ? tr("none") : s.saslMechanism)));
    ui_->saslUsername->setText(s.saslUsername);
    ui_->saslPassword->setText(s.saslPassword);
    ui_->kafkaSsl->setChecked(s.kafkaSsl);
    ui_->sslCaFile->setText(s.sslCaFile);
    ui_->sslCertFile->setText(s.sslCertFile);
    ui_->sslKeyFile->setText(s.sslKeyFile);
    ui_->redisHost->setText(s.redisHost);
    ui_->redisPort->setValue(s.redisPort);
    ui_->redisUsername->setText(s.redisUsername);
    ui_->redisPassword->setText(s.redisPassword);
    ui_->redisDatabase->setValue(s.redisDatabase);
    ui_->redisTls->setChecked(s.redisTls);
    ui_->redisTlsCaFile->setText(s.redisTlsCaFile);
    ui_->redisTlsCertFile->setText(s.redisTlsCertFile);
    ui_->redisTlsKeyFile->setText(s.redisTlsKeyFile);
    ui_->redisTlsVerify->setChecked(s.redisTlsVerify);
    ui_->redisTlsServerName->setText(s.redisTlsServerName);
    ui_->windowSeconds->setValue(s.windowSeconds);
    ui_->refreshMs->setValue(s.refreshMs);
    ui_->aggregatorThreads->setValue(s.aggregatorThreads);
    ui_->embeddedPartitions->setValue(s.embeddedPartitions);
    ui_->alertmanagerUrl->setText(s.alertmanagerUrl);
    ui_->webhookUrl->setText(s.webhookUrl);

    for (auto *edit : findChildren<QLineEdit *>())
        connect(edit, &QLineEdit::textChanged, this, &SettingsDialog::revalidate);
    for (auto *spin : findChildren<QSpinBox *>())
        connect(spin, &QSpinBox::valueChanged, this, &SettingsDialog::revalidate);
    connect(ui_->saslMechanism, &QComboBox::currentIndexChanged, this, &SettingsDialog::revalidate);
    connect(ui_->modeEmbedded, &QRadioButton::toggled, this, &SettingsDialog::revalidate);
    for (auto *box : {ui_->kafkaSsl, ui_->redisTls, ui_->redisTlsVerify})
        connect(box, &QCheckBox::toggled, this, &SettingsDialog::revalidate);
    const auto picker = [this](QPushButton *button, QLineEdit *edit, const QString &title,
                               const QString &filter) {
        connect(button, &QPushButton::clicked, this, [this, edit, title, filter] {
            const auto file = QFileDialog::getOpenFileName(this, title, edit->text(), filter);
            if (!file.isEmpty())
                edit->setText(file);
        });
    };
    const auto certificates = tr("Certificates (*.pem *.crt *.cer);;All files (*)");
    const auto keys = tr("Keys (*.pem *.key);;All files (*)");
    picker(ui_->browseSslCaFile, ui_->sslCaFile, tr("CA certificate of the Kafka brokers"),
           certificates);
    picker(ui_->browseSslCertFile, ui_->sslCertFile, tr("Client certificate for Kafka"),
           certificates);
    picker(ui_->browseSslKeyFile, ui_->sslKeyFile, tr("Client key for Kafka"), keys);
    picker(ui_->browseRedisTlsCaFile, ui_->redisTlsCaFile, tr("CA certificate of the Redis server"),
           certificates);
    picker(ui_->browseRedisTlsCertFile, ui_->redisTlsCertFile, tr("Client certificate for Redis"),
           certificates);
    picker(ui_->browseRedisTlsKeyFile, ui_->redisTlsKeyFile, tr("Client key for Redis"), keys);
    connect(ui_->testKafka, &QPushButton::clicked, this, &SettingsDialog::testKafka);
    connect(ui_->testRedis, &QPushButton::clicked, this, &SettingsDialog::testRedis);
    connect(ui_->sendTestAlert, &QPushButton::clicked, this, &SettingsDialog::sendTestAlert);
    connect(ui_->buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(ui_->buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    revalidate();
}

SettingsDialog::~SettingsDialog() = default;

AppSettings SettingsDialog::settings() const
{
    AppSettings s;
    s.mode = ui_->modeEmbedded->isChecked() ? StackMode::Embedded : StackMode::External;
    s.kafkaBrokers = ui_->kafkaBrokers->text().trimmed();
    s.topic = ui_->topic->text().trimmed();
    s.group = ui_->group->text().trimmed();
    s.saslMechanism =
        ui_->saslMechanism->currentIndex() == 0 ? QString() : ui_->saslMechanism->currentText();
    s.saslUsername = ui_->saslUsername->text();
    s.saslPassword = ui_->saslPassword->text();
    s.kafkaSsl = ui_->kafkaSsl->isChecked();
    s.sslCaFile = ui_->sslCaFile->text().trimmed();
    s.sslCertFile = ui_->sslCertFile->text().trimmed();
    s.sslKeyFile = ui_->sslKeyFile->text().trimmed();
    s.redisHost = ui_->redisHost->text().trimmed();
    s.redisPort = ui_->redisPort->value();
    s.redisUsername = ui_->redisUsername->text().trimmed();
    s.redisPassword = ui_->redisPassword->text();
    s.redisDatabase = ui_->redisDatabase->value();
    s.redisTls = ui_->redisTls->isChecked();
    s.redisTlsCaFile = ui_->redisTlsCaFile->text().trimmed();
    s.redisTlsCertFile = ui_->redisTlsCertFile->text().trimmed();
    s.redisTlsKeyFile = ui_->redisTlsKeyFile->text().trimmed();
    s.redisTlsVerify = ui_->redisTlsVerify->isChecked();
    s.redisTlsServerName = ui_->redisTlsServerName->text().trimmed();
    s.windowSeconds = ui_->windowSeconds->value();
    s.refreshMs = ui_->refreshMs->value();
    s.aggregatorThreads = ui_->aggregatorThreads->value();
    s.embeddedPartitions = ui_->embeddedPartitions->value();
    s.alertmanagerUrl = ui_->alertmanagerUrl->text().trimmed();
    s.webhookUrl = ui_->webhookUrl->text().trimmed();
    return s;
}

void SettingsDialog::revalidate()
{
    for (auto *label : std::as_const(errorLabels_)) {
        label->clear();
        label->setVisible(false);
    }
    const auto external = ui_->modeExternal->isChecked();
    for (auto *w : std::initializer_list<QWidget *>{ui_->kafkaBrokers, ui_->redisHost,
                                                    ui_->redisPort, ui_->testKafka, ui_->testRedis})
        w->setEnabled(external);
    // The files of a TLS set-up that is off are kept, greyed out, and not used.
    const bool kafkaSsl = ui_->kafkaSsl->isChecked();
    for (auto *w : std::initializer_list<QWidget *>{ui_->sslCaFile, ui_->browseSslCaFile,
                                                    ui_->sslCertFile, ui_->browseSslCertFile,
                                                    ui_->sslKeyFile, ui_->browseSslKeyFile})
        w->setEnabled(kafkaSsl);
    const bool redisTls = ui_->redisTls->isChecked();
    for (auto *w : std::initializer_list<QWidget *>{
             ui_->redisTlsCaFile, ui_->browseRedisTlsCaFile, ui_->redisTlsCertFile,
             ui_->browseRedisTlsCertFile, ui_->redisTlsKeyFile, ui_->browseRedisTlsKeyFile,
             ui_->redisTlsVerify, ui_->redisTlsServerName})
        w->setEnabled(redisTls);
    for (const auto &error : validate(settings())) {
        if (auto *label = errorLabels_.value(error.field)) {
            label->setText(error.message);
            label->setVisible(true);
        }
    }
    // Settings that work but expose something (SASL PLAIN over plaintext, ...): said, not
    // refused.
    QStringList warnings;
    if (external)
        for (const auto &w : kafka::securityWarnings(settings().kafkaSettings()))
            warnings << QString::fromStdString(w);
    ui_->kafkaSecurityWarning->setText(warnings.join('\n'));
    ui_->kafkaSecurityWarning->setVisible(!warnings.isEmpty());
    ui_->buttons->button(QDialogButtonBox::Ok)->setEnabled(acceptable());
    const auto s = settings();
    ui_->sendTestAlert->setEnabled((!s.alertmanagerUrl.isEmpty() || !s.webhookUrl.isEmpty()) &&
                                   alerts::checkTargetUrl(s.alertmanagerUrl).isEmpty() &&
                                   alerts::checkTargetUrl(s.webhookUrl).isEmpty());
}

bool SettingsDialog::acceptable() const
{
    return validate(settings()).empty();
}

QString SettingsDialog::errorFor(const QString &field) const
{
    const auto *label = errorLabels_.value(field);
    return label ? label->text() : QString();
}

void SettingsDialog::setKeychainNote(const QString &note)
{
    ui_->keychainNote->setText(note);
}

void SettingsDialog::showVerdict(const QString &which, bool ok, const QString &message,
                                 const QString &field)
{
    // The field to fix gets the focus, so the user sees where to type.
    if (auto *input = inputs_.value(field); input && !ok)
        input->setFocus(Qt::OtherFocusReason);
    fieldToFix_ = ok ? QString() : field;
    auto *label = which == "kafka"   ? ui_->kafkaVerdict
                  : which == "redis" ? ui_->redisVerdict
                                     : ui_->alertVerdict;
    label->setText((ok ? QStringLiteral("✔ ") : QStringLiteral("✘ ")) + message);
    label->setStyleSheet(ok ? "color: #2e7d32;" : "color: #c62828;");
    (which == "kafka"   ? ui_->testKafka
     : which == "redis" ? ui_->testRedis
                        : ui_->sendTestAlert)
        ->setEnabled(true);
    Q_EMIT verdict(which, ok, message);
}

void SettingsDialog::testKafka()
{
    const auto settings = this->settings().kafkaSettings();
    const auto topic = this->settings().topic.toStdString();
    ui_->testKafka->setEnabled(false);
    // Past librdkafka's 5 s connection set-up timeout, so that a silent server or dropped
    // packets come back as what they are rather than as "no answer".
    ui_->kafkaVerdict->setText(tr("Asking the brokers for metadata (up to 8 s)…"));
    QPointer self(this);
    QThreadPool::globalInstance()->start([self, settings, topic] {
        bool ok = false;
        QString message;
        QString field;
        try {
            const auto md = kafka::probeBrokers(settings, std::chrono::seconds(8));
            const auto &found = kafka::requireTopic(md, settings, topic);
            ok = true;
            message = tr("Kafka answered: %1 broker(s); topic \"%2\" has %3 partition(s).")
                          .arg(md.brokers)
                          .arg(QString::fromStdString(topic))
                          .arg(found.partitions);
        } catch (const Error &e) {
            message = errorText(e, Wording::Test);
            field = settingsField(e);
        } catch (const std::exception &e) {
            message = QString::fromUtf8(e.what());
        }
        QMetaObject::invokeMethod(qApp, [self, ok, message, field] {
            if (self)
                self->showVerdict("kafka", ok, message, field);
        });
    });
}

void SettingsDialog::testRedis()
{
    const auto endpoint = settings().redisEndpoint();
    const bool aggregating = settings().aggregatorThreads > 0;
    ui_->testRedis->setEnabled(false);
    ui_->redisVerdict->setText(tr("Connecting and sending PING (up to 5 s)…"));
    QPointer self(this);
    QThreadPool::globalInstance()->start([self, endpoint, aggregating] {
        bool ok = false;
        QString message;
        QString field;
        try {
            redis::Connection c(endpoint, {std::chrono::seconds(3), std::chrono::seconds(2)});
            c.connect(); // AUTH, SELECT and PING
            message = tr("Redis at %1 answered PONG%2.")
                          .arg(QString::fromStdString(endpoint.toString()),
                               !endpoint.tls.enabled ? QString()
                               : endpoint.tls.insecure
                                   ? tr(" over TLS, but the server was NOT verified")
                                   : tr(" over TLS (certificate and host name verified)"));
            // What the aggregators check before they write: a replica or an evicting Redis
            // would lose their counts. A dashboard that runs none may read from either.
            const auto facts = redis::readServerFacts(c);
            const auto where = endpoint.toString();
            if (const auto unfit = redis::unfitForAggregates(facts, where)) {
                ok = !aggregating;
                message = ok ? message + " " +
                                   tr("Fine for reading; aggregators could not write there: %1.")
                                       .arg(QString::fromStdString(unfit->detail()))
                             : errorText(*unfit, Wording::Test);
                field = ok ? QString() : settingsField(*unfit);
            } else {
                ok = true;
                if (!facts.known && aggregating)
                    message += " " + tr("Could not check that it never evicts keys and is a "
                                        "primary (this user may not run INFO).");
            }
        } catch (const Error &e) {
            message = errorText(e, Wording::Test);
            field = settingsField(e);
        } catch (const std::exception &e) {
            message = QString::fromUtf8(e.what());
        }
        QMetaObject::invokeMethod(qApp, [self, ok, message, field] {
            if (self)
                self->showVerdict("redis", ok, message, field);
        });
    });
}

void SettingsDialog::sendTestAlert()
{
    if (!alertSender_) {
        alertSender_ = new alerts::AlertSender(this);
        connect(alertSender_, &alerts::AlertSender::testFinished, this,
                [this](quint64, bool ok, const QString &message) {
                    showVerdict("alerts", ok, message);
                });
    }
    auto options = settings().deliveryOptions();
    options.attempts = 1;
    alertSender_->configure(options);
    ui_->sendTestAlert->setEnabled(false);
    ui_->alertVerdict->setText(
        tr("Sending a test alert (up to %1 s)…")
            .arg(std::chrono::duration_cast<std::chrono::seconds>(options.timeout).count()));
    alertSender_->sendTest();
}

} // namespace pb::gui
