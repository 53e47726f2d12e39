#include "server_check.h"

#include "redis_error.h"

#include <charconv>

namespace pb::redis {

namespace {

bool startsWith(std::string_view text, std::string_view prefix)
{
    return text.substr(0, prefix.size()) == prefix;
}

// "10485760" -> "10 MB"; small values in bytes.
std::string bytesText(std::int64_t bytes)
{
    if (bytes >= (std::int64_t{1} << 30) && bytes % (std::int64_t{1} << 30) == 0)
        return std::to_string(bytes >> 30) + " GB";
    if (bytes >= (std::int64_t{1} << 20))
        return std::to_string(bytes >> 20) + " MB";
    return std::to_string(bytes) + " bytes";
}

Error unfit(std::string_view endpoint, const std::string &message, ErrorCause cause,
            const std::string &detail)
{
    const auto who = "Redis at " + std::string(endpoint);
    return {ErrorKind::Fatal, who + message, {cause, ErrorSystem::Redis, who, detail}};
}

} // namespace

ServerFacts parseInfo(std::string_view info)
{
    ServerFacts facts;
    facts.known = true;
    std::string primaryHost;
    std::string primaryPort;
    while (!info.empty()) {
        const auto end = info.find('\n');
        auto line = info.substr(0, end);
        info = end == std::string_view::npos ? std::string_view() : info.substr(end + 1);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        const auto colon = line.find(':');
        if (line.empty() || line.front() == '#' || colon == std::string_view::npos)
            continue;
        const auto key = line.substr(0, colon);
        const auto value = line.substr(colon + 1);
        if (key == "role")
            facts.role = value;
        else if (key == "slave_read_only" || key == "replica_read_only")
            facts.readOnly = value != "0";
        else if (key == "master_host")
            primaryHost = value;
        else if (key == "master_port")
            primaryPort = value;
        else if (key == "maxmemory_policy")
            facts.evictionPolicy = value;
        else if (key == "maxmemory") {
            std::int64_t bytes = 0;
            const auto [ptr, ec] =
                std::from_chars(value.data(), value.data() + value.size(), bytes);
            if (ec == std::errc() && ptr == value.data() + value.size())
                facts.maxMemory = bytes;
        }
    }
    if (!primaryHost.empty())
        facts.primary =
            (primaryHost.find(':') != std::string::npos ? "[" + primaryHost + "]" : primaryHost) +
            (primaryPort.empty() ? "" : ":" + primaryPort);
    return facts;
}

std::optional<Error> unfitForAggregates(const ServerFacts &facts, std::string_view endpoint)
{
    if (!facts.known)
        return std::nullopt;
    if (facts.role == "slave") {
        const auto of = facts.primary.empty() ? std::string() : " of " + facts.primary;
        const auto target = facts.primary.empty() ? std::string("its primary") : facts.primary;
        if (facts.readOnly)
            return unfit(endpoint,
                         " is a read-only replica" + of +
                             ": the aggregator writes, and only a primary takes writes; point "
                             "--redis at " +
                             target,
                         ErrorCause::Config,
                         "a read-only replica" + of + ": connect to the primary");
        return unfit(endpoint,
                     " is a replica" + of +
                         " (writable: replica-read-only no): what the aggregator wrote there "
                         "would be lost at its next resync; point --redis at " +
                         target,
                     ErrorCause::Config,
                     "a replica" + of +
                         ": what is written there is lost at its next resync; "
                         "connect to the primary");
    }
    const auto &policy = facts.evictionPolicy;
    if (policy.empty() || policy == "noeviction")
        return std::nullopt;
    const auto limit = facts.maxMemory > 0
                           ? "maxmemory " + bytesText(facts.maxMemory)
                           : std::string("maxmemory 0: none yet, but the policy applies as "
                                         "soon as one is set");
    const auto setting = "maxmemory-policy " + policy + ", " + limit;
    const std::string fix = "set maxmemory-policy noeviction on this server (CONFIG SET "
                            "maxmemory-policy noeviction, and in redis.conf) or give Pulseboard "
                            "a Redis of its own";
    if (startsWith(policy, "volatile-"))
        return unfit(endpoint,
                     " evicts keys that have a TTL when it is full (" + setting +
                         "): Pulseboard's per-minute keys have one, and evicting them would "
                         "silently lose counts of the last hour, so the aggregator refuses to "
                         "run; " +
                         fix,
                     ErrorCause::ServerSetup,
                     "it evicts keys that have a TTL when full (" + setting +
                         "), which would silently lose counts; it must be set to noeviction");
    return unfit(endpoint,
                 " evicts keys when it is full (" + setting +
                     "): an evicted offsets hash would count events again and an evicted "
                     "counter would lose them, so exactly-once cannot hold and the aggregator "
                     "refuses to run; " +
                     fix,
                 ErrorCause::ServerSetup,
                 "it evicts keys when full (" + setting +
                     "), which breaks exactly-once counting; it must be set to noeviction");
}

ServerFacts readServerFacts(Connection &connection)
{
    const auto replies = connection.pipeline({{"INFO", "replication"}, {"INFO", "memory"}});
    std::string text;
    for (const auto &reply : replies) {
        if (reply->type == REDIS_REPLY_ERROR) {
            const std::string_view said(reply->str, reply->len);
            // Refused by an ACL, or renamed away as some hosted Redis services do: unknown.
            if (!startsWith(said, "NOPERM") && !startsWith(said, "ERR unknown command"))
                throwIfError(reply.get(), "INFO");
            ServerFacts facts;
            facts.refusal = std::string(said);
            return facts;
        }
        text += replyString(reply.get());
        text += '\n';
    }
    return parseInfo(text);
}

std::string uncheckedNotice(const ServerFacts &facts, std::string_view endpoint)
{
    return "cannot check that Redis at " + std::string(endpoint) +
           " is a primary that never evicts keys (INFO refused: " + facts.refusal +
           "); make sure it is, with maxmemory-policy noeviction, or grant the user +info "
           "(pulseboard-cli redis-acl prints it)";
}

} // namespace pb::redis
