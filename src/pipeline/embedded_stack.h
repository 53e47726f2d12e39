#pragma once
// The embedded default: an in-process Kafka-protocol broker and a redis-server child process,
// both on loopback, both gone when this object is. Own it from a long-lived thread (the
// redis-server child is tied to the thread that started it).

#include "kafka/embedded_broker.h"
#include "kafka/kafka_client.h"
#include "redis/embedded_redis.h"

#include <memory>

namespace pb {

struct EmbeddedStackOptions {
    kafka::EmbeddedBrokerOptions broker;
    redis::EmbeddedRedisOptions redis;
};

class EmbeddedStack {
public:
    explicit EmbeddedStack(EmbeddedStackOptions options = {});

    kafka::KafkaSettings kafkaSettings() const;
    redis::Endpoint redisEndpoint() const { return redis_->endpoint(); }
    kafka::EmbeddedBroker &broker() { return *broker_; }
    redis::EmbeddedRedis &redis() { return *redis_; }

private:
    std::unique_ptr<kafka::EmbeddedBroker> broker_;
    std::unique_ptr<redis::EmbeddedRedis> redis_;
};

} // namespace pb
