#pragma once
// QObject workers, each moved to its own QThread by PipelineController. Their slots run on their
// thread; requestStop()/status() are the only members other threads may call.

#include "app_settings.h"
#include "metatypes.h"
#include "pipeline/aggregator.h"
#include "pipeline/embedded_stack.h"
#include "redis/stats_reader.h"

#include <QObject>
#include <QTimer>

#include <atomic>
#include <memory>
#include <mutex>

namespace pb::gui {

// Owns the embedded broker and redis-server. Its thread lives as long as the application: the
// redis-server child is tied to the thread that started it.
class StackWorker : public QObject {
    Q_OBJECT
public:
    ~StackWorker() override;

    void start(int partitions, QString topic);
    void stop();
    // For the outage tests and the "restart Redis" action: stop and start the child.
    void stopRedis();
    void startRedis();

Q_SIGNALS:
    void started(QString brokers, pb::redis::Endpoint redis); // with its password
    void failed(QString message);

private:
    std::unique_ptr<EmbeddedStack> stack_;
};

// Runs one aggregator (a consumer-group member) until stopped; retries while Redis or Kafka
// are unreachable, gives up on fatal errors with the message.
class AggregatorWorker : public QObject {
    Q_OBJECT
public:
    // Single use: run() once; a stop requested before it starts is honoured.
    void run(pb::AggregatorOptions options);
    void requestStop();              // thread-safe
    AggregatorStatus status() const; // thread-safe

Q_SIGNALS:
    void stopped(QString error); // empty: a clean stop

private:
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    Aggregator *current_ = nullptr; // guarded by mutex_
    QString id_;
    QString waiting_; // why it is not running yet
};

// Reads a Snapshot every refresh interval; says when Redis goes away and when it is back.
class StatsWorker : public QObject {
    Q_OBJECT
public:
    void configure(pb::redis::Endpoint endpoint, pb::redis::StatsOptions options, int refreshMs);
    void lookupUser(QString userId);
    void stop();

Q_SIGNALS:
    void snapshotReady(pb::Snapshot snapshot);
    void redisStatus(bool up, QString message);
    void userActivityReady(pb::UserActivity activity);
    void userLookupFailed(QString message);

private:
    void tick();

    std::unique_ptr<redis::Connection> connection_;
    std::unique_ptr<redis::StatsReader> reader_;
    QTimer *timer_ = nullptr;
    bool up_ = false;
    bool reported_ = false;
};

// Probes Kafka every few seconds (metadata request with a deadline).
class KafkaWatcher : public QObject {
    Q_OBJECT
public:
    void configure(pb::kafka::KafkaSettings settings, QString topic);
    void stop();

Q_SIGNALS:
    void kafkaStatus(pb::gui::KafkaStatus status);

private:
    void probe();

    kafka::KafkaSettings settings_;
    QString topic_;
    QTimer *timer_ = nullptr;
};

// Runs the simulator; progress comes back as queued signals.
class SimulatorWorker : public QObject {
    Q_OBJECT
public:
    void run(pb::kafka::KafkaSettings settings, pb::kafka::SimulatorOptions options);
    void arm() { stop_ = false; } // before posting run(); thread-safe
    void requestStop();           // thread-safe

Q_SIGNALS:
    void progress(pb::kafka::SimulatorStats stats);
    void finished(pb::kafka::SimulatorStats stats, QString error);

private:
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    kafka::Simulator *current_ = nullptr; // guarded by mutex_
};

} // namespace pb::gui
