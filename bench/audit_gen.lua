-- ARGV: first seq, count, start time (ms), seed. Writes records first..first+count-1 in the
-- layout of gateway/audit.c and returns the last time (ms). Deterministic for a seed.
local first, count, t = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
math.randomseed(tonumber(ARGV[4]))
local P = 'tg:audit'
local seq, last = first - 1, first + count - 1
local function zipf(n) return math.floor(n ^ math.random()) end -- 1..n-1, small values popular
local function q(s) return s and ('"' .. s .. '"') or 'null' end
local function hex(n) return string.format('%064x', n) end
local function ts(ms) -- RFC 3339 with milliseconds (Redis' Lua has no os.date)
  local s, msec = math.floor(ms / 1000), ms % 1000
  local z, rem = math.floor(s / 86400) + 719468, s % 86400
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d, m = doy - math.floor((153 * mp + 2) / 5) + 1, mp < 10 and mp + 3 or mp - 9
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', yoe + era * 400 + (m <= 2 and 1 or 0), m, d,
    math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60, msec)
end
local function append(r)
  seq, t = seq + 1, t + math.random(0, 15000)
  local rec = '{"action":' .. q(r.action) .. ',"actor":' .. q(r.actor) .. ',"decision":' .. q(r.decision) ..
    ',"details":null,"environment":' .. q(r.env) .. ',"hash":"' .. hex(seq) .. '","pipeline":' ..
    (r.pipeline or 'null') .. ',"prev":"' .. hex(seq - 1) .. '","project":' .. q(r.project) ..
    ',"reasons":null,"ref":' .. q(r.ref) .. ',"seq":' .. seq .. ',"sha":' .. q(r.sha) .. ',"time":"' .. ts(t) .. '"}'
  redis.call('XADD', P, seq .. '-0', 'record', rec, 'hash', hex(seq))
  redis.call('ZADD', P .. ':idx:time', t, seq)
  local idx = {action = r.action, actor = r.actor, project = r.project, pipeline = r.pipeline, environment = r.env,
               sha = r.sha, ref = r.ref, project_ref = r.project and r.ref and (r.project .. ':' .. r.ref)}
  for kind, v in pairs(idx) do redis.call('ZADD', P .. ':idx:' .. kind .. ':' .. v, seq, seq) end
  redis.call('HSET', P .. ':head', 'seq', seq, 'hash', hex(seq), 'time', t)
end
local story
local function step(action, extra) -- a record about the story's pipeline (extra overrides)
  if seq >= last then return end
  local r = {action = action}
  for k, v in pairs(story) do r[k] = v end
  for k, v in pairs(extra or {}) do r[k] = v end
  append(r)
end
local function system(action) if seq < last then append({action = action, actor = 'system'}) end end
while seq < last do
  local k, b = zipf(200), math.random(100)
  local ref = b <= 35 and 'main' or b <= 60 and 'dev' or b <= 70 and ('release/1.' .. math.random(40))
    or ('feature/f' .. math.random(5000))
  local env = ref == 'main' and 'production' or (ref == 'dev' or ref:sub(1, 7) == 'release') and 'staging' or nil
  local pipeline = 100000 + seq
  story = {actor = 'gitlab:user' .. zipf(300), project = 'group' .. (k % 20) .. '/service' .. k, ref = ref,
           sha = string.format('%08x%08x%08x%08x%08x', math.random(0, 2^30), math.random(0, 2^30),
                               math.random(0, 2^30), math.random(0, 2^30), pipeline), pipeline = pipeline}
  step('received')
  if math.random(10) == 1 then system('duplicate') end
  if math.random(100) <= 2 then system(math.random(2) == 1 and 'rejected' or 'ignored') end
  if math.random(10) <= 7 then
    local verdict = not env and 'skip' or math.random(10) == 1 and 'block' or
      (env == 'production' and math.random(4) == 1) and 'needs_approval' or 'deploy'
    step('decided', {decision = verdict, env = env})
    if verdict == 'needs_approval' then
      step('approval_requested', {actor = 'system', env = env})
      local approver = 'approver' .. math.random(8)
      local outcome = math.random(10) <= 8 and 'approved' or math.random(2) == 1 and 'denied' or 'expired'
      step(outcome, {actor = outcome == 'expired' and 'system' or approver, env = env})
      verdict = outcome == 'approved' and 'deploy' or verdict
    end
    if verdict == 'deploy' and math.random(20) == 1 then
      step('trigger_failed', {actor = 'system', decision = 'deploy', env = env})
    end
    if verdict == 'deploy' then step('triggered', {actor = 'system', decision = 'deploy', env = env}) end
  end
end
return tostring(t)
