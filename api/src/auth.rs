//! Authentication and roles. Every `/v1` request carries a bearer JWT (HS256 or
//! RS256, issuer, audience and expiry checked); one table says which roles may
//! call which route, and a few handlers narrow a caregiver to their own visits.
//!
//! Roles:
//! - `admin`: everything, including the agency's settings and holidays;
//! - `coordinator`: schedules (clients, caregivers, visits, plans), EVV
//!   exceptions; reads billing;
//! - `billing`: reads schedules, writes payers, rates, coverages,
//!   authorizations and claims, resolves exceptions; never changes a schedule
//!   (coordinators read billing data but do not write it);
//! - `caregiver`: their own visits (read, check in and out), their own profile
//!   and call-outs, and only their own events on the WebSocket.

use axum::http::{HeaderMap, Method, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Coordinator,
    Billing,
    Caregiver,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Self::Admin,
        Self::Coordinator,
        Self::Billing,
        Self::Caregiver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Coordinator => "coordinator",
            Self::Billing => "billing",
            Self::Caregiver => "caregiver",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    /// For the `caregiver` role: which caregiver the holder is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caregiver_id: Option<Uuid>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Who is calling, as the middleware verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A token's subject, or a signed-in person's e-mail address.
    pub subject: String,
    pub role: Role,
    pub caregiver_id: Option<Uuid>,
    /// Signed in with a password (a session's access token), not a JWT.
    pub session: bool,
}

