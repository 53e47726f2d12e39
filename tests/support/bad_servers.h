#pragma once
// Servers that are wrong for Pulseboard in the ways a setting can be: peers that are not Redis
// nor Kafka (tests/support/hostile_peer.py: silent, HTTP, garbage, dropped packets, a Kafka
// broker that refuses every login), a redis-server with a TLS port only, and real redis-servers
// set up as a read-only replica or to evict keys. Header-only: the CLI's table
// (tst_bad_settings) and the settings pane's (tst_gui) share them. Each starts in its
// constructor, on a free loopback port, and throws std::runtime_error saying why it cannot.
// Needs PULSEBOARD_SOURCE_DIR defined.

#include "kafka/embedded_broker.h"
#include "redis/embedded_redis.h"
#include "redis/redis_connection.h"

#include <QDir>
#include <QProcess>
#include <QStandardPaths>
#include <QString>
#include <QTemporaryDir>

#include <arpa/inet.h>
#include <chrono>
#include <memory>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace pb::test {

inline bool acceptsConnections(int port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

// tests/support/hostile_peer.py MODE: silent, http, garbage, drop, kafka-sasl.
class HostilePeer {
public:
    explicit HostilePeer(const QString &mode)
    {
        const auto python = QStandardPaths::findExecutable("python3");
        if (python.isEmpty())
            throw std::runtime_error("python3 is not on PATH (scripts/install-deps.sh)");
        process_.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        process_.start(python, {PULSEBOARD_SOURCE_DIR "/tests/support/hostile_peer.py", mode});
        bool ok = false;
        if (process_.waitForReadyRead(10000) || process_.canReadLine())
            port_ = process_.readLine().trimmed().toInt(&ok);
        if (!ok || port_ <= 0)
            throw std::runtime_error("hostile_peer.py " + mode.toStdString() + " did not start");
    }
    ~HostilePeer()
    {
        process_.closeWriteChannel(); // it ends when its stdin does
        if (!process_.waitForFinished(3000)) {
            process_.kill();
            process_.waitForFinished(3000);
        }
    }
    HostilePeer(const HostilePeer &) = delete;
    HostilePeer &operator=(const HostilePeer &) = delete;

    int port() const { return port_; }
    QString address() const { return "127.0.0.1:" + QString::number(port_); }

private:
    QProcess process_;
    int port_ = 0;
};

// redis-server with a TLS port only (a self-signed certificate made with the openssl CLI): a
// TLS server where plain TCP is configured, for Redis and for Kafka alike.
class TlsOnlyRedis {
public:
    TlsOnlyRedis()
    {
        if (!dir_.isValid())
            throw std::runtime_error("cannot create a temporary directory");
        const auto cert = dir_.filePath("cert.pem");
        const auto key = dir_.filePath("key.pem");
        QProcess openssl;
        openssl.start("openssl",
                      {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                       "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj",
                       "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"});
        if (!openssl.waitForFinished(30000) || openssl.exitCode() != 0)
            throw std::runtime_error("openssl req failed (is the openssl CLI installed?): " +
                                     openssl.readAllStandardError().toStdString());
        port_ = redis::pickFreeLoopbackPort();
        server_.setProcessChannelMode(QProcess::MergedChannels);
        server_.start("redis-server",
                      {"--port", "0", "--tls-port", QString::number(port_), "--bind", "127.0.0.1",
                       "--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no",
                       "--dir", dir_.path(), "--save", "", "--appendonly", "no"});
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!acceptsConnections(port_)) {
            if (std::chrono::steady_clock::now() > deadline ||
                server_.state() == QProcess::NotRunning)
                throw std::runtime_error("redis-server with a TLS port did not start: " +
                                         server_.readAll().toStdString());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    ~TlsOnlyRedis()
    {
        server_.terminate();
        if (!server_.waitForFinished(5000)) {
            server_.kill();
            server_.waitForFinished(3000);
        }
    }
    TlsOnlyRedis(const TlsOnlyRedis &) = delete;
    TlsOnlyRedis &operator=(const TlsOnlyRedis &) = delete;

    int port() const { return port_; }

private:
    QTemporaryDir dir_;
    QProcess server_;
    int port_ = 0;
};

// An embedded redis-server (password required) reconfigured with CONFIG SET, as an operator
// would with the same settings in redis.conf.
inline void configure(const redis::EmbeddedRedis &server, const redis::Command &command)
{
    redis::Connection admin(server.endpoint());
    redis::throwIfError(admin.command(command).get(), "test set-up");
}

// `--maxmemory 10mb --maxmemory-policy POLICY`.
inline std::unique_ptr<redis::EmbeddedRedis> evictingRedis(const std::string &policy)
{
    auto server = std::make_unique<redis::EmbeddedRedis>();
    configure(*server, {"CONFIG", "SET", "maxmemory", "10mb", "maxmemory-policy", policy});
    return server;
}

// A read-only replica of `primary` (REPLICAOF, masterauth: as --replicaof does).
inline std::unique_ptr<redis::EmbeddedRedis> replicaOf(const redis::EmbeddedRedis &primary)
{
    auto server = std::make_unique<redis::EmbeddedRedis>();
    configure(*server, {"CONFIG", "SET", "masterauth", primary.endpoint().password});
    configure(*server, {"REPLICAOF", "127.0.0.1", std::to_string(primary.port())});
    return server;
}

// One of each, for a table of rows: started together (a few seconds), idle until used.
struct BadServers {
    kafka::EmbeddedBroker broker; // a good one, for the rows where Kafka is not the problem
    QString brokers = QString::fromStdString(broker.bootstrapServers());
    redis::EmbeddedRedis locked;   // requirepass (the embedded default)
    redis::EmbeddedRedis open{[] { // no password at all
        redis::EmbeddedRedisOptions o;
        o.requirePassword = false;
        return o;
    }()};
    std::unique_ptr<redis::EmbeddedRedis> allKeys = evictingRedis("allkeys-lru");
    std::unique_ptr<redis::EmbeddedRedis> volatileKeys = evictingRedis("volatile-lru");
    std::unique_ptr<redis::EmbeddedRedis> noEviction = evictingRedis("noeviction");
    std::unique_ptr<redis::EmbeddedRedis> replica = replicaOf(locked); // read-only
    TlsOnlyRedis tls;
    HostilePeer silent{"silent"};
    HostilePeer http{"http"};
    HostilePeer garbage{"garbage"};
    HostilePeer drop{"drop"};
    HostilePeer kafkaSasl{"kafka-sasl"};
};

} // namespace pb::test
