"""The server side of the Redis backend: Lua scripts, each one atomic in Redis.

Keys of a store (``P`` is ``orchestrator:{namespace}:``)::

    P meta      hash    schema, version (commits so far), seq (last event), created_at
    P docs      hash    document key -> encoded JSON
    P keys      zset    every document key, score 0: ordered prefix scans (ZRANGEBYLEX)
    P changed   zset    document key -> version that last wrote (or deleted) it
    P events    stream  the event log; entry id ``<seq>-0``, fields c (chapter), b (body)
    P lock      string  the token of the write lock's holder, with a lease (PX)
    P queue     list    waiting writers, first come, first served: ``<token>:<version>``,
                        the version being the one its process's cache is at
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
local EVENTS, LOCK, QUEUE = P .. 'events', P .. 'lock', P .. 'queue'

-- Each redis.call costs a few microseconds on the server, which every other writer
-- waits for: the scripts make as few as they can (variadic HSET/ZADD, one HMGET of meta).
local function chunked(command, key, args)
  for i = 1, #args, 4000 do  -- unpack is limited by Lua's C stack
    redis.call(command, key, unpack(args, i, math.min(i + 3999, #args)))
  end
end

local function grant(token, since, lease, version, seq, created)
  local keys, values, reset = {{}}, {{}}, 0
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
  redis.call('SET', LOCK, token, 'PX', lease)
  -- The grant: a header line, then per document its key's and value's byte lengths
  -- (-1: deleted) and the bytes themselves. No escaping: copying is all it costs.
  local parts = {{version, ' ', seq, ' ', reset, ' ', #keys, ' ', created, '\\n'}}
  for j, k in ipairs(keys) do
    local v = values[j]
    parts[#parts + 1] = #k .. ' ' .. (v and #v or -1) .. '\\n' .. k
    if v then parts[#parts + 1] = v end
  end
  local wake = P .. 'wake:' .. token
  redis.call('RPUSH', wake, table.concat(parts))
  redis.call('PEXPIRE', wake, lease * 2)
end

-- Queue entries are "<token>:<version its cache is at>".
local function handoff(lease, version, seq, created)
  local entry = redis.call('LPOP', QUEUE)
  if not entry then
    redis.call('DEL', LOCK)
    return
  end
  local token, since = string.match(entry, '^([^:]+):(-?%d+)$')
  grant(token, tonumber(since), lease, version, seq, created)
end

local function read_meta()
  local meta = redis.call('HMGET', META, 'version', 'seq', 'created_at')
  if not meta[1] then return nil end
  return tonumber(meta[1]), tonumber(meta[2]), meta[3] or ''
end

local NOSTORE = 'NOSTORE no state store in this namespace'
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

# ARGV: P, token, cached version, lease ms, again (1 if this token asked before).
# Grants the lock (1) or queues the token (0); either way the caller then waits on
# its wake list. Safe to repeat with again=1.
ACQUIRE = (
    _PRELUDE
    + """
local token, since, lease, again = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5] == '1'
local version, seq, created = read_meta()
if not version then return redis.error_reply(NOSTORE) end
local holder = redis.call('GET', LOCK)
local entry = token .. ':' .. since
if (not holder) or holder == token then
  if again then
    redis.call('LREM', QUEUE, 1, entry)
    redis.call('DEL', P .. 'wake:' .. token)
  end
  grant(token, tonumber(since), lease, version, seq, created)
  return 1
end
if not (again and redis.call('LPOS', QUEUE, entry)) then
  redis.call('RPUSH', QUEUE, entry)
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
local version, last, created = read_meta()
if not version then return redis.error_reply(NOSTORE) end
local i = 5
local nput = tonumber(ARGV[i])
local puts = i + 1
i = puts + 2 * nput
local ndel = tonumber(ARGV[i])
local dels = i + 1
i = dels + ndel
local nev = tonumber(ARGV[i])
local evs = i + 1
for e = 0, nev - 1 do
  if tonumber(ARGV[evs + 3 * e]) ~= last + 1 + e then
    return redis.error_reply('SEQ event seq ' .. ARGV[evs + 3 * e] .. ' does not follow ' .. last)
  end
end
version = version + 1
if nput > 0 then
  local pairs_, members, changed = {}, {}, {}
  for p = 0, nput - 1 do
    local k = ARGV[puts + 2 * p]
    pairs_[#pairs_ + 1] = k
    pairs_[#pairs_ + 1] = ARGV[puts + 2 * p + 1]
    members[#members + 1] = 0
    members[#members + 1] = k
    changed[#changed + 1] = version
    changed[#changed + 1] = k
  end
  chunked('HSET', DOCS, pairs_)
  chunked('ZADD', KEYZ, members)
  chunked('ZADD', CHANGED, changed)
end
if ndel > 0 then
  local keys, changed = {}, {}
  for d = 0, ndel - 1 do
    keys[#keys + 1] = ARGV[dels + d]
    changed[#changed + 1] = version
    changed[#changed + 1] = ARGV[dels + d]
  end
  chunked('HDEL', DOCS, keys)
  chunked('ZREM', KEYZ, keys)
  chunked('ZADD', CHANGED, changed)
end
for e = 0, nev - 1 do
  local at = evs + 3 * e
  redis.call('XADD', EVENTS, ARGV[at] .. '-0', 'c', ARGV[at + 1], 'b', ARGV[at + 2])
end
redis.call('HSET', META, 'version', version, 'seq', last + nev)
redis.call('SET', P .. 'done:' .. token, version, 'PX', ARGV[4])
handoff(lease, version, last + nev, created)
return version
"""
)

# ARGV: P, token, lease ms. Releases the lock if the token holds it (hands it on).
RELEASE = (
    _PRELUDE
    + """
if redis.call('GET', LOCK) == ARGV[2] then
  local version, seq, created = read_meta()
  if version then handoff(tonumber(ARGV[3]), version, seq, created) end
end
return 1
"""
)

# ARGV: P, token, cached version, lease ms. A waiter gives up: out of the queue, and
# the lock handed on if it had already been granted to it.
LEAVE = (
    _PRELUDE
    + """
local token = ARGV[2]
redis.call('LREM', QUEUE, 1, token .. ':' .. ARGV[3])
redis.call('DEL', P .. 'wake:' .. token)
if redis.call('GET', LOCK) == token then
  local version, seq, created = read_meta()
  if version then handoff(tonumber(ARGV[4]), version, seq, created) end
end
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
