//! Server-rendered pages (stub, filled in below).

use super::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
}
