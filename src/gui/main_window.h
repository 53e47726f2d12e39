#pragma once
// The main window composes the panels; it owns no engine. Everything that does I/O goes
// through the PipelineController; settings persist through QSettings and the SecretStore.

#include "app_settings.h"
#include "history.h"
#include "metatypes.h"

#include <QMainWindow>

#include <memory>

class QLabel;
class QSettings;

namespace Ui {
class MainWindow;
}

namespace pb::gui {

class ActionsPanel;
class AggregatorPanel;
class AlertsPanel;
class ChartsPanel;
class HealthPanel;
class KpiPanel;
class LiveEventsPanel;
class PipelineController;
class SecretStore;
class SettingsDialog;
class SimulatorPanel;
class TopPagesPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    MainWindow(PipelineController &controller, QSettings &settings, SecretStore &secrets,
               QWidget *parent = nullptr);
    ~MainWindow() override;

    // Applies settings: persists them (passwords to the keychain) and restarts the engines.
    void applySettings(const AppSettings &settings);
    void openSettings();
    // Starts a CSV export to `path` off the UI thread; exportFinished() tells the outcome.
    void exportCsv(const QString &path);
    void exportChartsPng(const QString &directory);

    // For tests and the screenshot mode.
    KpiPanel *kpi() const { return kpi_; }
    ChartsPanel *charts() const { return charts_; }
    TopPagesPanel *topPages() const { return topPages_; }
    AlertsPanel *alerts() const { return alerts_; }
    SimulatorPanel *simulator() const { return simulator_; }
    LiveEventsPanel *liveEvents() const { return live_; }
    const History &history() const { return history_; }
    bool bannerVisible() const;
    QString bannerText() const;
    void showSnapshot(const Snapshot &snapshot);
    QString keychainNote() const;

Q_SIGNALS:
    void snapshotShown();
    void exportFinished(bool ok, QString message);

protected:
    void closeEvent(QCloseEvent *event) override;
    void changeEvent(QEvent *event) override;

private:
    void updateBanner();
    void updateTitle(const QString &description);
    void about();
    void applyChartTheme(); // light or dark charts, following the palette

    std::unique_ptr<Ui::MainWindow> ui_;
    PipelineController &controller_;
    QSettings &settings_;
    SecretStore &secrets_;
    AppSettings current_;
    History history_;
    Snapshot last_;
    QLabel *banner_ = nullptr;
    QLabel *mode_ = nullptr;
    QString redisProblem_;
    QString kafkaProblem_;
    QString stackProblem_;
    QString dataProblem_; // fields in Redis the reader had to skip
    KpiPanel *kpi_ = nullptr;
    ChartsPanel *charts_ = nullptr;
    TopPagesPanel *topPages_ = nullptr;
    ActionsPanel *actions_ = nullptr;
    HealthPanel *health_ = nullptr;
    LiveEventsPanel *live_ = nullptr;
    AlertsPanel *alerts_ = nullptr;
    SimulatorPanel *simulator_ = nullptr;
    AggregatorPanel *aggregators_ = nullptr;
};

} // namespace pb::gui
