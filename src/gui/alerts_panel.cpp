#include "alerts_panel.h"

#include "core/event.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QLabel>
#include <QListWidget>
#include <QSettings>
#include <QSystemTrayIcon>
#include <QVBoxLayout>

namespace pb::gui {

std::vector<AlertRule> defaultAlertRules()
{
    return {
        {AlertMetric::EventsPerSecond, AlertComparison::Below, 1, false},
        {AlertMetric::ActiveUsers, AlertComparison::Above, 100000, false},
        {AlertMetric::ActiveUsers, AlertComparison::Below, 1, false},
        {AlertMetric::ConsumerLag, AlertComparison::Above, 10000, true},
        {AlertMetric::BadEventsPerSecond, AlertComparison::Above, 10, true},
    };
}

AlertsPanel::AlertsPanel(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(tr("Raise an alert when:"), this));
    editor_ = new QWidget(this);
    editor_->setLayout(new QGridLayout);
    layout->addWidget(editor_);
    layout->addWidget(new QLabel(tr("Alerts (newest first):"), this));
    list_ = new QListWidget(this);
    list_->setObjectName("alertList");
    layout->addWidget(list_, 1);
    delivery_ = new QLabel(tr("Alert delivery off: set an Alertmanager or webhook URL in "
                              "Settings."),
                           this);
    delivery_->setObjectName("alertDeliveryStatus");
    delivery_->setTextFormat(Qt::PlainText); // it can quote a server's answer
    delivery_->setWordWrap(true);
    layout->addWidget(delivery_);
    sender_ = new alerts::AlertSender(this);
    connect(sender_, &alerts::AlertSender::status, this, &AlertsPanel::showDelivery);
    if (QSystemTrayIcon::isSystemTrayAvailable()) {
        tray_ = new QSystemTrayIcon(this);
        tray_->setIcon(QIcon(":/icons/pulseboard.svg"));
        tray_->setToolTip(tr("Pulseboard"));
        tray_->show();
    }
    setRules(defaultAlertRules());
}

void AlertsPanel::setRules(const std::vector<AlertRule> &rules)
{
    record(engine_.setRules(rules, QDateTime::currentMSecsSinceEpoch()));
    rebuildEditor();
}

void AlertsPanel::rebuildEditor()
{
    updating_ = true;
    auto *grid = static_cast<QGridLayout *>(editor_->layout());
    while (auto *item = grid->takeAt(0)) {
        delete item->widget();
        delete item;
    }
    const auto &rules = engine_.rules();
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const int row = static_cast<int>(i);
        auto *enabled = new QCheckBox(metricName(rules[i].metric), editor_);
        enabled->setObjectName(QString("alertEnabled%1").arg(row));
        enabled->setChecked(rules[i].enabled);
        auto *comparison = new QComboBox(editor_);
        comparison->setObjectName(QString("alertComparison%1").arg(row));
        comparison->addItems({tr("above"), tr("below")});
        comparison->setCurrentIndex(rules[i].comparison == AlertComparison::Above ? 0 : 1);
        auto *threshold = new QDoubleSpinBox(editor_);
        threshold->setObjectName(QString("alertThreshold%1").arg(row));
        threshold->setRange(0, 1e12);
        threshold->setDecimals(1);
        threshold->setValue(rules[i].threshold);
        grid->addWidget(enabled, row, 0);
        grid->addWidget(comparison, row, 1);
        grid->addWidget(threshold, row, 2);
        connect(enabled, &QCheckBox::toggled, this, &AlertsPanel::rulesEdited);
        connect(comparison, &QComboBox::currentIndexChanged, this, &AlertsPanel::rulesEdited);
        connect(threshold, &QDoubleSpinBox::valueChanged, this, &AlertsPanel::rulesEdited);
    }
    updating_ = false;
}

void AlertsPanel::rulesEdited()
{
    if (updating_)
        return;
    auto rules = engine_.rules();
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const int row = static_cast<int>(i);
        rules[i].enabled =
            editor_->findChild<QCheckBox *>(QString("alertEnabled%1").arg(row))->isChecked();
        rules[i].comparison = editor_->findChild<QComboBox *>(QString("alertComparison%1").arg(row))
                                          ->currentIndex() == 0
                                  ? AlertComparison::Above
                                  : AlertComparison::Below;
        rules[i].threshold =
            editor_->findChild<QDoubleSpinBox *>(QString("alertThreshold%1").arg(row))->value();
    }
    record(engine_.setRules(rules, QDateTime::currentMSecsSinceEpoch()));
}

void AlertsPanel::setDelivery(const alerts::DeliveryOptions &options)
{
    sender_->configure(options);
}

QString AlertsPanel::deliveryStatus() const
{
    return delivery_->text();
}

void AlertsPanel::showDelivery(const alerts::DeliveryStatus &status)
{
    delivery_->setText((status.ok ? QStringLiteral("✔ ") : QStringLiteral("✘ ")) + status.text);
    delivery_->setStyleSheet(status.ok ? QString() : QStringLiteral("color: #c62828;"));
}

void AlertsPanel::evaluate(const Snapshot &snapshot)
{
    record(engine_.evaluate(snapshot));
}

void AlertsPanel::record(const std::vector<AlertEvent> &events)
{
    for (const auto &event : events) {
        // The sender keeps firing alerts only while it has a target, but always tracks them:
        // a URL set later still hears what fires.
        sender_->deliver(alerts::noticeFor(event));
        const auto text = QStringLiteral("%1  %2").arg(
            QString::fromStdString(formatIso8601Ms(event.timeMs)), event.text());
        auto *item = new QListWidgetItem(text);
        if (event.raised)
            item->setForeground(QColor(0xc6, 0x28, 0x28));
        list_->insertItem(0, item);
        while (list_->count() > 500)
            delete list_->takeItem(list_->count() - 1);
        if (event.raised) {
            if (tray_)
                tray_->showMessage(tr("Pulseboard alert"), event.text(), QSystemTrayIcon::Warning,
                                   10000);
            Q_EMIT alertRaised(event.text());
        }
    }
}

int AlertsPanel::alertCount() const
{
    return list_->count();
}

void AlertsPanel::saveRules(QSettings &settings) const
{
    settings.beginWriteArray("alerts");
    const auto &rules = engine_.rules();
    for (std::size_t i = 0; i < rules.size(); ++i) {
        settings.setArrayIndex(static_cast<int>(i));
        settings.setValue("metric", static_cast<int>(rules[i].metric));
        settings.setValue("above", rules[i].comparison == AlertComparison::Above);
        settings.setValue("threshold", rules[i].threshold);
        settings.setValue("enabled", rules[i].enabled);
    }
    settings.endArray();
}

void AlertsPanel::loadRules(QSettings &settings)
{
    const int n = settings.beginReadArray("alerts");
    std::vector<AlertRule> rules;
    for (int i = 0; i < n; ++i) {
        settings.setArrayIndex(i);
        const int metric = settings.value("metric").toInt();
        if (metric < 0 || metric > static_cast<int>(AlertMetric::BadEventsPerSecond))
            continue;
        rules.push_back(
            {static_cast<AlertMetric>(metric),
             settings.value("above").toBool() ? AlertComparison::Above : AlertComparison::Below,
             settings.value("threshold").toDouble(), settings.value("enabled").toBool()});
    }
    settings.endArray();
    if (!rules.empty())
        setRules(rules);
}

} // namespace pb::gui
