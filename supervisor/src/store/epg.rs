//! The guide's keys: `epg:channel:<guide_id>` (one per guide id, JSON) and
//! `epg:version` (raised by every import, so renderers know to render).

use std::collections::BTreeMap;

use super::{Key, Keys, Kind, Store, StoreError};

impl Store {
    /// Replaces the stored guide with `guides` in one transaction: the new
    /// keys set, guide ids no longer in it removed, the version raised.
    /// Returns the new version.
    pub async fn save_guide(&self, guides: &[(String, String)]) -> Result<u64, StoreError> {
        let old = self.ids(Kind::EpgChannel).await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (gid, json) in guides {
            pipe.set(self.key(&Keys::epg_channel(gid)), json).ignore();
        }
        let stale: Vec<String> = old
            .iter()
            .filter(|id| !guides.iter().any(|(g, _)| g == *id))
            .map(|id| self.key(&Keys::epg_channel(id)))
            .collect();
        if !stale.is_empty() {
            pipe.del(stale).ignore();
        }
        pipe.incr(self.key(&Keys::epg_version()), 1u64);
        let (version,): (u64,) = self
            .query(super::Req::Pipe(&pipe), &|| {
                "Redis: cannot store the guide".to_string()
            })
            .await?;
        Ok(version)
    }

    /// The guide version (0: never imported).
    pub async fn guide_version(&self) -> Result<u64, StoreError> {
        Ok(self
            .get(&Keys::epg_version())
            .await?
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0))
    }

    /// The stored guides of these guide ids (missing ones left out).
    pub async fn load_guides(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, super::super::guide::StoredGuide>, StoreError> {
        let keys: Vec<Key> = ids.iter().map(|g| Keys::epg_channel(g)).collect();
        let values = self.get_many(&keys).await?;
        Ok(ids
            .iter()
            .zip(values)
            .filter_map(|(id, v)| {
                Some((id.clone(), super::super::guide::StoredGuide::from_json(&v?)))
            })
            .collect())
    }
}
