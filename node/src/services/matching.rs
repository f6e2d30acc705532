//! Matching (精准匹配): the open approved posts that fit a worker, and the workers that fit a
//! post, priority workers first within each band (困难帮扶), each with its reasons in the
//! user's language. The rules are the protocol's pure functions (`lingong_protocol::matching`);
//! this service only gathers the candidates from the indexes.

use super::{fill_of, page_limit, today, typed};
use crate::error::Result;
use crate::index::{self, Field};
use crate::station::Station;
use lingong_protocol::matching::{self, BANDS};
use lingong_protocol::record::RecordKind;
use lingong_protocol::schema::{
    Choice, Placement, PlacementStatus, Post, ReviewState, Schema, Worker,
};
use serde_json::{Value, json};

/// `match --worker ID [--limit N]`: open approved posts with places left, best first.
pub fn for_worker(station: &Station, id: &str, limit: Option<usize>, lang: &str) -> Result<Value> {
    let limit = page_limit(limit.or(Some(20)))?;
    let state = station.resolve(RecordKind::Worker, id)?;
    let worker: Worker = typed(&state)?;
    let today = today();
    let approved = index::prefix(
        RecordKind::Post,
        Some((Field::Review, ReviewState::Approved.as_str(), true)),
    );
    let mut candidates = Vec::new();
    for post_state in station.store.list(approved, None) {
        let post_state = post_state?;
        let Ok(post) = Post::from_view(&post_state.view) else {
            continue;
        };
        if !post.is_live(today) {
            continue;
        }
        let fill = fill_of(station, &post_state, &post)?;
        candidates.push((post_state.id().to_hex(), post, fill));
    }
    let ranked = matching::posts_for_worker(
        &worker,
        candidates.iter().map(|(id, p, f)| (id.clone(), p, *f)),
        today,
        limit,
    );
    Ok(Value::Array(
        ranked
            .into_iter()
            .map(|m| {
                json!({
                    "post_id": m.id,
                    "title": m.post.title,
                    "score": m.score,
                    "band": BANDS[m.band as usize].0,
                    "reasons": m.reasons.iter().map(|r| r.text(lang)).collect::<Vec<_>>(),
                })
            })
            .collect(),
    ))
}

/// `match --post ID [--limit N]`: active workers held here, best band first, priority workers
/// first within a band; workers already placed on the post are left out.
pub fn for_post(station: &Station, id: &str, limit: Option<usize>, lang: &str) -> Result<Value> {
    let limit = page_limit(limit.or(Some(20)))?;
    let post_state = station.resolve(RecordKind::Post, id)?;
    let post: Post = typed(&post_state)?;
    let fill = fill_of(station, &post_state, &post)?;
    let post_id = post_state.id().to_hex();
    let placed_here: Vec<String> = {
        let prefix = index::prefix(RecordKind::Placement, Some((Field::Post, &post_id, true)));
        let mut out = Vec::new();
        for p in station.store.list(prefix, None) {
            if let Ok(p) = Placement::from_view(&p?.view)
                && p.status != PlacementStatus::Cancelled
            {
                out.push(p.worker);
            }
        }
        out
    };
    let mut workers = Vec::new();
    for w in station
        .store
        .list(index::prefix(RecordKind::Worker, None), None)
    {
        let w = w?;
        if w.doc.is_none() {
            continue;
        }
        if let Ok(worker) = Worker::from_view(&w.view) {
            let wid = w.id().to_hex();
            let placed = placed_here.contains(&wid);
            workers.push((wid, worker, placed));
        }
    }
    let ranked = matching::workers_for_post(
        &post,
        fill,
        workers
            .iter()
            .map(|(id, w, placed)| (id.clone(), w, *placed)),
        today(),
        limit,
    );
    Ok(Value::Array(
        ranked
            .into_iter()
            .map(|m| {
                json!({
                    "worker_id": m.id,
                    "name": m.worker.name,
                    "phone": m.worker.phone,
                    "score": m.score,
                    "band": BANDS[m.band as usize].0,
                    "priority": m.priority,
                    "priority_reasons": m.worker.flags.iter().map(|f| if lang.starts_with("zh") { f.as_zh() } else { f.as_str() }).collect::<Vec<_>>(),
                    "reasons": m.reasons.iter().map(|r| r.text(lang)).collect::<Vec<_>>(),
                })
            })
            .collect(),
    ))
}
