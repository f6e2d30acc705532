//! Live updates for the hall's big screen: `/screen/events`, server-sent events (axum's `Sse`)
//! carrying the same feed as `/feed.json` as soon as the open approved posts change, so a post
//! approved here or replicated in appears without waiting for the screen's next poll. The
//! screen keeps polling `/feed.json` every 10 s as the fallback (a proxy that buffers events,
//! a browser without `EventSource`) and for its "最后更新" stamp.
//!
//! How a change is noticed without taking the station's lock: the store counts its durable
//! writes in [`crate::store::WRITES_FILE`] (8 bytes, rewritten after every commit, local or
//! from a peer or a bundle). One task per server ([`watch_writes`]) reads it every
//! [`WATCH_EVERY`] and publishes the count; each open screen builds the feed only when the
//! count moved, and sends it only when its posts differ from what it sent last.

use super::AppState;
use super::pages::{L, feed_value};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// How often the write count is read.
pub const WATCH_EVERY: Duration = Duration::from_millis(250);

/// The store's count of durable writes, read from `file` ([`crate::store::WRITES_FILE`] in
/// the store's folder); 0 when it cannot be read.
pub fn write_count(file: &Path) -> u64 {
    std::fs::read(file)
        .ok()
        .and_then(|b| b.get(..8).and_then(|b| b.try_into().ok()))
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// Starts the task that publishes the store's write count (read from `file`) until `stop`
/// turns true.
pub fn watch_writes(file: PathBuf, mut stop: watch::Receiver<bool>) -> watch::Receiver<u64> {
    let read = move || write_count(&file);
    let (tx, rx) = watch::channel(read());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let n = read();
            tx.send_if_modified(|seen| {
                let moved = *seen != n;
                *seen = n;
                moved
            });
            if tx.is_closed() {
                return;
            }
        }
    });
    rx
}

/// One open screen's state between events.
struct Screen {
    state: AppState,
    writes: watch::Receiver<u64>,
    lang: L,
    occupation: Option<String>,
    /// The posts last sent (their JSON), so an unrelated write sends nothing.
    sent: Option<String>,
    first: bool,
}

/// `/screen/events?occupation=`: an event `feed` (the `/feed.json` value) at once, then
/// whenever the posts change; a comment every 15 s keeps the connection open.
pub async fn screen_events(
    State(state): State<AppState>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let screen = Screen {
        writes: state.writes.clone(),
        state,
        lang: L::of(&h, &q),
        occupation: q
            .get("occupation")
            .filter(|o| !o.trim().is_empty())
            .cloned(),
        sent: None,
        first: true,
    };
    let stream = futures::stream::unfold(screen, |mut sc| async move {
        loop {
            if !sc.first && sc.writes.changed().await.is_err() {
                return None;
            }
            sc.first = false;
            sc.writes.borrow_and_update();
            let Ok(feed) = feed_value(&sc.state, sc.lang, sc.occupation.clone()).await else {
                continue;
            };
            let posts = feed["posts"].to_string();
            if sc.sent.as_deref() == Some(posts.as_str()) {
                continue;
            }
            sc.sent = Some(posts);
            let event = Event::default().event("feed").data(feed.to_string());
            return Some((Ok(event), sc));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
