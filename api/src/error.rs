//! One error type for every handler, rendered as RFC 9457 problem+json. Client
//! mistakes become 4xx with field-level detail; internal errors become a 500 whose
//! detail is logged, never sent.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use homecare_domain::validation::{FieldError, FieldErrors};
use homecare_domain::{Rejection, RejectionCode};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid input")]
    Validation(FieldErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// A command the visit's current state does not allow.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// Well-formed but refused by a rule (wrong caregiver, impossible time).
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// A scheduling choice that breaks hard rules (409), with every violation.
    #[error("{detail}")]
    RuleViolations {
        detail: String,
        violations: serde_json::Value,
    },
    #[error("{detail}")]
    Unavailable {
        detail: String,
        retry_after_secs: u64,
    },
    /// No token, or one that does not verify (401).
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token whose role may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Locked after repeated failures (429, with Retry-After).
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

/// An RFC 9457 problem: every error the API answers.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Problem<'a> {
    /// A URI naming the kind of problem (`.../problems/{code}`).
    #[serde(rename = "type")]
    problem_type: String,
    title: &'a str,
    /// The HTTP status.
    status: u16,
    detail: String,
    /// Each invalid field and why (validation problems only).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schema(value_type = Vec<FieldError>)]
    errors: &'a [FieldError],
    /// Every scheduling rule a choice breaks (`hard_rule_violated` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    violations: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Self::Validation(errors)
    }

    pub fn from_rejection(rejection: Rejection) -> Self {
        let code = rejection.code.as_str();
        match rejection.code {
            RejectionCode::InvalidState | RejectionCode::HardRuleViolated => Self::Conflict {
                code,
                detail: rejection.detail,
            },
            RejectionCode::WrongCaregiver | RejectionCode::InvalidTime => Self::Unprocessable {
                code,
                detail: rejection.detail,
            },
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
            ),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", "Malformed request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            Self::Conflict { code, .. } => (
                StatusCode::CONFLICT,
                code,
                "Conflict with the current state",
            ),
            Self::Unprocessable { code, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "Refused by a visit rule",
            ),
            Self::RuleViolations { .. } => (
                StatusCode::CONFLICT,
                "hard_rule_violated",
                "Breaks a scheduling rule",
            ),
            Self::Unavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
            Self::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            Self::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not allowed for this role",
            ),
            Self::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Request body too large",
            ),
            Self::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many failed attempts",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let detail = match &self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "the server could not complete the request; it has been logged".to_owned()
            }
            Self::Validation(errors) => format!("{} field(s) are invalid", errors.0.len()),
            other => other.to_string(),
        };
        let errors: &[FieldError] = match &self {
            Self::Validation(errors) => &errors.0,
            _ => &[],
        };
        let problem = Problem {
            problem_type: format!("https://docs.homecare.dev/problems/{code}"),
            title,
            status: status.as_u16(),
            detail,
            errors,
            violations: match &self {
                Self::RuleViolations { violations, .. } => Some(violations),
                _ => None,
            },
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Self::Unauthorized(_) = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"homecare\""),
            );
        }
        if let Self::Unavailable {
            retry_after_secs, ..
        }
        | Self::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // Well-formed JSON of the wrong shape: name the field serde complained about.
            JsonRejection::JsonDataError(e) => Self::field("body", e.body_text()),
            other => Self::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::field("query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::NotFound(rejection.body_text())
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<homecare_store::StoreError> for ApiError {
    fn from(error: homecare_store::StoreError) -> Self {
        use homecare_store::StoreError;
        match error {
            StoreError::VisitNotFound(id) => Self::NotFound(format!("visit {id} not found")),
            StoreError::Database(e) => e.into(),
            other => Self::internal(other),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => Self::Unavailable {
                detail: "the database is not answering".to_owned(),
                retry_after_secs: 5,
            },
            // The schema's constraints are the last line of defence: what slips
            // past the handlers' checks is still the client's mistake, not a 500.
            sqlx::Error::Database(db) => {
                let constraint = db.constraint().unwrap_or("a constraint").to_owned();
                match db.code().as_deref() {
                    Some("23P01") => Self::Conflict {
                        code: "overlap",
                        detail: format!("overlaps an existing record ({constraint})"),
                    },
                    Some("23505") => Self::Conflict {
                        code: "duplicate",
                        detail: format!("already exists ({constraint})"),
                    },
                    Some("23503") => Self::Unprocessable {
                        code: "unknown_reference",
                        detail: format!("refers to something that does not exist ({constraint})"),
                    },
                    // Check violations; bad or out-of-range dates, numbers and
                    // text (a NUL byte, a value too long for its index).
                    Some(
                        "23514" | "22007" | "22008" | "22P02" | "22003" | "22001" | "22021"
                        | "22P05" | "54000",
                    ) => Self::Unprocessable {
                        code: "constraint_violated",
                        detail: format!("a value is out of range ({constraint})"),
                    },
                    _ => Self::internal(error),
                }
            }
            _ => Self::internal(error),
        }
    }
}
