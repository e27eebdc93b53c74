//! The programme guide: XMLTV import (`epg import`, and `--guide-source`
//! every `--guide-refresh`), storage in Redis per guide id, and the
//! rendered `guide.xml`/`guide.xml.gz` nginx serves as static files.
//!
//! An import parses the whole source before it stores anything, so a
//! broken or truncated source is refused and the stored guide kept.

pub mod bounded;
pub mod fetch;
pub mod files;
pub mod parse;
pub mod refresh;
pub mod render;
pub mod source;
pub mod stored;
pub mod time;

use std::collections::BTreeSet;
use std::path::PathBuf;

use shared::protocol::ChannelEntry;

use super::catalog::Catalog;
use super::config::{Cli, EpgCmd};
use super::store::Store;
pub use stored::StoredGuide;

/// What one import did.
#[derive(Debug)]
pub struct Imported {
    pub version: u64,
    pub channels: usize,
    pub stats: parse::Stats,
}

impl Imported {
    pub fn summary(&self) -> String {
        let s = &self.stats;
        format!(
            "guide version {}: {} programmes kept for {} channels ({} read; dropped: {} of channels not in the catalog, {} outside the window, {} unreadable, {} over the per-channel limit)",
            self.version, s.kept, self.channels, s.read, s.unknown_channel, s.outside_window, s.unreadable, s.over_limit
        )
    }
}

/// The window an import keeps, around `now`.
pub fn window(cli: &Cli, now: i64) -> parse::Window {
    parse::Window {
        from: now - cli.guide_past.as_secs() as i64,
        to: now + cli.guide_ahead.as_secs() as i64,
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The guide ids of the catalog.
pub fn guide_ids(catalog: &[ChannelEntry]) -> BTreeSet<String> {
    catalog
        .iter()
        .filter_map(|c| c.guide_id.clone())
        .filter(|g| parse::valid_guide_id(g))
        .collect()
}

/// Imports `source` (a file or http(s) URL): parses it on a blocking
/// thread, then replaces the stored guide. Errors say why; nothing is
/// stored then.
pub async fn import(cli: &Cli, store: &Store, source: &str) -> Result<Imported, String> {
    let catalog = Catalog::default()
        .get(store)
        .await
        .map_err(|e| format!("cannot read the channel catalog: {e}"))?;
    let wanted = guide_ids(&catalog);
    if wanted.is_empty() {
        return Err("no catalog channel has a guide id (set one with channels edit ID --guide-id XMLTV-ID, or import an M3U with tvg-id)".into());
    }
    let window = window(cli, now());
    // A URL is fetched into a temporary file first, then read like one.
    let (path, temp) = if source::is_url(source) {
        let p = fetch::to_temp_file(cli, source)
            .await
            .map_err(|e| format!("{e}; the stored guide is kept"))?;
        (p.clone(), Some(p))
    } else {
        (PathBuf::from(source), None)
    };
    let shown = if temp.is_some() {
        crate::redact::url(source)
    } else {
        source.to_string()
    };
    let parsed = tokio::task::spawn_blocking(move || {
        let r = source::open_file(&path).and_then(|input| {
            parse::parse(
                input,
                &|id| wanted.contains(id),
                window,
                parse::Limits::default(),
            )
        });
        if let Some(t) = temp {
            let _ = std::fs::remove_file(t);
        }
        r
    })
    .await
    .map_err(|e| format!("the guide reader failed: {e}"))?
    .map_err(|e| format!("guide {shown}: {e}; the stored guide is kept"))?;
    let mut values = Vec::new();
    for (gid, programmes) in parsed.programmes {
        let channel = parsed.channels.get(&gid).cloned().unwrap_or_default();
        values.push((
            gid,
            StoredGuide {
                channel,
                programmes,
            }
            .to_json(),
        ));
    }
    // Channels the source lists without programmes keep their names.
    for (gid, channel) in parsed.channels {
        if !values.iter().any(|(g, _)| *g == gid) {
            values.push((
                gid,
                StoredGuide {
                    channel,
                    programmes: Vec::new(),
                }
                .to_json(),
            ));
        }
    }
    let channels = values.len();
    let version = store
        .save_guide(&values)
        .await
        .map_err(|e| format!("{e}; the stored guide is kept"))?;
    Ok(Imported {
        version,
        channels,
        stats: parsed.stats,
    })
}

/// Renders the stored guide of `catalog` into the guide directory.
pub async fn render_to_dir(
    cli: &Cli,
    store: &Store,
    catalog: &[ChannelEntry],
) -> Result<PathBuf, String> {
    let ids: Vec<String> = guide_ids(catalog).into_iter().collect();
    let guides = store.load_guides(&ids).await.map_err(|e| e.to_string())?;
    let since = now() - cli.guide_past.as_secs() as i64;
    let catalog = catalog.to_vec();
    let dir = cli.guide_dir();
    tokio::task::spawn_blocking(move || {
        files::write(&dir, &render::xmltv(&catalog, &guides, since))
    })
    .await
    .map_err(|e| format!("the guide writer failed: {e}"))?
}

/// `stream-supervisor epg ...` (a data command: Redis directly, the
/// supervisor need not run).
pub async fn command(cli: &Cli, store: &Store, cmd: &EpgCmd) -> Result<(), String> {
    match cmd {
        EpgCmd::Import { source } => {
            let source = source
                .as_deref()
                .or(cli.guide_source.as_deref())
                .ok_or("epg import needs a file or URL (or --guide-source)")?;
            let done = import(cli, store, source).await?;
            println!("{}", done.summary());
            let list = Catalog::default()
                .get(store)
                .await
                .map_err(|e| e.to_string())?;
            let path = render_to_dir(cli, store, &list).await?;
            println!("rendered {}", path.display());
            Ok(())
        }
    }
}
