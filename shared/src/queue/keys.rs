//! Every Redis key and channel name, built in one place.
//!
//! One queue's keys share the hash tag `{<queue>}`, so they live on one slot
//! of a Redis Cluster and a Lua script may touch them together.

/// Builds key names under a prefix (`conveyor` by default; tests use their own).
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Ids due now, by priority then due time.
    pub fn ready(&self, queue: &str) -> String {
        format!("{}:{{{queue}}}:ready", self.prefix)
    }

    /// `<priority>|<id>` entries due later, by due time.
    pub fn delayed(&self, queue: &str) -> String {
        format!("{}:{{{queue}}}:delayed", self.prefix)
    }

    /// Ids being run, by lease deadline.
    pub fn inflight(&self, queue: &str) -> String {
        format!("{}:{{{queue}}}:inflight", self.prefix)
    }

    /// Present while the queue is paused.
    pub fn paused(&self, queue: &str) -> String {
        format!("{}:{{{queue}}}:paused", self.prefix)
    }

    /// Wake-up tokens: idle workers block on this list.
    pub fn wake(&self, queue: &str) -> String {
        format!("{}:{{{queue}}}:wake", self.prefix)
    }

    /// The pub/sub channel of status events.
    pub fn events(&self) -> String {
        format!("{}:events", self.prefix)
    }

    /// The pub/sub channel of cancelled job ids (a JSON array per message):
    /// what workers listen to, so that they do not decode every event.
    pub fn cancels(&self) -> String {
        format!("{}:cancels", self.prefix)
    }

    /// The set of queue names that have ever held a job.
    pub fn queues(&self) -> String {
        format!("{}:queues", self.prefix)
    }

    /// The housekeeping leader lease.
    pub fn leader(&self) -> String {
        format!("{}:leader", self.prefix)
    }

    /// Present while Redis holds what the reconciler last put there; holds
    /// the time (ms) up to which the reconciler has covered PostgreSQL.
    pub fn sentinel(&self) -> String {
        format!("{}:reconciled", self.prefix)
    }

    /// Present while a full reconcile runs; a flush in the meantime removes
    /// it, so the reconcile does not set the sentinel over data it missed.
    pub fn reconciling(&self) -> String {
        format!("{}:reconciling", self.prefix)
    }

    /// The member of a delayed entry.
    pub fn delayed_member(priority: u8, id: &uuid::Uuid) -> String {
        format!("{priority}|{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_queue_share_a_hash_tag() {
        let keys = Keys::new("conveyor");
        assert_eq!(keys.ready("emails"), "conveyor:{emails}:ready");
        assert_eq!(keys.delayed("emails"), "conveyor:{emails}:delayed");
        assert_eq!(keys.inflight("emails"), "conveyor:{emails}:inflight");
    }
}
