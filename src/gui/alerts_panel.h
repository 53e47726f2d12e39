#pragma once
// Alert thresholds and the list of alerts raised, with desktop notifications; raised and
// cleared alerts also go to Alertmanager and/or a webhook (alerts::AlertSender, its own thread),
// whose last outcome is shown under the list.

#include "alert_engine.h"
#include "alerts/delivery.h"

#include <QWidget>

class QLabel;
class QListWidget;
class QSystemTrayIcon;
class QSettings;

namespace pb::gui {

class AlertsPanel : public QWidget {
    Q_OBJECT
public:
    explicit AlertsPanel(QWidget *parent = nullptr);

    void evaluate(const Snapshot &snapshot);
    AlertEngine &engine() { return engine_; }
    int alertCount() const;
    void loadRules(QSettings &settings);
    void saveRules(QSettings &settings) const;
    void setRules(const std::vector<AlertRule> &rules);
    void setDelivery(const alerts::DeliveryOptions &options);
    QString deliveryStatus() const; // what the status line says (for tests)

Q_SIGNALS:
    void alertRaised(QString text); // for the main window's banner and status bar

private:
    void rulesEdited();
    void rebuildEditor();
    void record(const std::vector<AlertEvent> &events);
    void showDelivery(const alerts::DeliveryStatus &status);

    AlertEngine engine_;
    QWidget *editor_ = nullptr;
    QListWidget *list_ = nullptr;
    QLabel *delivery_ = nullptr;
    alerts::AlertSender *sender_ = nullptr;
    QSystemTrayIcon *tray_ = nullptr;
    bool updating_ = false;
};

std::vector<AlertRule> defaultAlertRules();

} // namespace pb::gui
