#pragma once
// The settings pane: edits AppSettings with inline validation next to each field, and tests
// the Kafka and Redis connections off the UI thread with a timeout.

#include "app_settings.h"

#include <QDialog>
#include <QHash>

class QLabel;
class QWidget;

#include <memory>

namespace pb::alerts {
class AlertSender;
}

namespace Ui {
class SettingsDialog;
}

namespace pb::gui {

class SettingsDialog : public QDialog {
    Q_OBJECT
public:
    explicit SettingsDialog(const AppSettings &settings, QWidget *parent = nullptr);
    ~SettingsDialog() override;

    AppSettings settings() const;
    void setKeychainNote(const QString &note);
    // The message shown next to a field ("" when fine), e.g. "kafka/brokers" (for tests).
    QString errorFor(const QString &field) const;
    bool acceptable() const;
    // After a failed connection test: the settings key of the field to fix ("" when none).
    QString fieldToFix() const { return fieldToFix_; }

    void testKafka();
    void testRedis();
    // Sends a test alert to the URLs as typed; the verdict arrives as verdict("alerts", ...).
    void sendTestAlert();

Q_SIGNALS:
    void verdict(QString which, bool ok, QString message); // also shown in the dialog

private:
    void revalidate();
    void showVerdict(const QString &which, bool ok, const QString &message,
                     const QString &field = {});

    std::unique_ptr<Ui::SettingsDialog> ui_;
    QHash<QString, QLabel *> errorLabels_; // settings key -> the reason shown under its field
    QHash<QString, QWidget *> inputs_;     // settings key -> the widget that edits it
    QString fieldToFix_;
    alerts::AlertSender *alertSender_ = nullptr; // made on first use; its own thread
};

} // namespace pb::gui
