#pragma once
// The one error type the engines throw. Each outside library translates its own errors into it
// in one place (kafka/kafka_client.cpp, redis/redis_error.cpp), marking each fatal or retriable
// and naming its cause, so that each front end can phrase its own advice: what() is the CLI's
// text (with its flags); the dashboard words it from cause, system, subject and detail.

#include <stdexcept>
#include <string>

namespace pb {

enum class ErrorKind {
    Retriable, // the same call may succeed later (network, timeout, leader change, LOADING)
    Fatal,     // retrying will not help (bad config, wrong password, protocol misuse)
};

enum class ErrorCause {
    Unknown,
    Unreachable,  // cannot connect: name, route, refused, closed
    Timeout,      // connected, but no answer in time
    Auth,         // login refused: password, user, client certificate
    Permission,   // logged in, but not allowed (ACL)
    Config,       // a setting is wrong: file, address, certificate name, mode
    Protocol,     // the other side speaks something else (TLS vs plain, not Redis)
    TopicMissing, // the Kafka topic does not exist
    Busy,         // the server cannot serve now (loading, out of memory, failover)
    ServerSetup,  // the server works, but is set up so Pulseboard cannot use it (evicts keys)
};

enum class ErrorSystem { None, Kafka, Redis };

struct ErrorContext {
    ErrorCause cause = ErrorCause::Unknown;
    ErrorSystem system = ErrorSystem::None;
    std::string subject; // "Redis at 127.0.0.1:6379", "Kafka at broker:9092"
    std::string detail;  // what the server or the OS said, without advice
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string &message, ErrorContext context = {})
        : std::runtime_error(message)
        , kind_(kind)
        , context_(std::move(context))
    {
    }
    ErrorKind kind() const noexcept { return kind_; }
    bool retriable() const noexcept { return kind_ == ErrorKind::Retriable; }
    ErrorCause cause() const noexcept { return context_.cause; }
    ErrorSystem system() const noexcept { return context_.system; }
    const std::string &subject() const noexcept { return context_.subject; }
    const std::string &detail() const noexcept { return context_.detail; }

private:
    ErrorKind kind_;
    ErrorContext context_;
};

} // namespace pb
