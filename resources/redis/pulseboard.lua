#!lua name=pulseboard
-- Pulseboard's Redis Functions. Loaded by the aggregator (FUNCTION LOAD REPLACE) and re-loaded
-- when Redis answers that a function is missing (e.g. after a restart without persistence).
-- Key layout: docs/redis-schema.md. Every key a call touches comes in KEYS, named by the
-- aggregator (src/redis/schema.h); nothing here builds a key name.
--
-- Redis does not roll back a function that fails midway, so each one checks everything that
-- could make one of its writes fail before the first write, and then writes nothing that can
-- fail: a batch is applied whole or not at all.

local INT64_DIGITS = 18 -- a counter at 10^18 or beyond could overflow int64 on its next add
-- The aggregator counts an event time further ahead than this at the time it read the event
-- (AggregationOptions::maxFutureSkew); last_seen scores beyond now + this (written before that
-- rule, or by another program) would keep a user "active" for ever, so they are trimmed too.
local FUTURE_SKEW_MS = 300000

-- Adds args[first..]'s n (field, count) pairs to the hash `key`, as HINCRBY would, given
-- `plan`, checkFields' reading of the fields before the first write. Each field's new value is
-- known from that reading, so the fields are written in chunks, one HSET per 500 fields instead
-- of one HINCRBY each: a redis.call costs Redis about a microsecond, the field's own write a
-- fraction of that (bench/lua_cost.py). Exact: a sum computed here has two terms of at most 15
-- digits, below 2^53, which a Lua number holds exactly; a longer one takes HINCRBY. A field
-- named twice for one key (never from BatchWriter) would make the reading stale: then one
-- HINCRBY per field, as before.
local function hashAdd(key, args, first, n, plan)
    if not plan.unique then
        for k = first, first + 2 * n - 1, 2 do
            redis.call('HINCRBY', key, args[k], args[k + 1])
        end
        return
    end
    local stored = plan.stored
    local chunk = 500
    local out = {}
    for c = 1, n, chunk do
        local last = math.min(c + chunk - 1, n)
        local anyStored = false
        for idx = c, last do
            if stored[idx] then
                anyStored = true
                break
            end
        end
        if not anyStored then
            -- all absent (new users): the (field, count) pairs as they came, counts canonical
            redis.call('HSET', key, unpack(args, first + 2 * c - 2, first + 2 * last - 1))
        else
            local o = 0
            for idx = c, last do
                local k = first + 2 * idx - 2
                local count, old = args[k + 1], stored[idx]
                local value = count
                if old then
                    if #old <= 15 and #count <= 15 then
                        value = string.format('%d', tonumber(old) + tonumber(count))
                    else
                        value = nil
                        redis.call('HINCRBY', key, args[k], count)
                    end
                end
                if value then
                    out[o + 1], out[o + 2] = args[k], value
                    o = o + 2
                end
            end
            if o > 0 then redis.call('HSET', key, unpack(out, 1, o)) end
        end
    end
end

local function zsetAdd(key, args, first, n)
    for k = first, first + 2 * n - 1, 2 do
        redis.call('ZINCRBY', key, args[k + 1], args[k])
    end
end

-- Where the counts of pages and actions beyond the caps go. 0xFF never occurs in UTF-8, so no
-- page or action name can be this member; readers show it as "(other)".
local OTHER = '\255(other)'
-- The most members a heartbeat retires, and the most a call moves beyond what its batch added
-- to a set: a call must not keep Redis busy for long; what is left goes in the next calls.
-- `budget` is reset at the start of each call.
local STEP = 10000
local budget = STEP

-- Takes up to `count` from member's score in the zset `key` (removing it at 0); what it did not
-- hold comes off OTHER's. The sum of the set goes down by `count` exactly; one member's share
-- may land on OTHER when that member had been trimmed into it earlier.
local function zsetTake(key, member, count)
    local held = tonumber(redis.call('ZSCORE', key, member) or '0')
    local take = math.min(held, count)
    if take > 0 then
        if redis.call('ZINCRBY', key, -take, member) + 0 <= 0 then redis.call('ZREM', key, member) end
    end
    if count > take then
        if redis.call('ZINCRBY', key, take - count, OTHER) + 0 <= 0 then
            redis.call('ZREM', key, OTHER)
        end
    end
end

