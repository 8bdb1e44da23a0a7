//! The simulated world behind one lock, and the rules for which webhook events a change emits
//! and to whom. Handlers and background tasks all go through [`Sim::with_world`].

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::SimConfig;
use crate::clock::Clock;
use crate::comments::Comment;
use crate::directory::{Directory, Subject, check_registrable_redirect};
use crate::faults::Faults;
use crate::ids::IdGen;
use crate::media::MediaStore;
use crate::messages::{MessageState, Messages};
use crate::oauth::grants::Grants;
use crate::rest::rate_limit::RateLimiter;
use crate::webhooks::outbox::Policy;
use crate::webhooks::{self, Webhooks};

/// Logs keep the most recent entries only, so a long benchmark cannot grow memory without bound.
const LOG_CAPACITY: usize = 10_000;

#[derive(Debug)]
pub struct RecentLog<T> {
    entries: VecDeque<T>,
}

impl<T> Default for RecentLog<T> {
    fn default() -> Self {
        Self {
            entries: VecDeque::new(),
        }
    }
}

impl<T> RecentLog<T> {
    pub fn push(&mut self, entry: T) {
        if self.entries.len() == LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.entries.iter()
    }
}

/// Everything the simulator knows. Methods here take `now` from the caller so they stay
/// deterministic and never block.
pub struct World {
    pub config: SimConfig,
    pub ids: IdGen,
    pub directory: Directory,
    pub grants: Grants,
    pub messages: Messages,
    pub media: MediaStore,
    pub comments: Vec<Comment>,
    pub webhooks: Webhooks,
    pub rate_limiter: RateLimiter,
    pub faults: Faults,
}

impl World {
    pub fn webhook_policy(&self) -> Policy {
        Policy {
            interval: self.config.webhook_batch_interval,
            max: self.config.webhook_batch_max.max(1),
            backoff: self.config.webhook_retry_backoff.clone(),
            disable_after: self.config.webhook_disable_after.max(1),
        }
    }

    /// The signing key for a URL: one set for the URL itself, else the secret of an app whose
    /// webhook URL it is.
    pub fn webhook_secret(&self, url: &str) -> Option<Vec<u8>> {
        let hex_secret = match self.webhooks.secret(url) {
            Some(secret) => secret,
            None => self
                .directory
                .apps()
                .find(|app| app.webhook_url.as_deref() == Some(url))?
                .webhook_secret
                .as_deref()?,
        };
        hex::decode(hex_secret).ok()
    }

    fn emit(&mut self, mut urls: Vec<String>, kind: &'static str, data: Value, now: DateTime<Utc>) {
        urls.sort();
        urls.dedup();
        let first_seq = u64::try_from(now.timestamp_millis()).unwrap_or_default();
        for url in urls {
            self.webhooks
                .outbox
                .enqueue(&url, kind, data.clone(), first_seq, Instant::now());
        }
    }

    /// Announces a message state to the message's own `webhookUrls` and to the apps of its
    /// organization.
    pub fn announce_message(&mut self, id: u64, state: MessageState, now: DateTime<Utc>) {
        let Some(message) = self.messages.get(id) else {
            return;
        };
        let org = message.organization_id.clone();
        let mut urls = message.webhook_urls.clone();
        if let Some(org) = &org {
            urls.extend(self.directory.organization_webhook_urls(org));
        }
        let data = webhooks::message_event_data(state, org.as_deref(), id, now);
        self.emit(urls, webhooks::MESSAGE_EVENT, data, now);
    }

    /// Moves a message to a state and announces it. `APPROVED` is announced and then the
    /// message is scheduled (and announced again); `SENT` publishes it on its network.
    pub fn set_message_state(&mut self, id: u64, state: MessageState, now: DateTime<Utc>) {
        if state == MessageState::Approved {
            if let Some(message) = self.messages.get_mut(id) {
                message.sequence_number = None;
                message.scheduled_send_time.get_or_insert(now);
            }
            self.announce_message(id, MessageState::Approved, now);
            return self.set_message_state(id, MessageState::Scheduled, now);
        }
        let Some(message) = self.messages.get_mut(id) else {
            return;
        };
        if state == MessageState::Sent {
            let network = self
                .directory
                .profile(&message.social_profile_id)
                .map_or("", |p| p.network.as_str());
            message.publish(network);
        }
        message.state = state;
        self.announce_message(id, state, now);
    }

    pub fn announce_comment(&mut self, index: usize, now: DateTime<Utc>) {
        let comment = &self.comments[index];
        let urls = self.directory.organization_webhook_urls(&comment.organization_id);
        let data = webhooks::comment_event_data(comment, now);
        self.emit(urls, webhooks::COMMENT_EVENT, data, now);
    }

    /// `INSTALLED`/`UNINSTALLED` go to the app's own webhook URL.
    pub fn announce_app(&mut self, client_id: &str, state: &'static str, target: &Subject, now: DateTime<Utc>) {
        let Some(app) = self.directory.app(client_id) else {
            return;
        };
        let urls = app.webhook_url.iter().cloned().collect();
        let data = webhooks::app_event_data(state, &app.id, target, now);
        self.emit(urls, webhooks::APP_EVENT, data, now);
    }
}

pub struct Sim {
    world: Mutex<World>,
    pub clock: Clock,
    pub http: reqwest::Client,
    pub base_url: String,
    /// Wakes the webhook dispatcher when the outbox's schedule changed.
    pub dispatcher_wake: Notify,
    /// Signalled after every delivery attempt, for `POST /_sim/webhooks/flush` to wait on.
    pub delivery_progress: Notify,
}

impl Sim {
    pub fn new(config: SimConfig, base_url: String) -> anyhow::Result<Self> {
        for uri in &config.redirect_uris {
            check_registrable_redirect(uri).map_err(anyhow::Error::msg)?;
        }
        let directory = if config.seed {
            Directory::seeded(&config.client_id, &config.client_secret, &config.redirect_uris)
        } else {
            Directory::default()
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            world: Mutex::new(World {
                config,
                ids: IdGen::new(),
                directory,
                grants: Grants::default(),
                messages: Messages::default(),
                media: MediaStore::default(),
                comments: Vec::new(),
                webhooks: Webhooks::default(),
                rate_limiter: RateLimiter::default(),
                faults: Faults::default(),
            }),
            clock: Clock::default(),
            http,
            base_url,
            dispatcher_wake: Notify::new(),
            delivery_progress: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves the world as it was mid-change; tests are better
        // served by carrying on than by every later request panicking too.
        self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the world, then wakes the dispatcher if webhook work appeared.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let (result, wake) = {
            let mut world = self.lock();
            let result = f(&mut world);
            (result, world.webhooks.outbox.take_schedule_changed())
        };
        if wake {
            self.dispatcher_wake.notify_one();
        }
        result
    }
}
