//! Redis operations of the housekeeping leader: its lease, restoring lost
//! entries, and scanning sets for stale ones.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{RedisQueue, WAKE_CAP};

pub(super) struct Scripts {
    leader: redis::Script,
    release: redis::Script,
    restore: redis::Script,
    reconciled: redis::Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            leader: redis::Script::new(include_str!("leader.lua")),
            release: redis::Script::new(include_str!("release.lua")),
            restore: redis::Script::new(include_str!("restore.lua")),
            reconciled: redis::Script::new(include_str!("reconciled.lua")),
        }
    }
}

impl Clone for Scripts {
    fn clone(&self) -> Self {
        Self::new()
    }
}

/// The state of the leader lease after an attempt to hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    /// This worker just became leader.
    Acquired,
    /// This worker was and still is leader.
    Renewed,
    /// Another worker holds the lease.
    Follower,
}

impl RedisQueue {
    /// Takes or renews the housekeeping lease for `ttl_ms`. Also says whether
    /// the reconcile sentinel is present (absent: Redis lost its data).
    pub async fn hold_leadership(
        &self,
        me: &str,
        ttl_ms: u64,
    ) -> anyhow::Result<(Leadership, bool)> {
        let mut conn = self.conn().await?;
        let (state, sentinel): (i64, i64) = self
            .scripts
            .leader
            .key(self.keys.leader())
            .key(self.keys.sentinel())
            .arg(me)
            .arg(ttl_ms)
            .invoke_async(&mut *conn)
            .await?;
        let leadership = match state {
            2 => Leadership::Acquired,
            1 => Leadership::Renewed,
            _ => Leadership::Follower,
        };
        Ok((leadership, sentinel == 1))
    }