impl Principal {
    /// A caregiver may only act for themselves; every other role passes.
    pub fn may_act_for(&self, caregiver_id: Uuid) -> Result<(), ApiError> {
        if self.role != Role::Caregiver || self.caregiver_id == Some(caregiver_id) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "a caregiver acts on their own visits and profile only".to_owned(),
            ))
        }
    }

    /// The caregiver a caregiver's token stands for (None for other roles).
    pub fn own_caregiver(&self) -> Option<Uuid> {
        match self.role {
            Role::Caregiver => self.caregiver_id,
            _ => None,
        }
    }

    /// A caregiver sees a visit only if booked on it.
    pub fn may_see_visit(&self, staff: &[Uuid]) -> Result<(), ApiError> {
        match self.own_caregiver() {
            None if self.role != Role::Caregiver => Ok(()),
            Some(own) if staff.contains(&own) => Ok(()),
            _ => Err(ApiError::Forbidden(
                "a caregiver sees the visits they are booked on only".to_owned(),
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("the HS256 secret must be at least 32 bytes")]
    WeakSecret,
    #[error("the RS256 public key is not a PEM RSA public key: {0}")]
    BadPublicKey(jsonwebtoken::errors::Error),
    #[error("tokens can only be minted with an HS256 secret")]
    CannotMint,
    #[error("cannot sign the token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

/// How tokens are verified (and, with an HS256 secret, minted).
#[derive(Clone)]
pub struct AuthConfig {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    pub issuer: String,
    pub audience: String,
}

impl std::fmt::Debug for AuthConfig {
    // Keys are secrets: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> Result<Self, AuthConfigError> {
        if secret.len() < 32 {
            return Err(AuthConfigError::WeakSecret);
        }
        Ok(Self {
            algorithm: Algorithm::HS256,
            decoding: DecodingKey::from_secret(secret),
            encoding: Some(EncodingKey::from_secret(secret)),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// Verifies tokens signed by an identity provider's RSA key (PEM).
    pub fn rs256(
        public_key_pem: &[u8],
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AuthConfigError> {
        Ok(Self {
            algorithm: Algorithm::RS256,
            decoding: DecodingKey::from_rsa_pem(public_key_pem)
                .map_err(AuthConfigError::BadPublicKey)?,
            encoding: None,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// A token for `role`, valid for `ttl` (HS256 only: development and tests).
    pub fn mint(
        &self,
        subject: &str,
        role: Role,
        caregiver_id: Option<Uuid>,
        ttl: chrono::Duration,
    ) -> Result<String, AuthConfigError> {
        let key = self.encoding.as_ref().ok_or(AuthConfigError::CannotMint)?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            role,
            caregiver_id,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + ttl.num_seconds(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, key)
            .map_err(AuthConfigError::Sign)
    }

    /// The token's claims if its signature, algorithm, issuer, audience and
    /// expiry all check out.
    pub fn verify(&self, token: &str) -> Result<Principal, String> {
        let mut validation = Validation::new(self.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
                    ErrorKind::InvalidIssuer => "the token's issuer is not accepted".to_owned(),
                    ErrorKind::InvalidAudience => {
                        "the token is not for this API (audience)".to_owned()
                    }
                    ErrorKind::InvalidSignature => {
                        "the token's signature does not verify".to_owned()
                    }
                    ErrorKind::InvalidAlgorithm => {
                        "the token's algorithm is not accepted".to_owned()
                    }
                    _ => format!("the token is not valid: {e}"),
                }
            })?;
        let claims = data.claims;
        if claims.sub.trim().is_empty() || claims.sub.len() > 200 {
            return Err("the token's subject (sub) must be 1 to 200 characters".to_owned());
        }
        if claims.role == Role::Caregiver && claims.caregiver_id.is_none() {
            return Err("a caregiver token must carry caregiver_id".to_owned());
        }
        Ok(Principal {
            subject: claims.sub,
            role: claims.role,
            caregiver_id: claims.caregiver_id,
            session: false,
        })
    }
}

/// Which roles may call a route (`path` is the route's pattern, e.g.
/// `/v1/visits/{id}/check-in`). Unlisted writes are scheduling: admin and
/// coordinator; unlisted reads are staff: admin, coordinator and billing.
pub fn allowed_roles(method: &Method, path: &str) -> &'static [Role] {
    use Role::*;
    const EVERYONE: &[Role] = &[Admin, Coordinator, Billing, Caregiver];
    const STAFF: &[Role] = &[Admin, Coordinator, Billing];
    const STAFF_AND_OWN: &[Role] = &[Admin, Coordinator, Billing, Caregiver];
    const SCHEDULING: &[Role] = &[Admin, Coordinator];
    const SCHEDULING_AND_OWN: &[Role] = &[Admin, Coordinator, Caregiver];
    const BILLING: &[Role] = &[Admin, Billing];
    const EXCEPTIONS: &[Role] = &[Admin, Coordinator, Billing];
    const ADMIN: &[Role] = &[Admin];
    let read = method == Method::GET || method == Method::HEAD;
    match path {
        "/v1/events" | "/v1/auth/me" => EVERYONE,
        "/v1/users" | "/v1/users/{id}" => ADMIN,
        "/v1/me/visits" => &[Caregiver],
        "/v1/me/notification-preferences"
        | "/v1/me/push-subscriptions"
        | "/v1/me/email-verification"
        | "/v1/push/key" => EVERYONE,
        "/v1/notifications" | "/v1/notifications/{id}/resend" | "/v1/on-call" => SCHEDULING,
        "/v1/visits" | "/v1/visits/{id}" | "/v1/caregivers/{id}" | "/v1/call-outs/{id}" if read => {
            STAFF_AND_OWN
        }
        "/v1/visits/{id}/check-in"
        | "/v1/visits/{id}/check-out"
        | "/v1/caregivers/{id}/call-outs" => SCHEDULING_AND_OWN,
        "/v1/visits/{id}/exceptions/{exception_id}/resolve" => EXCEPTIONS,
        "/v1/clients/{id}/coverages/{payer_id}"
        | "/v1/clients/{id}/authorizations"
        | "/v1/clients/{id}/authorizations/{authorization_id}"
            if !read =>
        {
            BILLING
        }
        "/v1/agency" | "/v1/holidays/{day}" if !read => ADMIN,
        "/v1/payers" | "/v1/payers/{id}/rates" if !read => BILLING,
        "/v1/claims" | "/v1/claims/837p" => BILLING,
        "/v1/audit" => ADMIN,
        _ if read => STAFF,
        _ => SCHEDULING,
    }
}

/// The subprotocol the event socket answers; a browser offers it beside
/// `bearer.<token>` (`Sec-WebSocket-Protocol`), since it cannot send headers.
pub const WEBSOCKET_PROTOCOL: &str = "homecare.v1";
const WEBSOCKET_BEARER: &str = "bearer.";

/// The token of an `Authorization: Bearer <token>` header, or of a WebSocket
/// handshake's `bearer.<token>` subprotocol.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .and_then(|protocols| {
                protocols
                    .split(',')
                    .map(str::trim)
                    .find_map(|p| p.strip_prefix(WEBSOCKET_BEARER))
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("send Authorization: Bearer <token>".to_owned())
            });
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig::hs256(&[7u8; 32], "homecare", "homecare-api").unwrap()
    }

    #[test]
    fn a_minted_token_verifies_and_tampering_does_not() {
        let config = config();
        let caregiver = Uuid::new_v4();
        let token = config
            .mint(
                "maria",
                Role::Caregiver,
                Some(caregiver),
                chrono::Duration::minutes(5),
            )
            .unwrap();
        let principal = config.verify(&token).unwrap();
        assert_eq!(
            (principal.role, principal.caregiver_id),
            (Role::Caregiver, Some(caregiver))
        );
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(config.verify(&tampered).is_err());
    }

    #[test]
    fn expiry_issuer_audience_and_key_are_checked() {
        let config = config();
        let expired = config
            .mint("a", Role::Admin, None, chrono::Duration::minutes(-5))
            .unwrap();
        assert!(config.verify(&expired).unwrap_err().contains("expired"));
        let other_issuer = AuthConfig::hs256(&[7u8; 32], "someone-else", "homecare-api").unwrap();
        let token = other_issuer
            .mint("a", Role::Admin, None, chrono::Duration::minutes(5))
            .unwrap();
        assert!(config.verify(&token).unwrap_err().contains("issuer"));
        let other_audience = AuthConfig::hs256(&[7u8; 32], "homecare", "another-api").unwrap();
        let token = other_audience
            .mint("a", Role::Admin, None, chrono::Duration::minutes(5))
            .unwrap();
        assert!(config.verify(&token).unwrap_err().contains("audience"));
        let other_key = AuthConfig::hs256(&[8u8; 32], "homecare", "homecare-api").unwrap();
        let token = other_key
            .mint("a", Role::Admin, None, chrono::Duration::minutes(5))
            .unwrap();
        assert!(config.verify(&token).unwrap_err().contains("signature"));
        assert!(matches!(
            AuthConfig::hs256(b"short", "i", "a"),
            Err(AuthConfigError::WeakSecret)
        ));
    }

    #[test]
    fn a_caregiver_token_without_a_caregiver_is_refused() {
        let config = config();
        let token = config
            .mint("x", Role::Caregiver, None, chrono::Duration::minutes(5))
            .unwrap();
        assert!(config.verify(&token).is_err());
    }

    #[test]
    fn billing_cannot_change_schedules_and_caregivers_only_reach_their_own_routes() {
        let post = Method::POST;
        let get = Method::GET;
        for path in [
            "/v1/visits",
            "/v1/visits/{id}/cancel",
            "/v1/clients",
            "/v1/plans",
            "/v1/caregivers",
        ] {
            assert!(
                !allowed_roles(&post, path).contains(&Role::Billing),
                "{path}"
            );
            assert!(
                !allowed_roles(&post, path).contains(&Role::Caregiver),
                "{path}"
            );
        }
        assert!(allowed_roles(&post, "/v1/claims").contains(&Role::Billing));
        for path in [
            "/v1/clients/{id}/authorizations",
            "/v1/clients/{id}/authorizations/{authorization_id}",
        ] {
            assert!(
                !allowed_roles(&Method::PUT, path).contains(&Role::Coordinator),
                "{path}"
            );
            assert!(
                allowed_roles(&Method::PUT, path).contains(&Role::Billing),
                "{path}"
            );
        }
        assert!(!allowed_roles(&post, "/v1/claims").contains(&Role::Coordinator));
        assert!(allowed_roles(&get, "/v1/invoice-lines").contains(&Role::Billing));
        assert!(!allowed_roles(&get, "/v1/invoice-lines").contains(&Role::Caregiver));
        assert!(allowed_roles(&post, "/v1/visits/{id}/check-in").contains(&Role::Caregiver));
        assert!(!allowed_roles(&post, "/v1/visits/{id}/check-in").contains(&Role::Billing));
        assert_eq!(allowed_roles(&Method::PUT, "/v1/agency"), &[Role::Admin]);
        assert!(allowed_roles(&get, "/v1/agency").contains(&Role::Coordinator));
    }
}
