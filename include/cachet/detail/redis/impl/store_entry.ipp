#ifndef CACHET_DETAIL_REDIS_IMPL_STORE_ENTRY_IPP
#define CACHET_DETAIL_REDIS_IMPL_STORE_ENTRY_IPP

// Bodies of <cachet/detail/redis/store_entry.hpp>; see <cachet/detail/linkage.hpp>.

#include <cachet/detail/redis/store_entry.hpp>

namespace cachet::detail {

CACHET_DECL const std::string& read_entry_lua() {
  static const std::string source = std::string(stamp_lua) + R"lua(
local mode, now, token, window, base = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5]
local e = redis.pcall('HMGET', KEYS[1], 'v', 'g', 'f', 'p')
if e.err then return {2} end
local expected = stamp(2, base, token)
if not expected then return {2} end
local why = 'missing'
if e[1] and e[2] then
  if e[2] ~= expected then
    why = 'invalidated'
  elseif e[3] and not tonumber(e[3]) then
    why = 'malformed'
  elseif e[3] and tonumber(e[3]) <= now then
    why = 'expired'
  elseif mode == 'load' then
    if ARGV[8] == '1' then return {1, e[1], e[3] or '', redis.call('PTTL', KEYS[1])} end
    return {1, e[1], e[3] or ''}
  else
    why = 'unreadable'
  end
end
local existed = e[1] or e[2] or e[3] or e[4]
local permit = e[4]
if not permit then
  permit = token
  redis.call('HSET', KEYS[1], 'p', permit)
end
local lease = ''
local lease_ms = tonumber(ARGV[6])
if lease_ms and lease_ms > 0 then
  local held = redis.call('HGET', KEYS[1], 'l')
  local held_until, holder
  if held then held_until, holder = string.match(held, '^(%d+):(.*)$') end
  held_until = tonumber(held_until)
  if held_until and held_until > now and holder ~= ARGV[7] then
    lease = string.format('%d', held_until)
  else
    redis.call('HSET', KEYS[1], 'l', string.format('%d', now + lease_ms) .. ':' .. ARGV[7])
    lease = 'mine'
  end
end
local ttl = redis.call('PTTL', KEYS[1])
if not existed or (ttl >= 0 and ttl < window) then redis.call('PEXPIRE', KEYS[1], window) end
return {0, expected, permit, why, lease}
)lua";
  return source;
}

CACHET_DECL const std::string& write_entry_lua() {
  static const std::string source = std::string(stamp_lua) + std::string(release_lease_lua) +
                                    R"lua(
local permit = redis.pcall('HGET', KEYS[1], 'p')
if type(permit) == 'table' or permit ~= ARGV[1] then
  release_lease(ARGV[7])
  return 0
end
if stamp(2, ARGV[6], nil) ~= ARGV[2] then
  release_lease(ARGV[7])
  return 0
end
redis.call('DEL', KEYS[1])
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[3], 'g', ARGV[2])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[3], 'g', ARGV[2], 'f', ARGV[4])
end
if ARGV[5] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
)lua";
  return source;
}

CACHET_DECL const std::string& release_lease_source() {
  static const std::string source = std::string(release_lease_lua) + R"lua(
release_lease(ARGV[1])
return 0
)lua";
  return source;
}

}  // namespace cachet::detail

#endif
