#pragma once
// Passwords in the system keychain (QtKeychain: Secret Service, KWallet, ...), never in the
// settings file. Where no keychain service runs, it says so and the passwords live only for
// the session. Asynchronous: results come back as signals on the UI thread.

#include <QObject>
#include <QString>

namespace pb::gui {

class SecretStore : public QObject {
    Q_OBJECT
public:
    explicit SecretStore(QString service = "Pulseboard", QObject *parent = nullptr);

    void load();                                          // -> loaded()
    void save(const QString &key, const QString &secret); // -> saved() or unavailable()
    bool available() const { return available_; }
    QString problem() const { return problem_; } // why not available, for the settings pane

    static constexpr const char *kRedisPassword = "redis-password";
    static constexpr const char *kSaslPassword = "kafka-sasl-password";
    static constexpr const char *kAlertmanagerUrl = "alertmanager-url";
    static constexpr const char *kWebhookUrl = "alert-webhook-url";

Q_SIGNALS:
    void loaded(QString key, QString secret);
    void unavailable(QString reason);

private:
    QString service_;
    bool available_ = true;
    QString problem_;
};

} // namespace pb::gui
