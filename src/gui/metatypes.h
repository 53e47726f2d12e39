#pragma once
// Value types that cross threads in queued signals.

#include "core/snapshot.h"
#include "kafka/simulator.h"
#include "redis/redis_connection.h"

#include <QList>
#include <QMetaType>
#include <QString>

Q_DECLARE_METATYPE(pb::Snapshot)
Q_DECLARE_METATYPE(pb::UserActivity)
Q_DECLARE_METATYPE(pb::kafka::SimulatorStats)
Q_DECLARE_METATYPE(pb::redis::Endpoint)

namespace pb::gui {

// Kafka as the watcher last saw it.
struct KafkaStatus {
    bool reachable = false;
    int brokers = 0;
    int partitions = 0; // of the configured topic; 0: topic missing
    QString message;    // what is wrong and what is being retried, when not reachable
};

// One aggregator thread as its worker last saw it.
struct AggregatorStatus {
    QString id;
    bool running = false;
    bool redisUp = false;
    bool kafkaUp = false;
    qint64 validEvents = 0;
    qint64 invalidEvents = 0;
    qint64 rewinds = 0;
    QString lastError;
    QList<int> partitions;
};

} // namespace pb::gui

Q_DECLARE_METATYPE(pb::gui::KafkaStatus)
Q_DECLARE_METATYPE(pb::gui::AggregatorStatus)
