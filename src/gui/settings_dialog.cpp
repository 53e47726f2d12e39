#include "settings_dialog.h"

#include "ui_settings_dialog.h"

#include "kafka/kafka_client.h"
#include "redis/redis_connection.h"

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
        {"redis/host", ui_->errorRedisHost},
        {"redis/port", ui_->errorRedisPort},
        {"redis/database", ui_->errorRedisDatabase},
        {"stats/windowSeconds", ui_->errorWindowSeconds},
        {"stats/refreshMs", ui_->errorRefreshMs},
        {"pipeline/aggregatorThreads", ui_->errorAggregatorThreads},
        {"pipeline/embeddedPartitions", ui_->errorEmbeddedPartitions},
    };

    (s.mode == StackMode::Embedded ? ui_->modeEmbedded : ui_->modeExternal)->setChecked(true);
    ui_->kafkaBrokers->setText(s.kafkaBrokers);
    ui_->topic->setText(s.topic);
    ui_->group->setText(s.group);
    ui_->saslMechanism->setCurrentIndex(std::max<int>(
        0, ui_->saslMechanism->findText(s.saslMechanism.isEmpty() ? tr("none") : s.saslMechanism)));
    ui_->saslUsername->setText(s.saslUsername);
    ui_->saslPassword->setText(s.saslPassword);
    ui_->sslCaFile->setText(s.sslCaFile);
    ui_->redisHost->setText(s.redisHost);
    ui_->redisPort->setValue(s.redisPort);
    ui_->redisPassword->setText(s.redisPassword);
    ui_->redisDatabase->setValue(s.redisDatabase);
    ui_->windowSeconds->setValue(s.windowSeconds);
    ui_->refreshMs->setValue(s.refreshMs);
    ui_->aggregatorThreads->setValue(s.aggregatorThreads);
    ui_->embeddedPartitions->setValue(s.embeddedPartitions);

    for (auto *edit : findChildren<QLineEdit *>())
        connect(edit, &QLineEdit::textChanged, this, &SettingsDialog::revalidate);
    for (auto *spin : findChildren<QSpinBox *>())
        connect(spin, &QSpinBox::valueChanged, this, &SettingsDialog::revalidate);
    connect(ui_->saslMechanism, &QComboBox::currentIndexChanged, this, &SettingsDialog::revalidate);
    connect(ui_->modeEmbedded, &QRadioButton::toggled, this, &SettingsDialog::revalidate);
    connect(ui_->browseSslCaFile, &QPushButton::clicked, this, [this] {
        const auto file = QFileDialog::getOpenFileName(
            this, tr("CA certificate of the Kafka brokers"), ui_->sslCaFile->text(),
            tr("Certificates (*.pem *.crt *.cer);;All files (*)"));
        if (!file.isEmpty())
            ui_->sslCaFile->setText(file);
    });
    connect(ui_->testKafka, &QPushButton::clicked, this, &SettingsDialog::testKafka);
    connect(ui_->testRedis, &QPushButton::clicked, this, &SettingsDialog::testRedis);
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
    s.sslCaFile = ui_->sslCaFile->text().trimmed();
    s.redisHost = ui_->redisHost->text().trimmed();
    s.redisPort = ui_->redisPort->value();
    s.redisPassword = ui_->redisPassword->text();
    s.redisDatabase = ui_->redisDatabase->value();
    s.windowSeconds = ui_->windowSeconds->value();
    s.refreshMs = ui_->refreshMs->value();
    s.aggregatorThreads = ui_->aggregatorThreads->value();
    s.embeddedPartitions = ui_->embeddedPartitions->value();
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
    for (const auto &error : validate(settings())) {
        if (auto *label = errorLabels_.value(error.field)) {
            label->setText(error.message);
            label->setVisible(true);
        }
    }
    ui_->buttons->button(QDialogButtonBox::Ok)->setEnabled(acceptable());
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

void SettingsDialog::showVerdict(const QString &which, bool ok, const QString &message)
{
    auto *label = which == "kafka" ? ui_->kafkaVerdict : ui_->redisVerdict;
    label->setText((ok ? QStringLiteral("✔ ") : QStringLiteral("✘ ")) + message);
    label->setStyleSheet(ok ? "color: #2e7d32;" : "color: #c62828;");
    (which == "kafka" ? ui_->testKafka : ui_->testRedis)->setEnabled(true);
    Q_EMIT verdict(which, ok, message);
}

void SettingsDialog::testKafka()
{
    const auto settings = this->settings().kafkaSettings();
    ui_->testKafka->setEnabled(false);
    ui_->kafkaVerdict->setText(tr("Asking the brokers for metadata (up to 5 s)…"));
    QPointer self(this);
    QThreadPool::globalInstance()->start([self, settings] {
        bool ok = false;
        QString message;
        try {
            const auto md = kafka::probeBrokers(settings, std::chrono::seconds(5));
            ok = true;
            message = tr("Kafka answered: %1 broker(s), %2 topic(s).")
                          .arg(md.brokers)
                          .arg(md.topics.size());
        } catch (const std::exception &e) {
            message = QString::fromUtf8(e.what());
        }
        QMetaObject::invokeMethod(qApp, [self, ok, message] {
            if (self)
                self->showVerdict("kafka", ok, message);
        });
    });
}

void SettingsDialog::testRedis()
{
    const auto endpoint = settings().redisEndpoint();
    ui_->testRedis->setEnabled(false);
    ui_->redisVerdict->setText(tr("Connecting and sending PING (up to 5 s)…"));
    QPointer self(this);
    QThreadPool::globalInstance()->start([self, endpoint] {
        bool ok = false;
        QString message;
        try {
            redis::Connection c(endpoint, {std::chrono::seconds(3), std::chrono::seconds(2)});
            c.connect(); // AUTH, SELECT and PING
            ok = true;
            message =
                tr("Redis at %1 answered PONG.").arg(QString::fromStdString(endpoint.toString()));
        } catch (const std::exception &e) {
            message = QString::fromUtf8(e.what());
        }
        QMetaObject::invokeMethod(qApp, [self, ok, message] {
            if (self)
                self->showVerdict("redis", ok, message);
        });
    });
}

} // namespace pb::gui
