#include "redis_transport.h"

#include "redis_error.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pb::redis {

namespace {

using Clock = std::chrono::steady_clock;

// OpenSSL's queued errors of this thread as one line (and the queue emptied).
std::string opensslErrors()
{
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        // "error:0A000086:SSL routines::certificate verify failed": keep the reason only.
        std::string_view line(buffer);
        if (const auto colon = line.rfind(':'); colon != std::string_view::npos)
            line.remove_prefix(colon + 1);
        if (!text.empty())
            text += "; ";
        text += line;
    }
    return text;
}

bool isIpAddress(const std::string &host)
{
    in6_addr v6{};
    in_addr v4{};
    return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

int remainingMs(Clock::time_point deadline)
{
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, left.count()));
}

// Like hiredis's redisEnableKeepAlive and its TCP_NODELAY.
void tuneSocket(int fd)
{
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    int idle = 15;
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    int interval = 5;
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    int count = 3;
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

// An encrypted key would make OpenSSL prompt on the terminal: refuse instead.
int noPassphrase(char *, int, int, void *)
{
    return 0;
}

} // namespace

SocketFd &SocketFd::operator=(SocketFd &&other) noexcept
{
    if (this != &other) {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

SocketFd::~SocketFd()
{
    if (fd_ >= 0)
        ::close(fd_);
}

TlsContext::TlsContext(const TlsOptions &options)
{
    ERR_clear_error();
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_)
        throw errorFromTlsSetup("create a TLS context", "", opensslErrors());
    SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
    // Partial writes let a non-blocking SSL_write report progress like write(2) does.
    SSL_CTX_set_mode(ctx_.get(),
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_default_passwd_cb(ctx_.get(), noPassphrase);
    SSL_CTX_set_verify(ctx_.get(), options.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
    if (!options.caFile.empty()) {
        if (SSL_CTX_load_verify_locations(ctx_.get(), options.caFile.c_str(), nullptr) != 1)
            throw errorFromTlsSetup("load the CA file", options.caFile, opensslErrors());
    } else if (SSL_CTX_set_default_verify_paths(ctx_.get()) != 1) {
        throw errorFromTlsSetup("load the system CA store", "", opensslErrors());
    }
    if (options.certFile.empty() != options.keyFile.empty())
        throw errorFromTlsSetup("use a client certificate",
                                options.certFile.empty() ? options.keyFile : options.certFile,
                                "a client certificate needs both the certificate and its key");
    if (!options.certFile.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx_.get(), options.certFile.c_str()) != 1)
            throw errorFromTlsSetup("load the client certificate", options.certFile,
                                    opensslErrors());
        if (SSL_CTX_use_PrivateKey_file(ctx_.get(), options.keyFile.c_str(), SSL_FILETYPE_PEM) !=
            1) {
            auto why = opensslErrors();
            if (why.find("key values mismatch") != std::string::npos)
                why = "it does not belong to the certificate " + options.certFile;
            throw errorFromTlsSetup("load the client key", options.keyFile, why);
        }
        if (SSL_CTX_check_private_key(ctx_.get()) != 1)
            throw errorFromTlsSetup("use the client key", options.keyFile,
                                    "it does not belong to the certificate " + options.certFile);
    }
}

Transport::~Transport() = default;

bool Transport::fail(TransportFailure failure, std::string text)
{
    failure_ = failure;
    failureText_ = std::move(text);
    return false;
}

bool Transport::failFromErrno(int error)
{
    if (error == 0)
        return fail(TransportFailure::Eof, "Server closed the connection");
    return fail(TransportFailure::Io, std::strerror(error));
}

// After an SSL call returned ret <= 0 with SSL_ERROR_SSL or SSL_ERROR_SYSCALL.
bool Transport::failFromSsl(int ret, const char *what)
{
    const int error = SSL_get_error(ssl_.get(), ret);
    const int savedErrno = errno;
    auto text = opensslErrors();
    if (error == SSL_ERROR_ZERO_RETURN)
        return fail(TransportFailure::Eof, "Server closed the connection");
    if (error == SSL_ERROR_SYSCALL && text.empty())
        return failFromErrno(ret == 0 ? 0 : savedErrno);
    if (text.find("unexpected eof") != std::string::npos)
        return fail(TransportFailure::Eof, "Server closed the connection (" + text + ")");
    const long verify = SSL_get_verify_result(ssl_.get());
    if (verify != X509_V_OK)
        text += std::string(": ") + X509_verify_cert_error_string(verify);
    return fail(TransportFailure::Tls, std::string(what) + ": " + text);
}

bool Transport::wait(short events, std::chrono::milliseconds timeout)
{
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        pollfd fd{fd_.get(), events, 0};
        const int ready = ::poll(&fd, 1, remainingMs(deadline));
        if (ready > 0)
            return true; // errors and hang-ups show in the call that follows
        if (ready == 0)
            return fail(TransportFailure::Timeout, "Connection timed out");
        if (errno != EINTR)
            return failFromErrno(errno);
    }
}

