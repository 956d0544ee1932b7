//! The limits on Redis: one Lua script takes all of a call's limits atomically (Redis runs a
//! script alone), so every node sees the same counts and two nodes can never both take the
//! last slot. Windows are hashes of second → amount (stale seconds deleted as they are read);
//! calls in flight are a sorted set of request ids scored by when their hold lapses. Time is
//! Redis's own clock, so nodes' clocks need not agree.

use super::{Denied, Kind, Limit, Taken, Usage};
use crate::shared_state::{RedisDown, SharedRedis};
use std::sync::LazyLock;

const TAKE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1])
local now_ms = now * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
local hold_ms = tonumber(ARGV[3])
local out = {1, now}
for i, key in ipairs(KEYS) do
  local base = 3 + (i - 1) * 3
  local kind, max, amount = ARGV[base + 1], tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local used, oldest = 0, -1
  if kind == 'p' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)
    used = redis.call('ZCARD', key)
  else
    local fields = redis.call('HGETALL', key)
    for j = 1, #fields, 2 do
      local sec = tonumber(fields[j])
      if sec > now - window and sec <= now then
        local n = tonumber(fields[j + 1])
        if n > 0 then
          used = used + n
          if oldest < 0 or sec < oldest then oldest = sec end
        end
      else
        redis.call('HDEL', key, fields[j])
      end
    end
  end
  local over
  if kind == 't' then over = used >= max else over = used + amount > max end
  if over then return {0, now, i, used, oldest} end
  table.insert(out, used)
  table.insert(out, oldest)
end
for i, key in ipairs(KEYS) do
  local base = 3 + (i - 1) * 3
  local kind, amount = ARGV[base + 1], tonumber(ARGV[base + 3])
  if kind == 'p' then
    redis.call('ZADD', key, now_ms + hold_ms, ARGV[1])
    redis.call('PEXPIRE', key, hold_ms + 1000)
  elseif amount > 0 then
    redis.call('HINCRBY', key, now, amount)
    redis.call('EXPIRE', key, window + 1)
  end
end
return out
"#;

static TAKE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(TAKE));

/// Runs the script: `Ok(Ok)` taken, `Ok(Err)` refused, `Err` Redis unavailable.
pub async fn take(
    redis: &SharedRedis,
    request_id: &str,
    limits: &[Limit],
    amounts: &[u64],
    hold_ms: u64,
) -> Result<Result<Taken, Denied>, RedisDown> {
    let mut invocation = TAKE_SCRIPT.prepare_invoke();
    invocation
        .arg(request_id)
        .arg(super::window::WINDOW_SECS)
        .arg(hold_ms.max(1000));
    for (limit, amount) in limits.iter().zip(amounts) {
        invocation
            .key(limit.key())
            .arg(limit.kind.letter())
            .arg(limit.max)
            .arg(*amount);
    }
    let reply: Vec<i64> = redis
        .run(|mut conn| async move { invocation.invoke_async(&mut conn).await })
        .await?;
    let at = |i: usize| reply.get(i).copied().unwrap_or(0);
    let now = at(1).max(0) as u64;
    let usage = |used: i64, oldest: i64| Usage {
        used: used.max(0) as u64,
        oldest: (oldest >= 0).then_some(oldest as u64),
    };
    if at(0) == 0 {
        let index = (at(2).max(1) - 1) as usize;
        let Some(limit) = limits.get(index) else {
            return Err(RedisDown::Failed("unexpected limit script reply".into()));
        };
        return Ok(Err(Denied::Over {
            limit: limit.clone(),
            usage: usage(at(3), at(4)),
            now,
        }));
    }
    let entries = limits
        .iter()
        .zip(amounts)
        .enumerate()
        .map(|(i, (limit, amount))| (limit.clone(), usage(at(2 + 2 * i), at(3 + 2 * i)), *amount))
        .collect();
    Ok(Ok(Taken {
        entries,
        at: now,
        request_id: request_id.to_string(),
        on_redis: true,
    }))
}

/// Gives back a finished call's slot in flight and corrects its token count, in one pipeline.
/// Best effort: a lost correction is bounded (the hold lapses, the window slides on).
pub async fn settle(redis: &SharedRedis, request_id: &str, at: u64, corrections: &[(Limit, i64)]) {
    let mut pipe = redis::pipe();
    for (limit, delta) in corrections {
        match limit.kind {
            Kind::Parallel => {
                pipe.zrem(limit.key(), request_id).ignore();
            }
            _ => {
                pipe.hincr(limit.key(), at, *delta).ignore();
            }
        }
    }
    let _ = redis
        .run(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
        .await;
}
