//! Serves the built dashboard (`frontend/dist`) with an SPA fallback: any
//! path that is not a file answers `index.html`. Hashed assets under
//! `/assets` are cached for a year; everything else is revalidated. Without
//! a build, `/` says how to make one.

use std::path::Path;

use axum::http::{header, HeaderValue};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

const NOT_BUILT: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Conveyor</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5}
code{background:#f3f4f6;padding:.1rem .3rem;border-radius:.2rem}</style></head>
<body><h1>Conveyor is running</h1>
<p>The dashboard has not been built. Build it with
<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code> (or start everything with
<code>scripts/run</code>, which builds it when missing), then reload.</p>
<p>Meanwhile: the API is at <a href="/api/v1/jobs"><code>/api/v1</code></a>,
its documentation at <a href="/docs"><code>/docs</code></a>.</p></body></html>"#;

pub fn router<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    let index = dir.join("index.html");
    if !index.is_file() {
        return Router::new().fallback(get(|| async { Html(NOT_BUILT) }));
    }
    let assets = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ))
        .service(ServeDir::new(dir.join("assets")).precompressed_gzip());
    let pages = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .service(ServeDir::new(dir).fallback(ServeFile::new(&index)));
    Router::new()
        .nest_service("/assets", assets)
        .fallback_service(pages)
}
