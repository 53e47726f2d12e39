#pragma once
// The headless aggregator's operations endpoints, on one port:
//   GET /metrics  Prometheus text exposition (prometheus-cpp): the aggregator's counters read
//                 from Aggregator::stats() at each scrape, the Redis call-time histogram, and
//                 build info;
//   GET /healthz  200 "ok" while the process serves;
//   GET /readyz   200 when readiness() says so, else 503; one line of text either way.
// The HTTP server is civetweb, the one prometheus-cpp's Exposer wraps: Exposer 1.0.1 keeps its
// server private and cannot add a handler that answers 503, so this owns the CivetServer and
// serves /metrics the way Exposer does (TextSerializer over the collected families).
// Every member is thread-safe; the handlers run on civetweb's own threads.

#include "listen_address.h"
#include "pipeline/aggregator.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace pb::metrics {

struct MetricsServerOptions {
    ListenAddress address;
    std::string version; // pulseboard_build_info{version}
};

class MetricsServer {
public:
    // Listens at once (so /healthz answers while the aggregator connects). Throws pb::Error
    // (Config) when the address cannot be bound.
    explicit MetricsServer(MetricsServerOptions options);
    ~MetricsServer();
    MetricsServer(const MetricsServer &) = delete;
    MetricsServer &operator=(const MetricsServer &) = delete;

    // While an Attachment lives, the endpoints read this aggregator; when it goes, they keep
    // its last numbers (counters must not drop back to 0) and /readyz answers 503. Destroy it
    // before the aggregator.
    class Attachment {
    public:
        explicit Attachment(MetricsServer &server)
            : server_(&server)
        {
        }
        ~Attachment() { server_->detach(); }
        Attachment(const Attachment &) = delete;
        Attachment &operator=(const Attachment &) = delete;

    private:
        MetricsServer *server_;
    };
    [[nodiscard]] std::unique_ptr<Attachment> attach(const Aggregator &aggregator);

    // For AggregatorOptions::onRedisCall.
    void observeRedisCall(std::chrono::microseconds inRedis);

    std::uint16_t port() const;

private:
    void detach();

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace pb::metrics
