#pragma once
// The one place that turns hiredis failures and Redis error replies into pb::Error.

#include "core/error.h"

#include <string_view>

struct redisContext;

namespace pb::redis {

// An I/O or protocol failure on the context (ctx->err / ctx->errstr).
pb::Error errorFromContext(const redisContext *ctx, std::string_view endpoint);
// An error reply ("-NOAUTH ...", "-WRONGPASS ...", "-LOADING ...") with what to do next.
pb::Error errorFromReply(std::string_view replyText, std::string_view context);

} // namespace pb::redis
