//! The supervisor's guide task: imports `--guide-source` every
//! `--guide-refresh` (failures logged with why; the old guide stays), and
//! renders guide.xml again whenever the guide version or the catalog's
//! guide fields change: once per change, not per request.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::config::Cli;
use crate::streams::Streams;
use shared::protocol::ChannelEntry;

/// How often the version and the catalog are looked at.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// What the rendered guide depends on in the catalog.
pub fn catalog_fingerprint(catalog: &[ChannelEntry]) -> u64 {
    let mut h = DefaultHasher::new();
    for c in catalog.iter().filter(|c| c.guide_id.is_some()) {
        (&c.id, &c.name, &c.logo, &c.guide_id).hash(&mut h);
    }
    h.finish()
}

pub async fn run(cli: Arc<Cli>, streams: Arc<Streams>) {
    let store = streams.store();
    let mut next_import = cli.guide_source.as_ref().map(|_| Instant::now());
    let mut rendered: Option<(u64, u64)> = None;
    let mut last_error: Option<String> = None;
    loop {
        if let (Some(at), Some(src)) = (next_import, cli.guide_source.as_deref()) {
            if Instant::now() >= at {
                match super::import(&cli, store, src).await {
                    Ok(done) => info!("guide imported: {}", done.summary()),
                    Err(e) => warn!("guide import failed: {e}"),
                }
                next_import = Some(Instant::now() + cli.guide_refresh);
            }
        }
        // The catalog (shared with viewers' requests, so read at most once
        // per its cache lifetime) only once there is a guide to render.
        let state = async {
            let version = store.guide_version().await.map_err(|e| e.to_string())?;
            if version == 0 {
                return Ok(None);
            }
            let catalog = streams
                .catalog
                .get(store)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(Some((version, catalog)))
        }
        .await;
        match state {
            Ok(Some((version, catalog))) => {
                // Hourly too, so programmes that ended drop out of the file.
                let key = (
                    version,
                    catalog_fingerprint(&catalog) ^ (super::now() / 3600) as u64,
                );
                if rendered != Some(key) {
                    match super::render_to_dir(&cli, store, &catalog).await {
                        Ok(path) => {
                            info!(version, path = %path.display(), "guide rendered");
                            rendered = Some(key);
                            last_error = None;
                        }
                        Err(e) => {
                            if last_error.as_deref() != Some(e.as_str()) {
                                warn!("cannot render the guide: {e}");
                            }
                            last_error = Some(e);
                        }
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                if last_error.as_deref() != Some(e.as_str()) {
                    warn!("cannot check the guide: {e}");
                }
                last_error = Some(e);
            }
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}
