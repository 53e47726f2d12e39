#include "main_window.h"

#include "ui_main_window.h"

#include "alerts_panel.h"
#include "control_panels.h"
#include "dashboard_export.h"
#include "dashboard_panels.h"
#include "event_text.h"
#include "live_events_panel.h"
#include "pipeline_controller.h"
#include "secret_store.h"
#include "settings_dialog.h"

#include <QApplication>
#include <QChartView>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QLabel>
#include <QMessageBox>
#include <QPointer>
#include <QProgressDialog>
#include <QSaveFile>
#include <QSettings>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QThreadPool>
#include <QVBoxLayout>

#include <sstream>

// Resources compiled into a static library must be registered by hand.
static void initResources()
{
    Q_INIT_RESOURCE(pulseboard);
}

namespace pb::gui {

MainWindow::MainWindow(PipelineController &controller, QSettings &settings, SecretStore &secrets,
                       QWidget *parent)
    : QMainWindow(parent)
    , ui_(std::make_unique<Ui::MainWindow>())
    , controller_(controller)
    , settings_(settings)
    , secrets_(secrets)
{
    initResources();
    ui_->setupUi(this);
    setWindowIcon(QIcon(":/icons/pulseboard.svg"));
    ui_->toolBar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    current_ = AppSettings::load(settings_);

    auto *central = ui_->centralWidget;
    auto *layout = new QVBoxLayout(central);
    banner_ = new QLabel(central);
    banner_->setObjectName("banner");
    banner_->setWordWrap(true);
    banner_->setTextFormat(Qt::PlainText); // error texts carry server and event text
    banner_->setStyleSheet("background: #fff3e0; color: #8a4b00; border: 1px solid #ffb74d;"
                           "padding: 6px; border-radius: 4px;");
    banner_->setVisible(false);
    layout->addWidget(banner_);
    kpi_ = new KpiPanel(central);
    layout->addWidget(kpi_);

    auto *tabs = new QTabWidget(central);
    tabs->setObjectName("tabs");
    auto *dashboard = new QSplitter(Qt::Horizontal, tabs);
    charts_ = new ChartsPanel(history_, dashboard);
    auto *right = new QSplitter(Qt::Vertical, dashboard);
    topPages_ = new TopPagesPanel(right);
    actions_ = new ActionsPanel(right);
    dashboard->setStretchFactor(0, 1);
    dashboard->setStretchFactor(1, 1);
    dashboard->setSizes({560, 440});
    tabs->addTab(dashboard, tr("&Dashboard"));
    live_ = new LiveEventsPanel(tabs);
    tabs->addTab(live_, tr("&Live events"));
    auto *pipeline = new QSplitter(Qt::Vertical, tabs);
    health_ = new HealthPanel(pipeline);
    aggregators_ = new AggregatorPanel(controller_, pipeline);
    tabs->addTab(pipeline, tr("Pipeline &health"));
    alerts_ = new AlertsPanel(tabs);
    alerts_->loadRules(settings_);
    tabs->addTab(alerts_, tr("Ale&rts"));
    layout->addWidget(tabs, 1);

    auto *dock = new QDockWidget(tr("Simulator"), this);
    dock->setObjectName("simulatorDock");
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    simulator_ = new SimulatorPanel(controller_, dock);
    dock->setWidget(simulator_);
    addDockWidget(Qt::RightDockWidgetArea, dock);

    mode_ = new QLabel(this);
    mode_->setTextFormat(Qt::PlainText);
    statusBar()->addPermanentWidget(mode_);

    connect(ui_->actionQuit, &QAction::triggered, this, &QWidget::close);
    connect(ui_->actionSettings, &QAction::triggered, this, &MainWindow::openSettings);
    connect(ui_->actionToggleSimulator, &QAction::triggered, simulator_, &SimulatorPanel::toggle);
    connect(ui_->actionToggleAggregators, &QAction::triggered, aggregators_,
            &AggregatorPanel::toggle);
    connect(ui_->actionPauseCharts, &QAction::triggered, this,
            [this] { charts_->setPaused(!charts_->paused()); });
    connect(ui_->actionAbout, &QAction::triggered, this, &MainWindow::about);
    connect(ui_->actionExportCsv, &QAction::triggered, this, [this] {
        const auto path = QFileDialog::getSaveFileName(
            this, tr("Export CSV"),
            QDir(QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation))
                .filePath("pulseboard-" +
                          QDateTime::currentDateTimeUtc().toString("yyyyMMdd-HHmmss") + ".csv"),
            tr("CSV files (*.csv)"));
        if (!path.isEmpty())
            exportCsv(path);
    });
    connect(ui_->actionExportPng, &QAction::triggered, this, [this] {
        const auto dir = QFileDialog::getExistingDirectory(
            this, tr("Export charts as PNG into"),
            QStandardPaths::writableLocation(QStandardPaths::PicturesLocation));
        if (!dir.isEmpty())
            exportChartsPng(dir);
    });

