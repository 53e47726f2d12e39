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

-- Where each section of a batch starts in args (from index i on), and every key the batch
-- will write with the type it needs. See BatchWriter::encode for the order.
local function layout(args, i, prefix, seed)
    local l = {keys = {}, counters = {}}
    local seen = {}
    local function need(key, kind)
        if not seen[key] then
            seen[key] = true
            l.keys[#l.keys + 1] = {key, kind}
        end
    end
    -- n items of `width` args each, after their count
    local function section(width)
        local n = tonumber(args[i])
        local start = i + 1
        i = start + width * n
        return {start, n}
    end
    -- a count of buckets, each its number and a section of (name, count) pairs
    local function buckets()
        local list = {}
        local n = tonumber(args[i])
        i = i + 1
        for _ = 1, n do
            local bucket = tonumber(args[i])
            i = i + 1
            list[#list + 1] = {bucket, section(2)}
        end
        return list
    end

    l.valid, l.invalid, l.lost = tonumber(args[i]), tonumber(args[i + 1]), tonumber(args[i + 2])
    i = i + 3
    for _, name in ipairs({'events_total', 'bad_total', 'lost_total'}) do
        l.counters[#l.counters + 1] = prefix .. name
        need(prefix .. name, 'string')
    end
    l.pages = section(2)
    need(prefix .. 'pages', 'zset')
    if seed then need('top_pages', 'zset') end
    l.pageMinutes = buckets()
    for _, b in ipairs(l.pageMinutes) do need(prefix .. 'pages:m:' .. b[1], 'zset') end
    l.lastSeen = section(2)
    need(prefix .. 'last_seen', 'zset')
    l.actions = section(2)
    need(prefix .. 'actions', 'hash')
    l.userMinutes = buckets()
    for _, b in ipairs(l.userMinutes) do need(prefix .. 'user_actions:m:' .. b[1], 'hash') end
    l.seconds = section(2)
    for k = l.seconds[1], l.seconds[1] + 2 * l.seconds[2] - 1, 2 do
        need(prefix .. 'rate:s:' .. math.floor(tonumber(args[k]) / 600), 'hash')
    end
    l.minutes = section(2)
    for k = l.minutes[1], l.minutes[1] + 2 * l.minutes[2] - 1, 2 do
        need(prefix .. 'rate:m:' .. math.floor(tonumber(args[k]) / 60), 'hash')
    end
    l.bad = section(2)
    need(prefix .. 'bad', 'hash')
    l.feed = section(4)
    need(prefix .. 'feed', 'stream')
    l.badFeed = section(5)
    need(prefix .. 'bad_feed', 'stream')
    return l
end

-- Redis does not roll back a function that fails midway, so everything that could make a write
-- fail is checked before the first one: a key of another type, or a counter that is not an
-- integer, means another program writes into Pulseboard's keys. nil when all is well.
local function checkKeys(l)
    local advice = ': another program writes into Pulseboard\'s keys; remove it, or give ' ..
                   'Pulseboard a namespace of its own (--namespace)'
    for _, want in ipairs(l.keys) do
        local kind = redis.call('TYPE', want[1])['ok']
        if kind ~= 'none' and kind ~= want[2] then
            return 'WRONGTYPE ' .. want[1] .. ' holds a ' .. kind .. ', not a ' .. want[2] .. advice
        end
    end
    for _, key in ipairs(l.counters) do
        local value = redis.call('GET', key)
        if value and not string.match(value, '^%-?%d+$') then
            return 'WRONGTYPE ' .. key .. ' holds \'' .. string.sub(value, 1, 40) ..
                   '\', not an integer' .. advice
        end
    end
    return nil
end

-- pb_apply_v1: applies one pre-aggregated batch, or nothing.
-- KEYS[1] = the offsets hash of the shard.
-- ARGV: prefix, seed(0|1), now_ms, window_ms, history_ms, bucket_grace_ms, feed_cap,
--       then sections, each a count followed by its items (see BatchWriter::encode).
-- Returns {1} when applied, or {0, field, stored, ...} naming each partition whose stored
-- offset is not the one the batch expects (already applied, fenced zombie, or Redis older than
-- the aggregator thinks); then nothing is written. A key of the wrong type is an error, and
-- nothing is written either.
local function apply(keys, args)
    local offsets = keys[1]
    local prefix = args[1]
    local seed = args[2] == '1'
    local now = tonumber(args[3])
    local window = tonumber(args[4])
    local history = tonumber(args[5])
    local grace = tonumber(args[6])
    local feedCap = tonumber(args[7])

    -- Offsets first: the compare-and-set that makes a replay a no-op.
    local n = tonumber(args[8])
    local first = 9
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
    local l = layout(args, first + 3 * n, prefix, seed)
    local problem = checkKeys(l)
    if problem then return redis.error_reply(problem) end

    for k = 0, n - 1 do
        redis.call('HSET', offsets, args[first + 3 * k], args[first + 3 * k + 2])
    end
    if l.valid > 0 then redis.call('INCRBY', prefix .. 'events_total', l.valid) end
    if l.invalid > 0 then redis.call('INCRBY', prefix .. 'bad_total', l.invalid) end
    if l.lost > 0 then redis.call('INCRBY', prefix .. 'lost_total', l.lost) end

    -- all-time pages, and per minute
    zsetAdd(prefix .. 'pages', args, l.pages[1], l.pages[2])
    if seed then zsetAdd('top_pages', args, l.pages[1], l.pages[2]) end
    for _, b in ipairs(l.pageMinutes) do
        local key = prefix .. 'pages:m:' .. b[1]
        zsetAdd(key, args, b[2][1], b[2][2])
        redis.call('PEXPIREAT', key, (b[1] + 1) * 60000 + history + grace)
    end

    -- last seen per user: ZADD GT in chunks (Lua's unpack has a stack limit)
    local lastSeen = prefix .. 'last_seen'
    local chunk = {}
    for k = l.lastSeen[1], l.lastSeen[1] + 2 * l.lastSeen[2] - 1, 2 do
        chunk[#chunk + 1] = args[k + 1]
        chunk[#chunk + 1] = args[k]
        if #chunk >= 1000 then
            redis.call('ZADD', lastSeen, 'GT', unpack(chunk))
            chunk = {}
        end
    end
    if #chunk > 0 then redis.call('ZADD', lastSeen, 'GT', unpack(chunk)) end

    -- actions, and per user and action, per minute
    hashAdd(prefix .. 'actions', args, l.actions[1], l.actions[2])
    for _, b in ipairs(l.userMinutes) do
        local key = prefix .. 'user_actions:m:' .. b[1]
        hashAdd(key, args, b[2][1], b[2][2])
        redis.call('PEXPIREAT', key, (b[1] + 1) * 60000 + history + grace)
    end

    -- events per second (hash per 10 minutes) and per minute (hash per hour)
    for k = l.seconds[1], l.seconds[1] + 2 * l.seconds[2] - 1, 2 do
        local second = tonumber(args[k])
        local bucket = math.floor(second / 600)
        local key = prefix .. 'rate:s:' .. bucket
        redis.call('HINCRBY', key, second, args[k + 1])
        redis.call('PEXPIREAT', key, (bucket + 1) * 600000 + history + grace)
    end
    for k = l.minutes[1], l.minutes[1] + 2 * l.minutes[2] - 1, 2 do
        local minute = tonumber(args[k])
        local bucket = math.floor(minute / 60)
        local key = prefix .. 'rate:m:' .. bucket
        redis.call('HINCRBY', key, minute, args[k + 1])
        redis.call('PEXPIREAT', key, (bucket + 1) * 3600000 + history + grace)
    end

    -- bad events by reason
    hashAdd(prefix .. 'bad', args, l.bad[1], l.bad[2])

    -- live feeds: capped streams
    for k = l.feed[1], l.feed[1] + 4 * l.feed[2] - 1, 4 do
        redis.call('XADD', prefix .. 'feed', 'MAXLEN', '~', feedCap, '*',
                   'raw', args[k], 'source', args[k + 1], 'offset', args[k + 2], 'ts', args[k + 3])
    end
    for k = l.badFeed[1], l.badFeed[1] + 5 * l.badFeed[2] - 1, 5 do
        redis.call('XADD', prefix .. 'bad_feed', 'MAXLEN', '~', feedCap, '*',
                   'raw', args[k], 'source', args[k + 1], 'offset', args[k + 2], 'ts', args[k + 3],
                   'reason', args[k + 4])
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
    local lastSeen = prefix .. 'last_seen'
    local problem = checkKeys({keys = {{keys[1], 'hash'}, {keys[2], 'zset'}, {lastSeen, 'zset'}},
                               counters = {}})
    if problem then return redis.error_reply(problem) end
    redis.call('HSET', keys[1], args[7], args[8])
    redis.call('ZADD', keys[2], now, args[7])
    local gone = redis.call('ZRANGEBYSCORE', keys[2], '-inf', '(' .. (now - stale))
    for _, id in ipairs(gone) do
        redis.call('HDEL', keys[1], id)
        redis.call('ZREM', keys[2], id)
    end
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
