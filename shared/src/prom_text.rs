//! Writing Prometheus' text exposition format 0.0.4: the one writer the
//! module's and the supervisor's metrics share, so both escape and number
//! the same way.

use std::fmt::Write;

/// Families and samples appended to `out`, every name after `prefix`.
pub struct Exposition<'a> {
    out: &'a mut String,
    prefix: &'a str,
}

impl<'a> Exposition<'a> {
    pub fn new(out: &'a mut String, prefix: &'a str) -> Exposition<'a> {
        Exposition { out, prefix }
    }

    /// A family's HELP and TYPE lines.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let p = self.prefix;
        let _ = writeln!(self.out, "# HELP {p}{name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {p}{name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(self.prefix);
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    /// Another exposition's text as it is, ending with a line feed.
    pub fn append(&mut self, text: &str) {
        self.out.push_str(text);
        if !text.is_empty() && !text.ends_with('\n') {
            self.out.push('\n');
        }
    }

    /// A histogram's samples: `buckets` as (upper bound, cumulative count)
    /// over the finite bounds, then `+Inf`, `_sum` and `_count`.
    pub fn histogram(&mut self, name: &str, buckets: &[(f64, u64)], count: u64, sum: f64) {
        let bucket = format!("{name}_bucket");
        for (le, n) in buckets {
            self.sample(&bucket, &[("le", &number(*le))], *n as f64);
        }
        self.sample(&bucket, &[("le", "+Inf")], count as f64);
        self.sample(&format!("{name}_sum"), &[], sum);
        self.sample(&format!("{name}_count"), &[], count as f64);
    }
}

/// A sample value or bound as the format wants it.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// A label value: backslash, double quote and line feed escaped.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text: backslash and line feed escaped.
pub fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_histograms() {
        let mut out = String::new();
        let mut o = Exposition::new(&mut out, "x_");
        o.family("t_seconds", "histogram", "Time.\nSecond line \\.");
        o.sample("up", &[("a", "1"), ("b", "q\"")], 1.0);
        o.histogram("t_seconds", &[(0.5, 1), (1.0, 3)], 4, 2.75);
        o.append("y 1");
        assert_eq!(
            out,
            "# HELP x_t_seconds Time.\\nSecond line \\\\.\n\
             # TYPE x_t_seconds histogram\n\
             x_up{a=\"1\",b=\"q\\\"\"} 1\n\
             x_t_seconds_bucket{le=\"0.5\"} 1\n\
             x_t_seconds_bucket{le=\"1\"} 3\n\
             x_t_seconds_bucket{le=\"+Inf\"} 4\n\
             x_t_seconds_sum 2.75\n\
             x_t_seconds_count 4\n\
             y 1\n"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("a\nb"), "a\\nb");
        assert_eq!(escape_label("plain-7"), "plain-7");
        assert_eq!(escape_help("a\\b\nc\"d"), "a\\\\b\\nc\"d");
    }

    #[test]
    fn numbers() {
        assert_eq!(number(1.0), "1");
        assert_eq!(number(0.0005), "0.0005");
        assert_eq!(number(25_165_824.0), "25165824");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
