//! The Redis side of the queue: what one claim, or one batch of writes,
//! leaves in a queue's sets (`RedisQueue::claim`, `RedisQueue::apply`; both
//! send their writes to one set as one command, not one per id).

use chrono::{DateTime, Utc};
use conveyor_shared::queue::{Keys, QueueOp, RedisQueue};
use conveyor_shared::testing::TestEnv;
use redis::AsyncCommands;
use uuid::Uuid;

/// `apply` sends neighbouring writes to one set as one command; what lands
/// must be what the ops said, in their order.
#[tokio::test]
async fn a_batch_of_writes_lands_as_if_sent_one_by_one() {
    let env = TestEnv::new().await;
    let queue = RedisQueue::new(&env.redis_url, &env.prefix, 2).expect("redis");
    let now = Utc::now();
    let past = now - chrono::Duration::seconds(1);
    let later = now + chrono::Duration::hours(1);
    let [a, b, c, d, e] = [(); 5].map(|_| Uuid::now_v7());
    let enqueue = |id: Uuid, due: DateTime<Utc>| QueueOp::Enqueue {
        queue: "q".into(),
        id,
        priority: 5,
        due,
    };
    let remove = |id: Uuid| QueueOp::Remove {
        queue: "q".into(),
        id,
        priority: 5,
    };
    let ack = |id: Uuid| QueueOp::Ack {
        queue: "q".into(),
        id,
    };
    // In flight: a, b and c.
    let mut conn = queue.shared().await.expect("conn");
    for id in [a, b, c] {
        let _: () = conn
            .zadd(queue.keys().inflight("q"), id.to_string(), 1)
            .await
            .expect("zadd");
    }
    queue
        .apply(&[
            ack(a),
            ack(b),
            enqueue(a, past),
            enqueue(d, past),
            enqueue(e, later),
            // Removed after it was added: gone. Added after it was
            // removed: there.
            remove(d),
            remove(b),
            enqueue(b, past),
        ])
        .await
        .expect("apply");
    let members = |key: String| {
        let mut conn = conn.clone();
        async move {
            let mut m: Vec<String> = conn.zrange(key, 0, -1).await.expect("zrange");
            m.sort();
            m
        }
    };
    let sorted = |ids: &[Uuid]| {
        let mut m: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        m.sort();
        m
    };
    assert_eq!(members(queue.keys().inflight("q")).await, sorted(&[c]));
    assert_eq!(members(queue.keys().ready("q")).await, sorted(&[a, b]));
    assert_eq!(
        members(queue.keys().delayed("q")).await,
        vec![Keys::delayed_member(5, &e)]
    );
    env.cleanup().await;
}

/// A claim bigger than the script's chunk of 1,000 members: every due
/// delayed entry is promoted, the best ids are popped, and each one popped
/// is recorded in flight at the lease deadline.
#[tokio::test]
async fn a_claim_of_thousands_promotes_pops_and_records_every_id() {
    let env = TestEnv::new().await;
    let queue = RedisQueue::new(&env.redis_url, &env.prefix, 2).expect("redis");
    let now = Utc::now();
    let past = now - chrono::Duration::seconds(1);
    // 1,200 delayed entries now due, of the highest priority, and 2,000
    // ready ones of the default priority.
    let urgent: Vec<Uuid> = (0..1_200).map(|_| Uuid::now_v7()).collect();
    let plain: Vec<Uuid> = (0..2_000).map(|_| Uuid::now_v7()).collect();
    let mut conn = queue.shared().await.expect("conn");
    for chunk in urgent.chunks(500) {
        let items: Vec<(i64, String)> = chunk
            .iter()
            .map(|id| (past.timestamp_millis(), Keys::delayed_member(9, id)))
            .collect();
        let _: () = conn
            .zadd_multiple(queue.keys().delayed("q"), &items)
            .await
            .expect("delayed");
    }
    let ops: Vec<QueueOp> = plain
        .iter()
        .map(|id| QueueOp::Enqueue {
            queue: "q".into(),
            id: *id,
            priority: 5,
            due: past,
        })
        .collect();
    queue.apply(&ops).await.expect("ready");

    let deadline = now + chrono::Duration::seconds(30);
    let mut claimer = queue.conn().await.expect("conn");
    let claimed = queue
        .claim(&mut claimer, "q", 2_500, now, deadline)
        .await
        .expect("claim");
    let ids: Vec<Uuid> = claimed.ids.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 2_500);
    // Every urgent one first, then the plain ones in order of their score.
    assert_eq!(ids[..1_200].len(), urgent.len());
    assert!(urgent.iter().all(|id| ids[..1_200].contains(id)));
    assert!(ids[1_200..].iter().all(|id| plain.contains(id)));
    let delayed: u64 = conn.zcard(queue.keys().delayed("q")).await.expect("zcard");
    let ready: u64 = conn.zcard(queue.keys().ready("q")).await.expect("zcard");
    assert_eq!((delayed, ready), (0, 700));
    let in_flight: Vec<(String, f64)> = conn
        .zrange_withscores(queue.keys().inflight("q"), 0, -1)
        .await
        .expect("inflight");
    assert_eq!(in_flight.len(), 2_500);
    assert!(in_flight
        .iter()
        .all(|(_, score)| *score as i64 == deadline.timestamp_millis()));
    let mut recorded: Vec<String> = in_flight.into_iter().map(|(id, _)| id).collect();
    let mut popped: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    recorded.sort();
    popped.sort();
    assert_eq!(recorded, popped);
    env.cleanup().await;
}