bool Transport::connectTcp(const Endpoint &endpoint, Clock::time_point deadline)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *found = nullptr;
    const auto port = std::to_string(endpoint.port);
    // Resolving has no timeout of its own (as in hiredis): the resolver's is a few seconds.
    if (const int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0)
        return fail(TransportFailure::Resolve,
                    rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc));
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    fail(TransportFailure::Io, "no address to connect to");
    for (const auto *a = addresses.get(); a; a = a->ai_next) {
        SocketFd fd(
            ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
        if (fd.get() < 0) {
            failFromErrno(errno);
            continue;
        }
        fd_ = std::move(fd);
        if (::connect(fd_.get(), a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                failFromErrno(errno);
                continue;
            }
            if (!wait(POLLOUT, std::chrono::milliseconds(remainingMs(deadline))))
                return false; // the deadline is for all addresses together
            int error = 0;
            socklen_t length = sizeof error;
            if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0)
                error = errno;
            if (error != 0) {
                failFromErrno(error);
                continue;
            }
        }
        tuneSocket(fd_.get());
        failure_ = TransportFailure::None;
        failureText_.clear();
        return true;
    }
    fd_ = SocketFd();
    return false;
}

bool Transport::handshake(const Endpoint &endpoint, const TlsContext &tls,
                          Clock::time_point deadline)
{
    ERR_clear_error();
    ssl_.reset(SSL_new(tls.get()));
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_.get()) != 1)
        return fail(TransportFailure::Tls, "cannot set up TLS: " + opensslErrors());
    const auto &name = endpoint.tls.serverName.empty() ? endpoint.host : endpoint.tls.serverName;
    const bool ip = isIpAddress(name);
    // SNI carries host names only (RFC 6066); an address is checked against the IP SANs.
    // SSL_set_tlsext_host_name() spelled out: the macro's C cast trips -Wold-style-cast.
    if (!ip && SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                        const_cast<char *>(name.c_str())) != 1)
        return fail(TransportFailure::Tls, "cannot set the TLS server name: " + opensslErrors());
    if (!endpoint.tls.insecure) {
        const bool set =
            ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), name.c_str()) == 1
               : SSL_set1_host(ssl_.get(), name.c_str()) == 1;
        if (!set)
            return fail(TransportFailure::Tls,
                        "cannot set the name to verify '" + name + "': " + opensslErrors());
        SSL_set_hostflags(ssl_.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    for (;;) {
        ERR_clear_error();
        const int ret = SSL_connect(ssl_.get());
        if (ret == 1)
            return true;
        const int error = SSL_get_error(ssl_.get(), ret);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            if (wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                     std::chrono::milliseconds(remainingMs(deadline))))
                continue;
            if (failure_ == TransportFailure::Timeout)
                fail(TransportFailure::Timeout,
                     "TLS handshake timed out (no TLS answer from the server)");
            return false;
        }
        return failFromSsl(ret, "TLS handshake failed");
    }
}

bool Transport::open(const Endpoint &endpoint, const TlsContext *tls,
                     std::chrono::milliseconds timeout)
{
    const auto deadline = Clock::now() + timeout;
    if (!connectTcp(endpoint, deadline))
        return false;
    return !tls || handshake(endpoint, *tls, deadline);
}

bool Transport::write(std::string_view data, std::chrono::milliseconds idle)
{
    while (!data.empty()) {
        if (ssl_) {
            ERR_clear_error();
            const int n = SSL_write(ssl_.get(), data.data(),
                                    static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
            if (n > 0) {
                data.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            const int error = SSL_get_error(ssl_.get(), n);
            if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
                if (!wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, idle))
                    return false;
                continue;
            }
            failFromSsl(n, "TLS write failed");
            // The server may have said why before it hung up (a TLS 1.3 server checks the
            // client certificate after the client's side of the handshake ends): its alert
            // explains more than the broken pipe does.
            if (failure_ != TransportFailure::Tls) {
                const auto writeFailure = failure_;
                auto writeText = failureText_;
                char scratch[256];
                ERR_clear_error();
                const int r = SSL_read(ssl_.get(), scratch, sizeof scratch);
                if (r <= 0 && SSL_get_error(ssl_.get(), r) == SSL_ERROR_SSL) {
                    failFromSsl(r, "TLS connection failed");
                    if (failure_ == TransportFailure::Tls)
                        return false;
                }
                fail(writeFailure, std::move(writeText));
            }
            return false;
        }
        const auto n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait(POLLOUT, idle))
                return false;
        } else if (errno != EINTR) {
            return failFromErrno(errno);
        }
    }
    return true;
}

std::size_t Transport::read(char *buffer, std::size_t size, std::chrono::milliseconds idle)
{
    for (;;) {
        if (ssl_) {
            ERR_clear_error();
            const int n = SSL_read(ssl_.get(), buffer, static_cast<int>(size));
            if (n > 0)
                return static_cast<std::size_t>(n);
            const int error = SSL_get_error(ssl_.get(), n);
            if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
                if (!wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, idle))
                    return 0;
                continue;
            }
            failFromSsl(n, "TLS read failed");
            return 0;
        }
        const auto n = ::recv(fd_.get(), buffer, size, 0);
        if (n > 0)
            return static_cast<std::size_t>(n);
        if (n == 0) {
            failFromErrno(0);
            return 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!wait(POLLIN, idle))
                return 0;
        } else if (errno != EINTR) {
            failFromErrno(errno);
            return 0;
        }
    }
}

bool Transport::readable() const
{
    if (ssl_ && SSL_pending(ssl_.get()) > 0)
        return true;
    pollfd fd{fd_.get(), POLLIN, 0};
    const int ready = ::poll(&fd, 1, 0);
    if (ready < 0)
        return errno != EINTR; // a broken descriptor: let read() report it
    return ready > 0;
}

} // namespace pb::redis
