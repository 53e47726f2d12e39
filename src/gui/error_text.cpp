#include "error_text.h"

#include <QCoreApplication>

namespace pb::gui {

namespace {

QString tr(const char *text)
{
    return QCoreApplication::translate("pb::gui::ErrorText", text);
}

QString box(ErrorSystem system)
{
    return system == ErrorSystem::Kafka ? tr("Kafka") : tr("Redis");
}

} // namespace

QString errorText(const Error &error, Wording wording)
{
    const auto retrying = wording == Wording::Running ? tr(" Retrying.") : QString();
    const auto subject = QString::fromStdString(
        error.subject().empty() ? (error.system() == ErrorSystem::Kafka ? "Kafka" : "Redis")
                                : error.subject());
    const auto detail = QString::fromStdString(error.detail());
    const auto where = box(error.system());
    switch (error.cause()) {
    case ErrorCause::Unreachable:
        return tr("%1 cannot be reached (%2). Check the host and port in Settings ▸ %3, and that "
                  "the server runs.")
            .arg(subject, detail, where);
    case ErrorCause::Timeout:
        return tr("%1 did not answer in time (%2): a stalled server, a slow network, or the "
                  "wrong port in Settings ▸ %3.%4")
            .arg(subject, detail, where, retrying);
    case ErrorCause::Auth:
        return tr("%1 refused the login: %2. Check the user name, password (and client "
                  "certificate) in Settings ▸ %3.")
            .arg(subject, detail, where);
    case ErrorCause::Permission:
        return tr("%1: this user may not do what Pulseboard needs (%2). Ask an administrator "
                  "for the role's rights (see docs/security.md).")
            .arg(subject, detail);
    case ErrorCause::Config:
        return tr("%1: %2. Fix it in Settings ▸ %3.").arg(subject, detail, where);
    case ErrorCause::Protocol:
        return tr("%1: %2. Is it the right port, and is TLS (SSL) set as the server expects in "
                  "Settings ▸ %3?")
            .arg(subject, detail, where);
    case ErrorCause::TopicMissing:
        return tr("Topic \"%1\" does not exist on %2. Create it, or choose another in Settings "
                  "▸ Kafka.")
            .arg(detail, subject);
    case ErrorCause::Busy:
        return tr("%1 cannot serve now: %2.%3").arg(subject, detail, retrying);
    case ErrorCause::ServerSetup:
        return tr("%1 cannot be used as it is set up: %2. Its administrator has to change that, "
                  "or choose another server in Settings ▸ %3.")
            .arg(subject, detail, where);
    case ErrorCause::Unknown:
        break;
    }
    return QString::fromUtf8(error.what());
}

QString errorText(const std::exception &error, Wording wording)
{
    if (const auto *ours = dynamic_cast<const Error *>(&error))
        return errorText(*ours, wording);
    return QString::fromUtf8(error.what());
}

QString settingsField(const Error &error)
{
    const bool kafka = error.system() == ErrorSystem::Kafka;
    if (error.system() == ErrorSystem::None)
        return {};
    // TLS files and names: the one the detail names.
    const auto detail = QString::fromStdString(error.detail());
    if (kafka && error.cause() == ErrorCause::Config) {
        if (detail.contains("SASL"))
            return "kafka/saslMechanism";
        if (detail.contains("certificate"))
            return "kafka/sslCaFile";
    }
    if (!kafka && (error.cause() == ErrorCause::Config || error.cause() == ErrorCause::Auth)) {
        if (detail.contains("CA"))
            return "redis/tlsCaFile";
        if (detail.contains("client certificate") || detail.contains("certificate '"))
            return "redis/tlsCertFile";
        if (detail.contains("key"))
            return "redis/tlsKeyFile";
        if (detail.contains("password"))
            return "redis/password";
    }
    switch (error.cause()) {
    case ErrorCause::Unreachable:
    case ErrorCause::Protocol:
        return kafka ? "kafka/brokers" : "redis/host";
    case ErrorCause::Auth:
        return kafka ? "kafka/saslPassword" : "redis/password";
    case ErrorCause::Permission:
        return kafka ? "kafka/saslUsername" : "redis/username";
    case ErrorCause::TopicMissing:
        return "kafka/topic";
    case ErrorCause::Config:
    case ErrorCause::ServerSetup:
        return kafka ? "kafka/brokers" : "redis/host";
    case ErrorCause::Timeout:
    case ErrorCause::Busy:
    case ErrorCause::Unknown:
        break;
    }
    return {};
}

} // namespace pb::gui
