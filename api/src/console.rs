//! The web console's files (`web/dist`, built by `./dev up` with Vite), served
//! at `/` with a single-page fallback: any path that is not a file and not an
//! API route gets `index.html`, and the console's router takes over. The
//! caregiver app is the same for `/app/` and `app/index.html`. Hashed
//! assets are cached for a year; `index.html` is revalidated every time. Every
//! answer carries a Content-Security-Policy without inline scripts.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

/// Scripts and styles from our own origin only; events over the same origin's
/// WebSocket; never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's router: its files, or a plain 404 naming how to build them.
pub fn router<S: Clone + Send + Sync + 'static>(dir: Option<&Path>) -> Router<S> {
    let Some(dir) = dir.filter(|dir| dir.join("index.html").is_file()) else {
        let missing = dir.map_or_else(|| PathBuf::from("web/dist"), Path::to_path_buf);
        return Router::new().fallback(move || {
            let missing = missing.clone();
            async move {
                (
                    StatusCode::NOT_FOUND,
                    format!(
                        "the console is not built in {}: ./dev up builds it (the API is under /v1)",
                        missing.display()
                    ),
                )
                    .into_response()
            }
        });
    };
    let files = ServeDir::new(dir)
        .append_index_html_on_directories(true)
        .fallback(ServeFile::new(dir.join("index.html")));
    let app = ServeDir::new(dir.join("app"))
        .append_index_html_on_directories(true)
        .fallback(ServeFile::new(dir.join("app/index.html")));
    Router::new()
        .nest_service("/app", app)
        .fallback_service(files)
        .layer(axum::middleware::from_fn(headers))
}

async fn headers(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            // Vite names assets by their content's hash.
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    response
}
