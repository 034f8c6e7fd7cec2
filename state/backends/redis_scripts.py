"""The server side of the Redis backend: Lua scripts, each one atomic in Redis.

Keys of a store (``P`` is ``orchestrator:{namespace}:``)::

    P meta      hash    schema, version (commits so far), seq (last event), created_at
    P docs      hash    document key -> encoded JSON
    P keys      zset    every document key, score 0: ordered prefix scans (ZRANGEBYLEX)
    P changed   zset    document key -> version that last wrote (or deleted) it
    P events    stream  the event log; entry id ``<seq>-0``, fields c (chapter), b (body)
    P lock      string  the token of the write lock's holder, with a lease (PX)
    P queue     list    tokens waiting for the lock, first come, first served
    P since     hash    waiting token -> the version its process's cache is at
    P wake:<t>  list    the grant for token t, once the lock is its; expires
    P done:<t>  string  the version token t committed; expires (answers "did it land?")

The lock is handed over inside the script that commits: the next waiter's
grant carries the current version, the last event's seq, the store's
``created_at`` (a store deleted and made again is another store), and every
document changed since the version its cache is at, so the waiter starts its
transaction with no further round trip. A grant that would ship too much says
"reset", and the waiter reads documents as it needs them.

Scripts check everything before they write: Redis does not roll a script back
when it fails half-way.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHIPPED_KEYS = 128
MAX_SHIPPED_BYTES = 256 * 1024

_PRELUDE = f"""
local P = ARGV[1]
local META, DOCS, KEYZ, CHANGED = P .. 'meta', P .. 'docs', P .. 'keys', P .. 'changed'
local EVENTS, LOCK, QUEUE, SINCE = P .. 'events', P .. 'lock', P .. 'queue', P .. 'since'

