#include "delivery.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMetaEnum>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QSysInfo>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <memory>

namespace pb::alerts {

namespace {

QString isoTime(const QDateTime &t)
{
    return t.toUTC().toString(Qt::ISODateWithMs);
}

QJsonObject alertJson(const AlertNotice &n)
{
    QJsonObject labels;
    for (auto it = n.labels.cbegin(); it != n.labels.cend(); ++it)
        labels.insert(it.key(), it.value());
    QJsonObject o{
        {"labels", labels},
        {"annotations", QJsonObject{{"summary", n.summary}, {"description", n.description}}}};
    if (n.startsAt.isValid())
        o.insert("startsAt", isoTime(n.startsAt));
    if (n.endsAt.isValid())
        o.insert("endsAt", isoTime(n.endsAt));
    return o;
}

// The request for a target: credentials in the URL become an Authorization header, so that
// they are not part of the URL Qt may quote in its own messages.
QNetworkRequest requestFor(QUrl url, std::chrono::milliseconds timeout)
{
    const auto user = url.userName(QUrl::FullyDecoded);
    const auto password = url.password(QUrl::FullyDecoded);
    url.setUserInfo({});
    QNetworkRequest request(url);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    request.setTransferTimeout(static_cast<int>(timeout.count()));
    if (!user.isEmpty() || !password.isEmpty())
        request.setRawHeader("Authorization",
                             "Basic " + (user + ':' + password).toUtf8().toBase64());
    return request;
}

// What went wrong, in words that never quote the URL (it may carry a token).
QString failureOf(QNetworkReply *reply, std::chrono::milliseconds timeout)
{
    const int http = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const auto error = reply->error();
    if (http >= 200 && http < 300 && error == QNetworkReply::NoError)
        return {};
    if (http != 0) {
        auto body = QString::fromUtf8(reply->readAll().left(200)).simplified();
        return QObject::tr("HTTP %1%2").arg(http).arg(body.isEmpty() ? QString() : ": " + body);
    }
    switch (error) {
    case QNetworkReply::ConnectionRefusedError:
        return QObject::tr("connection refused (is it running, on that port?)");
    case QNetworkReply::HostNotFoundError:
        return QObject::tr("host not found");
    case QNetworkReply::OperationCanceledError:
    case QNetworkReply::TimeoutError:
        return QObject::tr("no answer within %1 s")
            .arg(static_cast<double>(timeout.count()) / 1000);
    case QNetworkReply::RemoteHostClosedError:
        return QObject::tr("the server closed the connection");
    case QNetworkReply::SslHandshakeFailedError:
        return QObject::tr("TLS handshake failed (certificate not trusted?)");
    case QNetworkReply::ProtocolUnknownError:
        return QObject::tr("not an http:// or https:// URL");
    default:
        return QString::fromLatin1(
            QMetaEnum::fromType<QNetworkReply::NetworkError>().valueToKey(error));
    }
}

// 4xx other than 408 and 429: the same request would be refused again.
bool permanentFailure(QNetworkReply *reply)
{
    const int http = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    return http >= 400 && http < 500 && http != 408 && http != 429;
}

AlertNotice testNotice()
{
    AlertNotice n;
    n.labels = {{"alertname", "PulseboardTestAlert"}, {"severity", "info"}};
    n.summary = QObject::tr("Test alert from Pulseboard");
    n.description = QObject::tr("Sent with \"Send test alert\"; it expires in 5 minutes.");
    n.startsAt = QDateTime::currentDateTimeUtc();
    n.endsAt = n.startsAt.addSecs(300);
    return n;
}

} // namespace

QString AlertNotice::key() const
{
    QString k;
    for (auto it = labels.cbegin(); it != labels.cend(); ++it)
        k += it.key() + '\x1f' + it.value() + '\x1e';
    return k;
}

AlertNotice noticeFor(const AlertEvent &event)
{
    AlertNotice n;
    n.labels = {{"alertname", alertName(event.rule)},
                {"severity", "warning"},
                {"service", "pulseboard"},
                {"metric", metricKey(event.rule.metric)}};
    n.summary = QObject::tr("Pulseboard: %1").arg(event.rule.describe());
    n.description = QObject::tr("%1 was %2 when this was evaluated.")
                        .arg(metricName(event.rule.metric), QString::number(event.value, 'f', 1));
    n.firing = event.raised;
    const auto at = QDateTime::fromMSecsSinceEpoch(event.timeMs, Qt::UTC);
    n.startsAt = at;
    if (!event.raised)
        n.endsAt = at;
    return n;
}

QByteArray alertmanagerPayload(const std::vector<AlertNotice> &notices)
{
    QJsonArray alerts;
    for (const auto &n : notices)
        alerts.append(alertJson(n));
    return QJsonDocument(alerts).toJson(QJsonDocument::Compact);
}

QByteArray webhookPayload(const AlertNotice &notice)
{
    auto alert = alertJson(notice);
    const QString status = notice.firing ? QStringLiteral("firing") : QStringLiteral("resolved");
    alert.insert("status", status);
    const QJsonObject o{{"version", "1"},
                        {"source", "pulseboard"},
                        {"status", status},
                        {"alerts", QJsonArray{alert}}};
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QString redactedUrl(const QUrl &url)
{
    return url
        .adjusted(QUrl::RemoveUserInfo | QUrl::RemovePath | QUrl::RemoveQuery |
                  QUrl::RemoveFragment)
        .toString();
}

QString checkTargetUrl(const QString &text)
{
    const auto trimmed = text.trimmed();
    if (trimmed.isEmpty())
        return {};
    const QUrl url(trimmed, QUrl::StrictMode);
    if (!url.isValid() || (url.scheme() != "http" && url.scheme() != "https") ||
        url.host().isEmpty())
        return QObject::tr("Enter an http:// or https:// URL, e.g. http://127.0.0.1:9093.");
    return {};
}

AlertDelivery::AlertDelivery(QObject *parent)
    : QObject(parent)
    , network_(new QNetworkAccessManager(this))
    , resendTimer_(new QTimer(this))
{
    connect(resendTimer_, &QTimer::timeout, this, &AlertDelivery::resendFiring);
}

AlertDelivery::~AlertDelivery() = default;

QString AlertDelivery::targetName(Target target) const
{
    return target == Target::Alertmanager
               ? tr("Alertmanager at %1").arg(redactedUrl(options_.alertmanager))
               : tr("webhook at %1").arg(redactedUrl(options_.webhook));
}

void AlertDelivery::configure(const DeliveryOptions &options)
{
    const bool newAlertmanager = options.alertmanager != options_.alertmanager;
    options_ = options;
    // Notices queued for a target that is now off are not sent anywhere: said, not hidden.
    int discarded = 0;
    for (auto target : {Target::Alertmanager, Target::Webhook}) {
        auto &q = queue(target);
        const bool off = target == Target::Alertmanager ? options_.alertmanager.isEmpty()
                                                        : options_.webhook.isEmpty();
        if (off) {
            discarded += static_cast<int>(q.jobs.size());
            q.jobs.clear();
        }
    }
    resendTimer_->setInterval(options_.resend);
    if (options_.alertmanager.isEmpty()) {
        resendTimer_->stop();
    } else {
        resendTimer_->start();
        if (newAlertmanager)
            resendFiring(); // a new Alertmanager learns what fires now
    }
    if (!options_.enabled())
        report(true, discarded
                         ? tr("Alert delivery off (%n queued notice(s) discarded).", "", discarded)
                         : tr("Alert delivery off."));
    else
        report(true, tr("Delivering alerts to %1.")
                         .arg(QStringList{
                             options_.alertmanager.isEmpty() ? QString()
                                                             : targetName(Target::Alertmanager),
                             options_.webhook.isEmpty() ? QString() : targetName(Target::Webhook)}
                                  .filter(QRegularExpression("."))
                                  .join(tr(" and "))));
}

void AlertDelivery::deliver(const AlertNotice &given)
{
    auto notice = given;
    if (!notice.labels.contains("instance"))
        notice.labels.insert("instance", options_.instance);
    const auto key = notice.key();
    if (notice.firing) {
        firing_[key] = notice;
    } else {
        // A resolved alert keeps the start of its firing, as Alertmanager knows it.
        if (auto it = firing_.find(key); it != firing_.end()) {
            notice.startsAt = it->second.startsAt;
            firing_.erase(it);
        }
        if (!notice.startsAt.isValid() || notice.startsAt > notice.endsAt)
            notice.startsAt = notice.endsAt;
    }
    const auto what = notice.name() + (notice.firing ? tr(" firing") : tr(" resolved"));
    if (!options_.alertmanager.isEmpty())
        enqueue({Target::Alertmanager, alertmanagerPayload({notice}), what});
    if (!options_.webhook.isEmpty())
        enqueue({Target::Webhook, webhookPayload(notice), what});
}

void AlertDelivery::resendFiring()
{
    auto &q = queue(Target::Alertmanager);
    // What is queued or in flight already carries the news; one re-send at a time.
    if (firing_.empty() || options_.alertmanager.isEmpty() || q.current || !q.jobs.empty())
        return;
    std::vector<AlertNotice> notices;
    for (const auto &[key, notice] : firing_)
        notices.push_back(notice);
    enqueue({Target::Alertmanager, alertmanagerPayload(notices),
             tr("%n firing alert(s), re-sent", "", static_cast<int>(notices.size()))});
}

void AlertDelivery::enqueue(Job job)
{
    const auto target = job.target;
    auto &q = queue(target);
    bool dropped = false;
    if (q.jobs.size() >= std::max<std::size_t>(1, options_.queueLimit)) {
        ++status_.dropped;
        lastDrop_ = q.jobs.front().what;
        q.jobs.pop_front();
        dropped = true;
    }
    q.jobs.push_back(std::move(job));
    if (dropped)
        report(false, tr("%1 is not keeping up: queue full, dropped the oldest notice (%2).")
                          .arg(targetName(target), lastDrop_));
    pump(target);
}

QNetworkReply *AlertDelivery::post(Target target, const QByteArray &body)
{
    QUrl url = target == Target::Alertmanager ? options_.alertmanager : options_.webhook;
    if (target == Target::Alertmanager) {
        auto path = url.path();
        if (!path.endsWith('/'))
            path += '/';
        url.setPath(path + "api/v2/alerts");
    }
    return network_->post(requestFor(url, options_.timeout), body);
}

void AlertDelivery::pump(Target target)
{
    auto &q = queue(target);
    if (q.current || q.jobs.empty())
        return;
    q.current = std::move(q.jobs.front());
    q.jobs.pop_front();
    q.reply = post(target, q.current->body);
    connect(q.reply, &QNetworkReply::finished, this,
            [this, target, reply = q.reply] { finished(target, reply); });
}

void AlertDelivery::finished(Target target, QNetworkReply *reply)
{
    reply->deleteLater();
    auto &q = queue(target);
    if (reply != q.reply || !q.current)
        return; // aborted by shutdown()
    q.reply = nullptr;
    const auto problem = failureOf(reply, options_.timeout);
    auto &job = *q.current;
    if (problem.isEmpty()) {
        ++status_.sent;
        const auto what = job.what; // job goes with current
        q.current.reset();
        report(true, tr("%1 delivered to %2 at %3.")
                         .arg(what, targetName(target), QTime::currentTime().toString("HH:mm:ss")));
        pump(target);
        return;
    }
    ++job.attempt;
    if (job.attempt < options_.attempts && !permanentFailure(reply)) {
        const auto delay = options_.firstRetry * (1LL << std::min(job.attempt - 1, 6));
        report(false, tr("%1: %2; retrying in %3 s (attempt %4 of %5).")
                          .arg(targetName(target), problem)
                          .arg(static_cast<double>(delay.count()) / 1000)
                          .arg(job.attempt + 1)
                          .arg(options_.attempts));
        QTimer::singleShot(delay, this, [this, target] {
            auto &again = queue(target);
            if (again.current && !again.reply) {
                again.reply = post(target, again.current->body);
                connect(again.reply, &QNetworkReply::finished, this,
                        [this, target, r = again.reply] { finished(target, r); });
            }
        });
        return;
    }
    ++status_.failed;
    report(false, tr("%1 NOT delivered to %2: %3 (gave up after %n attempt(s)).", "", job.attempt)
                      .arg(job.what, targetName(target), problem));
    q.current.reset();
    pump(target);
}

void AlertDelivery::sendTest(quint64 id)
{
    if (!options_.enabled()) {
        Q_EMIT testFinished(id, false, tr("Enter an Alertmanager or webhook URL first."));
        return;
    }
    auto notice = testNotice();
    notice.labels.insert("instance", options_.instance);
    struct Pending {
        int left = 0;
        bool ok = true;
        QStringList messages;
    };
    auto pending = std::make_shared<Pending>();
    const auto send = [&](Target target, const QByteArray &body) {
        ++pending->left;
        auto *reply = post(target, body);
        connect(reply, &QNetworkReply::finished, this, [this, id, target, reply, pending] {
            reply->deleteLater();
            const auto problem = failureOf(reply, options_.timeout);
            pending->ok = pending->ok && problem.isEmpty();
            pending->messages << (problem.isEmpty()
                                      ? tr("%1 accepted the test alert.").arg(targetName(target))
                                      : tr("%1: %2.").arg(targetName(target), problem));
            if (--pending->left == 0)
                Q_EMIT testFinished(id, pending->ok, pending->messages.join(' '));
        });
    };
    if (!options_.alertmanager.isEmpty())
        send(Target::Alertmanager, alertmanagerPayload({notice}));
    if (!options_.webhook.isEmpty())
        send(Target::Webhook, webhookPayload(notice));
}

void AlertDelivery::shutdown()
{
    resendTimer_->stop();
    for (auto target : {Target::Alertmanager, Target::Webhook}) {
        auto &q = queue(target);
        if (auto *reply = std::exchange(q.reply, nullptr))
            reply->abort();
        q.current.reset();
        q.jobs.clear();
    }
}

void AlertDelivery::report(bool ok, const QString &text)
{
    status_.ok = ok;
    status_.text = text;
    if (status_.dropped > 0)
        status_.text += ' ' + tr("%n notice(s) dropped so far when a queue was full (last: %1).",
                                 "", static_cast<int>(status_.dropped))
                                  .arg(lastDrop_);
    status_.queued = static_cast<int>(alertmanager_.jobs.size() + webhook_.jobs.size());
    Q_EMIT status(status_);
}

AlertSender::AlertSender(QObject *parent)
    : QObject(parent)
    , thread_(new QThread(this))
    , worker_(new AlertDelivery)
{
    qRegisterMetaType<DeliveryStatus>();
    thread_->setObjectName("alert-delivery");
    worker_->moveToThread(thread_);
    connect(thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(worker_, &AlertDelivery::status, this, [this](const DeliveryStatus &s) {
        last_ = s;
        Q_EMIT status(s);
    });
    connect(worker_, &AlertDelivery::testFinished, this, &AlertSender::testFinished);
    thread_->start();
}

AlertSender::~AlertSender()
{
    QMetaObject::invokeMethod(worker_, &AlertDelivery::shutdown, Qt::BlockingQueuedConnection);
    thread_->quit();
    thread_->wait();
}

void AlertSender::configure(const DeliveryOptions &options)
{
    QMetaObject::invokeMethod(worker_, [w = worker_, options] { w->configure(options); });
}

void AlertSender::deliver(const AlertNotice &notice)
{
    QMetaObject::invokeMethod(worker_, [w = worker_, notice] { w->deliver(notice); });
}

quint64 AlertSender::sendTest()
{
    const auto id = nextTest_++;
    QMetaObject::invokeMethod(worker_, [w = worker_, id] { w->sendTest(id); });
    return id;
}

} // namespace pb::alerts
