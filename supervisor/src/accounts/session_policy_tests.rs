use super::*;

const IDLE: Duration = Duration::from_secs(15);

struct T {
    table: Table,
    t0: Instant,
    policy: LimitPolicy,
}

impl T {
    fn new(policy: LimitPolicy) -> T {
        T {
            table: Table::default(),
            t0: Instant::now(),
            policy,
        }
    }

    /// A request at `at` seconds.
    fn req(&mut self, at: u64, user: &str, ch: &str, client: &str, limit: Option<u32>) -> Outcome {
        let now = self.t0 + Duration::from_secs(at);
        self.table
            .request(user, ch, client, limit, self.policy, IDLE, now, 1000 + at)
    }

    fn list(&self, at: u64) -> Vec<(String, String, String)> {
        self.table
            .list(None, IDLE, self.t0 + Duration::from_secs(at))
            .into_iter()
            .map(|s| (s.user, s.channel, s.client))
            .collect()
    }
}

fn opened() -> Outcome {
    Outcome::Opened { ended: Vec::new() }
}

fn key(user: &str, ch: &str, client: &str) -> Key {
    Key {
        user: user.into(),
        channel: ch.into(),
        client: client.into(),
    }
}

#[test]
fn policies_parse() {
    assert_eq!(LimitPolicy::parse("refuse-new"), Ok(LimitPolicy::RefuseNew));
    assert_eq!(LimitPolicy::parse("end-oldest"), Ok(LimitPolicy::EndOldest));
    assert!(LimitPolicy::parse("kick").is_err());
}

#[test]
fn refuse_new_refuses_a_second_client_and_keeps_the_first() {
    let mut t = T::new(LimitPolicy::RefuseNew);
    assert_eq!(t.req(0, "u", "1", "A", Some(1)), opened());
    assert_eq!(t.req(1, "u", "1", "A", Some(1)), Outcome::Refreshed);
    let Outcome::Refused(why) = t.req(2, "u", "1", "B", Some(1)) else {
        panic!("B was let in");
    };
    assert_eq!(why, "connection limit reached: user u allows 1 (has 1)");
    assert_eq!(t.req(3, "u", "1", "A", Some(1)), Outcome::Refreshed);
    // Another user is not counted.
    assert_eq!(t.req(3, "v", "1", "B", Some(1)), opened());
    // Once A is idle, B gets in.
    assert_eq!(t.req(3 + 15, "u", "1", "B", Some(1)), opened());
    assert_eq!(t.list(18), [("u".into(), "1".into(), "B".into())]);
}

#[test]
fn end_oldest_ends_the_first_session_and_keeps_it_out() {
    let mut t = T::new(LimitPolicy::EndOldest);
    assert_eq!(t.req(0, "u", "1", "A", Some(1)), opened());
    assert_eq!(
        t.req(1, "u", "2", "B", Some(1)),
        Outcome::Opened {
            ended: vec![key("u", "1", "A")]
        }
    );
    // A retrying is refused, on any channel, and does not end B in turn.
    for (at, ch) in [(2, "1"), (10, "2"), (20, "1")] {
        let Outcome::Refused(why) = t.req(at, "u", ch, "A", Some(1)) else {
            panic!("A came back at {at}");
        };
        assert!(why.ends_with("ended for a newer one"), "{why}");
        // B keeps watching.
        assert_eq!(t.req(at, "u", "2", "B", Some(1)), Outcome::Refreshed);
    }
    // B stops; once B is idle there is room and A is let back.
    assert_eq!(t.req(20 + 15, "u", "1", "A", Some(1)), opened());
}

#[test]
fn end_oldest_with_a_limit_of_two_ends_the_one_that_started_first() {
    let mut t = T::new(LimitPolicy::EndOldest);
    t.req(0, "u", "1", "A", Some(2));
    t.req(1, "u", "1", "B", Some(2));
    // A is refreshed later but started first: A goes.
    t.req(2, "u", "1", "A", Some(2));
    assert_eq!(
        t.req(3, "u", "3", "C", Some(2)),
        Outcome::Opened {
            ended: vec![key("u", "1", "A")]
        }
    );
    assert_eq!(t.table.active("u", IDLE, t.t0 + Duration::from_secs(3)), 2);
}

