//! The quality presets: copy, the single-rendition encodes, and the
//! adaptive ladder.

use crate::ffmpeg_ladder::LADDER;

/// Output encoding. `Copy` remuxes; the others re-encode to H.264/AAC with
/// keyframes forced on segment boundaries, so every segment starts with one.
/// `Abr` encodes the adaptive ladder of `ffmpeg_ladder` behind a master
/// playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Copy,
    Low,
    Medium,
    High,
    Abr,
}

impl Quality {
    pub fn parse(name: Option<&str>) -> Result<Quality, String> {
        match name.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("medium") => Ok(Quality::Medium),
            Some("copy") => Ok(Quality::Copy),
            Some("low") => Ok(Quality::Low),
            Some("high") => Ok(Quality::High),
            Some("abr") => Ok(Quality::Abr),
            Some(other) => Err(format!(
                "unknown quality preset \"{other}\" (use copy, low, medium, high or abr)"
            )),
        }
    }

    /// How many variant playlists the preset writes besides the master
    /// (0: a single media playlist).
    pub fn variants(self) -> usize {
        match self {
            Quality::Abr => LADDER.len(),
            _ => 0,
        }
    }

    /// (height, video kbit/s, audio kbit/s) of a single-rendition preset.
    pub(super) fn ladder(self) -> Option<(u32, u32, u32)> {
        match self {
            Quality::Copy | Quality::Abr => None,
            Quality::Low => Some((360, 800, 96)),
            Quality::Medium => Some((720, 2500, 128)),
            Quality::High => Some((1080, 5000, 160)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preset_names() {
        assert_eq!(Quality::parse(Some(" Abr ")), Ok(Quality::Abr));
        assert_eq!(Quality::parse(None), Ok(Quality::Medium));
        assert_eq!(Quality::parse(Some("COPY")), Ok(Quality::Copy));
        assert!(Quality::parse(Some("ultra")).unwrap_err().contains("ultra"));
    }
}
