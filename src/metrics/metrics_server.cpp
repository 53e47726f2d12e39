#include "metrics_server.h"

#include "core/error.h"
#include "readiness.h"
#include "stats_collector.h"

#include <CivetServer.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <functional>
#include <mutex>
#include <utility>

namespace pb::metrics {

namespace {

struct Response {
    int status = 200;
    std::string body;
};

// GET (and HEAD) on one path: a fixed content type and a body made per request.
class TextHandler : public CivetHandler {
public:
    TextHandler(std::string contentType, std::function<Response()> respond)
        : contentType_(std::move(contentType))
        , respond_(std::move(respond))
    {
    }
    bool handleGet(CivetServer *, mg_connection *conn) override { return reply(conn, true); }
    bool handleHead(CivetServer *, mg_connection *conn) override { return reply(conn, false); }

private:
    bool reply(mg_connection *conn, bool withBody)
    {
        Response r;
        try {
            r = respond_();
        } catch (const std::exception &e) {
            r = {500, std::string("error: ") + e.what() + "\n"};
        }
        mg_printf(conn,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                  r.status, mg_get_response_code_text(conn, r.status), contentType_.c_str(),
                  r.body.size());
        if (withBody)
            mg_write(conn, r.body.data(), r.body.size());
        return true;
    }

    std::string contentType_;
    std::function<Response()> respond_;
};

// Civetweb logs to stderr unless told otherwise; a bind failure becomes our own error instead.
int quietLog(const mg_connection *, const char *)
{
    return 1;
}

// Powers of about 2.5 from 0.5 ms to 5 s: a batch's call is meant to stay near
// --redis-call-target (150 ms by default) and the client gives up at 5 s.
const prometheus::Histogram::BucketBoundaries kRedisBuckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

} // namespace

struct MetricsServer::Impl {
    MetricsServerOptions options;
    prometheus::Registry registry;
    prometheus::Histogram *redisCall = nullptr;
    StatsCollector collector;

    mutable std::mutex mutex;
    Phase phase = Phase::Starting;
    const Aggregator *aggregator = nullptr;
    AggregatorStats last; // the attached aggregator's latest, or its final numbers

    std::unique_ptr<TextHandler> metricsHandler;
    std::unique_ptr<TextHandler> healthHandler;
    std::unique_ptr<TextHandler> readyHandler;
    std::unique_ptr<CivetServer> server; // last: stopped before the handlers go

    explicit Impl(MetricsServerOptions o)
        : options(std::move(o))
        , collector([this] { return snapshot().second; })
    {
    }

    std::pair<Phase, AggregatorStats> snapshot()
    {
        std::lock_guard lock(mutex);
        if (aggregator)
            last = aggregator->stats();
        return {phase, last};
    }

    Response metrics()
    {
        auto families = registry.Collect();
        for (auto &f : collector.Collect())
            families.push_back(std::move(f));
        return {200, prometheus::TextSerializer().Serialize(families)};
    }

    Response ready()
    {
        const auto [p, stats] = snapshot();
        const auto r = readiness(p, stats);
        return {r.ready ? 200 : 503, r.reason + "\n"};
    }
};

MetricsServer::MetricsServer(MetricsServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options)))
{
    auto &d = *impl_;
    d.redisCall = &prometheus::BuildHistogram()
                       .Name("pulseboard_redis_call_duration_seconds")
                       .Help("Time each applied batch's call spent inside Redis.")
                       .Register(d.registry)
                       .Add({}, kRedisBuckets);
    prometheus::BuildGauge()
        .Name("pulseboard_build_info")
        .Help("Always 1; the labels tell which build runs.")
        .Register(d.registry)
        .Add({{"version", d.options.version}})
        .Set(1);

    d.metricsHandler = std::make_unique<TextHandler>("text/plain; version=0.0.4; charset=utf-8",
                                                     [&d] { return d.metrics(); });
    d.healthHandler = std::make_unique<TextHandler>("text/plain; charset=utf-8", [] {
        return Response{200, "ok\n"};
    });
    d.readyHandler =
        std::make_unique<TextHandler>("text/plain; charset=utf-8", [&d] { return d.ready(); });

    CivetCallbacks callbacks{};
    callbacks.log_message = quietLog;
    const auto address = d.options.address.toString();
    try {
        d.server = std::make_unique<CivetServer>(
            std::vector<std::string>{"listening_ports", address, "num_threads", "4",
                                     "request_timeout_ms", "10000"},
            &callbacks);
    } catch (const CivetException &) {
        throw Error(ErrorKind::Fatal,
                    "cannot listen on " + address +
                        " for metrics: the port is taken, or the address is not one of this "
                        "machine's");
    }
    // Exact paths: civetweb would otherwise hand /metricsfoo to /metrics.
    d.server->addHandler("/metrics$", d.metricsHandler.get());
    d.server->addHandler("/healthz$", d.healthHandler.get());
    d.server->addHandler("/readyz$", d.readyHandler.get());
}

MetricsServer::~MetricsServer()
{
    impl_->server->close(); // no handler runs after this
}

std::unique_ptr<MetricsServer::Attachment> MetricsServer::attach(const Aggregator &aggregator)
{
    std::lock_guard lock(impl_->mutex);
    impl_->aggregator = &aggregator;
    impl_->phase = Phase::Running;
    return std::make_unique<Attachment>(*this);
}

void MetricsServer::detach()
{
    std::lock_guard lock(impl_->mutex);
    if (impl_->aggregator)
        impl_->last = impl_->aggregator->stats();
    impl_->aggregator = nullptr;
    impl_->last.running = false;
    impl_->phase = Phase::Stopped;
}

void MetricsServer::observeRedisCall(std::chrono::microseconds inRedis)
{
    impl_->redisCall->Observe(std::chrono::duration<double>(inRedis).count());
}

std::uint16_t MetricsServer::port() const
{
    const auto ports = impl_->server->getListeningPorts();
    return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
}

} // namespace pb::metrics
