//! What `stream_autostart_metrics` answers: the module's families (from a
//! snapshot of every worker's counters) in Prometheus' text exposition
//! format 0.0.4, then whether the supervisor answered, then the
//! supervisor's own families as it sent them. Pure.

use shared::prom_text::Exposition;
use shared::protocol::{ErrorCode, Reply};

use crate::call_error::CallError;
use crate::metrics_counters::{CallClass, HistogramSnapshot, Snapshot, CALL_BUCKETS, HOLD_BUCKETS};
use crate::outcome::Status;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const P: &str = "stream_autostart_";

/// The whole answer. `supervisor` is the supervisor's text, or `None` when
/// it could not be had (then `stream_autostart_supervisor_up` is 0).
pub fn render(s: &Snapshot, supervisor: Option<&str>) -> String {
    let mut out = String::with_capacity(8192 + supervisor.map_or(0, str::len));
    let o = &mut Exposition::new(&mut out, P);
    o.family(
        "requests_total",
        "counter",
        "Requests the module answered, by $stream_autostart_status.",
    );
    for (st, n) in Status::ALL.iter().zip(&s.requests) {
        o.sample("requests_total", &[("status", st.as_str())], *n as f64);
    }
    o.family(
        "held_requests",
        "gauge",
        "Playlist requests waiting now for their channel to be ready.",
    );
    o.sample("held_requests", &[], s.held as f64);
    o.family(
        "hold_seconds",
        "histogram",
        "Time a playlist request waited for its channel to be ready.",
    );
    histogram(o, "hold_seconds", &HOLD_BUCKETS, &s.hold);
    o.family(
        "token_cache_hits_total",
        "counter",
        "Token and login checks answered from a worker's cache.",
    );
    o.sample("token_cache_hits_total", &[], s.token_hits as f64);
    o.family(
        "token_cache_misses_total",
        "counter",
        "Token and login checks that asked the supervisor.",
    );
    o.sample("token_cache_misses_total", &[], s.token_misses as f64);
    o.family(
        "supervisor_call_errors_total",
        "counter",
        "Supervisor calls that got no reply, by class.",
    );
    for (c, n) in CallClass::ALL.iter().zip(&s.call_errors) {
        o.sample(
            "supervisor_call_errors_total",
            &[("class", c.as_str())],
            *n as f64,
        );
    }
    o.family(
        "supervisor_call_seconds",
        "histogram",
        "Time of one supervisor call, from connecting to its reply or error.",
    );
    histogram(o, "supervisor_call_seconds", &CALL_BUCKETS, &s.calls);
    o.family(
        "workers",
        "gauge",
        "nginx worker processes counting into the metrics zone.",
    );
    o.sample("workers", &[], s.workers as f64);
    o.family(
        "supervisor_up",
        "gauge",
        "1 when the supervisor answered this scrape's metrics call, else 0.",
    );
    o.sample(
        "supervisor_up",
        &[],
        if supervisor.is_some() { 1.0 } else { 0.0 },
    );
    if let Some(text) = supervisor {
        o.append(text);
    }
    out
}

