//! The web UI's static files, embedded in the binary: our stylesheet and script, and the npm libraries
//! `build.rs` installed from the lockfile. Their URLs carry a hash of the content, so they are cached for a
//! year and a new build can never be served a stale copy.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: [Asset; 5] = [
    Asset {
        name: "latch.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../web-assets/src/latch.css"),
    },
    Asset {
        name: "latch.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../web-assets/src/latch.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/htmx.min.js")),
    },
    Asset {
        name: "asciinema-player.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/asciinema-player.min.js")),
    },
    Asset {
        name: "asciinema-player.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!(concat!(env!("OUT_DIR"), "/asciinema-player.css")),
    },
];

/// The first 16 hex digits of the SHA-256 of all the assets: part of every asset URL.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut all = Vec::new();
    for asset in &ASSETS {
        all.extend_from_slice(asset.name.as_bytes());
        all.extend_from_slice(asset.bytes);
    }
    latch_vault::sha256(&all).iter().take(8).map(|b| format!("{b:02x}")).collect()
});

/// The URL of the asset `name`.
pub(crate) fn url(name: &str) -> String {
    format!("/assets/{}/{name}", *VERSION)
}

/// `GET /assets/{version}/{name}`: only the current version exists.
pub(crate) async fn serve(Path((version, name)): Path<(String, String)>) -> Response {
    let found = ASSETS.iter().find(|asset| asset.name == name).filter(|_| version == *VERSION);
    let Some(asset) = found else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}
