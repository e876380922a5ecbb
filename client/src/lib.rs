//! The homecare API as its command-line clients (`demo`, `watch`, `bench`)
//! use it: requests that carry a bearer token, and the `/v1/events` frames
//! read as typed events.

use homecare_domain::{Event, EventFrame};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid request: {0}")]
    Request(String),
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("POST {path} answered {status}: {body}")]
    Refused {
        path: String,
        status: reqwest::StatusCode,
        body: serde_json::Value,
    },
    #[error("not an event frame: {0}")]
    Frame(String),
}

/// An HTTP client that sends `token` with every request.
pub fn http(token: &str) -> Result<reqwest::Client, ClientError> {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|e| ClientError::Request(e.to_string()))?;
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

/// A WebSocket handshake request for `url` carrying `token`.
pub fn websocket(url: &str, token: &str) -> Result<Request, ClientError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| ClientError::Request(e.to_string()))?;
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| ClientError::Request("the token is not a header value".to_owned()))?;
    request.headers_mut().insert("authorization", value);
    Ok(request)
}

/// The `/v1/events` URL of the API at `api_url` (`http` becomes `ws`).
pub fn events_url(api_url: &str, query: &str) -> String {
    let base = api_url.trim_end_matches('/').replacen("http", "ws", 1);
    if query.is_empty() {
        format!("{base}/v1/events")
    } else {
        format!("{base}/v1/events?{query}")
    }
}

/// POSTs JSON to the API as an app would; a non-2xx answer is an error that
/// carries the problem document.
pub async fn post_json(
    http: &reqwest::Client,
    api: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, ClientError> {
    let response = http.post(format!("{api}{path}")).json(body).send().await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        return Err(ClientError::Refused {
            path: path.to_owned(),
            status,
            body,
        });
    }
    Ok(body)
}

/// A text frame of `/v1/events`, with its event typed.
pub fn read_frame(text: &str) -> Result<(EventFrame, Event), ClientError> {
    let frame: EventFrame =
        serde_json::from_str(text).map_err(|e| ClientError::Frame(e.to_string()))?;
    let event = frame
        .event
        .event()
        .map_err(|e| ClientError::Frame(e.to_string()))?;
    Ok((frame, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_url_follows_the_api_scheme() {
        assert_eq!(
            events_url("http://127.0.0.1:8080/", "since=3"),
            "ws://127.0.0.1:8080/v1/events?since=3"
        );
        assert_eq!(
            events_url("https://api.example", ""),
            "wss://api.example/v1/events"
        );
    }

    #[test]
    fn a_frame_that_is_not_an_event_is_refused() {
        assert!(read_frame("{\"sequence\": 1}").is_err());
        assert!(read_frame("not json").is_err());
    }
}