local function grant(token, since, lease)
  local meta = redis.call('HMGET', META, 'version', 'seq', 'created_at')
  local version, seq = tonumber(meta[1]) or 0, tonumber(meta[2]) or 0
  local keys, values, reset = {{}}, {{}}, 0
  since = tonumber(since) or -1
  if since < 0 or since > version then
    reset = 1
  elseif since < version then
    keys = redis.call('ZRANGEBYSCORE', CHANGED, '(' .. since, '+inf',
                      'LIMIT', 0, {MAX_SHIPPED_KEYS} + 1)
    if #keys > {MAX_SHIPPED_KEYS} then
      reset, keys = 1, {{}}
    elseif #keys > 0 then
      values = redis.call('HMGET', DOCS, unpack(keys))
      local size = 0
      for _, v in ipairs(values) do if v then size = size + #v end end
      if size > {MAX_SHIPPED_BYTES} then reset, keys, values = 1, {{}}, {{}} end
    end
  end
  local wake = P .. 'wake:' .. token
  redis.call('SET', LOCK, token, 'PX', lease)
  redis.call('DEL', wake)
  -- The grant: a header line, then per document its key's and value's byte lengths
  -- (-1: deleted) and the bytes themselves. No escaping: copying is all it costs.
  local parts = {{version, ' ', seq, ' ', reset, ' ', #keys, ' ', meta[3] or '', '\\n'}}
  for j, k in ipairs(keys) do
    local v = values[j]
    parts[#parts + 1] = #k .. ' ' .. (v and #v or -1) .. '\\n' .. k
    if v then parts[#parts + 1] = v end
  end
  redis.call('RPUSH', wake, table.concat(parts))
  redis.call('PEXPIRE', wake, lease * 2)
end

local function handoff(lease)
  while true do
    local nxt = redis.call('LPOP', QUEUE)
    if not nxt then
      redis.call('DEL', LOCK)
      return
    end
    local since = redis.call('HGET', SINCE, nxt)
    redis.call('HDEL', SINCE, nxt)
    -- An entry without its version belongs to a waiter that gave up: skip it.
    if since then
      grant(nxt, since, lease)
      return
    end
  end
end

local function check_store()
  if redis.call('EXISTS', META) == 0 then
    return redis.error_reply('NOSTORE no state store in this namespace')
  end
end
"""

# ARGV: P, schema version, create (0/1), created_at. Returns the stored schema version.
INIT = """
local P = ARGV[1]
local META = P .. 'meta'
if redis.call('EXISTS', META) == 0 then
  if ARGV[3] ~= '1' then
    return redis.error_reply('NOSTORE no state store in this namespace')
  end
  redis.call('HSET', META, 'schema', ARGV[2], 'version', 0, 'seq', 0, 'created_at', ARGV[4])
end
return redis.call('HGET', META, 'schema')
"""

# ARGV: P, token, cached version, lease ms. Grants the lock (1) or queues the token (0);
# either way the caller then waits on its wake list. Safe to repeat.
ACQUIRE = (
    _PRELUDE
    + """
local token, since, lease = ARGV[2], ARGV[3], tonumber(ARGV[4])
local missing = check_store()
if missing then return missing end
local holder = redis.call('GET', LOCK)
if (not holder) or holder == token then
  redis.call('LREM', QUEUE, 0, token)
  redis.call('HDEL', SINCE, token)
  grant(token, since, lease)
  return 1
end
if redis.call('HSETNX', SINCE, token, since) == 1 then
  redis.call('RPUSH', QUEUE, token)
end
return 0
"""
)

# ARGV: P, token, lease ms, ms to remember the commit, n puts, (key, value) * n,
#       n deletes, key * n, n events, (seq, chapter, body) * n. Returns the new version.
COMMIT = (
    _PRELUDE
    + """
local token, lease = ARGV[2], tonumber(ARGV[3])
if redis.call('GET', LOCK) ~= token then
  return redis.error_reply('LOSTLOCK the write lock expired or was taken over')
end
local missing = check_store()
if missing then return missing end
local i = 5
local nput = tonumber(ARGV[i])
local puts = i + 1
i = puts + 2 * nput
local ndel = tonumber(ARGV[i])
local dels = i + 1
i = dels + ndel
local nev = tonumber(ARGV[i])
local evs = i + 1
local last = tonumber(redis.call('HGET', META, 'seq')) or 0
for e = 0, nev - 1 do
  if tonumber(ARGV[evs + 3 * e]) ~= last + 1 + e then
    return redis.error_reply('SEQ event seq ' .. ARGV[evs + 3 * e] .. ' does not follow ' .. last)
  end
end
local version = redis.call('HINCRBY', META, 'version', 1)
for p = 0, nput - 1 do
  local k, v = ARGV[puts + 2 * p], ARGV[puts + 2 * p + 1]
  redis.call('HSET', DOCS, k, v)
  redis.call('ZADD', KEYZ, 0, k)
  redis.call('ZADD', CHANGED, version, k)
end
for d = 0, ndel - 1 do
  local k = ARGV[dels + d]
  redis.call('HDEL', DOCS, k)
  redis.call('ZREM', KEYZ, k)
  redis.call('ZADD', CHANGED, version, k)
end
for e = 0, nev - 1 do
  local at = evs + 3 * e
  redis.call('XADD', EVENTS, ARGV[at] .. '-0', 'c', ARGV[at + 1], 'b', ARGV[at + 2])
end
if nev > 0 then redis.call('HSET', META, 'seq', last + nev) end
redis.call('SET', P .. 'done:' .. token, version, 'PX', ARGV[4])
handoff(lease)
return version
"""
)

# ARGV: P, token, lease ms. Releases the lock if the token holds it (hands it on).
RELEASE = (
    _PRELUDE
    + """
if redis.call('GET', LOCK) == ARGV[2] then handoff(tonumber(ARGV[3])) end
return 1
"""
)

# ARGV: P, token, lease ms. A waiter gives up: out of the queue, and the lock handed
# on if it had already been granted to it.
LEAVE = (
    _PRELUDE
    + """
local token = ARGV[2]
redis.call('LREM', QUEUE, 0, token)
redis.call('HDEL', SINCE, token)
redis.call('DEL', P .. 'wake:' .. token)
if redis.call('GET', LOCK) == token then handoff(tonumber(ARGV[3])) end
return 1
"""
)

# ARGV: P, before chapter (-1: no events), n prefixes, prefix * n.
# Returns {flat key/value list, flat seq/chapter/body list, last seq}, all from one moment.
READ_VIEW = """
local P = ARGV[1]
local META, DOCS, KEYZ, EVENTS = P .. 'meta', P .. 'docs', P .. 'keys', P .. 'events'
local before = tonumber(ARGV[2])
local docs = {}
for a = 4, 3 + tonumber(ARGV[3]) do
  local prefix = ARGV[a]
  local keys
  if prefix == '' then
    keys = redis.call('ZRANGE', KEYZ, 0, -1)
  else
    -- UTF-8 never contains byte 0xFF, so it bounds every key that starts with prefix.
    keys = redis.call('ZRANGEBYLEX', KEYZ, '[' .. prefix, '(' .. prefix .. '\\255')
  end
  for start = 1, #keys, 1000 do
    local chunk = {unpack(keys, start, math.min(start + 999, #keys))}
    local values = redis.call('HMGET', DOCS, unpack(chunk))
    for j, k in ipairs(chunk) do
      if values[j] then
        docs[#docs + 1] = k
        docs[#docs + 1] = values[j]
      end
    end
  end
end
local events = {}
if before >= 0 then
  for _, entry in ipairs(redis.call('XRANGE', EVENTS, '-', '+')) do
    local fields = entry[2]
    local chapter = tonumber(fields[2])
    if chapter < before then
      events[#events + 1] = string.match(entry[1], '^(%d+)')
      events[#events + 1] = fields[2]
      events[#events + 1] = fields[4]
    end
  end
end
return {docs, events, tonumber(redis.call('HGET', META, 'seq')) or 0}
"""


@dataclass(frozen=True)
class Grant:
    """The write lock, handed to a waiter with what changed since its cache's version."""

    version: int
    seq: int
    reset: bool
    created: str
    changed: dict[str, str | None]


def parse_grant(data: bytes) -> Grant:
    """Read the grant the Lua ``grant`` function writes (lengths are in bytes)."""
    end = data.index(b"\n")
    version, seq, reset, count, created = data[:end].split(b" ", 4)
    pos = end + 1
    changed: dict[str, str | None] = {}
    for _ in range(int(count)):
        end = data.index(b"\n", pos)
        key_len, value_len = (int(n) for n in data[pos:end].split(b" "))
        pos = end + 1 + key_len
        key = data[end + 1 : pos].decode()
        if value_len < 0:
            changed[key] = None
        else:
            changed[key] = data[pos : pos + value_len].decode()
            pos += value_len
    return Grant(int(version), int(seq), reset == b"1", created.decode(), changed)


SCRIPTS: dict[str, str] = {
    "init": INIT,
    "acquire": ACQUIRE,
    "commit": COMMIT,
    "release": RELEASE,
    "leave": LEAVE,
    "read_view": READ_VIEW,
}