#[test]
fn zapping_replaces_the_clients_session() {
    let mut t = T::new(LimitPolicy::RefuseNew);
    assert_eq!(t.req(0, "u", "1", "A", Some(1)), opened());
    assert_eq!(
        t.req(1, "u", "2", "A", Some(1)),
        Outcome::Replaced { from: "1".into() }
    );
    assert_eq!(t.list(1), [("u".into(), "2".into(), "A".into())]);
    assert_eq!(t.table.active("u", IDLE, t.t0 + Duration::from_secs(1)), 1);
}

#[test]
fn idle_sessions_expire() {
    let mut t = T::new(LimitPolicy::RefuseNew);
    t.req(0, "u", "1", "A", None);
    t.req(10, "u", "1", "B", None);
    assert_eq!(t.list(14).len(), 2);
    assert_eq!(t.list(15), [("u".into(), "1".into(), "B".into())]);
    t.table.expire(IDLE, t.t0 + Duration::from_secs(30));
    assert_eq!(t.table.count, 0);
    assert!(t.table.live.is_empty());
}

#[test]
fn unlimited_users_are_tracked_and_never_refused() {
    let mut t = T::new(LimitPolicy::RefuseNew);
    for c in 0..50 {
        assert_eq!(t.req(0, "u", "1", &format!("c{c}"), None), opened());
    }
    assert_eq!(t.table.active("u", IDLE, t.t0), 50);
}

#[test]
fn operator_end_keeps_the_client_out_while_it_retries() {
    let mut t = T::new(LimitPolicy::RefuseNew);
    t.req(0, "u", "1", "A", Some(2));
    t.req(0, "u", "2", "B", Some(2));
    t.req(0, "w", "1", "A", Some(2));
    assert_eq!(
        t.table
            .end("u", Some("1"), None, IDLE, t.t0 + Duration::from_secs(1)),
        [key("u", "1", "A")]
    );
    // Only u's session on channel 1 ended.
    assert_eq!(t.list(1).len(), 2);
    // A is refused although there is room, while it keeps asking...
    for at in [2, 12, 22] {
        let Outcome::Refused(why) = t.req(at, "u", "1", "A", Some(2)) else {
            panic!("A came back at {at}");
        };
        assert!(why.ends_with("ended by the operator"), "{why}");
    }
    // ...and let in after a quiet idle time.
    assert_eq!(t.req(22 + 15, "u", "1", "A", Some(2)), opened());
    // Ending everything of a user.
    let n = t
        .table
        .end("u", None, None, IDLE, t.t0 + Duration::from_secs(37));
    assert_eq!(n.len(), 1);
    assert!(t.table.end("nobody", None, None, IDLE, t.t0).is_empty());
}

#[test]
fn listing_is_sorted_and_filtered() {
    let mut t = T::new(LimitPolicy::RefuseNew);
    t.req(0, "b", "2", "x", None);
    t.req(0, "a", "9", "y", None);
    t.req(0, "a", "1", "z", None);
    assert_eq!(
        t.list(0),
        [
            ("a".into(), "1".into(), "z".into()),
            ("a".into(), "9".into(), "y".into()),
            ("b".into(), "2".into(), "x".into())
        ]
    );
    let only_b = t.table.list(Some("b"), IDLE, t.t0);
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0].started, 1000);
}

#[test]
fn the_table_is_bounded() {
    let mut t = T::new(LimitPolicy::RefuseNew);
    // Many users (each within MAX_UNLIMITED_SESSIONS).
    for c in 0..MAX_SESSIONS {
        t.req(0, &format!("u{}", c / 1000), "1", &c.to_string(), None);
    }
    let Outcome::Refused(why) = t.req(0, "x", "1", "one-more", Some(3)) else {
        panic!("unbounded");
    };
    assert!(why.contains("at most"), "{why}");
    // Existing sessions still refresh.
    assert_eq!(t.req(1, "u0", "1", "7", None), Outcome::Refreshed);
}

#[test]
fn an_unlimited_user_cannot_fill_the_table() {
    let mut t = T::new(LimitPolicy::RefuseNew);
    for i in 0..MAX_UNLIMITED_SESSIONS + 10 {
        assert_eq!(t.req(0, "u", "1", &format!("c{i}"), None), opened());
    }
    let mine = t.list(0).iter().filter(|(u, _, _)| u == "u").count();
    assert_eq!(mine, MAX_UNLIMITED_SESSIONS);
    // The ones seen longest ago went (ties go by key: c0 first).
    assert!(t.list(0).iter().any(|(_, _, c)| c == "c1033"));
    assert!(!t.list(0).iter().any(|(_, _, c)| c == "c0"));
}