/// The supervisor's part of a scrape from its answer to the `metrics`
/// call, or why there is none (for the error log).
pub fn supervisor_part(result: Result<Reply, CallError>) -> Result<String, String> {
    match result {
        Ok(reply) if reply.ok => reply
            .metrics
            .ok_or_else(|| "answered no metrics".to_string()),
        Ok(reply) => Err(format!(
            "refused the metrics call ({}: {})",
            reply.code().map_or("?", ErrorCode::as_str),
            reply.message()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// A histogram of per-bucket counts over `bounds`, its sum in microseconds.
fn histogram(o: &mut Exposition<'_>, name: &str, bounds: &[f64], h: &HistogramSnapshot) {
    let mut cumulative = 0;
    let buckets: Vec<(f64, u64)> = bounds
        .iter()
        .zip(&h.per_bucket)
        .map(|(le, n)| {
            cumulative += n;
            (*le, cumulative)
        })
        .collect();
    o.histogram(name, &buckets, h.count, h.sum_us as f64 / 1e6);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        s.requests[1] = 3; // started
        s.held = 2;
        s.hold.per_bucket[4] = 1; // <= 0.75 s
        s.hold.per_bucket[6] = 2; // <= 1.5 s
        s.hold.count = 4;
        s.hold.sum_us = 40_250_000;
        s.token_hits = 7;
        s.call_errors[1] = 1;
        s.workers = 2;
        s
    }

    fn value<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn module_families() {
        let t = render(&snapshot(), None);
        assert_eq!(
            value(&t, "stream_autostart_requests_total{status=\"started\"}"),
            Some("3")
        );
        assert_eq!(
            value(
                &t,
                "stream_autostart_requests_total{status=\"unavailable\"}"
            ),
            Some("0"),
            "every status is shown"
        );
        assert_eq!(value(&t, "stream_autostart_held_requests"), Some("2"));
        assert_eq!(
            value(&t, "stream_autostart_hold_seconds_bucket{le=\"0.5\"}"),
            Some("0")
        );
        assert_eq!(
            value(&t, "stream_autostart_hold_seconds_bucket{le=\"1\"}"),
            Some("1"),
            "cumulative"
        );
        assert_eq!(
            value(&t, "stream_autostart_hold_seconds_bucket{le=\"30\"}"),
            Some("3")
        );
        assert_eq!(
            value(&t, "stream_autostart_hold_seconds_bucket{le=\"+Inf\"}"),
            Some("4")
        );
        assert_eq!(
            value(&t, "stream_autostart_hold_seconds_sum"),
            Some("40.25")
        );
        assert_eq!(
            value(
                &t,
                "stream_autostart_supervisor_call_errors_total{class=\"timeout\"}"
            ),
            Some("1")
        );
        assert_eq!(value(&t, "stream_autostart_workers"), Some("2"));
        assert_eq!(value(&t, "stream_autostart_supervisor_up"), Some("0"));
    }

    #[test]
    fn supervisor_part_or_why_not() {
        let mut ok = Reply::ok(1);
        assert_eq!(
            supervisor_part(Ok(ok.clone())),
            Err("answered no metrics".into())
        );
        ok.metrics = Some("x 1\n".into());
        assert_eq!(supervisor_part(Ok(ok)), Ok("x 1\n".into()));
        let refused = Reply::error(1, ErrorCode::Forbidden, "operators only");
        let why = supervisor_part(Ok(refused)).unwrap_err();
        assert!(
            why.contains("forbidden") && why.contains("operators only"),
            "{why}"
        );
        assert_eq!(
            supervisor_part(Err(CallError::Timeout)),
            Err("no reply in time".into())
        );
    }

    #[test]
    fn supervisor_text_follows_once() {
        let sup = "# HELP stream_supervisor_starts_total x\n# TYPE stream_supervisor_starts_total counter\nstream_supervisor_starts_total 1";
        let t = render(&snapshot(), Some(sup));
        assert_eq!(value(&t, "stream_autostart_supervisor_up"), Some("1"));
        assert!(t.ends_with("stream_supervisor_starts_total 1\n"));
        // Every family once, each with HELP and TYPE, names as Prometheus
        // wants them.
        let mut seen = HashSet::new();
        for l in t.lines().filter(|l| l.starts_with("# TYPE ")) {
            let mut w = l.split(' ').skip(2);
            let (name, kind) = (w.next().unwrap(), w.next().unwrap());
            assert!(seen.insert(name.to_string()), "{name} twice");
            assert!(t.contains(&format!("# HELP {name} ")), "{name} HELP");
            match kind {
                "counter" => assert!(name.ends_with("_total"), "{name}"),
                "histogram" => assert!(name.ends_with("_seconds"), "{name}"),
                _ => assert!(!name.ends_with("_total"), "{name}"),
            }
        }
        assert!(seen.len() >= 10);
    }
}