    connect(&controller_, &PipelineController::snapshotReady, this, &MainWindow::showSnapshot);
    connect(&controller_, &PipelineController::endpointsReady, this, [this](const QString &d) {
        stackProblem_.clear();
        updateTitle(d);
        updateBanner();
    });
    connect(&controller_, &PipelineController::stackFailed, this, [this](const QString &m) {
        stackProblem_ = tr("The embedded stack could not start: %1").arg(m);
        updateBanner();
    });
    connect(&controller_, &PipelineController::redisStatus, this,
            [this](bool up, const QString &message) {
                redisProblem_ = up ? QString() : message;
                health_->showRedis(up, message);
                updateBanner();
            });
    connect(&controller_, &PipelineController::kafkaStatus, this,
            [this](const KafkaStatus &status) {
                kafkaProblem_ = status.reachable ? QString() : status.message;
                health_->showKafka(status);
                updateBanner();
            });
    connect(&controller_, &PipelineController::aggregatorStopped, this, [this](const QString &e) {
        statusBar()->showMessage(tr("An aggregator stopped: %1").arg(e), 15000);
    });
    connect(&controller_, &PipelineController::userActivityReady, actions_,
            &ActionsPanel::showUser);
    connect(&controller_, &PipelineController::userLookupFailed, actions_,
            &ActionsPanel::showLookupError);
    connect(actions_, &ActionsPanel::lookupRequested, &controller_,
            &PipelineController::lookupUser);
    connect(alerts_, &AlertsPanel::alertRaised, this, [this, tabs](const QString &text) {
        statusBar()->showMessage(tr("Alert: %1").arg(text), 15000);
        tabs->setTabText(3, tr("Ale&rts (!)"));
    });
    connect(tabs, &QTabWidget::currentChanged, this, [tabs](int index) {
        if (index == 3)
            tabs->setTabText(3, tr("Ale&rts"));
    });
    connect(&secrets_, &SecretStore::loaded, this, [this](const QString &key, const QString &v) {
        if (key == SecretStore::kAlertmanagerUrl || key == SecretStore::kWebhookUrl) {
            (key == SecretStore::kAlertmanagerUrl ? current_.alertmanagerUrl
                                                  : current_.webhookUrl) = v;
            alerts_->setDelivery(current_.deliveryOptions());
            return;
        }
        // Passwords arrive after start; an external setup that needs them restarts with them.
        auto updated = current_;
        (key == SecretStore::kRedisPassword ? updated.redisPassword : updated.saslPassword) = v;
        if (!(updated == current_)) {
            current_ = updated;
            if (current_.mode == StackMode::External)
                controller_.apply(current_);
        }
    });

    updateTitle(tr("starting…"));
    resize(1280, 800);
    applyChartTheme();
    controller_.apply(current_);
    charts_->setWindowLabel(tr("%1 min").arg(current_.windowSeconds / 60.0));
    history_.setCapacity(static_cast<std::size_t>(3600000 / std::max(current_.refreshMs, 200)));
    secrets_.load();
}

MainWindow::~MainWindow() = default;

void MainWindow::showSnapshot(const Snapshot &snapshot)
{
    last_ = snapshot;
    history_.append(snapshot);
    kpi_->showSnapshot(snapshot);
    charts_->scheduleRefresh();
    topPages_->showSnapshot(snapshot);
    actions_->showSnapshot(snapshot);
    health_->showSnapshot(snapshot);
    live_->showSnapshot(snapshot);
    alerts_->evaluate(snapshot);
    if (const auto skipped = QString::fromStdString(visibleText(snapshot.skipped.text()));
        skipped != dataProblem_) {
        dataProblem_ = skipped;
        updateBanner();
    }
    Q_EMIT snapshotShown();
}

void MainWindow::updateTitle(const QString &description)
{
    setWindowTitle(tr("Pulseboard — %1").arg(description));
    mode_->setText(description);
}

void MainWindow::updateBanner()
{
    QStringList lines;
    if (!stackProblem_.isEmpty())
        lines << stackProblem_ + tr(" Check that redis-server is installed, or switch to "
                                    "external endpoints in the settings.");
    if (!redisProblem_.isEmpty())
        lines << tr("%1 The numbers are read again every refresh; the dashboard recovers by "
                    "itself when Redis is back.")
                     .arg(redisProblem_);
    if (!kafkaProblem_.isEmpty())
        lines << tr("%1 Checked again every 5 s.").arg(kafkaProblem_);
    if (!dataProblem_.isEmpty())
        lines << tr("Redis data: %1.").arg(dataProblem_);
    banner_->setText(lines.join("\n"));
    banner_->setVisible(!lines.isEmpty());
}

bool MainWindow::bannerVisible() const
{
    return !banner_->isHidden();
}

QString MainWindow::bannerText() const
{
    return banner_->text();
}

QString MainWindow::keychainNote() const
{
    return secrets_.available()
               ? tr("Passwords are kept in the system keychain, never in the settings file.")
               : tr("No keychain service is available (%1): passwords are kept for this "
                    "session only and never written to disk.")
                     .arg(secrets_.problem());
}

