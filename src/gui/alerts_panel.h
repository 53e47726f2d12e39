#pragma once
// Alert thresholds and the list of alerts raised, with desktop notifications.

#include "alert_engine.h"

#include <QWidget>

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

Q_SIGNALS:
    void alertRaised(QString text); // for the main window's banner and status bar

private:
    void rulesEdited();
    void rebuildEditor();

    AlertEngine engine_;
    QWidget *editor_ = nullptr;
    QListWidget *list_ = nullptr;
    QSystemTrayIcon *tray_ = nullptr;
    bool updating_ = false;
};

std::vector<AlertRule> defaultAlertRules();

} // namespace pb::gui
