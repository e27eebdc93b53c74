//! Outside text as the module writes it to nginx's error log
//! (`log_text::Esc`): the escaped form is printable ASCII only, so no byte
//! of a URI or a reason can start a forged log line.

use crate::log_text::{esc, Esc};

pub fn run(data: &[u8]) {
    let shown = Esc(data).to_string();
    assert!(
        shown.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "control or non-ASCII byte in {shown:?}"
    );
    let text = super::text(data);
    assert!(esc(&text)
        .to_string()
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b)));
}