-- Keeps the zset `key` to `cap` members (OTHER not counted): the lowest-scored go into OTHER,
-- at most `allowance` per call (the members the call added to it, and a little more to work off
-- a lowered cap: the call's work stays in proportion to the batch, and a set can exceed its
-- cap only until the calls after a cap change have caught up). `mirror` (the hour set, for a
-- minute of the hour) moves the same counts, so that it stays the sum of its minutes.
local function zsetCap(key, cap, mirror, allowance)
    local members = redis.call('ZCARD', key)
    local hasOther = redis.call('ZSCORE', key, OTHER) and 1 or 0
    local excess = math.min(members - hasOther - cap, allowance)
    if excess <= 0 then return end
    local low = redis.call('ZRANGE', key, 0, excess, 'WITHSCORES') -- one more: OTHER may be there
    local gone, sum = {}, 0
    for k = 1, #low, 2 do
        if low[k] ~= OTHER and #gone < excess then
            local count = tonumber(low[k + 1])
            gone[#gone + 1] = low[k]
            sum = sum + count
            if mirror then
                zsetTake(mirror, low[k], count)
                redis.call('ZINCRBY', mirror, count, OTHER)
            end
        end
    end
    for c = 1, #gone, 1000 do
        redis.call('ZREM', key, unpack(gone, c, math.min(c + 999, #gone)))
    end
    redis.call('ZINCRBY', key, sum, OTHER)
end

-- The actions a batch adds to, kept to `cap` fields besides OTHER: fields the hash holds take
-- their counts; new ones take the room left, in the batch's order; the counts of the rest go
-- to OTHER. Returns the (field, count) list and its hashAdd plan, from `plan` (checkFields'
-- reading) and `other` (OTHER's value now, checked): nothing is read or trimmed later, so
-- nothing can fail after the first write, and the cost follows the batch, not the hash.
local function cappedActions(key, args, first, n, plan, cap, other)
    local held = redis.call('HLEN', key) - (other and 1 or 0)
    local room = cap - held
    local fields, stored, rest = {}, {}, 0
    for idx = 1, n do
        local k = first + 2 * idx - 2
        if plan.stored[idx] or room > 0 then
            if not plan.stored[idx] then room = room - 1 end
            fields[#fields + 1], fields[#fields + 2] = args[k], args[k + 1]
            stored[#stored + 1] = plan.stored[idx]
        else
            rest = rest + tonumber(args[k + 1])
        end
    end
    if rest > 0 then
        fields[#fields + 1], fields[#fields + 2] = OTHER, string.format('%d', rest)
        stored[#stored + 1] = other or false
    end
    return fields, #stored, {stored = stored, unique = plan.unique}
end

-- A whole number in [0, limit]: a time or bucket number Redis will take as an integer (Lua
-- would hand a larger one to Redis in exponent form, which PEXPIREAT refuses).
local function wholeNumber(value, limit)
    local n = tonumber(value)
    return n ~= nil and n == math.floor(n) and n >= 0 and n <= limit
end

-- Is the counter's text one INCRBY takes and cannot overflow with: canonical decimal, no
-- leading zeros, under 10^18.
-- (string.find allocates nothing; this runs for every field of a batch.)
local function safeCounter(value)
    if string.find(value, '^[1-9]%d*$') then return #value <= INT64_DIGITS end
    return value == '0' or (string.find(value, '^%-[1-9]%d*$') ~= nil and
                            #value <= INT64_DIGITS + 1)
end

local ADVICE = ': another program writes into Pulseboard\'s keys; remove it, or give ' ..
               'Pulseboard a namespace of its own (--namespace)'

-- nil when every key is absent or of its type, and every counter safe to add to.
local function checkKeys(typed, counters)
    for _, want in ipairs(typed) do
        local kind = redis.call('TYPE', want[1])['ok']
        if kind ~= 'none' and kind ~= want[2] then
            return 'WRONGTYPE ' .. want[1] .. ' holds a ' .. kind .. ', not a ' .. want[2] .. ADVICE
        end
    end
    for _, key in ipairs(counters) do
        local value = redis.call('GET', key)
        if value and not safeCounter(value) then
            return 'WRONGTYPE ' .. key .. ' holds \'' .. string.sub(value, 1, 40) ..
                   '\', not an integer counter below 10^18' .. ADVICE
        end
    end
    return nil
end

-- nil when every field the batch will add to in `key` (n (field, count) pairs from args[first])
-- is absent or a counter that can take the add (another program may have written any field),
-- and every count is one too; then also the plan for hashAdd: what each field holds now, in
-- order (false where absent), and whether each field is named once.
local function checkFields(key, args, first, n)
    local chunk = 500
    local stored, s = {}, 0
    local seen, unique = {}, true
    for k = first, first + 2 * n - 1, 2 * chunk do
        local fields = {}
        for f = k, math.min(k + 2 * chunk, first + 2 * n) - 1, 2 do
            local field = args[f]
            fields[#fields + 1] = field
            if seen[field] then unique = false end
            seen[field] = true
            local count = args[f + 1]
            if count ~= '1' and not safeCounter(count) then
                return 'ERR pb_apply_v3: count \'' .. string.sub(args[f + 1], 1, 40) ..
                       '\' for ' .. key .. ' is not an integer below 10^18'
            end
        end
        local values = redis.call('HMGET', key, unpack(fields))
        for v = 1, #values do
            if values[v] and not safeCounter(values[v]) then
                return 'WRONGTYPE ' .. key .. ' field ' .. string.sub(fields[v], 1, 40) ..
                       ' holds \'' .. string.sub(values[v], 1, 40) ..
                       '\', not an integer counter below 10^18' .. ADVICE
            end
            stored[s + v] = values[v]
        end
        s = s + #values
    end
    return nil, {stored = stored, unique = unique}
end

-- nil when a stream can take one more entry with an automatic id (another program may have
-- left it at the largest id there is).
local function checkStream(key)
    if redis.call('EXISTS', key) == 0 then return nil end
    local info = redis.call('XINFO', 'STREAM', key)
    for k = 1, #info, 2 do
        if info[k] == 'last-generated-id' and info[k + 1] == '18446744073709551615-18446744073709551615' then
            return 'ERR ' .. key .. ' has used up its stream ids' .. ADVICE
        end
    end
    return nil
end

-- Where each section of a batch starts in args (from index i on); j is the next bucket key.
-- See BatchWriter::encode for the order.
local function layout(args, i, keys, j)
    local l = {}
    -- n items of `width` args each, after their count
    local function section(width)
        local n = tonumber(args[i])
        local start = i + 1
        i = start + width * n
        return {start, n}
    end
    -- a count of buckets, each its number and a section of `width`-wide items, and its key
    local function buckets(width)
        local list = {}
        local n = tonumber(args[i])
        i = i + 1
        for _ = 1, n do
            local bucket = args[i]
            i = i + 1
            list[#list + 1] = {number = bucket, items = section(width), key = keys[j]}
            j = j + 1
        end
        return list
    end
    l.valid, l.invalid, l.lost = tonumber(args[i]), tonumber(args[i + 1]), tonumber(args[i + 2])
    i = i + 3
    l.pages = section(2)
    l.pageMinutes = buckets(2)
    l.lastSeen = section(2)
    l.actions = section(2)
    l.userMinutes = buckets(2)
    l.seconds = buckets(2)
    l.minutes = buckets(2)
    l.bad = section(2)
    l.feed = section(4)
    l.badFeed = section(5)
    return l, j
end

-- pb_apply_v3: applies one pre-aggregated batch, or nothing.
-- KEYS: offsets, events_total, bad_total, lost_total, pages, last_seen, actions, bad, feed,
--       bad_feed, pages:h, pages:h:state, [top_pages, active_users when seed], then one key per
--       bucket in ARGV order:
--       pages:m:<minute>..., user_actions:m:<minute>..., rate:s:<n>..., rate:m:<n>...
-- ARGV: seed(0|1), now_ms, window_ms, history_ms, bucket_grace_ms, feed_cap, page_cap,
--       action_cap, then the claims (n, then field expected next for each), then the sections
--       (see BatchWriter::encode).
-- The hour set pages:h is the sum of the minutes after pages:h:state's `through` (the newest
-- minute whose retirement has begun, see pb_beat_v3); a minute at or before it is past the
-- hour and is not written any more. Without a state (a new Redis, or one written by an older
-- version) the hour set is not kept until the next heartbeat rebuilds it.
-- Returns {1, microseconds spent here} when applied (the aggregator sizes its next batches by
-- it), or {0, field, stored, ...} naming each partition whose stored
-- offset is not the one the batch expects (already applied, fenced zombie, or Redis older than
-- the aggregator thinks); then nothing is written. Anything else that would make a write fail
-- is an error, and nothing is written either.
local function apply(keys, args)
    local began = redis.call('TIME')
    budget = STEP
    local seed = args[1] == '1'
    local now = tonumber(args[2])
    local window = tonumber(args[3])
    local history = tonumber(args[4])
    local grace = tonumber(args[5])
    local feedCap = tonumber(args[6])
    local pageCap = tonumber(args[7])
    local actionCap = tonumber(args[8])
    local offsets, eventsTotal, badTotal, lostTotal = keys[1], keys[2], keys[3], keys[4]
    local pages, lastSeen, actions, bad, feed, badFeed =
        keys[5], keys[6], keys[7], keys[8], keys[9], keys[10]
    local hour, hourState = keys[11], keys[12]
    local topPages, activeUsers = nil, nil
    local nextKey = 13
    if seed then
        topPages, activeUsers = keys[13], keys[14]
        nextKey = 15
    end

    -- The compare-and-set that makes a replay a no-op.
    local n = tonumber(args[9])
    local first = 10
    local mismatches = {0}
    for k = 0, n - 1 do
        local field = args[first + 3 * k]
        local stored = redis.call('HGET', offsets, field)
        if not stored then stored = '-1' end
        if stored ~= args[first + 3 * k + 1] then
            mismatches[#mismatches + 1] = field
            mismatches[#mismatches + 1] = stored
        end
    end
    if #mismatches > 1 then return mismatches end

    local l, used = layout(args, first + 3 * n, keys, nextKey)
    if used - 1 ~= #keys then
        return redis.error_reply('ERR pb_apply_v3: ' .. #keys .. ' keys for ' .. (used - 1) ..
                                 ' expected (an aggregator of another version?)')
    end
    -- Times and bucket numbers are whole and in range, so that no PEXPIREAT can fail.
    local latest = 1e13 -- ms: the year 2286
    if not wholeNumber(now, latest) then
        return redis.error_reply('ERR pb_apply_v3: bad time ' .. tostring(args[2]))
    end
    if not wholeNumber(pageCap, 1e9) or pageCap < 1 or not wholeNumber(actionCap, 1e6) or
        actionCap < 1 then
        return redis.error_reply('ERR pb_apply_v3: bad caps ' .. tostring(args[7]) .. ' ' ..
                                 tostring(args[8]))
    end
    for _, group in ipairs({{l.pageMinutes, 60000}, {l.userMinutes, 60000},
                            {l.seconds, 600000}, {l.minutes, 3600000}}) do
        for _, b in ipairs(group[1]) do
            if not wholeNumber(b.number, latest / group[2]) then
                return redis.error_reply('ERR pb_apply_v3: bad bucket ' .. tostring(b.number))
            end
        end
    end
    local typed = {{offsets, 'hash'}, {eventsTotal, 'string'}, {badTotal, 'string'},
                   {lostTotal, 'string'}, {pages, 'zset'}, {lastSeen, 'zset'}, {actions, 'hash'},
                   {bad, 'hash'}, {feed, 'stream'}, {badFeed, 'stream'}, {hour, 'zset'},
                   {hourState, 'hash'}}
    if seed then
        typed[#typed + 1] = {topPages, 'zset'}
        typed[#typed + 1] = {activeUsers, 'string'}
    end
    for _, group in ipairs({{l.pageMinutes, 'zset'}, {l.userMinutes, 'hash'},
                            {l.seconds, 'hash'}, {l.minutes, 'hash'}}) do
        for _, b in ipairs(group[1]) do typed[#typed + 1] = {b.key, group[2]} end
    end
    local problem = checkKeys(typed, {eventsTotal, badTotal, lostTotal})
    if problem then return redis.error_reply(problem) end
    -- every hash the batch adds to, its section, and what its fields hold now
    local added = {{key = actions, items = l.actions}, {key = bad, items = l.bad}}
    for _, group in ipairs({l.userMinutes, l.seconds, l.minutes}) do
        for _, b in ipairs(group) do added[#added + 1] = b end
    end
    local plans = {}
    for _, h in ipairs(added) do
        local plan
        problem, plan = checkFields(h.key, args, h.items[1], h.items[2])
        if problem then return redis.error_reply(problem) end
        if plans[h.key] then -- one key in two sections: each reading is stale for the other
            plan.unique, plans[h.key].unique = false, false
        end
        plans[h.key], h.plan = plan, plan
    end
    -- the actions over the cap go into OTHER's counter, which must take the add
    local other = redis.call('HGET', actions, OTHER)
    if other and not safeCounter(other) then
        problem = 'WRONGTYPE ' .. actions .. ' field (other) holds \'' .. string.sub(other, 1, 40) ..
                  '\', not an integer counter below 10^18' .. ADVICE
    end
    local through = redis.call('HGET', hourState, 'through')
    if through and not string.find(through, '^%-?%d+$') then
        problem = problem or ('WRONGTYPE ' .. hourState .. ' field through holds \'' ..
                              string.sub(through, 1, 40) .. '\', not a minute' .. ADVICE)
    end
    through = tonumber(through)
    if l.feed[2] > 0 then problem = problem or checkStream(feed) end
    if l.badFeed[2] > 0 then problem = problem or checkStream(badFeed) end
    if problem then return redis.error_reply(problem) end

    -- From here on, nothing fails.
    for k = 0, n - 1 do
        redis.call('HSET', offsets, args[first + 3 * k], args[first + 3 * k + 2])
    end
    if l.valid > 0 then redis.call('INCRBY', eventsTotal, l.valid) end
    if l.invalid > 0 then redis.call('INCRBY', badTotal, l.invalid) end
    if l.lost > 0 then redis.call('INCRBY', lostTotal, l.lost) end

    -- all-time pages, per minute and in the hour; each set kept to the cap
    zsetAdd(pages, args, l.pages[1], l.pages[2])
    zsetCap(pages, pageCap, nil, l.pages[2] + 1000)
    if seed then
        zsetAdd(topPages, args, l.pages[1], l.pages[2])
        zsetCap(topPages, pageCap, nil, l.pages[2] + 1000)
    end
    local hourAdded, hourAdds = false, 0
    for _, b in ipairs(l.pageMinutes) do
        local minute = tonumber(b.number)
        if not through or minute > through then -- a retired minute is past the hour: skipped
            zsetAdd(b.key, args, b.items[1], b.items[2])
            redis.call('PEXPIREAT', b.key, (minute + 1) * 60000 + history + grace)
            if through then
                zsetAdd(hour, args, b.items[1], b.items[2])
                hourAdded = true
                hourAdds = hourAdds + b.items[2]
            end
            zsetCap(b.key, math.max(1, math.floor(pageCap / 10)), through and hour or nil,
                    b.items[2] + 500)
        end
    end
    if hourAdded then zsetCap(hour, pageCap, nil, hourAdds + 1000) end

    -- last seen per user: ZADD GT in chunks (Lua's unpack has a stack limit)
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

    -- actions (kept to the cap), and per user and action, per minute
    local actionItems, actionCount, actionPlan =
        cappedActions(actions, args, l.actions[1], l.actions[2], added[1].plan, actionCap, other)
    hashAdd(actions, actionItems, 1, actionCount, actionPlan)
    for _, b in ipairs(l.userMinutes) do
        hashAdd(b.key, args, b.items[1], b.items[2], b.plan)
        redis.call('PEXPIREAT', b.key, (tonumber(b.number) + 1) * 60000 + history + grace)
    end

    -- events per second (a hash per 10 minutes) and per minute (a hash per hour)
    for _, b in ipairs(l.seconds) do
        hashAdd(b.key, args, b.items[1], b.items[2], b.plan)
        redis.call('PEXPIREAT', b.key, (tonumber(b.number) + 1) * 600000 + history + grace)
    end
    for _, b in ipairs(l.minutes) do
        hashAdd(b.key, args, b.items[1], b.items[2], b.plan)
        redis.call('PEXPIREAT', b.key, (tonumber(b.number) + 1) * 3600000 + history + grace)
    end

    -- bad events by reason
    hashAdd(bad, args, l.bad[1], l.bad[2], added[2].plan)

    -- live feeds: capped streams
    for k = l.feed[1], l.feed[1] + 4 * l.feed[2] - 1, 4 do
        redis.call('XADD', feed, 'MAXLEN', '~', feedCap, '*',
                   'raw', args[k], 'source', args[k + 1], 'offset', args[k + 2], 'ts', args[k + 3])
    end
    for k = l.badFeed[1], l.badFeed[1] + 5 * l.badFeed[2] - 1, 5 do
        redis.call('XADD', badFeed, 'MAXLEN', '~', feedCap, '*',
                   'raw', args[k], 'source', args[k + 1], 'offset', args[k + 2], 'ts', args[k + 3],
                   'reason', args[k + 4])
    end

    -- keep last_seen to the history it serves, and the seed counter current
    redis.call('ZREMRANGEBYSCORE', lastSeen, '-inf', '(' .. (now - history))
    redis.call('ZREMRANGEBYSCORE', lastSeen, '(' .. (now + FUTURE_SKEW_MS), '+inf')
    if seed then
        redis.call('SET', activeUsers, redis.call('ZCOUNT', lastSeen, '(' .. (now - window), '+inf'))
    end
    local ended = redis.call('TIME')
    return {1, (tonumber(ended[1]) - tonumber(began[1])) * 1000000 +
               tonumber(ended[2]) - tonumber(began[2])}
end

-- Retires the minutes that left the hour from the hour set, within the call's budget: a
-- minute's set is renamed to pages:retiring at once (so later writes cannot reach it, and the
-- minute is never written again), then taken off the hour set in steps. Minutes are the
-- aggregator's, at most a minute off Redis's (the clock the minute sets expire by: see
-- pb_beat_v3), well within the margin below. When the state is missing, so far behind that
-- the next minute's set could expire before its turn (3 minutes of margin), or ahead of this
-- clock by more than the future skew, the hour set is rebuilt from the minutes of the hour
-- instead: one ZUNIONSTORE, as slow as the reads it replaces (seconds with a million pages),
-- and rare (a new Redis, an upgrade, no heartbeat for 3 minutes).
-- minuteKeys: the sets of minutes firstMinute, firstMinute + 1, ...
local function retire(hour, hourState, retiring, minuteKeys, firstMinute, nowMinute, pageCap)
    local newest = nowMinute - 60 -- the newest minute past the hour
    local through = tonumber(redis.call('HGET', hourState, 'through'))
    if not through or through + 1 < nowMinute - 62 or through > newest + 6 then
        local window = {}
        for m = newest + 1, firstMinute + #minuteKeys - 1 do
            window[#window + 1] = minuteKeys[m - firstMinute + 1]
        end
        redis.call('ZUNIONSTORE', hour, #window, unpack(window))
        redis.call('ZREMRANGEBYRANK', retiring, 0, -1) -- (the aggregator's ACL has no DEL)
        redis.call('HSET', hourState, 'through', newest)
        zsetCap(hour, pageCap, nil, math.huge) -- as slow as the union just made, once
        return -1
    end
    local retired = 0
    while budget > 0 do
        local popped = redis.call('ZPOPMIN', retiring, budget)
        if #popped > 0 then
            for k = 1, #popped, 2 do zsetTake(hour, popped[k], tonumber(popped[k + 1])) end
            budget = budget - #popped / 2
            retired = retired + #popped / 2
        elseif through >= newest then
            break
        else
            through = through + 1
            local key = minuteKeys[through - firstMinute + 1]
            if redis.call('EXISTS', key) == 1 then
                redis.call('RENAME', key, retiring)
                redis.call('PERSIST', retiring)
            end
            redis.call('HSET', hourState, 'through', through)
        end
    end
    return retired
end

-- pb_beat_v3: an aggregator's heartbeat; also keeps derived state current while no events come:
-- last_seen trimmed, active_users refreshed, minutes past the hour retired from the hour set.
-- KEYS: heartbeats hash, heartbeat times zset, last_seen, pages:h, pages:h:state,
--       pages:retiring, [active_users when ARGV[7] is 1], then the page sets of the minutes
--       ARGV[8] (the aggregator's current minute - 67) to its current minute + 7
-- ARGV: now_ms, window_ms, history_ms, stale_ms, id, json, seed(0|1), first_minute, page_cap,
--       max_skew_ms: how far now_ms may be from Redis's clock (0: unchecked, for tests with a
--       simulated clock). Minute sets expire by Redis's clock, and are retired by now_ms's.
local function beat(keys, args)
    budget = STEP
    local now = tonumber(args[1])
    local window = tonumber(args[2])
    local history = tonumber(args[3])
    local stale = tonumber(args[4])
    local beats, times, lastSeen = keys[1], keys[2], keys[3]
    local hour, hourState, retiring = keys[4], keys[5], keys[6]
    local activeUsers = nil
    local firstKey = 7
    if args[7] == '1' then
        activeUsers = keys[7]
        firstKey = 8
    end
    local firstMinute = tonumber(args[8])
    local pageCap = tonumber(args[9])
    local maxSkew = tonumber(args[10])
    if not wholeNumber(now, 1e13) or not wholeNumber(maxSkew, 1e13) or
        firstMinute ~= math.floor(now / 60000) - 67 or #keys - firstKey + 1 ~= 75 or
        not wholeNumber(pageCap, 1e9) or pageCap < 1 then
        return redis.error_reply('ERR pb_beat_v3: bad time, minute keys or cap ' ..
                                 '(an aggregator of another version?)')
    end
    local t = redis.call('TIME')
    local redisNow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    if maxSkew > 0 and math.abs(redisNow - now) > maxSkew then
        return redis.error_reply('ERR pb_beat_v3: this aggregator\'s clock is ' ..
                                 math.floor((now - redisNow) / 1000) .. ' s off Redis\'s ' ..
                                 '(more than ' .. math.floor(maxSkew / 1000) .. ' s): the last ' ..
                                 'hour\'s figures need the clocks in step; synchronise them (NTP)')
    end
    local minuteKeys = {}
    for k = firstKey, #keys do minuteKeys[#minuteKeys + 1] = keys[k] end
    local typed = {{beats, 'hash'}, {times, 'zset'}, {lastSeen, 'zset'}, {hour, 'zset'},
                   {hourState, 'hash'}, {retiring, 'zset'}}
    if activeUsers then typed[#typed + 1] = {activeUsers, 'string'} end
    for _, key in ipairs(minuteKeys) do typed[#typed + 1] = {key, 'zset'} end
    local problem = checkKeys(typed, {})
    if problem then return redis.error_reply(problem) end
    local through = redis.call('HGET', hourState, 'through')
    if through and not string.find(through, '^%-?%d+$') then
        return redis.error_reply('WRONGTYPE ' .. hourState .. ' field through holds \'' ..
                                 string.sub(through, 1, 40) .. '\', not a minute' .. ADVICE)
    end
    redis.call('HSET', beats, args[5], args[6])
    redis.call('ZADD', times, now, args[5])
    local gone = redis.call('ZRANGEBYSCORE', times, '-inf', '(' .. (now - stale))
    for _, id in ipairs(gone) do
        redis.call('HDEL', beats, id)
        redis.call('ZREM', times, id)
    end
    redis.call('ZREMRANGEBYSCORE', lastSeen, '-inf', '(' .. (now - history))
    redis.call('ZREMRANGEBYSCORE', lastSeen, '(' .. (now + FUTURE_SKEW_MS), '+inf')
    if activeUsers then
        redis.call('SET', activeUsers, redis.call('ZCOUNT', lastSeen, '(' .. (now - window), '+inf'))
    end
    retire(hour, hourState, retiring, minuteKeys, firstMinute, math.floor(now / 60000), pageCap)
    return #gone
end

-- pb_leave_v3: an aggregator that stops cleanly removes its heartbeat.
-- KEYS: heartbeats hash, heartbeat times zset; ARGV[1] = id
local function leave(keys, args)
    local problem = checkKeys({{keys[1], 'hash'}, {keys[2], 'zset'}}, {})
    if problem then return redis.error_reply(problem) end
    redis.call('HDEL', keys[1], args[1])
    redis.call('ZREM', keys[2], args[1])
    return 1
end

-- pb_start_v3: where counting starts for partitions with no stored offset yet: each gets the
-- given start unless a member stored one first (HSETNX). Returns what is stored for each.
-- KEYS[1] = offsets hash; ARGV: field, start, field, start, ...
local function start(keys, args)
    local problem = checkKeys({{keys[1], 'hash'}}, {})
    if problem then return redis.error_reply(problem) end
    local stored = {}
    for k = 1, #args, 2 do
        if not wholeNumber(args[k + 1], 9.2e18) then
            return redis.error_reply('ERR pb_start_v3: bad offset ' .. tostring(args[k + 1]))
        end
        redis.call('HSETNX', keys[1], args[k], args[k + 1])
        stored[#stored + 1] = redis.call('HGET', keys[1], args[k])
    end
    return stored
end

redis.register_function('pb_apply_v3', apply)
redis.register_function('pb_start_v3', start)
redis.register_function('pb_beat_v3', beat)
redis.register_function('pb_leave_v3', leave)
