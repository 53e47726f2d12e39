#include "embedded_stack.h"

namespace pb {

EmbeddedStack::EmbeddedStack(EmbeddedStackOptions options)
    : broker_(std::make_unique<kafka::EmbeddedBroker>(std::move(options.broker)))
    , redis_(std::make_unique<redis::EmbeddedRedis>(std::move(options.redis)))
{
}

kafka::KafkaSettings EmbeddedStack::kafkaSettings() const
{
    kafka::KafkaSettings settings;
    settings.brokers = broker_->bootstrapServers();
    return settings;
}

} // namespace pb
