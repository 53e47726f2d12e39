#pragma once
// The dashboard's settings: what the settings pane edits, QSettings persists (passwords
// excepted: they live in the system keychain, see secret_store.h) and the engines consume.
// A value type; validation is pure so the pane and the tests share it.

#include "alerts/delivery.h"
#include "kafka/kafka_client.h"
#include "redis/redis_connection.h"

#include <QString>
#include <QStringList>

#include <chrono>
#include <vector>

class QSettings;

namespace pb::gui {

enum class StackMode { Embedded, External };

struct AppSettings {
    StackMode mode = StackMode::Embedded;

    QString kafkaBrokers = "localhost:9092";
    QString topic = "user-activity";
    QString group = "pulseboard-aggregator";
    QString saslMechanism; // empty: no SASL; PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    QString saslUsername;
    QString saslPassword;  // never persisted in QSettings
    bool kafkaSsl = false; // SSL (with SASL: SASL_SSL)
    QString sslCaFile;     // empty: the system CA store
    QString sslCertFile;   // client certificate (PEM); empty: none
    QString sslKeyFile;    // its private key (PEM)

    QString redisHost = "127.0.0.1";
    int redisPort = 6379;
    QString redisUsername; // Redis 6 ACL user; empty: "default"
    QString redisPassword; // never persisted in QSettings
    int redisDatabase = 0;
    bool redisTls = false;
    QString redisTlsCaFile; // empty: the system CA store
    QString redisTlsCertFile;
    QString redisTlsKeyFile;
    QString redisTlsServerName; // empty: the host; else the name the certificate must carry
    bool redisTlsVerify = true; // chain and host name

    int windowSeconds = 300; // active-user window
    int refreshMs = 1000;    // stats refresh interval
    int aggregatorThreads = 1;
    int embeddedPartitions = 4;

    // Alert delivery (empty: off). Kept in the keychain, never in QSettings: they may carry
    // credentials or a token.
    QString alertmanagerUrl;
    QString webhookUrl;

    // Persists everything but the passwords.
    void save(QSettings &settings) const;
    static AppSettings load(const QSettings &settings);

    kafka::KafkaSettings kafkaSettings() const;
    redis::Endpoint redisEndpoint() const;
    alerts::DeliveryOptions deliveryOptions() const;
    std::chrono::milliseconds window() const { return std::chrono::seconds(windowSeconds); }

    friend bool operator==(const AppSettings &, const AppSettings &) = default;
};

// One problem with one field, said so that the user knows what to type instead.
struct FieldError {
    QString field; // the settings key, e.g. "kafka/brokers"
    QString message;
};

std::vector<FieldError> validate(const AppSettings &settings);

// Inline validators for single fields (empty string: fine).
QString checkBrokers(const QString &brokers);
QString checkHost(const QString &host);
QString checkTopic(const QString &topic);

} // namespace pb::gui
