//! Extractors that turn axum's rejections into problem+json.

use axum::extract::{FromRequest, FromRequestParts};

/// `Json<T>` whose rejections are `ApiError`s.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(crate::ApiError))]
pub struct ApiJson<T>(pub T);

/// `Query<T>` whose rejections are `ApiError`s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(crate::ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Path<T>` whose rejections are `ApiError`s (an unparsable id is a 404).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(crate::ApiError))]
pub struct ApiPath<T>(pub T);
