#pragma once
// The dashboard's read-only panels. Each owns its widgets and is fed value types (Snapshot,
// History) by the main window; none does I/O.

#include "history.h"
#include "metatypes.h"

#include <QWidget>

class QLabel;
class QComboBox;
class QPushButton;
class QLineEdit;
class QTreeWidget;
class QTimer;
class QChart;
class QChartView;
class QLineSeries;
class QDateTimeAxis;
class QValueAxis;
class QBarSet;
class QBarCategoryAxis;
class QHorizontalBarSeries;
class QPieSeries;
class QTableWidget;

namespace pb::gui {

// KPI tiles: active users (window and 30 min), events/s, events total, bad events, lag.
class KpiPanel : public QWidget {
    Q_OBJECT
public:
    explicit KpiPanel(QWidget *parent = nullptr);
    void showSnapshot(const Snapshot &snapshot);
    QString
    valueText(const QString &tile) const; // for tests: "activeUsers", "eventsPerSecond", ...

private:
    QLabel *addTile(const QString &key, const QString &title, const QString &help);
    QHash<QString, QLabel *> values_;
    QHash<QString, QLabel *> titles_;
};

// Live line charts over 5, 15 or 60 minutes: active users, events/s, consumer lag. Redraws at a
// bounded rate with QXYSeries::replace() from the History ring.
class ChartsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ChartsPanel(const History &history, QWidget *parent = nullptr);

    void scheduleRefresh(); // coalesces bursts: one redraw per ~40 ms at most
    void setWindowLabel(const QString &label);
    bool paused() const { return paused_; }
    void setPaused(bool paused);
    int rangeMinutes() const;
    QList<QChartView *> chartViews() const { return views_; }
    int pointCount() const; // points drawn in the events/s series (for tests)

private:
    void refresh();
    QChartView *makeChart(const QString &title, QList<QLineSeries *> series, QValueAxis *&y);

    const History &history_;
    QComboBox *range_ = nullptr;
    QPushButton *pause_ = nullptr;
    QTimer *redraw_ = nullptr;
    bool paused_ = false;
    QList<QChartView *> views_;
    QLineSeries *active_ = nullptr;
    QLineSeries *active30_ = nullptr;
    QLineSeries *rate_ = nullptr;
    QLineSeries *lag_ = nullptr;
    QList<QDateTimeAxis *> xAxes_;
    QValueAxis *activeY_ = nullptr;
    QValueAxis *rateY_ = nullptr;
    QValueAxis *lagY_ = nullptr;
};

// Top 10 pages as a horizontal bar chart, all time or last hour.
class TopPagesPanel : public QWidget {
    Q_OBJECT
public:
    explicit TopPagesPanel(QWidget *parent = nullptr);
    void showSnapshot(const Snapshot &snapshot);
    QChartView *chartView() const { return view_; }
    QStringList pages() const { return shown_; } // for tests, most first

private:
    void redraw();
    QComboBox *scope_ = nullptr;
    QChartView *view_ = nullptr;
    QHorizontalBarSeries *series_ = nullptr;
    QBarCategoryAxis *categories_ = nullptr;
    QValueAxis *counts_ = nullptr;
    Snapshot last_;
    QStringList shown_;
};

// Breakdown by action (pie) and the per-user lookup.
class ActionsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ActionsPanel(QWidget *parent = nullptr);
    void showSnapshot(const Snapshot &snapshot);
    void showUser(const UserActivity &activity);
    void showLookupError(const QString &message);
    QStringList sliceLabels() const; // for tests, most first

Q_SIGNALS:
    void lookupRequested(QString userId);

private:
    QPieSeries *pie_ = nullptr;
    QLineEdit *user_ = nullptr;
    QLabel *userResult_ = nullptr;
    QChartView *view_ = nullptr;
};

// Pipeline health: Kafka, Redis and the aggregator instances with their partitions.
class HealthPanel : public QWidget {
    Q_OBJECT
public:
    explicit HealthPanel(QWidget *parent = nullptr);
    void showSnapshot(const Snapshot &snapshot);
    void showKafka(const KafkaStatus &status);
    void showRedis(bool up, const QString &message);

private:
    QLabel *kafka_ = nullptr;
    QLabel *redis_ = nullptr;
    QTreeWidget *aggregators_ = nullptr;
    bool redisUp_ = false;
};

} // namespace pb::gui
