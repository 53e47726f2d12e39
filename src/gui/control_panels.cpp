#include "control_panels.h"

#include "pipeline_controller.h"

#include <QDateTime>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

namespace pb::gui {

namespace {

QSpinBox *spin(QWidget *parent, const char *name, int min, int max, int value, const QString &tip)
{
    auto *box = new QSpinBox(parent);
    box->setObjectName(name);
    box->setRange(min, max);
    box->setValue(value);
    box->setGroupSeparatorShown(true);
    box->setToolTip(tip);
    return box;
}

} // namespace

SimulatorPanel::SimulatorPanel(PipelineController &controller, QWidget *parent)
    : QWidget(parent)
    , controller_(controller)
{
    auto *layout = new QVBoxLayout(this);
    auto *form = new QFormLayout;
    rate_ =
        spin(this, "simRate", 0, 1000000, 2000, tr("Events per second; 0 = as fast as possible"));
    users_ =
        spin(this, "simUsers", 1, 10000000, 10000, tr("Size of the simulated user population"));
    pages_ = spin(this, "simPages", 1, 100000, 200, tr("Pages in the catalogue (Zipf popularity)"));
    count_ = spin(this, "simCount", 0, 2000000000, 0,
                  tr("Stop after this many events; 0 = until stopped"));
    count_->setSpecialValueText(tr("until stopped"));
    form->addRow(tr("&Rate (events/s):"), rate_);
    form->addRow(tr("&Users:"), users_);
    form->addRow(tr("Pa&ges:"), pages_);
    form->addRow(tr("&Count:"), count_);
    layout->addLayout(form);
    start_ = new QPushButton(QIcon(":/icons/play.svg"), tr("Start simulator"), this);
    start_->setObjectName("simulatorButton");
    start_->setToolTip(tr("Start or stop simulated traffic (F5)"));
    layout->addWidget(start_);
    progress_ = new QProgressBar(this);
    progress_->setVisible(false);
    layout->addWidget(progress_);
    counters_ = new QLabel(tr("sent 0 · acknowledged 0 · failed 0"), this);
    counters_->setObjectName("simulatorCounters");
    layout->addWidget(counters_);
    status_ = new QLabel(this);
    status_->setTextFormat(Qt::PlainText); // broker error texts
    status_->setWordWrap(true);
    layout->addWidget(status_);
    layout->addStretch();

    connect(start_, &QPushButton::clicked, this, &SimulatorPanel::toggle);
    connect(&controller_, &PipelineController::simulatorProgress, this,
            &SimulatorPanel::showProgress);
    connect(&controller_, &PipelineController::simulatorFinished, this, &SimulatorPanel::finished);
}

void SimulatorPanel::toggle()
{
    if (controller_.simulatorRunning()) {
        status_->setText(tr("Stopping: waiting for the last acknowledgements…"));
        start_->setEnabled(false);
        controller_.stopSimulator();
        return;
    }
    if (!controller_.ready()) {
        status_->setText(tr("Not connected yet: the simulator starts once Kafka is set up."));
        return;
    }
    kafka::SimulatorOptions options;
    options.topic = controller_.settings().topic.toStdString();
    options.rate = rate_->value();
    options.count = count_->value();
    options.generator.users = users_->value();
    options.generator.pages = pages_->value();
    options.generator.seed = static_cast<std::uint64_t>(QDateTime::currentMSecsSinceEpoch());
    progress_->setVisible(options.count > 0);
    progress_->setRange(0, count_->value());
    progress_->setValue(0);
    controller_.startSimulator(options);
    start_->setText(tr("Stop simulator"));
    start_->setIcon(QIcon(":/icons/stop.svg"));
    status_->setText(tr("Producing to %1…").arg(controller_.settings().topic));
}

void SimulatorPanel::showProgress(const kafka::SimulatorStats &s)
{
    const QLocale locale;
    counters_->setText(tr("sent %1 · acknowledged %2 · failed %3")
                           .arg(locale.toString(static_cast<qlonglong>(s.sent)),
                                locale.toString(static_cast<qlonglong>(s.acknowledged)),
                                locale.toString(static_cast<qlonglong>(s.failed))));
    if (progress_->isVisible())
        progress_->setValue(static_cast<int>(s.acknowledged));
    if (!s.lastError.empty())
        status_->setText(tr("Delivery failures: %1").arg(QString::fromStdString(s.lastError)));
}

void SimulatorPanel::finished(const kafka::SimulatorStats &stats, const QString &error)
{
    start_->setEnabled(true);
    start_->setText(tr("Start simulator"));
    start_->setIcon(QIcon(":/icons/play.svg"));
    if (!error.isEmpty()) {
        status_->setText(tr("The simulator stopped: %1").arg(error));
        return;
    }
    showProgress(stats);
    status_->setText(stats.failed ? tr("Stopped; %1 event(s) failed.").arg(stats.failed)
                                  : tr("Stopped; every event was acknowledged."));
}

QString SimulatorPanel::countersText() const
{
    return counters_->text();
}

AggregatorPanel::AggregatorPanel(PipelineController &controller, QWidget *parent)
    : QWidget(parent)
    , controller_(controller)
{
    auto *layout = new QVBoxLayout(this);
    auto *row = new QHBoxLayout;
    threads_ = spin(this, "aggregatorThreads", 1, 32, 1,
                    tr("Aggregator threads: members of one consumer group"));
    start_ = new QPushButton(tr("Stop aggregators"), this);
    start_->setObjectName("aggregatorButton");
    start_->setToolTip(tr("Start or stop the aggregator threads (F6)"));
    row->addWidget(new QLabel(tr("&Threads:"), this));
    row->addWidget(threads_);
    row->addWidget(start_);
    row->addStretch();
    static_cast<QLabel *>(row->itemAt(0)->widget())->setBuddy(threads_);
    layout->addLayout(row);
    table_ = new QTableWidget(0, 5, this);
    table_->setObjectName("aggregatorTable");
    table_->setHorizontalHeaderLabels(
        {tr("Instance"), tr("State"), tr("Partitions"), tr("Events"), tr("Last problem")});
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->verticalHeader()->hide();
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    layout->addWidget(table_, 1);
    timer_ = new QTimer(this);
    timer_->start(1000);
    connect(timer_, &QTimer::timeout, this, &AggregatorPanel::refresh);
    connect(start_, &QPushButton::clicked, this, &AggregatorPanel::toggle);
    connect(threads_, &QSpinBox::editingFinished, this, [this] {
        if (controller_.aggregatorCount() > 0 && threads_->value() != controller_.aggregatorCount())
            controller_.startAggregators(threads_->value());
    });
}

void AggregatorPanel::toggle()
{
    if (controller_.aggregatorCount() > 0)
        controller_.stopAggregators();
    else
        controller_.startAggregators(threads_->value());
    refresh();
}

void AggregatorPanel::refresh()
{
    const auto statuses = controller_.aggregatorStatuses();
    start_->setText(statuses.isEmpty() ? tr("Start aggregators") : tr("Stop aggregators"));
    if (!statuses.isEmpty() && !threads_->hasFocus())
        threads_->setValue(static_cast<int>(statuses.size()));
    table_->setRowCount(static_cast<int>(statuses.size()));
    const QLocale locale;
    for (int i = 0; i < statuses.size(); ++i) {
        const auto &s = statuses[i];
        QStringList partitions;
        for (const int p : s.partitions)
            partitions.append(QString::number(p));
        const QString state = !s.running   ? tr("waiting")
                              : !s.redisUp ? tr("Redis down")
                              : !s.kafkaUp ? tr("Kafka down")
                                           : tr("running");
        const QStringList cells{s.id.isEmpty() ? tr("(starting)") : s.id, state,
                                partitions.isEmpty() ? tr("none") : partitions.join(", "),
                                locale.toString(s.validEvents + s.invalidEvents), s.lastError};
        for (int c = 0; c < cells.size(); ++c) {
            auto *item = table_->item(i, c);
            if (!item)
                table_->setItem(i, c, item = new QTableWidgetItem);
            item->setText(cells[c]);
        }
    }
}

} // namespace pb::gui
