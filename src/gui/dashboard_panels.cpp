#include "dashboard_panels.h"

#include "core/event.h"
#include "core/saturating.h"
#include "event_text.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDateTime>
#include <QDateTimeAxis>
#include <QFrame>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QHorizontalBarSeries>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QLocale>
#include <QPieSeries>
#include <QPushButton>
#include <QTimer>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <QValueAxis>

#include <algorithm>
#include <array>
#include <cmath>

namespace pb::gui {

namespace {

QString number(std::int64_t n)
{
    return QLocale().toString(static_cast<qlonglong>(n));
}

// Short enough for a chart legend: 9,876 / 21.5 k / 2.52 M / 1.20 G.
QString compactNumber(std::int64_t n)
{
    const auto v = static_cast<double>(n);
    if (std::abs(v) < 10'000)
        return number(n);
    static const std::array<std::pair<double, const char *>, 3> units{
        {{1e9, " G"}, {1e6, " M"}, {1e3, " k"}}};
    for (const auto &[scale, suffix] : units) {
        if (std::abs(v) < scale)
            continue;
        const auto scaled = v / scale;
        const int decimals = std::abs(scaled) < 10 ? 2 : std::abs(scaled) < 100 ? 1 : 0;
        return QLocale().toString(scaled, 'f', decimals) + QLatin1String(suffix);
    }
    return number(n);
}

QChart *plainChart(const QString &title)
{
    auto *chart = new QChart;
    chart->setTitle(title);
    chart->legend()->setAlignment(Qt::AlignBottom);
    chart->setMargins(QMargins(4, 4, 4, 4));
    chart->setAnimationOptions(QChart::NoAnimation);
    chart->setTheme(QChart::ChartThemeLight);
    return chart;
}

// Ceil to a readable axis maximum (1, 2, 5 × 10^n), never 0.
double niceMax(double value)
{
    if (value <= 0)
        return 1;
    double step = 1;
    while (step * 10 <= value)
        step *= 10;
    for (const double m : {1.0, 2.0, 5.0, 10.0})
        if (value <= m * step)
            return m * step;
    return 10 * step;
}

} // namespace

// ---- KpiPanel -----------------------------------------------------------------------------

KpiPanel::KpiPanel(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    addTile("activeUsers", tr("Active users (5 min)"),
            tr("Distinct users with at least one event in the active window"));
    addTile("activeUsers30m", tr("Active users (30 min)"),
            tr("Distinct users with at least one event in the last 30 minutes"));
    addTile("eventsPerSecond", tr("Events/s"), tr("Valid events per second, last 3 seconds"));
    addTile("eventsTotal", tr("Events total"), tr("Valid events aggregated since the start"));
    addTile("badEvents", tr("Bad events"),
            tr("Invalid events, counted by reason and forwarded to the dead-letter topic"));
    addTile("consumerLag", tr("Consumer lag"),
            tr("Events in Kafka not yet aggregated, over all partitions"));
}

QLabel *KpiPanel::addTile(const QString &key, const QString &title, const QString &help)
{
    auto *frame = new QFrame(this);
    frame->setFrameShape(QFrame::StyledPanel);
    frame->setToolTip(help);
    auto *box = new QVBoxLayout(frame);
    auto *caption = new QLabel(title, frame);
    auto *value = new QLabel(QStringLiteral("–"), frame);
    value->setObjectName("kpi_" + key);
    QFont big = value->font();
    big.setPointSizeF(big.pointSizeF() * 1.8);
    big.setBold(true);
    value->setFont(big);
    value->setAccessibleName(title);
    box->addWidget(caption);
    box->addWidget(value);
    layout()->addWidget(frame);
    values_.insert(key, value);
    titles_.insert(key, caption);
    return value;
}

void KpiPanel::showSnapshot(const Snapshot &s)
{
    const auto windowMinutes = static_cast<double>(s.activeWindow.count()) / 60000.0;
    titles_["activeUsers"]->setText(
        tr("Active users (%1 min)").arg(QLocale().toString(windowMinutes, 'g', 3)));
    values_["activeUsers"]->setText(number(s.activeUsers));
    values_["activeUsers30m"]->setText(number(s.activeUsers30m));
    values_["eventsPerSecond"]->setText(QLocale().toString(History::eventsPerSecond(s), 'f', 1));
    values_["eventsTotal"]->setText(number(s.eventsTotal));
    values_["badEvents"]->setText(number(s.badEventsTotal));
    values_["consumerLag"]->setText(s.consumerLag < 0 ? tr("unknown") : number(s.consumerLag));
}

QString KpiPanel::valueText(const QString &tile) const
{
    const auto *label = values_.value(tile);
    return label ? label->text() : QString();
}

// ---- ChartsPanel --------------------------------------------------------------------------

ChartsPanel::ChartsPanel(const History &history, QWidget *parent)
    : QWidget(parent)
    , history_(history)
{
    auto *layout = new QVBoxLayout(this);
    auto *controls = new QHBoxLayout;
    range_ = new QComboBox(this);
    range_->setObjectName("chartRange");
    range_->addItem(tr("Last 5 minutes"), 5);
    range_->addItem(tr("Last 15 minutes"), 15);
    range_->addItem(tr("Last 60 minutes"), 60);
    range_->setToolTip(tr("Time range of the charts"));
    pause_ = new QPushButton(tr("&Pause charts"), this);
    pause_->setObjectName("pauseCharts");
    pause_->setCheckable(true);
    pause_->setToolTip(tr("Freeze the charts; numbers keep being gathered"));
    controls->addWidget(new QLabel(tr("Range:"), this));
    controls->addWidget(range_);
    controls->addStretch();
    controls->addWidget(pause_);
    layout->addLayout(controls);

    active_ = new QLineSeries;
    active_->setName(tr("window"));
    active30_ = new QLineSeries;
    active30_->setName(tr("30 min"));
    rate_ = new QLineSeries;
    rate_->setName(tr("events/s"));
    lag_ = new QLineSeries;
    lag_->setName(tr("consumer lag"));
    auto *row = new QHBoxLayout;
    row->addWidget(makeChart(tr("Active users"), {active_, active30_}, activeY_));
    row->addWidget(makeChart(tr("Events per second"), {rate_}, rateY_));
    layout->addLayout(row, 1);
    layout->addWidget(makeChart(tr("Consumer lag"), {lag_}, lagY_), 1);

    redraw_ = new QTimer(this);
    redraw_->setSingleShot(true);
    redraw_->setInterval(40);
    connect(redraw_, &QTimer::timeout, this, &ChartsPanel::refresh);
    connect(range_, &QComboBox::currentIndexChanged, this, &ChartsPanel::scheduleRefresh);
    connect(pause_, &QPushButton::toggled, this, &ChartsPanel::setPaused);
}

QChartView *ChartsPanel::makeChart(const QString &title, QList<QLineSeries *> series,
                                   QValueAxis *&y)
{
    auto *chart = plainChart(title);
    auto *x = new QDateTimeAxis;
    x->setFormat("HH:mm");
    x->setTickCount(4);
    y = new QValueAxis;
    y->setLabelFormat("%.0f");
    y->setRange(0, 1);
    chart->addAxis(x, Qt::AlignBottom);
    chart->addAxis(y, Qt::AlignLeft);
    for (auto *s : series) {
        chart->addSeries(s);
        s->attachAxis(x);
        s->attachAxis(y);
    }
    if (series.size() < 2)
        chart->legend()->hide();
    xAxes_.append(x);
    auto *view = new QChartView(chart, this);
    view->setRenderHint(QPainter::Antialiasing);
    view->setMinimumHeight(160);
    views_.append(view);
    return view;
}

int ChartsPanel::rangeMinutes() const
{
    return range_->currentData().toInt();
}

void ChartsPanel::setWindowLabel(const QString &label)
{
    active_->setName(label);
}

void ChartsPanel::setPaused(bool paused)
{
    paused_ = paused;
    pause_->setChecked(paused);
    pause_->setText(paused ? tr("&Resume charts") : tr("&Pause charts"));
    if (!paused)
        scheduleRefresh();
}

void ChartsPanel::scheduleRefresh()
{
    if (!paused_ && !redraw_->isActive())
        redraw_->start();
}

int ChartsPanel::pointCount() const
{
    return static_cast<int>(rate_->count());
}

void ChartsPanel::refresh()
{
    const auto *latest = history_.latest();
    if (!latest || paused_)
        return;
    const auto end = latest->timeMs;
    const auto begin = end - static_cast<std::int64_t>(rangeMinutes()) * 60000;
    QList<QPointF> active, active30, rate, lag;
    double maxActive = 0, maxRate = 0, maxLag = 0;
    for (std::size_t i = 0; i < history_.size(); ++i) {
        const auto &s = history_.at(i);
        if (s.timeMs < begin)
            continue;
        const auto t = static_cast<double>(s.timeMs);
        active.append({t, static_cast<double>(s.activeUsers)});
        active30.append({t, static_cast<double>(s.activeUsers30m)});
        rate.append({t, s.eventsPerSecond});
        maxActive = std::max(
            {maxActive, static_cast<double>(s.activeUsers30m), static_cast<double>(s.activeUsers)});
        maxRate = std::max(maxRate, s.eventsPerSecond);
        if (s.consumerLag >= 0) {
            lag.append({t, static_cast<double>(s.consumerLag)});
            maxLag = std::max(maxLag, static_cast<double>(s.consumerLag));
        }
    }
    active_->replace(active);
    active30_->replace(active30);
    rate_->replace(rate);
    lag_->replace(lag);
    for (auto *x : xAxes_)
        x->setRange(QDateTime::fromMSecsSinceEpoch(begin), QDateTime::fromMSecsSinceEpoch(end));
    activeY_->setRange(0, niceMax(maxActive * 1.1));
    rateY_->setRange(0, niceMax(maxRate * 1.1));
    lagY_->setRange(0, niceMax(maxLag * 1.1));
}

// ---- TopPagesPanel ------------------------------------------------------------------------

TopPagesPanel::TopPagesPanel(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    scope_ = new QComboBox(this);
    scope_->setObjectName("topPagesScope");
    scope_->addItem(tr("All time"));
    scope_->addItem(tr("Last hour"));
    auto *controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Top pages:"), this));
    controls->addWidget(scope_);
    controls->addStretch();
    layout->addLayout(controls);

    auto *chart = plainChart(tr("Top 10 pages"));
    chart->legend()->hide();
    series_ = new QHorizontalBarSeries;
    chart->addSeries(series_);
    categories_ = new QBarCategoryAxis;
    categories_->setTruncateLabels(false); // page paths are the point of this chart
    counts_ = new QValueAxis;
    counts_->setLabelFormat("%.0f");
    chart->addAxis(categories_, Qt::AlignLeft);
    chart->addAxis(counts_, Qt::AlignBottom);
    series_->attachAxis(categories_);
    series_->attachAxis(counts_);
    view_ = new QChartView(chart, this);
    view_->setRenderHint(QPainter::Antialiasing);
    view_->setMinimumHeight(240);
    layout->addWidget(view_, 1);
    connect(scope_, &QComboBox::currentIndexChanged, this, &TopPagesPanel::redraw);
}

void TopPagesPanel::showSnapshot(const Snapshot &snapshot)
{
    last_ = snapshot;
    redraw();
}

void TopPagesPanel::redraw()
{
    const auto &pages =
        scope_->currentIndex() == 0 ? last_.topPagesAllTime : last_.topPagesLastHour;
    QStringList names;
    for (const auto &p : pages)
        names.append(gui::eventText(p.name));
    if (names == shown_ && !series_->barSets().isEmpty()) {
        // Same pages: update the values in place.
        auto *set = series_->barSets().first();
        const auto n = static_cast<int>(pages.size());
        for (int i = 0; i < n; ++i)
            set->replace(n - 1 - i, static_cast<double>(pages[static_cast<std::size_t>(i)].count));
    } else {
        series_->clear();
        categories_->clear();
        auto *set = new QBarSet(tr("events"));
        QStringList reversed; // most first at the top
        for (auto it = pages.rbegin(); it != pages.rend(); ++it) {
            *set << static_cast<double>(it->count);
            reversed.append(gui::chartEventText(it->name)); // the axis renders HTML
        }
        series_->append(set);
        categories_->append(reversed);
        shown_ = names;
    }
    double max = 0;
    for (const auto &p : pages)
        max = std::max(max, static_cast<double>(p.count));
    counts_->setRange(0, niceMax(max * 1.05));
}

// ---- ActionsPanel -------------------------------------------------------------------------

ActionsPanel::ActionsPanel(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    auto *chart = plainChart(tr("Events by action"));
    chart->legend()->setAlignment(Qt::AlignRight);
    pie_ = new QPieSeries;
    chart->addSeries(pie_);
    view_ = new QChartView(chart, this);
    view_->setRenderHint(QPainter::Antialiasing);
    view_->setMinimumHeight(200);
    layout->addWidget(view_, 1);

    auto *lookup = new QHBoxLayout;
    user_ = new QLineEdit(this);
    user_->setObjectName("userLookup");
    user_->setPlaceholderText(tr("user id, e.g. 42"));
    user_->setClearButtonEnabled(true);
    auto *go = new QPushButton(tr("&Look up"), this);
    lookup->addWidget(new QLabel(tr("User:"), this));
    lookup->addWidget(user_, 1);
    lookup->addWidget(go);
    layout->addLayout(lookup);
    userResult_ = new QLabel(tr("Events of one user in the last hour, by action."), this);
    userResult_->setObjectName("userResult");
    userResult_->setWordWrap(true);
    userResult_->setTextFormat(Qt::PlainText); // it shows user and action names
    userResult_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(userResult_);

    const auto request = [this] {
        const auto id = user_->text().trimmed();
        if (id.isEmpty()) {
            userResult_->setText(tr("Type a user id first."));
            return;
        }
        userResult_->setText(tr("Looking up %1…").arg(id));
        Q_EMIT lookupRequested(id);
    };
    connect(go, &QPushButton::clicked, this, request);
    connect(user_, &QLineEdit::returnPressed, this, request);
}

void ActionsPanel::showSnapshot(const Snapshot &s)
{
    // Update slices in place when the actions are the same, so the pie does not flicker.
    const auto slices = pie_->slices();
    bool same = slices.size() == static_cast<qsizetype>(s.actions.size());
    for (qsizetype i = 0; same && i < slices.size(); ++i)
        same = slices[i]->property("action").toString() ==
               QString::fromStdString(s.actions[static_cast<std::size_t>(i)].name);
    if (!same) {
        pie_->clear();
        for (const auto &a : s.actions) {
            auto *slice = pie_->append(gui::chartEventText(a.name), static_cast<double>(a.count));
            slice->setProperty("action", QString::fromStdString(a.name));
        }
    }
    double total = 0;
    for (const auto &a : s.actions)
        total += static_cast<double>(a.count);
    const auto updated = pie_->slices();
    for (qsizetype i = 0; i < updated.size(); ++i) {
        const auto &a = s.actions[static_cast<std::size_t>(i)];
        updated[i]->setValue(static_cast<double>(a.count));
        const auto share = total > 0 ? 100.0 * static_cast<double>(a.count) / total : 0.0;
        updated[i]->setLabel(QStringLiteral("%1: %2 (%3 %)")
                                 .arg(gui::chartEventText(a.name), compactNumber(a.count),
                                      QLocale().toString(share, 'f', 0)));
    }
}

QStringList ActionsPanel::sliceLabels() const
{
    QStringList labels;
    for (const auto *slice : pie_->slices())
        labels << slice->label();
    return labels;
}

void ActionsPanel::showUser(const UserActivity &u)
{
    if (u.eventsLastHour == 0) {
        userResult_->setText(
            tr("User %1: no events in the last hour.").arg(gui::eventText(u.userId)));
        return;
    }
    QStringList parts;
    for (const auto &a : u.actionsLastHour)
        parts.append(QStringLiteral("%1 %2").arg(number(a.count), gui::eventText(a.name)));
    auto text = tr("User %1: %2 events in the last hour (%3); last seen %4.")
                    .arg(gui::eventText(u.userId), number(u.eventsLastHour), parts.join(", "),
                         QString::fromStdString(formatIso8601Ms(u.lastSeenMs)));
    if (u.skipped.count > 0)
        text += ' ' + QString::fromStdString(visibleText(u.skipped.text()));
    userResult_->setText(text);
}

void ActionsPanel::showLookupError(const QString &message)
{
    userResult_->setText(tr("Lookup failed: %1").arg(message));
}

// ---- HealthPanel --------------------------------------------------------------------------

HealthPanel::HealthPanel(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    kafka_ = new QLabel(tr("Kafka: checking…"), this);
    kafka_->setTextFormat(Qt::PlainText); // error texts from the servers
    kafka_->setObjectName("kafkaHealth");
    kafka_->setWordWrap(true);
    redis_ = new QLabel(tr("Redis: checking…"), this);
    redis_->setTextFormat(Qt::PlainText);
    redis_->setObjectName("redisHealth");
    redis_->setWordWrap(true);
    layout->addWidget(kafka_);
    layout->addWidget(redis_);
    aggregators_ = new QTreeWidget(this);
    aggregators_->setObjectName("aggregatorHealth");
    aggregators_->setHeaderLabels({tr("Aggregator / partition"), tr("Events"), tr("Heartbeat"),
                                   tr("Next offset"), tr("Lag")});
    aggregators_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    layout->addWidget(
        new QLabel(tr("Aggregator instances (from their heartbeats in Redis):"), this));
    layout->addWidget(aggregators_, 1);
}

void HealthPanel::showSnapshot(const Snapshot &s)
{
    if (redisUp_)
        redis_->setText(tr("Redis: connected, round trip %1 ms")
                            .arg(QLocale().toString(
                                static_cast<double>(s.redisRoundTrip.count()) / 1000.0, 'f', 1)));
    aggregators_->clear();
    for (const auto &a : s.aggregators) {
        auto *item = new QTreeWidgetItem(aggregators_);
        item->setText(0, QString::fromStdString(a.id));
        item->setText(1, number(a.eventsProcessed));
        item->setText(
            2, tr("%1 s ago")
                   .arg(QLocale().toString(static_cast<double>(s.takenAtMs - a.lastBeatMs) / 1000.0,
                                           'f', 1)));
        std::int64_t lag = 0;
        for (const auto &p : a.partitions) {
            auto *child = new QTreeWidgetItem(item);
            child->setText(
                0, QStringLiteral("%1 / %2").arg(QString::fromStdString(p.topic)).arg(p.partition));
            child->setText(3, p.nextOffset < 0 ? tr("none yet") : number(p.nextOffset));
            child->setText(4, p.lag < 0 ? tr("unknown") : number(p.lag));
            lag = addSaturated(lag, std::max<std::int64_t>(p.lag, 0)); // lag comes from Redis
        }
        item->setText(4, number(lag));
        item->setExpanded(true);
    }
    if (s.aggregators.empty()) {
        auto *item = new QTreeWidgetItem(aggregators_);
        item->setText(0, tr("no aggregator alive: start one (Pipeline ▸ Start aggregators)"));
    }
}

void HealthPanel::showKafka(const KafkaStatus &status)
{
    if (!status.reachable) {
        kafka_->setText(tr("Kafka: NOT reachable — %1 (retrying every 5 s)").arg(status.message));
        return;
    }
    kafka_->setText(
        status.partitions > 0
            ? tr("Kafka: connected, %1 broker(s), topic has %2 partition(s)")
                  .arg(status.brokers)
                  .arg(status.partitions)
            : tr("Kafka: connected, %1 broker(s); %2").arg(status.brokers).arg(status.message));
}

void HealthPanel::showRedis(bool up, const QString &message)
{
    redisUp_ = up;
    redis_->setText(up ? tr("Redis: connected")
                       : tr("Redis: NOT reachable — %1 (retrying)").arg(message));
}

} // namespace pb::gui
