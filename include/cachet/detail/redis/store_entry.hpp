#ifndef CACHET_DETAIL_REDIS_STORE_ENTRY_HPP
#define CACHET_DETAIL_REDIS_STORE_ENTRY_HPP

// How the Redis backend stores one result, and the two Lua scripts that read and write it.
//
// An entry, `<prefix>:v<schema>:<key>`, is a hash that other languages can read:
//
//     v   the result as the codec writes it (JSON text for json_codec)
//     g   its stamp: the counters it depends on and the tokens they held before the result was
//         computed, one line each, "fn:<function>=<token>\n" then "tag:<tag>=<token>\n" in the
//         order of the function's tags
//     f   with cachet::fail_safe: until when it is fresh (see below)
//     p   a write permit: the token of a miss whose result may be written here
//     l   with cachet::lease: "<until ms>:<holder>", the process (store) that computes the missing
//         result until then, while the others wait for it
//
// Counters, `<prefix>:v<schema>#fn:<function>` and `#tag:<tag>`, hold tokens that never repeat
// (redis_runtime::fresh_token()): invalidate_tag and clear() SET a fresh one. An entry is current
// while every counter named in `g` still holds the token written there. A counter that is gone
// (evicted, never created) holds no token, so it matches no stamp: losing one costs misses and
// never revives an entry. The read script creates a missing counter with a fresh token in the
// same step, so that the entry a miss then writes has a real stamp.
//
// The read script, in `load` mode, either returns the value (current and, with `f`, fresh), or
// makes the read a miss: it puts a permit `p` on the entry (keeping one already there, so that
// misses of several processes on one key do not refuse each other's writes) and returns it with
// the stamp. The write script stores the result only if the entry still holds that permit and
// every counter still holds the stamp's token; it then replaces the hash (DEL, HSET v g [f]), so
// the permit is spent. invalidate(key) is a DEL: it destroys the permit with the entry.
//
// Why that makes a confirmed invalidation final: see redis_store (store.hpp).
//
// With cachet::fail_safe (store_settings::max_stale > 0, and a ttl), `f` holds the milliseconds
// since the epoch of the store's clock (the system clock unless cachet::options::clock gives
// one, which only tests should, since other processes read the entry) until which it is fresh;
// Redis keeps the entry max_stale longer than its ttl. Past `f` a call misses (and recomputes);
// stale() still serves it while it is current and not older than max_stale.

#include <cachet/detail/linkage.hpp>
#include <cachet/redis/script.hpp>

#include <string>
#include <string_view>

namespace cachet::detail {

// The stamp of the counters KEYS[first..], "<name>=<token>\n" each, <name> being the key past
// `base`. A missing counter is created with `token`, or, without one, makes it false. A counter
// that is not a string makes it nil.
inline constexpr std::string_view stamp_lua = R"lua(
local function stamp(first, base, token)
  local held = redis.call('MGET', unpack(KEYS, first))
  local lines = {}
  for i = first, #KEYS do
    local current = held[i - first + 1]
    if not current then
      -- MGET reads a key of another type as nil too: only GET tells it from a missing one.
      current = redis.pcall('GET', KEYS[i])
      if type(current) == 'table' then return nil end
    end
    if not current then
      if not token then return false end
      redis.call('SET', KEYS[i], token)
      current = token
    end
    lines[#lines + 1] = string.sub(KEYS[i], #base + 1) .. '=' .. current .. '\n'
  end
  return table.concat(lines)
end
)lua";

// Gives up the lease on the entry KEYS[1] if `holder` holds it (whether it has run out or not).
inline constexpr std::string_view release_lease_lua = R"lua(
local function release_lease(holder)
  if not holder or holder == '' then return end
  local held = redis.pcall('HGET', KEYS[1], 'l')
  if type(held) == 'string' and string.sub(held, -(#holder + 1)) == ':' .. holder then
    redis.call('HDEL', KEYS[1], 'l')
  end
end
)lua";

// KEYS: the entry, its function's counter, its tags' counters. ARGV: mode, now (ms), a fresh
// token, the load window (ms), the counters' base, the lease (ms, 0 for none), the lease's
// holder (this store's token), '1' when a hit reports its lifetime (else '0'). Modes: `load` (a
// call), `reload` (a call whose hit could not be decoded: a miss whatever the entry holds).
// Returns {1, v, f or ''} for a hit, or {1, v, f or '', pttl} when its lifetime is asked for,
// pttl being the entry's PTTL (-1 without a ttl: a memory tier in front keeps it no longer; a
// plain Redis store does not ask, so its hits run no PTTL); {0, stamp, permit, why, lease} for a
// miss with a permit, why being missing, invalidated, expired, malformed (`f` is no number) or
// unreadable, and lease '' without one, 'mine' when this holder has it (taken now, or still held),
// else the time (ms) until which another holds it; {2} when the entry or a counter is not of
// cachet's types (left as it is: nothing is written).
CACHET_DECL const std::string& read_entry_lua();

// peek() and stale(): the value if the entry is current, whatever `f` says, without a permit.
// Writes nothing (so it runs under maxmemory too); the counters are those `g` names, under
// ARGV[1], the counters' base. KEYS: the entry. Returns {1, v, f or ''}, {0} for nothing, or {2}
// when the entry is not a hash.
inline constexpr std::string_view peek_entry_lua = R"lua(#!lua flags=no-writes
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return {0} end
if kind ~= 'hash' then return {2} end
local e = redis.call('HMGET', KEYS[1], 'v', 'g', 'f')
if not e[1] or not e[2] then return {0} end
for name, held in string.gmatch(e[2], '([^\n]*)=(%x*)\n') do
  if redis.pcall('GET', ARGV[1] .. name) ~= held then return {0} end
end
return {1, e[1], e[3] or ''}
)lua";

// KEYS: the entry, its counters as for the read. ARGV: the permit, the stamp, v, f ('' for
// none), the entry's ttl in ms (0 for none), the counters' base, the lease's holder ('' for
// none). Returns 1 when written, 0 when refused (the permit is gone or another's, or a counter
// moved on). A refused write gives up the holder's lease, so that others compute at once; a
// written one replaces the hash, lease and all.
CACHET_DECL const std::string& write_entry_lua();

// KEYS: the entry. ARGV: the lease's holder. Gives up its lease (a load that failed, or whose
// result is not written). Returns 0.
CACHET_DECL const std::string& release_lease_source();

inline const resp3::script& release_lease_script() {
  static const resp3::script s{release_lease_source()};
  return s;
}

inline const resp3::script& read_entry_script() {
  static const resp3::script s{read_entry_lua()};
  return s;
}

inline const resp3::script& peek_entry_script() {
  static const resp3::script s{std::string(peek_entry_lua)};
  return s;
}

inline const resp3::script& write_entry_script() {
  static const resp3::script s{write_entry_lua()};
  return s;
}

}  // namespace cachet::detail

#if CACHET_INCLUDE_BODIES
#include <cachet/detail/redis/impl/store_entry.ipp>
#endif

#endif
