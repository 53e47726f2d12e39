#pragma once
// Least privilege for Redis: the ACL SETUSER lines that let each Pulseboard role do its job
// and nothing more. Pure: no I/O; pulseboard-cli redis-acl prints them, the tests apply them.

#include "redis_connection.h"
#include "schema.h"

#include <string>
#include <vector>

namespace pb::redis {

enum class AclRole {
    Aggregator, // writes its namespace through Pulseboard's functions; may not load them
    Reader,     // the dashboard, stats and export: reads its namespace, writes nothing
};

// ACL SETUSER commands for `user` (no password in them: add one with >password or #sha256 in
// an interactive redis-cli, or ACL SETUSER from a file, never on a command line). Keys: the
// namespace's own (its glob characters escaped), plus the seed-compatible global keys when the
// schema writes them. Commands: an allow-list of what the role runs, including the commands
// the functions run for it (Redis checks those against the caller too).
std::vector<Command> aclCommands(AclRole role, const Schema &schema, const std::string &user);

// One command as redis-cli takes it: arguments quoted where they need it.
std::string commandLine(const Command &command);

} // namespace pb::redis