/// Puts `id` in the ready set of queue `q`, due at `due`, as a submit does
/// (with its wake-up token).
async fn enqueue_ready(queue: &RedisQueue, id: Uuid, due: DateTime<Utc>) {
    queue
        .apply(&[QueueOp::Enqueue {
            queue: "q".into(),
            id,
            priority: 5,
            due,
        }])
        .await
        .expect("enqueue");
}

/// `wait_then_claim` (the claim loop's wait when it found nothing) blocks
/// until a job's wake-up, then claims it in the same round trip: the claims
/// are queued behind the `BLPOP`, so they run after the wait, not before.
#[tokio::test]
async fn a_woken_wait_claims_the_job_that_woke_it() {
    let env = TestEnv::new().await;
    let queue = RedisQueue::new(&env.redis_url, &env.prefix, 2).expect("redis");
    let mut conn = queue.conn().await.expect("conn");
    let now = Utc::now();
    let deadline = now + chrono::Duration::seconds(60);
    let waiting = {
        let queue = queue.clone();
        tokio::spawn(async move {
            queue
                .wait_then_claim(
                    &mut conn,
                    &["q".into(), "other".into()],
                    std::time::Duration::from_secs(10),
                    &[("q".into(), 5), ("other".into(), 5)],
                    now,
                    deadline,
                )
                .await
                .expect("wait and claim")
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the wait returned with nothing to wake it"
    );
    let id = Uuid::now_v7();
    enqueue_ready(&queue, id, now).await;
    let (woke, claimed) = waiting.await.expect("task");
    assert!(woke, "the job's wake-up ended the wait");
    let got: Vec<(String, Vec<Uuid>)> = claimed
        .into_iter()
        .map(|(q, c)| (q, c.ids.into_iter().map(|(id, _)| id).collect()))
        .collect();
    assert_eq!(
        got,
        vec![("q".to_owned(), vec![id]), ("other".to_owned(), vec![])]
    );
    let mut shared = queue.shared().await.expect("shared");
    let score: Option<i64> = shared
        .zscore(queue.keys().inflight("q"), id.to_string())
        .await
        .expect("zscore");
    assert_eq!(
        score,
        Some(deadline.timestamp_millis()),
        "in flight until the deadline given"
    );
    let ready: usize = shared.zcard(queue.keys().ready("q")).await.expect("zcard");
    assert_eq!(ready, 0);
    env.cleanup().await;
}

/// A wait given up by dropping its connection (the claim loop at shutdown)
/// leaves its queued claims unrun: a job that arrives afterwards stays
/// ready for another worker instead of sitting in flight until its lease
/// runs out.
#[tokio::test]
async fn a_wait_given_up_claims_nothing_afterwards() {
    let env = TestEnv::new().await;
    let queue = RedisQueue::new(&env.redis_url, &env.prefix, 2).expect("redis");
    let mut conn = queue.conn().await.expect("conn");
    let now = Utc::now();
    let wake = ["q".to_owned()];
    let claims = [("q".to_owned(), 5)];
    let wait = queue.wait_then_claim(
        &mut conn,
        &wake,
        std::time::Duration::from_secs(1),
        &claims,
        now,
        now + chrono::Duration::seconds(60),
    );
    tokio::select! {
        _ = wait => panic!("the wait ended with nothing to wake it"),
        _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
    }
    conveyor_shared::queue::discard(conn);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let id = Uuid::now_v7();
    enqueue_ready(&queue, id, now).await;
    // Past the abandoned BLPOP's own timeout.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mut shared = queue.shared().await.expect("shared");
    let ready: Vec<String> = shared
        .zrange(queue.keys().ready("q"), 0, -1)
        .await
        .expect("zrange");
    assert_eq!(ready, vec![id.to_string()]);
    let in_flight: usize = shared
        .zcard(queue.keys().inflight("q"))
        .await
        .expect("zcard");
    assert_eq!(in_flight, 0);
    env.cleanup().await;
}

/// The rebuild after Redis lost its data puts running jobs back in flight
/// with their lease deadlines (the leader's reclaim starts from them), keeps
/// a deadline the heartbeat already pushed on, and lists the queue.
#[tokio::test]
async fn restoring_in_flight_entries_adds_the_missing_ones_and_keeps_the_others() {
    let env = TestEnv::new().await;
    let queue = RedisQueue::new(&env.redis_url, &env.prefix, 2).expect("redis");
    let key = queue.keys().inflight("q");
    let mut conn = queue.shared().await.expect("conn");
    let [renewed, lost_a, lost_b] = [(); 3].map(|_| Uuid::now_v7());
    let deadline = Utc::now() + chrono::Duration::seconds(4);
    let pushed_on = deadline + chrono::Duration::seconds(30);
    let _: () = conn
        .zadd(&key, renewed.to_string(), pushed_on.timestamp_millis())
        .await
        .expect("zadd");

    let added = queue
        .restore_inflight(
            "q",
            &[(renewed, deadline), (lost_a, deadline), (lost_b, deadline)],
        )
        .await
        .expect("restore_inflight");

    assert_eq!(added, 2);
    let score = |id: Uuid| {
        let (key, mut conn) = (key.clone(), conn.clone());
        async move {
            let score: Option<i64> = conn.zscore(key, id.to_string()).await.expect("zscore");
            score
        }
    };
    assert_eq!(score(renewed).await, Some(pushed_on.timestamp_millis()));
    assert_eq!(score(lost_a).await, Some(deadline.timestamp_millis()));
    assert_eq!(score(lost_b).await, Some(deadline.timestamp_millis()));
    let queues: Vec<String> = conn
        .smembers(queue.keys().queues())
        .await
        .expect("smembers");
    assert_eq!(queues, vec!["q".to_owned()]);
    assert_eq!(queue.restore_inflight("q", &[]).await.expect("empty"), 0);
}
