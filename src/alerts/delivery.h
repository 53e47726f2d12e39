#pragma once
// Alert delivery: firing and resolved alerts POSTed to Alertmanager's v2 API and/or a generic
// JSON webhook, with a timeout per request, retries with backoff, and a bounded queue.
//
// AlertDelivery is the worker: a QObject with its QNetworkAccessManager, living on the thread
// of an AlertSender (never the UI thread). AlertSender is what the dashboard and the CLI hold:
// its methods are called from the thread that created it and return at once; the results come
// back as queued signals. URLs may carry secrets (user:password@, a token in the path or query):
// messages name only scheme://host:port.

#include "rules.h"

#include <QDateTime>
#include <QMap>
#include <QObject>
#include <QString>
#include <QSysInfo>
#include <QUrl>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

class QNetworkAccessManager;
class QNetworkReply;
class QThread;
class QTimer;

namespace pb::alerts {

// One alert's state, as sent. Its identity is its label set (as in Alertmanager).
struct AlertNotice {
    QMap<QString, QString> labels; // alertname, severity, instance, ...
    QString summary;
    QString description;
    bool firing = true;
    QDateTime startsAt;
    QDateTime endsAt; // resolved: when it cleared; firing: invalid (or a test's expiry)

    QString key() const;
    QString name() const { return labels.value(QStringLiteral("alertname")); }
};

// The notice for an engine's event (the delivery adds the instance label, and gives a resolved
// alert the start of its firing).
AlertNotice noticeFor(const AlertEvent &event);

// Alertmanager v2 (POST /api/v2/alerts): a JSON array of alerts.
QByteArray alertmanagerPayload(const std::vector<AlertNotice> &notices);
// The generic webhook: {"version":"1","source":"pulseboard","status":"firing"|"resolved",
// "alerts":[...]} (one alert per POST).
QByteArray webhookPayload(const AlertNotice &notice);
// scheme://host[:port] only: what messages may show of a URL that can carry secrets.
QString redactedUrl(const QUrl &url);
// "" when fine, else what is wrong with a target URL ("" URL: fine, that target is off).
QString checkTargetUrl(const QString &url);

struct DeliveryOptions {
    QUrl alertmanager; // base URL (http://host:9093); empty: off. user:password@ -> basic auth
    QUrl webhook;      // POSTed to as is; empty: off
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};   // per request
    int attempts = 5;                                              // per notice and target
    std::chrono::milliseconds firstRetry{std::chrono::seconds(1)}; // doubled after each failure
    // Firing alerts are re-posted to Alertmanager this often: it resolves an alert by itself
    // when it has heard nothing for its resolve_timeout (5 min by default).
    std::chrono::milliseconds resend{std::chrono::seconds(60)};
    std::size_t queueLimit = 200; // per target: the oldest queued notice is dropped beyond it
    QString instance = QSysInfo::machineHostName(); // the instance label

    bool enabled() const { return !alertmanager.isEmpty() || !webhook.isEmpty(); }
};

struct DeliveryStatus {
    bool ok = true;
    QString text; // one line for the user: the last success or failure, and any drops
    std::int64_t sent = 0;
    std::int64_t failed = 0; // notices given up on after every attempt
    std::int64_t dropped = 0;
    int queued = 0;
};

class AlertDelivery : public QObject {
    Q_OBJECT
public:
    explicit AlertDelivery(QObject *parent = nullptr);
    ~AlertDelivery() override;

    void configure(const DeliveryOptions &options);
    void deliver(const AlertNotice &notice);
    // One attempt per target with a test alert (Alertmanager: expires after 5 minutes).
    void sendTest(quint64 id);
    // Stops the timers and aborts what is in flight (before the thread ends).
    void shutdown();

Q_SIGNALS:
    void status(pb::alerts::DeliveryStatus status);
    void testFinished(quint64 id, bool ok, QString message);

private:
    enum class Target { Alertmanager, Webhook };
    struct Job {
        Target target;
        QByteArray body;
        QString what; // "PulseboardConsumerLagAbove firing", for messages
        int attempt = 0;
    };
    struct Queue {
        std::deque<Job> jobs;           // waiting, oldest first
        std::optional<Job> current;     // in flight, or waiting for its retry
        QNetworkReply *reply = nullptr; // current's request while in flight
    };

    QNetworkReply *post(Target target, const QByteArray &body);
    void enqueue(Job job);
    void pump(Target target);
    void finished(Target target, QNetworkReply *reply);
    void resendFiring();
    void report(bool ok, const QString &text);
    QString targetName(Target target) const;
    Queue &queue(Target target)
    {
        return target == Target::Alertmanager ? alertmanager_ : webhook_;
    }

    DeliveryOptions options_;
    QNetworkAccessManager *network_ = nullptr;
    QTimer *resendTimer_ = nullptr;
    Queue alertmanager_;
    Queue webhook_;
    std::map<QString, AlertNotice> firing_; // by key: what Alertmanager must keep hearing about
    DeliveryStatus status_;
    QString lastDrop_;
};

// Owns the delivery thread. Not thread-safe: use it from the thread that created it.
class AlertSender : public QObject {
    Q_OBJECT
public:
    explicit AlertSender(QObject *parent = nullptr);
    ~AlertSender() override;

    void configure(const DeliveryOptions &options);
    void deliver(const AlertNotice &notice);
    quint64 sendTest(); // -> testFinished(id, ...)
    const DeliveryStatus &lastStatus() const { return last_; }

Q_SIGNALS:
    void status(pb::alerts::DeliveryStatus status);
    void testFinished(quint64 id, bool ok, QString message);

private:
    QThread *thread_ = nullptr;
    AlertDelivery *worker_ = nullptr; // lives on thread_
    DeliveryStatus last_;
    quint64 nextTest_ = 1;
};

} // namespace pb::alerts

Q_DECLARE_METATYPE(pb::alerts::AlertNotice)
Q_DECLARE_METATYPE(pb::alerts::DeliveryOptions)
Q_DECLARE_METATYPE(pb::alerts::DeliveryStatus)
