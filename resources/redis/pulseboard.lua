#!lua name=pulseboard
-- Pulseboard's Redis Functions. Loaded by the aggregator (FUNCTION LOAD REPLACE) and re-loaded
-- when Redis answers that a function is missing (e.g. after a restart without persistence).
-- Key layout: docs/redis-schema.md. Every key a call touches shares the prefix's hash tag, so
-- one call stays in one cluster slot; the seed-compatible keys are written only in seed mode.

-- args[first..] holds n (name, count) pairs. One native increment per field: measured on the
-- server, cheaper than reading the fields in chunks (HMGET), adding in Lua and writing them
-- back (HSET), by about a third.
local function hashAdd(key, args, first, n)
    for k = first, first + 2 * n - 1, 2 do
        redis.call('HINCRBY', key, args[k], args[k + 1])
    end
end

local function zsetAdd(key, args, first, n)
    for k = first, first + 2 * n - 1, 2 do
        redis.call('ZINCRBY', key, args[k + 1], args[k])
    end
end

-- pb_apply_v1: applies one pre-aggregated batch, or nothing.
-- KEYS[1] = the offsets hash of the shard.
-- ARGV: prefix, seed(0|1), now_ms, window_ms, history_ms, bucket_grace_ms, feed_cap,
--       then sections, each a count followed by its items (see BatchWriter::encode).
-- Returns {1} when applied, or {0, field, stored, ...} naming each partition whose stored
-- offset is not the one the batch expects (already applied, fenced zombie, or Redis older than
-- the aggregator thinks); then nothing is written.
local function apply(keys, args)
    local offsets = keys[1]
    local prefix = args[1]
    local seed = args[2] == '1'
    local now = tonumber(args[3])
    local window = tonumber(args[4])
    local history = tonumber(args[5])
    local grace = tonumber(args[6])
    local feedCap = tonumber(args[7])
    local i = 8

    local function take()
        local v = args[i]
        i = i + 1
        return v
    end

    -- Offsets first: the compare-and-set that makes a replay a no-op.
    local n = tonumber(take())
    local first = i
    local mismatches = {0}
    for k = 0, n - 1 do
        local field = args[first + 3 * k]
        local expected = args[first + 3 * k + 1]
        local stored = redis.call('HGET', offsets, field)
        if not stored then stored = '-1' end
        if stored ~= expected then
            mismatches[#mismatches + 1] = field
            mismatches[#mismatches + 1] = stored
        end
    end
    if #mismatches > 1 then return mismatches end
    for k = 0, n - 1 do
        redis.call('HSET', offsets, args[first + 3 * k], args[first + 3 * k + 2])
    end
    i = first + 3 * n

    local valid = tonumber(take())
    local invalid = tonumber(take())
    local lost = tonumber(take())
    if valid > 0 then redis.call('INCRBY', prefix .. 'events_total', valid) end
    if invalid > 0 then redis.call('INCRBY', prefix .. 'bad_total', invalid) end
    if lost > 0 then redis.call('INCRBY', prefix .. 'lost_total', lost) end

    -- all-time pages
    n = tonumber(take())
    zsetAdd(prefix .. 'pages', args, i, n)
    if seed then zsetAdd('top_pages', args, i, n) end
    i = i + 2 * n

    -- pages per minute
    local buckets = tonumber(take())
    for _ = 1, buckets do
        local minute = tonumber(take())
        local key = prefix .. 'pages:m:' .. minute
        n = tonumber(take())
        zsetAdd(key, args, i, n)
        i = i + 2 * n
        redis.call('PEXPIREAT', key, (minute + 1) * 60000 + history + grace)
    end

    -- last seen per user: ZADD GT in chunks (Lua's unpack has a stack limit)
    n = tonumber(take())
    local lastSeen = prefix .. 'last_seen'
    local chunk = {}
    for _ = 1, n do
        local user, ts = take(), take()
        chunk[#chunk + 1] = ts
        chunk[#chunk + 1] = user
        if #chunk >= 1000 then
            redis.call('ZADD', lastSeen, 'GT', unpack(chunk))
            chunk = {}
        end
    end
    if #chunk > 0 then redis.call('ZADD', lastSeen, 'GT', unpack(chunk)) end

    -- actions
    n = tonumber(take())
    hashAdd(prefix .. 'actions', args, i, n)
    i = i + 2 * n

    -- per user and action, per minute
    buckets = tonumber(take())
    for _ = 1, buckets do
        local minute = tonumber(take())
        local key = prefix .. 'user_actions:m:' .. minute
        n = tonumber(take())
        hashAdd(key, args, i, n)
        i = i + 2 * n
        redis.call('PEXPIREAT', key, (minute + 1) * 60000 + history + grace)
    end

    -- events per second (hash per 10 minutes) and per minute (hash per hour)
    n = tonumber(take())
    for _ = 1, n do
        local second, count = tonumber(take()), take()
        local bucket = math.floor(second / 600)
        local key = prefix .. 'rate:s:' .. bucket
        redis.call('HINCRBY', key, second, count)
        redis.call('PEXPIREAT', key, (bucket + 1) * 600000 + history + grace)
    end
    n = tonumber(take())
    for _ = 1, n do
        local minute, count = tonumber(take()), take()
        local bucket = math.floor(minute / 60)
        local key = prefix .. 'rate:m:' .. bucket
        redis.call('HINCRBY', key, minute, count)
        redis.call('PEXPIREAT', key, (bucket + 1) * 3600000 + history + grace)
    end

    -- bad events by reason
    n = tonumber(take())
    hashAdd(prefix .. 'bad', args, i, n)
    i = i + 2 * n

    -- live feeds: capped streams
    n = tonumber(take())
    for _ = 1, n do
        local raw, source, offset, ts = take(), take(), take(), take()
        redis.call('XADD', prefix .. 'feed', 'MAXLEN', '~', feedCap, '*',
                   'raw', raw, 'source', source, 'offset', offset, 'ts', ts)
    end
    n = tonumber(take())
    for _ = 1, n do
        local raw, source, offset, ts, reason = take(), take(), take(), take(), take()
        redis.call('XADD', prefix .. 'bad_feed', 'MAXLEN', '~', feedCap, '*',
                   'raw', raw, 'source', source, 'offset', offset, 'ts', ts, 'reason', reason)
    end

    -- keep last_seen to the history it serves, and the seed counter current
    redis.call('ZREMRANGEBYSCORE', lastSeen, '-inf', '(' .. (now - history))
    if seed then
        redis.call('SET', 'active_users', redis.call('ZCOUNT', lastSeen, '(' .. (now - window), '+inf'))
    end
    return {1}
end

-- pb_beat_v1: an aggregator's heartbeat; also keeps derived state current while no events come.
-- KEYS[1] = heartbeats hash, KEYS[2] = heartbeat times zset
-- ARGV: prefix, seed(0|1), now_ms, window_ms, history_ms, stale_ms, id, json
local function beat(keys, args)
    local prefix = args[1]
    local seed = args[2] == '1'
    local now = tonumber(args[3])
    local window = tonumber(args[4])
    local history = tonumber(args[5])
    local stale = tonumber(args[6])
    redis.call('HSET', keys[1], args[7], args[8])
    redis.call('ZADD', keys[2], now, args[7])
    local gone = redis.call('ZRANGEBYSCORE', keys[2], '-inf', '(' .. (now - stale))
    for _, id in ipairs(gone) do
        redis.call('HDEL', keys[1], id)
        redis.call('ZREM', keys[2], id)
    end
    local lastSeen = prefix .. 'last_seen'
    redis.call('ZREMRANGEBYSCORE', lastSeen, '-inf', '(' .. (now - history))
    if seed then
        redis.call('SET', 'active_users', redis.call('ZCOUNT', lastSeen, '(' .. (now - window), '+inf'))
    end
    return #gone
end

-- pb_leave_v1: an aggregator that stops cleanly removes its heartbeat.
-- KEYS[1] = heartbeats hash, KEYS[2] = heartbeat times zset; ARGV[1] = id
local function leave(keys, args)
    redis.call('HDEL', keys[1], args[1])
    redis.call('ZREM', keys[2], args[1])
    return 1
end

redis.register_function('pb_apply_v1', apply)
redis.register_function('pb_beat_v1', beat)
redis.register_function('pb_leave_v1', leave)
