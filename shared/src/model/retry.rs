//! Retry backoff.

use std::time::Duration;

use super::Backoff;

/// The delay before the next attempt after `attempt` (1-based) failed.
///
/// Exponential with full jitter inside `[base, min(max, base * 2^(attempt-1))]`;
/// `unit` is a uniform draw from `[0, 1)`, passed in so tests are exact.
pub fn backoff_delay(backoff: Backoff, attempt: i32, unit: f64) -> Duration {
    let base = u64::try_from(backoff.base_ms).unwrap_or(0);
    let max = u64::try_from(backoff.max_ms).unwrap_or(0).max(base);
    let shift = u32::try_from(attempt.saturating_sub(1).clamp(0, 40)).unwrap_or(0);
    let ceiling = base.saturating_mul(1u64 << shift).min(max);
    let span = ceiling.saturating_sub(base) as f64;
    let jitter = (span * unit.clamp(0.0, 1.0)) as u64;
    Duration::from_millis(base + jitter.min(ceiling - base))
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        base_ms: 100,
        max_ms: 1_000,
    };

    #[test]
    fn first_retry_waits_exactly_base() {
        assert_eq!(backoff_delay(B, 1, 0.99), Duration::from_millis(100));
    }

    #[test]
    fn ceiling_doubles_per_attempt_and_is_capped() {
        assert_eq!(backoff_delay(B, 2, 0.999_999), Duration::from_millis(199));
        assert_eq!(backoff_delay(B, 3, 0.5), Duration::from_millis(250));
        assert_eq!(backoff_delay(B, 30, 0.999_999), Duration::from_millis(999));
        assert_eq!(backoff_delay(B, 30, 0.0), Duration::from_millis(100));
    }
}
