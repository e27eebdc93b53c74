//! Percent-encoding for the user name and password in URLs (path
//! segments and query values alike): everything but RFC 3986's
//! unreserved characters.

pub fn component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_reserved_bytes() {
        assert_eq!(
            super::component("al ice/&?#%é"),
            "al%20ice%2F%26%3F%23%25%C3%A9"
        );
        assert_eq!(super::component("A-z_0.9~"), "A-z_0.9~");
    }
}
