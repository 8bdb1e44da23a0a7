//! Media (hootsuite.md §2.11): what `POST /v1/media` declared, the upload URL it handed out,
//! and the first valid upload (`crate::bucket` receives them).
//!
//! A media item is `QUEUED` until the first valid upload: a `PUT` to its upload URL, before the
//! URL expires, whose `Content-Type` and byte count match the declaration. That upload makes it
//! `READY` at once (processing takes no time here).

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

/// The MIME types `POST /v1/media` accepts (Swagger `MediaUploadUrlRequest`).
pub const MIME_TYPES: [&str; 5] = ["video/mp4", "image/gif", "image/jpeg", "image/jpg", "image/png"];

/// Lifetime of an upload URL, and what a download URL claims (Swagger examples: 1799 s).
const URL_DURATION_SECS: i64 = 1799;

#[derive(Debug, Clone)]
pub struct MediaItem {
    /// The URL-safe base64 of the upload URL, as Hootsuite's ids are the base64 of theirs.
    pub id: String,
    key: String,
    /// The account (member or organization) that created it; nobody else sees it.
    account: String,
    mime_type: String,
    size_bytes: u64,
    upload_expires: DateTime<Utc>,
    /// The first valid upload.
    content: Option<Bytes>,
}

impl MediaItem {
    pub fn is_ready(&self) -> bool {
        self.content.is_some()
    }

    fn url(&self, base_url: &str) -> String {
        format!("{base_url}/uploads/{}", self.key)
    }

    /// `POST /v1/media`'s answer.
    pub fn upload_json(&self, base_url: &str) -> Value {
        json!({
            "id": self.id,
            "uploadUrl": self.url(base_url),
            "uploadUrlDurationSeconds": URL_DURATION_SECS,
        })
    }

    /// `GET /v1/media/{id}`'s answer; the download fields only once the media is ready.
    pub fn status_json(&self, base_url: &str) -> Value {
        if self.is_ready() {
            json!({
                "id": self.id,
                "state": "READY",
                "downloadUrl": self.url(base_url),
                "downloadUrlDurationSeconds": URL_DURATION_SECS,
            })
        } else {
            json!({ "id": self.id, "state": "QUEUED" })
        }
    }
}

#[derive(Debug, Default)]
pub struct MediaStore {
    by_id: BTreeMap<String, MediaItem>,
    id_by_key: HashMap<String, String>,
}

/// `12255244_01942650-3d42-42b8-a191-aa84eb45d105.mp4`: the shape of Hootsuite's object keys.
fn object_key(account_id: &str, mime_type: &str) -> String {
    let hex = hex::encode(rand::random::<[u8; 16]>());
    let extension = match mime_type {
        "video/mp4" => "mp4",
        "image/gif" => "gif",
        "image/png" => "png",
        _ => "jpg",
    };
    format!(
        "{account_id}_{}-{}-{}-{}-{}.{extension}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl MediaStore {
    pub fn create(
        &mut self,
        account: String,
        account_id: &str,
        mime_type: &str,
        size_bytes: u64,
        base_url: &str,
        now: DateTime<Utc>,
    ) -> &MediaItem {
        let key = object_key(account_id, mime_type);
        let id = URL_SAFE.encode(format!("{base_url}/uploads/{key}"));
        self.id_by_key.insert(key.clone(), id.clone());
        self.by_id.entry(id.clone()).or_insert(MediaItem {
            id,
            key,
            account,
            mime_type: mime_type.to_owned(),
            size_bytes,
            upload_expires: now + TimeDelta::seconds(URL_DURATION_SECS),
            content: None,
        })
    }

    /// Media of `account`: another account's is as unknown as a made-up id.
    pub fn owned_by(&self, id: &str, account: &str) -> Option<&MediaItem> {
        self.by_id.get(id).filter(|m| m.account == account)
    }

    fn by_key(&self, key: &str) -> Option<&MediaItem> {
        self.by_id.get(self.id_by_key.get(key)?)
    }

    /// What an upload to `key` must match: size, MIME type, and the URL's expiry.
    pub fn upload_target(&self, key: &str) -> Option<(u64, &str, DateTime<Utc>)> {
        let item = self.by_key(key)?;
        Some((item.size_bytes, item.mime_type.as_str(), item.upload_expires))
    }

    /// Keeps the first valid upload; later ones are ignored.
    pub fn accept_upload(&mut self, key: &str, bytes: Bytes) {
        if let Some(item) = self.id_by_key.get(key).and_then(|id| self.by_id.get_mut(id)) {
            item.content.get_or_insert(bytes);
        }
    }

    /// The uploaded bytes and their MIME type, once the media is ready.
    pub fn download(&self, key: &str) -> Option<(String, Bytes)> {
        let item = self.by_key(key)?;
        Some((item.mime_type.clone(), item.content.clone()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_url_safe_base64_of_the_upload_url() {
        let mut store = MediaStore::default();
        let now = Utc::now();
        let item = store
            .create("member:1".into(), "1", "video/mp4", 10, "http://127.0.0.1:9", now)
            .clone();
        let url = String::from_utf8(URL_SAFE.decode(&item.id).unwrap()).unwrap();
        assert_eq!(url, item.url("http://127.0.0.1:9"));
        assert!(url.starts_with("http://127.0.0.1:9/uploads/1_") && url.ends_with(".mp4"));
        assert!(item.id.starts_with("aHR0c"));
        assert!(!item.id.contains('/') && !item.id.contains('+'));
        assert_eq!(item.status_json("b"), json!({ "id": item.id, "state": "QUEUED" }));
        assert_eq!(item.upload_expires, now + TimeDelta::seconds(1799));
        assert!(store.by_key(&item.key).is_some());
    }
}
