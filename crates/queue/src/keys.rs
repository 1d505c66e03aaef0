//! Every Redis key clerk-sync uses, built from the prefix in one place under one hash tag.

/// The consumer group every worker joins.
pub const CONSUMER_GROUP: &str = "workers";

/// Builds every key from the prefix, in one place, so no caller spells a key by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    tag: String,
}

impl Keys {
    /// Keys under `{prefix}`. The prefix is validated at start (no braces, no spaces).
    pub fn new(prefix: &str) -> Self {
        Self {
            tag: format!("{{{prefix}}}"),
        }
    }

    /// `{prefix}:events`: the stream workers consume.
    pub fn events(&self) -> String {
        format!("{}:events", self.tag)
    }

    /// `{prefix}:dlq`: the dead-letter stream.
    pub fn dlq(&self) -> String {
        format!("{}:dlq", self.tag)
    }

    /// `{prefix}:dlq:index`: a sorted set indexing the dead letters by group, type,
    /// reason, svix_id and object id (see `scripts/dlq_index.lua`).
    pub fn dlq_index(&self) -> String {
        format!("{}:dlq:index", self.tag)
    }

    /// `{prefix}:dlq:groups`: a hash of `<type>\n<reason>` to that group's dead letters.
    pub fn dlq_groups(&self) -> String {
        format!("{}:dlq:groups", self.tag)
    }

    /// `{prefix}:dlq:recent`: the last hour's dead letters' ids, scored by the ms each was
    /// dead-lettered at, for a per-minute count.
    pub fn dlq_recent(&self) -> String {
        format!("{}:dlq:recent", self.tag)
    }

    /// `{prefix}:retry`: events waiting for their next attempt, scored by due time in ms.
    pub fn retry(&self) -> String {
        format!("{}:retry", self.tag)
    }

    /// `{prefix}`, the hash tag every key starts with.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// `{prefix}:seen:<svix-id>`: the duplicate guard of one message as receivers of earlier
    /// versions wrote it (a string with a TTL). Still honoured until it expires.
    pub fn seen(&self, svix_id: &str) -> String {
        format!("{}:seen:{svix_id}", self.tag)
    }

    /// A pattern matching the duplicate guard's keys: `{prefix}:guard:<window>` counts a
    /// window's ids, and the hashes `{prefix}:guard:<window>:h<hex>` hold them.
    pub fn guard_pattern(&self) -> String {
        format!("{}:guard:*", self.tag)
    }

    /// `{prefix}:reconcile`: a hash of the last reconciliation (when it started and ended,
    /// what it found) and the checkpoint an interrupted one resumes from.
    pub fn reconcile(&self) -> String {
        format!("{}:reconcile", self.tag)
    }

    /// `{prefix}:backfill`: a hash of the checkpoint an interrupted backfill resumes from.
    pub fn backfill(&self) -> String {
        format!("{}:backfill", self.tag)
    }

    /// A pattern matching every key of this prefix, for SCAN.
    pub fn pattern(&self) -> String {
        format!("{}:*", self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_shares_one_hash_tag() {
        let keys = Keys::new("clerk");
        assert_eq!(keys.events(), "{clerk}:events");
        assert_eq!(keys.dlq(), "{clerk}:dlq");
        assert_eq!(keys.retry(), "{clerk}:retry");
        assert_eq!(keys.seen("msg_1"), "{clerk}:seen:msg_1");
    }
}
