#include "acl.h"

namespace pb::redis {

namespace {

// A key pattern that matches the text literally (Redis globs: * ? [ ] \).
std::string globEscaped(const std::string &text)
{
    std::string out;
    for (const char c : text) {
        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
            out += '\\';
        out += c;
    }
    return out;
}

// What a connection needs whatever its role.
const std::vector<std::string> kSession = {"+auth", "+hello", "+ping", "+select"};

// The aggregator: FCALL of the functions, the offsets read, and what the functions run
// (resources/redis/pulseboard.lua), no more.
const std::vector<std::string> kAggregator = {
    "+fcall",
    "+function|list",
    "+hmget",
    "+exists",
    "+get",
    "+hdel",
    "+hget",
    "+hset",
    "+hsetnx",
    "+hincrby",
    "+incrby",
    // At start: a replica or an evicting Redis is refused (server_check.h). INFO shows server
    // statistics and settings, no keys and no secrets.
    "+info",
    "+pexpireat",
    "+set",
    "+time",
    "+type",
    "+xadd",
    "+xinfo|stream",
    "+zadd",
    "+zcount",
    "+zincrby",
    "+zrangebyscore",
    "+zrem",
    "+zremrangebyscore",
    // the caps and the hour set's upkeep
    "+zcard",
    "+zscore",
    "+zrange",
    "+zpopmin",
    "+zunionstore",
    "+hlen",
    "+hexists",
    "+hgetall",
    "+rename",
    "+persist",
    "+zremrangebyrank",
};

// The reader: what StatsReader sends (src/redis/stats_reader.cpp).
const std::vector<std::string> kReader = {"+zcount",  "+mget",  "+zrevrange", "+zunion",
                                          "+hgetall", "+hkeys", "+hmget",     "+zscore",
                                          "+zmscore", "+hget",  "+exists",    "+xrevrange"};

} // namespace

std::vector<Command> aclCommands(AclRole role, const Schema &schema, const std::string &user)
{
    const bool reader = role == AclRole::Reader;
    // %R~: read-only key access (Redis 7); ~: read and write.
    const std::string keys = reader ? "%R~" : "~";
    Command c{"ACL", "SETUSER", user, "reset", "on", "resetchannels", "-@all"};
    c.push_back(keys + globEscaped(schema.ns) + ":*");
    if (schema.writesSeedKeys()) {
        c.push_back(keys + kSeedTopPages);
        c.push_back(keys + kSeedActiveUsers);
    }
    for (const auto &command : kSession)
        c.push_back(command);
    for (const auto &command : reader ? kReader : kAggregator)
        c.push_back(command);
    return {c};
}

std::string commandLine(const Command &command)
{
    std::string line;
    for (const auto &arg : command) {
        if (!line.empty())
            line += ' ';
        const bool plain = !arg.empty() && arg.find_first_of(" \t\"'\\") == std::string::npos;
        if (plain) {
            line += arg;
            continue;
        }
        line += '"';
        for (const char ch : arg) {
            if (ch == '"' || ch == '\\')
                line += '\\';
            line += ch;
        }
        line += '"';
    }
    return line;
}

} // namespace pb::redis
