#pragma once
// The byte stream under a Connection: a non-blocking TCP socket, with TLS (OpenSSL) on top
// when the endpoint asks for it. Plain TCP and TLS share every code path above this class.
// No call waits longer than the timeout it is given. Not thread-safe: one per connection.
// Internal to pulseboard_redis: OpenSSL's headers stay out of redis_connection.h.

#include "openssl_handles.h"
#include "redis_connection.h"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace pb::redis {

// A socket descriptor's one owner.
class SocketFd {
public:
    SocketFd() = default;
    explicit SocketFd(int fd)
        : fd_(fd)
    {
    }
    SocketFd(SocketFd &&other) noexcept
        : fd_(std::exchange(other.fd_, -1))
    {
    }
    SocketFd &operator=(SocketFd &&other) noexcept;
    SocketFd(const SocketFd &) = delete;
    SocketFd &operator=(const SocketFd &) = delete;
    ~SocketFd();
    int get() const { return fd_; }

private:
    int fd_ = -1;
};

// The SSL_CTX of one endpoint's TLS options: CA store, client certificate, TLS 1.2 or newer,
// peer verification unless insecure. Throws a Fatal pb::Error naming the file that is wrong.
class TlsContext {
public:
    explicit TlsContext(const TlsOptions &options);
    SSL_CTX *get() const { return ctx_.get(); }

private:
    SslCtxPtr ctx_;
};

// Why the last call of a Transport failed.
enum class TransportFailure {
    None,
    Resolve, // the host name did not resolve
    Io,      // a socket error (refused, reset, unreachable...)
    Eof,     // the peer closed the connection
    Timeout, // nothing moved within the timeout
    Tls,     // OpenSSL refused: handshake, verification, alert from the peer
};

class Transport {
public:
    Transport() = default;
    Transport(const Transport &) = delete;
    Transport &operator=(const Transport &) = delete;
    ~Transport();

    // Connects to the first address of host that answers, then (with tls) shakes hands and
    // verifies the server, all within timeout. False on failure (see failure()).
    bool open(const Endpoint &endpoint, const TlsContext *tls, std::chrono::milliseconds timeout);
    // Writes all of data; each wait for the socket is bounded by idle.
    bool write(std::string_view data, std::chrono::milliseconds idle);
    // Reads at least one byte (waiting up to idle for it) and returns how many; 0 on failure.
    std::size_t read(char *buffer, std::size_t size, std::chrono::milliseconds idle);
    // True when read() would not wait: bytes decrypted and held by OpenSSL, or on the socket
    // (or the socket is broken, which read() then reports).
    bool readable() const;

    TransportFailure failure() const { return failure_; }
    const std::string &failureText() const { return failureText_; }
    bool tls() const { return ssl_ != nullptr; }

private:
    bool fail(TransportFailure failure, std::string text);
    bool failFromErrno(int error);
    bool failFromSsl(int ret, const char *what);
    bool wait(short events, std::chrono::milliseconds timeout);
    bool connectTcp(const Endpoint &endpoint, std::chrono::steady_clock::time_point deadline);
    bool handshake(const Endpoint &endpoint, const TlsContext &tls,
                   std::chrono::steady_clock::time_point deadline);

    SocketFd fd_;
    SslPtr ssl_; // declared after fd_: freed before the socket closes
    TransportFailure failure_ = TransportFailure::None;
    std::string failureText_;
};

} // namespace pb::redis
