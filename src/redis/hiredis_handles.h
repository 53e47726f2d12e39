#pragma once
// RAII owners for hiredis handles. The only place that frees them.

#include <hiredis/hiredis.h>

#include <memory>

namespace pb::redis {

struct ContextDeleter {
    void operator()(redisContext *c) const noexcept { redisFree(c); }
};
struct ReplyDeleter {
    void operator()(redisReply *r) const noexcept { freeReplyObject(r); }
};

using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

} // namespace pb::redis
