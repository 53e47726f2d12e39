#include "app_settings.h"

#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>

namespace pb::gui {

void AppSettings::save(QSettings &s) const
{
    s.setValue("mode", mode == StackMode::Embedded ? "embedded" : "external");
    s.setValue("kafka/brokers", kafkaBrokers);
    s.setValue("kafka/topic", topic);
    s.setValue("kafka/group", group);
    s.setValue("kafka/saslMechanism", saslMechanism);
    s.setValue("kafka/saslUsername", saslUsername);
    s.setValue("kafka/ssl", kafkaSsl);
    s.setValue("kafka/sslCaFile", sslCaFile);
    s.setValue("kafka/sslCertFile", sslCertFile);
    s.setValue("kafka/sslKeyFile", sslKeyFile);
    s.setValue("redis/host", redisHost);
    s.setValue("redis/port", redisPort);
    s.setValue("redis/username", redisUsername);
    s.setValue("redis/database", redisDatabase);
    s.setValue("redis/tls", redisTls);
    s.setValue("redis/tlsCaFile", redisTlsCaFile);
    s.setValue("redis/tlsCertFile", redisTlsCertFile);
    s.setValue("redis/tlsKeyFile", redisTlsKeyFile);
    s.setValue("redis/tlsServerName", redisTlsServerName);
    s.setValue("redis/tlsVerify", redisTlsVerify);
    s.setValue("stats/windowSeconds", windowSeconds);
    s.setValue("stats/refreshMs", refreshMs);
    s.setValue("pipeline/aggregatorThreads", aggregatorThreads);
    s.setValue("pipeline/embeddedPartitions", embeddedPartitions);
}

AppSettings AppSettings::load(const QSettings &s)
{
    AppSettings d;
    AppSettings a;
    a.mode = s.value("mode", "embedded").toString() == "external" ? StackMode::External
                                                                  : StackMode::Embedded;
    a.kafkaBrokers = s.value("kafka/brokers", d.kafkaBrokers).toString();
    a.topic = s.value("kafka/topic", d.topic).toString();
    a.group = s.value("kafka/group", d.group).toString();
    a.saslMechanism = s.value("kafka/saslMechanism", d.saslMechanism).toString();
    a.saslUsername = s.value("kafka/saslUsername", d.saslUsername).toString();
    a.sslCaFile = s.value("kafka/sslCaFile", d.sslCaFile).toString();
    // Settings from before the SSL switch: a CA file meant SSL.
    a.kafkaSsl = s.value("kafka/ssl", !a.sslCaFile.isEmpty()).toBool();
    a.sslCertFile = s.value("kafka/sslCertFile", d.sslCertFile).toString();
    a.sslKeyFile = s.value("kafka/sslKeyFile", d.sslKeyFile).toString();
    a.redisHost = s.value("redis/host", d.redisHost).toString();
    a.redisPort = s.value("redis/port", d.redisPort).toInt();
    a.redisUsername = s.value("redis/username", d.redisUsername).toString();
    a.redisDatabase = s.value("redis/database", d.redisDatabase).toInt();
    a.redisTls = s.value("redis/tls", d.redisTls).toBool();
    a.redisTlsCaFile = s.value("redis/tlsCaFile", d.redisTlsCaFile).toString();
    a.redisTlsCertFile = s.value("redis/tlsCertFile", d.redisTlsCertFile).toString();
    a.redisTlsKeyFile = s.value("redis/tlsKeyFile", d.redisTlsKeyFile).toString();
    a.redisTlsServerName = s.value("redis/tlsServerName", d.redisTlsServerName).toString();
    a.redisTlsVerify = s.value("redis/tlsVerify", d.redisTlsVerify).toBool();
    a.windowSeconds = s.value("stats/windowSeconds", d.windowSeconds).toInt();
    a.refreshMs = s.value("stats/refreshMs", d.refreshMs).toInt();
    a.aggregatorThreads = s.value("pipeline/aggregatorThreads", d.aggregatorThreads).toInt();
    a.embeddedPartitions = s.value("pipeline/embeddedPartitions", d.embeddedPartitions).toInt();
    return a;
}

kafka::KafkaSettings AppSettings::kafkaSettings() const
{
    kafka::KafkaSettings k;
    k.brokers = kafkaBrokers.trimmed().toStdString();
    const bool sasl = !saslMechanism.isEmpty();
    if (sasl || kafkaSsl)
        k.properties.emplace_back("security.protocol",
                                  sasl ? (kafkaSsl ? "SASL_SSL" : "SASL_PLAINTEXT") : "SSL");
    if (sasl) {
        k.properties.emplace_back("sasl.mechanism", saslMechanism.toStdString());
        k.properties.emplace_back("sasl.username", saslUsername.toStdString());
        k.properties.emplace_back("sasl.password", saslPassword.toStdString());
    }
    // Without ssl.ca.location librdkafka verifies against OpenSSL's default (system) store.
    if (kafkaSsl && !sslCaFile.isEmpty())
        k.properties.emplace_back("ssl.ca.location", sslCaFile.toStdString());
    if (kafkaSsl && !sslCertFile.isEmpty()) {
        k.properties.emplace_back("ssl.certificate.location", sslCertFile.toStdString());
        k.properties.emplace_back("ssl.key.location", sslKeyFile.toStdString());
    }
    return k;
}

alerts::DeliveryOptions AppSettings::deliveryOptions() const
{
    alerts::DeliveryOptions o;
    o.alertmanager = QUrl(alertmanagerUrl.trimmed());
    o.webhook = QUrl(webhookUrl.trimmed());
    return o;
}

redis::Endpoint AppSettings::redisEndpoint() const
{
    redis::Endpoint e;
    e.host = redisHost.trimmed().toStdString();
    e.port = redisPort;
    e.username = redisUsername.trimmed().toStdString();
    e.password = redisPassword.toStdString();
    e.database = redisDatabase;
    e.tls.enabled = redisTls;
    if (redisTls) {
        e.tls.caFile = redisTlsCaFile.toStdString();
        e.tls.certFile = redisTlsCertFile.toStdString();
        e.tls.keyFile = redisTlsKeyFile.toStdString();
        e.tls.serverName = redisTlsServerName.trimmed().toStdString();
        e.tls.insecure = !redisTlsVerify;
    }
    return e;
}

QString checkHost(const QString &host)
{
    const auto h = host.trimmed();
    if (h.isEmpty())
        return QObject::tr("Enter a host name or address, e.g. 127.0.0.1.");
    static const QRegularExpression valid(R"(^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._:-]+)$)");
    if (!valid.match(h).hasMatch())
        return QObject::tr("“%1” is not a host name or address.").arg(h);
    return {};
}

QString checkBrokers(const QString &brokers)
{
    const auto list = brokers.split(',', Qt::SkipEmptyParts);
    if (list.isEmpty())
        return QObject::tr("Enter at least one broker as host:port, e.g. kafka1:9092.");
    for (const auto &entry : list) {
        const auto b = entry.trimmed();
        const auto colon = b.lastIndexOf(':');
        if (colon <= 0)
            return QObject::tr("“%1” needs a port: write it as host:port.").arg(b);
        bool ok = false;
        const int port = b.mid(colon + 1).toInt(&ok);
        if (!ok || port < 1 || port > 65535)
            return QObject::tr("“%1”: the port must be a number from 1 to 65535.").arg(b);
        if (const auto hostError = checkHost(b.left(colon)); !hostError.isEmpty())
            return hostError;
    }
    return {};
}

QString checkTopic(const QString &topic)
{
    static const QRegularExpression valid(R"(^[A-Za-z0-9._-]{1,249}$)");
    if (!valid.match(topic).hasMatch())
        return QObject::tr("A topic name is 1 to 249 letters, digits, '.', '_' or '-'.");
    if (topic == "." || topic == "..")
        return QObject::tr("A topic cannot be named “.” or “..”.");
    return {};
}

namespace {

// The CA, certificate and key files of one TLS set-up: readable, and the certificate with
// its key. While TLS is off they are kept but unused (the pane greys them out).
template <typename Add>
void checkTlsFiles(bool on, const QString &ca, const QString &cert, const QString &key,
                   const char *caField, const char *certField, const char *keyField, const Add &add)
{
    const auto unreadable = [](const QString &file) {
        return !file.isEmpty() && !QFileInfo(file).isReadable();
    };
    if (!on)
        return;
    if (unreadable(ca))
        add(caField, QObject::tr("Cannot read “%1”: choose a CA certificate file (PEM), or "
                                 "leave it empty for the system CA store.")
                         .arg(ca));
    if (unreadable(cert))
        add(certField,
            QObject::tr("Cannot read “%1”: choose a client certificate file (PEM).").arg(cert));
    else if (cert.isEmpty() && !key.isEmpty())
        add(certField, QObject::tr("A client key needs its certificate."));
    if (unreadable(key))
        add(keyField,
            QObject::tr("Cannot read “%1”: choose the client's private key file (PEM).").arg(key));
    else if (key.isEmpty() && !cert.isEmpty())
        add(keyField, QObject::tr("A client certificate needs its private key."));
}

} // namespace

std::vector<FieldError> validate(const AppSettings &a)
{
    std::vector<FieldError> errors;
    const auto add = [&](const char *field, const QString &message) {
        if (!message.isEmpty())
            errors.push_back({field, message});
    };
    if (a.mode == StackMode::External) {
        add("kafka/brokers", checkBrokers(a.kafkaBrokers));
        add("redis/host", checkHost(a.redisHost));
        if (a.redisPort < 1 || a.redisPort > 65535)
            add("redis/port", QObject::tr("The port must be from 1 to 65535."));
    }
    add("kafka/topic", checkTopic(a.topic));
    if (a.group.trimmed().isEmpty())
        add("kafka/group", QObject::tr("Enter a consumer group name."));
    static const QStringList mechanisms{"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
    if (!mechanisms.contains(a.saslMechanism))
        add("kafka/saslMechanism", QObject::tr("Choose PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."));
    if (!a.saslMechanism.isEmpty() && a.saslUsername.trimmed().isEmpty())
        add("kafka/saslUsername", QObject::tr("SASL needs a user name."));
    checkTlsFiles(a.kafkaSsl, a.sslCaFile, a.sslCertFile, a.sslKeyFile, "kafka/sslCaFile",
                  "kafka/sslCertFile", "kafka/sslKeyFile", add);
    if (a.redisUsername.trimmed().contains(QRegularExpression(R"(\s)")))
        add("redis/username", QObject::tr("A Redis user name has no spaces."));
    if (a.redisDatabase < 0 || a.redisDatabase > 15)
        add("redis/database", QObject::tr("The database number must be from 0 to 15."));
    checkTlsFiles(a.redisTls, a.redisTlsCaFile, a.redisTlsCertFile, a.redisTlsKeyFile,
                  "redis/tlsCaFile", "redis/tlsCertFile", "redis/tlsKeyFile", add);
    if (a.windowSeconds < 10 || a.windowSeconds > 3600)
        add("stats/windowSeconds", QObject::tr("The window must be from 10 s to 60 min."));
    if (a.refreshMs < 200 || a.refreshMs > 60'000)
        add("stats/refreshMs", QObject::tr("Refresh every 0.2 s to 60 s."));
    if (a.aggregatorThreads < 0 || a.aggregatorThreads > 32)
        add("pipeline/aggregatorThreads", QObject::tr("Run 0 to 32 aggregator threads."));
    if (a.embeddedPartitions < 1 || a.embeddedPartitions > 64)
        add("pipeline/embeddedPartitions",
            QObject::tr("The embedded topic has 1 to 64 partitions."));
    add("alerts/alertmanagerUrl", alerts::checkTargetUrl(a.alertmanagerUrl));
    add("alerts/webhookUrl", alerts::checkTargetUrl(a.webhookUrl));
    return errors;
}

} // namespace pb::gui
