#pragma once
// The panels that start and stop things: the simulator and the aggregator threads. They talk
// to the engines only through the PipelineController.

#include "metatypes.h"

#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTimer;

namespace pb::gui {

class PipelineController;

class SimulatorPanel : public QWidget {
    Q_OBJECT
public:
    explicit SimulatorPanel(PipelineController &controller, QWidget *parent = nullptr);
    void toggle(); // start when stopped, stop when running
    QPushButton *button() const { return start_; }
    QString countersText() const;

private:
    void showProgress(const kafka::SimulatorStats &stats);
    void finished(const kafka::SimulatorStats &stats, const QString &error);

    PipelineController &controller_;
    QPushButton *start_ = nullptr;
    QSpinBox *rate_ = nullptr;
    QSpinBox *users_ = nullptr;
    QSpinBox *pages_ = nullptr;
    QSpinBox *count_ = nullptr;
    QLabel *counters_ = nullptr;
    QLabel *status_ = nullptr;
    QProgressBar *progress_ = nullptr;
};

class AggregatorPanel : public QWidget {
    Q_OBJECT
public:
    explicit AggregatorPanel(PipelineController &controller, QWidget *parent = nullptr);
    void toggle();

private:
    void refresh();

    PipelineController &controller_;
    QPushButton *start_ = nullptr;
    QSpinBox *threads_ = nullptr;
    QTableWidget *table_ = nullptr;
    QTimer *timer_ = nullptr;
};

} // namespace pb::gui
