//! Which channel may start: a stored channel or an operator's ad-hoc id,
//! within `--max-streams`.

use super::channel::{Adhoc, State};
use super::Streams;
use crate::store::Keys;
use shared::protocol::ErrorCode;

impl Streams {
    /// Whether a channel that is not running may start: it has a record,
    /// or it has none and an operator gives an ad-hoc source.
    pub(super) async fn may_start(
        &self,
        id: &str,
        adhoc: Option<&Adhoc>,
    ) -> Result<(), (ErrorCode, String)> {
        let key = self.store.shown(&Keys::channel(id));
        match self.store.get(&Keys::channel(id)).await {
            Ok(record) => start_admission(id, &key, record.is_some(), adhoc.is_some()),
            Err(e) => Err((ErrorCode::Unavailable, e.to_string())),
        }
    }
}

/// Whether a channel that does not run may start: a stored channel
/// without an ad-hoc source, or an ad-hoc source for an id with no record
/// (`key` names the record in messages).
fn start_admission(
    id: &str,
    key: &str,
    has_record: bool,
    adhoc: bool,
) -> Result<(), (ErrorCode, String)> {
    match (has_record, adhoc) {
        (true, false) | (false, true) => Ok(()),
        (false, false) => Err((
            ErrorCode::UnknownChannel,
            format!("no channel {id}: Redis has no {key} key"),
        )),
        (true, true) => Err((
            ErrorCode::BadRequest,
            format!(
                "channel {id} has a record ({key}): source_url starts only ids without one; change the record with `stream-supervisor channels edit {id} --source ...`"
            ),
        )),
    }
}

/// Whether a channel counts against `--max-streams`: failed channels run
/// nothing, they only remember why.
pub(super) fn takes_a_slot(state: &State) -> bool {
    !matches!(state, State::Failed(_))
}

/// Why one more channel may not start when `running` channels take a slot
/// and at most `max` may (0: no limit); `None` if it may.
pub(super) fn over_capacity(running: usize, max: usize) -> Option<String> {
    (max > 0 && running >= max)
        .then(|| format!("{running} streams are running, the most allowed (--max-streams {max})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_channels_do_not_count_against_the_capacity() {
        assert!(takes_a_slot(&State::Starting));
        assert!(takes_a_slot(&State::Ready));
        assert!(takes_a_slot(&State::Restarting));
        assert!(!takes_a_slot(&State::Failed("gave up".into())));
    }

    #[test]
    fn only_stored_channels_or_adhoc_ids_may_start() {
        assert_eq!(start_admission("7", "channel:7", true, false), Ok(()));
        assert_eq!(start_admission("x", "channel:x", false, true), Ok(()));
        let (code, msg) = start_admission("r4nd", "tv:channel:r4nd", false, false).unwrap_err();
        assert_eq!(code, ErrorCode::UnknownChannel);
        assert_eq!(msg, "no channel r4nd: Redis has no tv:channel:r4nd key");
        // An ad-hoc source never replaces a stored channel's.
        let (code, msg) = start_admission("7", "channel:7", true, true).unwrap_err();
        assert_eq!(code, ErrorCode::BadRequest);
        assert!(msg.contains("starts only ids without one"), "{msg}");
    }

    #[test]
    fn capacity() {
        // 0 is no limit.
        assert_eq!(over_capacity(0, 0), None);
        assert_eq!(over_capacity(10_000, 0), None);
        assert_eq!(over_capacity(0, 2), None);
        assert_eq!(over_capacity(1, 2), None);
        assert_eq!(
            over_capacity(2, 2).as_deref(),
            Some("2 streams are running, the most allowed (--max-streams 2)")
        );
        // Lowered limits (a restart with a smaller --max-streams) refuse too.
        assert!(over_capacity(5, 2).is_some());
    }
}
