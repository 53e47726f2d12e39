#pragma once
// The one error type the engines throw. Each outside library translates its own errors into it
// in one place (kafka/kafka_error.cpp, redis/redis_error.cpp), marking each fatal or retriable.

#include <stdexcept>
#include <string>

namespace pb {

enum class ErrorKind {
    Retriable, // the same call may succeed later (network, timeout, leader change, LOADING)
    Fatal,     // retrying will not help (bad config, wrong password, protocol misuse)
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string &message)
        : std::runtime_error(message)
        , kind_(kind)
    {
    }
    ErrorKind kind() const noexcept { return kind_; }
    bool retriable() const noexcept { return kind_ == ErrorKind::Retriable; }

private:
    ErrorKind kind_;
};

} // namespace pb