    /// Gives the lease up (at shutdown), if this worker holds it.
    pub async fn release_leadership(&self, me: &str) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        let _: i64 = self
            .scripts
            .release
            .key(self.keys.leader())
            .arg(me)
            .invoke_async(&mut *conn)
            .await?;
        Ok(())
    }

    /// Notes that a full reconcile covering PostgreSQL up to `from` starts.
    pub async fn begin_full_reconcile(&self, from: DateTime<Utc>) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        redis::cmd("SET")
            .arg(self.keys.reconciling())
            .arg(from.timestamp_millis())
            .query_async::<()>(&mut *conn)
            .await?;
        Ok(())
    }

    /// Records that a reconcile begun at `from` finished: the sentinel then
    /// holds `from`. A full reconcile sets the sentinel only if Redis kept its
    /// `reconciling` mark meanwhile (no flush while it ran); a quick one only
    /// moves a sentinel that exists. Returns whether the sentinel was set.
    pub async fn mark_reconciled(&self, from: DateTime<Utc>, full: bool) -> anyhow::Result<bool> {
        let mut conn = self.conn().await?;
        let set: i64 = self
            .scripts
            .reconciled
            .key(self.keys.sentinel())
            .key(self.keys.reconciling())
            .arg(from.timestamp_millis())
            .arg(u8::from(full))
            .invoke_async(&mut *conn)
            .await?;
        Ok(set == 1)
    }

    /// Sets the sentinel to `from` if it is absent, for a caller that saw
    /// PostgreSQL hold no live job after `from`: Redis then lacks nothing
    /// that was waiting at `from`, and the quick reconciles that follow
    /// cover what came later. Never moves a sentinel that exists. Returns
    /// whether it was set.
    pub async fn vouch_for_nothing_live(&self, from: DateTime<Utc>) -> anyhow::Result<bool> {
        let mut conn = self.conn().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(self.keys.sentinel())
            .arg(from.timestamp_millis())
            .arg("NX")
            .query_async(&mut *conn)
            .await?;
        Ok(set.is_some())
    }

    /// Up to when the last reconcile covered PostgreSQL, if Redis says so.
    pub async fn reconciled_through(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let mut conn = self.conn().await?;
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.keys.sentinel())
            .query_async(&mut *conn)
            .await?;
        Ok(raw
            .and_then(|r| r.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis))
    }

    /// In-flight ids of each of `queues` whose lease deadline is before
    /// `now` (at most `limit` a queue, in the order of `queues`), in one
    /// round trip: claims whose worker never started them or never said how
    /// they ended.
    pub async fn expired_inflight(
        &self,
        queues: &[&str],
        now: DateTime<Utc>,
        limit: usize,
    ) -> anyhow::Result<Vec<Vec<String>>> {
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for queue in queues {
            pipe.cmd("ZRANGEBYSCORE")
                .arg(self.keys.inflight(queue))
                .arg("-inf")
                .arg(now.timestamp_millis())
                .arg("LIMIT")
                .arg(0)
                .arg(limit);
        }
        let mut conn = self.conn().await?;
        Ok(pipe.query_async(&mut *conn).await?)
    }

    /// Adds the waiting `jobs` (id, priority, due) of `queue` that Redis does
    /// not hold; wakes workers for them. Returns how many were added.
    pub async fn restore(
        &self,
        queue: &str,
        jobs: &[(Uuid, u8, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> anyhow::Result<u64> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        let mut invocation = self.scripts.restore.prepare_invoke();
        invocation
            .key(self.keys.ready(queue))
            .key(self.keys.delayed(queue))
            .key(self.keys.inflight(queue))
            .arg(now.timestamp_millis());
        for (id, priority, due) in jobs {
            invocation
                .arg(id.to_string())
                .arg(*priority)
                .arg(due.timestamp_millis());
        }
        let added: u64 = invocation.invoke_async(&mut *conn).await?;
        let key = self.keys.wake(queue);
        let tokens = vec!["1"; (added as usize).min(WAKE_CAP as usize)];
        let mut pipe = redis::pipe();
        if !tokens.is_empty() {
            pipe.lpush(&key, tokens).ignore();
            pipe.ltrim(&key, 0, WAKE_CAP - 1).ignore();
        }
        pipe.sadd(self.keys.queues(), queue).ignore();
        pipe.query_async::<()>(&mut *conn).await?;
        Ok(added)
    }

    /// Records the running `jobs` (id, lease deadline) of `queue` in its
    /// in-flight set where Redis lacks them (`ZADD NX`: a deadline the
    /// heartbeat pushed on is kept), so that the leader's reclaim finds them
    /// if their worker is gone. Returns how many were added.
    pub async fn restore_inflight(
        &self,
        queue: &str,
        jobs: &[(Uuid, DateTime<Utc>)],
    ) -> anyhow::Result<u64> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn().await?;
        let mut add = redis::cmd("ZADD");
        add.arg(self.keys.inflight(queue)).arg("NX");
        for (id, deadline) in jobs {
            add.arg(deadline.timestamp_millis()).arg(id.to_string());
        }
        // The `SADD` is ignored, so the pipeline answers one value.
        let (added,): (u64,) = redis::pipe()
            .add_command(add)
            .sadd(self.keys.queues(), queue)
            .ignore()
            .query_async(&mut *conn)
            .await?;
        Ok(added)
    }

    /// Sets or clears the paused flag of `queue`; on resume, wakes idle
    /// workers so waiting jobs start at once.
    pub async fn set_paused(&self, queue: &str, paused: bool) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        if paused {
            pipe.set(self.keys.paused(queue), "1").ignore();
        } else {
            let key = self.keys.wake(queue);
            pipe.del(self.keys.paused(queue)).ignore();
            pipe.lpush(&key, vec!["1"; 16]).ignore();
            pipe.ltrim(&key, 0, WAKE_CAP - 1).ignore();
        }
        pipe.query_async::<()>(&mut *conn).await?;
        Ok(())
    }

    /// The ids in flight in `queue`, or in every queue: the running jobs,
    /// at most the workers' slots (and claims whose worker has not yet
    /// written them to PostgreSQL, or never will).
    pub async fn inflight_ids(&self, queue: Option<&str>) -> anyhow::Result<Vec<Uuid>> {
        let queues = match queue {
            Some(queue) => vec![queue.to_owned()],
            None => self.queue_names().await?,
        };
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for queue in &queues {
            pipe.zrange(self.keys.inflight(queue), 0, -1);
        }
        let mut conn = self.conn().await?;
        let members: Vec<Vec<String>> = pipe.query_async(&mut *conn).await?;
        Ok(members
            .iter()
            .flatten()
            .filter_map(|m| Uuid::parse_str(m).ok())
            .collect())
    }

    /// Every queue name that ever held a job in this Redis.
    pub async fn queue_names(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self.conn().await?;
        Ok(redis::cmd("SMEMBERS")
            .arg(self.keys.queues())
            .query_async(&mut *conn)
            .await?)
    }

    /// One step of a ZSCAN over `key`: the next cursor (0 when done) and members.
    pub async fn scan(&self, key: &str, cursor: u64) -> anyhow::Result<(u64, Vec<String>)> {
        let mut conn = self.conn().await?;
        let (next, flat): (u64, Vec<String>) = redis::cmd("ZSCAN")
            .arg(key)
            .arg(cursor)
            .arg("COUNT")
            .arg(500)
            .query_async(&mut *conn)
            .await?;
        // ZSCAN answers member, score, member, score …
        Ok((next, flat.into_iter().step_by(2).collect()))
    }

    /// Removes `members` from the sorted set `key`.
    pub async fn remove(&self, key: &str, members: &[String]) -> anyhow::Result<()> {
        if members.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        redis::cmd("ZREM")
            .arg(key)
            .arg(members)
            .query_async::<()>(&mut *conn)
            .await?;
        Ok(())
    }
}