void MainWindow::openSettings()
{
    auto *dialog = new SettingsDialog(current_, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setKeychainNote(keychainNote());
    connect(dialog, &QDialog::accepted, this,
            [this, dialog] { applySettings(dialog->settings()); });
    dialog->open();
}

void MainWindow::applySettings(const AppSettings &settings)
{
    current_ = settings;
    current_.save(settings_); // no passwords in there
    alerts_->saveRules(settings_);
    settings_.sync();
    secrets_.save(SecretStore::kRedisPassword, settings.redisPassword);
    secrets_.save(SecretStore::kSaslPassword, settings.saslPassword);
    secrets_.save(SecretStore::kAlertmanagerUrl, settings.alertmanagerUrl);
    secrets_.save(SecretStore::kWebhookUrl, settings.webhookUrl);
    alerts_->setDelivery(current_.deliveryOptions());
    history_.setCapacity(static_cast<std::size_t>(3600000 / std::max(settings.refreshMs, 200)));
    charts_->setWindowLabel(tr("%1 min").arg(settings.windowSeconds / 60.0));
    updateTitle(tr("restarting…"));
    controller_.apply(current_);
}

void MainWindow::exportCsv(const QString &path)
{
    auto *progress = new QProgressDialog(tr("Exporting CSV…"), QString(), 0, 100, this);
    progress->setAttribute(Qt::WA_DeleteOnClose);
    progress->setMinimumDuration(300);
    QPointer<QProgressDialog> guard(progress);
    QPointer<MainWindow> self(this);
    QThreadPool::globalInstance()->start(
        [self, guard, path, samples = samplesOf(history_), snapshot = last_] {
            std::ostringstream out;
            writeDashboardCsv(samples, snapshot, out, [guard](std::size_t done, std::size_t total) {
                QMetaObject::invokeMethod(qApp, [guard, done, total] {
                    if (guard)
                        guard->setValue(total ? static_cast<int>(done * 100 / total) : 100);
                });
            });
            QSaveFile file(path);
            const auto text = out.str();
            const bool ok = file.open(QIODevice::WriteOnly) &&
                            file.write(text.data(), static_cast<qint64>(text.size())) ==
                                static_cast<qint64>(text.size()) &&
                            file.commit();
            const auto message =
                ok ? MainWindow::tr("Exported %1").arg(path)
                   : MainWindow::tr("Could not write %1: %2").arg(path, file.errorString());
            QMetaObject::invokeMethod(qApp, [self, guard, ok, message] {
                if (guard)
                    guard->close();
                if (!self)
                    return;
                self->statusBar()->showMessage(message, 10000);
                Q_EMIT self->exportFinished(ok, message);
            });
        });
}

void MainWindow::exportChartsPng(const QString &directory)
{
    const auto stamp = QDateTime::currentDateTimeUtc().toString("yyyyMMdd-HHmmss");
    QList<QPair<QString, QImage>> images;
    const auto views = charts_->chartViews();
    const QStringList names{"active-users", "events-per-second", "consumer-lag"};
    for (int i = 0; i < views.size(); ++i)
        images.append(
            {QDir(directory).filePath(QString("pulseboard-%1-%2.png").arg(names.value(i), stamp)),
             views[i]->grab().toImage()});
    images.append({QDir(directory).filePath(QString("pulseboard-top-pages-%1.png").arg(stamp)),
                   topPages_->chartView()->grab().toImage()});
    QPointer<MainWindow> self(this);
    QThreadPool::globalInstance()->start([self, images, directory] {
        int saved = 0;
        for (const auto &[path, image] : images)
            saved += image.save(path, "PNG") ? 1 : 0;
        QMetaObject::invokeMethod(qApp, [self, saved, total = images.size(), directory] {
            if (self)
                self->statusBar()->showMessage(MainWindow::tr("Saved %1 of %2 charts as PNG in %3")
                                                   .arg(saved)
                                                   .arg(total)
                                                   .arg(directory),
                                               10000);
        });
    });
}

void MainWindow::about()
{
    QMessageBox::about(
        this, tr("About Pulseboard"),
        tr("<h3>Pulseboard %1</h3><p>Real-time user-activity monitoring: Kafka → exactly-once "
           "aggregation → Redis → this dashboard.</p><p>Qt %2, librdkafka %3.</p>")
            .arg(QApplication::applicationVersion(), qVersion(), rd_kafka_version_str()));
}

void MainWindow::applyChartTheme()
{
    const bool dark = palette().color(QPalette::Window).lightness() < 128;
    const auto theme = dark ? QChart::ChartThemeDark : QChart::ChartThemeLight;
    for (auto *view : findChildren<QChartView *>())
        if (view->chart()->theme() != theme)
            view->chart()->setTheme(theme);
}

void MainWindow::changeEvent(QEvent *event)
{
    if (event->type() == QEvent::PaletteChange)
        applyChartTheme();
    QMainWindow::changeEvent(event);
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    alerts_->saveRules(settings_);
    event->accept();
}

} // namespace pb::gui
