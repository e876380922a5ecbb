//! People who sign in: the rules for their e-mail addresses and passwords, how
//! long a session lives, and the back-off that stops password guessing (per
//! account and per address). Pure: the API keeps the state in PostgreSQL and
//! asks these functions what it means.

use chrono::{DateTime, Duration, Utc};

use crate::validation::FieldErrors;

/// Passwords shorter than this are refused (NIST SP 800-63B asks for at least
/// 8; an agency's console reaches health records, so we ask for more).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer passwords are refused (Argon2 would take them, but nobody types more).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// An access token's life: short, the refresh token renews it.
pub const ACCESS_TOKEN_MINUTES: i64 = 15;
/// A session's whole life from sign-in (a long shift), however often it is
/// refreshed; then the person signs in again.
pub const SESSION_HOURS: i64 = 12;

/// An e-mail address as we store and compare it: trimmed and lower-cased, or
/// the reason it is not one.
pub fn normalize_email(email: &str) -> Result<String, &'static str> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email
        .split_once('@')
        .ok_or("must be an e-mail address (name@domain)")?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') || !domain.contains('.') {
        return Err("must be an e-mail address (name@domain)");
    }
    if email.chars().count() > 200 {
        return Err("must be at most 200 characters");
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ','))
    {
        return Err("must not contain spaces, control characters, quotes or brackets");
    }
    Ok(email)
}

/// Checks an e-mail field, returning the normalised address when it is valid.
pub fn check_email(errors: &mut FieldErrors, field: &str, email: &str) -> Option<String> {
    match normalize_email(email) {
        Ok(email) => Some(email),
        Err(message) => {
            errors.add(field, message);
            None
        }
    }
}

/// A new password's rules: long enough, not absurdly long, no control
/// characters, and not the e-mail address itself.
pub fn check_password(errors: &mut FieldErrors, field: &str, password: &str, email: &str) {
    let chars = password.chars().count();
    errors.check(
        chars >= MIN_PASSWORD_CHARS,
        field,
        format!("must be at least {MIN_PASSWORD_CHARS} characters"),
    );
    errors.check(
        chars <= MAX_PASSWORD_CHARS,
        field,
        format!("must be at most {MAX_PASSWORD_CHARS} characters"),
    );
    errors.check(
        !password.chars().any(char::is_control),
        field,
        "must not contain control characters",
    );
    errors.check(
        password.trim().to_lowercase() != email.trim().to_lowercase(),
        field,
        "must not be the e-mail address",
    );
    errors.check(
        password
            .chars()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            >= 4,
        field,
        "must use at least 4 different characters",
    );
}

/// How many failed sign-ins a key (an account or an address) may have within
/// a window before it is locked, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub limit: u32,
    pub window: Duration,
    /// The first lock's length; each failure after that doubles it (to `max_lock`).
    pub lock: Duration,
    pub max_lock: Duration,
}

/// Per account: 5 wrong passwords in 15 minutes lock it for 15 minutes, then
/// 30, 60... up to a day, until a successful sign-in.
pub const ACCOUNT_THROTTLE: ThrottlePolicy = ThrottlePolicy {
    limit: 5,
    window: Duration::minutes(15),
    lock: Duration::minutes(15),
    max_lock: Duration::hours(24),
};

/// Per address: 20 failures in 15 minutes (an office behind one address has
/// several people) lock the address out of sign-in on the same ladder.
pub const ADDRESS_THROTTLE: ThrottlePolicy = ThrottlePolicy {
    limit: 20,
    window: Duration::minutes(15),
    lock: Duration::minutes(15),
    max_lock: Duration::hours(24),
};

/// Per address, for bearer tokens: 50 refused tokens (unknown, expired or
/// badly signed) in a minute make the address's next unverified tokens
/// answer 429 for a minute, then 2, 4... up to an hour. A valid token is
/// never refused by it: an office shares its address with whoever probes
/// from it, and a token cannot be guessed.
pub const BEARER_THROTTLE: ThrottlePolicy = ThrottlePolicy {
    limit: 50,
    window: Duration::minutes(1),
    lock: Duration::minutes(1),
    max_lock: Duration::hours(1),
};

/// What is remembered about a key's failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub failures: u32,
    pub window_started_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Throttle {
    /// How long the key stays locked from `now` (None: it may try).
    pub fn locked_for(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.locked_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    /// The state after one more failure at `now`. What happened more than a
    /// window before is forgotten (counted from the window's start, or from
    /// the end of the last lock): a failure soon after a lock ends locks the
    /// key again, twice as long.
    pub fn after_failure(
        previous: Option<Throttle>,
        now: DateTime<Utc>,
        policy: &ThrottlePolicy,
    ) -> Throttle {
        let previous = previous.filter(|p| {
            let since = p
                .locked_until
                .map_or(p.window_started_at, |until| until.max(p.window_started_at));
            now - since <= policy.window
        });
        let (failures, window_started_at) = match previous {
            Some(p) => (p.failures.saturating_add(1), p.window_started_at),
            None => (1, now),
        };
        let locked_until = (failures >= policy.limit).then(|| {
            let doublings = (failures - policy.limit).min(16);
            let lock = policy
                .lock
                .checked_mul(1 << doublings)
                .unwrap_or(policy.max_lock)
                .min(policy.max_lock);
            now + lock
        });
        Throttle {
            failures,
            window_started_at,
            locked_until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap() + Duration::minutes(minute)
    }

    #[test]
    fn addresses_are_trimmed_lower_cased_and_checked() {
        assert_eq!(
            normalize_email("  Maria.Lopez@Agency.Example "),
            Ok("maria.lopez@agency.example".to_owned())
        );
        for bad in [
            "",
            "maria",
            "@agency.example",
            "maria@",
            "maria@agency",
            "a@b@c.d",
            "maria lopez@agency.example",
            "maria\u{0}@agency.example",
            "<maria@agency.example>",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@agency.example", "a".repeat(200));
        assert!(normalize_email(&long).is_err());
    }

    #[test]
    fn passwords_must_be_long_varied_and_not_the_address() {
        let check = |password: &str| {
            let mut errors = FieldErrors::default();
            check_password(&mut errors, "password", password, "maria@agency.example");
            errors.0.into_iter().map(|e| e.message).collect::<Vec<_>>()
        };
        assert!(check("correct horse battery").is_empty());
        assert!(check("short")[0].contains("at least 12"));
        assert!(
            check(&"x".repeat(257))
                .iter()
                .any(|m| m.contains("at most 256"))
        );
        assert!(
            check("aaaaaaaaaaaaaaaa")
                .iter()
                .any(|m| m.contains("4 different"))
        );
        assert!(
            check("Maria@agency.example")
                .iter()
                .any(|m| m.contains("e-mail"))
        );
        assert!(
            check("tab\tseparated words")
                .iter()
                .any(|m| m.contains("control"))
        );
    }

    #[test]
    fn five_failures_lock_an_account_and_each_later_failure_doubles_the_lock() {
        let policy = ACCOUNT_THROTTLE;
        let mut state = None;
        for minute in 0..4 {
            let next = Throttle::after_failure(state, at(minute), &policy);
            assert_eq!(next.locked_for(at(minute)), None, "failure {}", minute + 1);
            state = Some(next);
        }
        let locked = Throttle::after_failure(state, at(4), &policy);
        assert_eq!(locked.locked_for(at(4)), Some(Duration::minutes(15)));
        assert_eq!(locked.locked_for(at(19)), None);
        // A failure soon after the lock ends locks again, twice as long.
        let again = Throttle::after_failure(Some(locked), at(25), &policy);
        assert_eq!(again.locked_for(at(25)), Some(Duration::minutes(30)));
        let third = Throttle::after_failure(Some(again), at(60), &policy);
        assert_eq!(third.locked_for(at(60)), Some(Duration::minutes(60)));
        // Never longer than a day.
        let many = Throttle {
            failures: 40,
            window_started_at: at(0),
            locked_until: Some(at(100)),
        };
        let capped = Throttle::after_failure(Some(many), at(101), &policy);
        assert_eq!(capped.locked_for(at(101)), Some(Duration::hours(24)));
        // Long after a lock, a mistyped password starts afresh.
        let fresh = Throttle::after_failure(Some(third), at(60 + 60 + 16), &policy);
        assert_eq!((fresh.failures, fresh.locked_until), (1, None));
    }

    #[test]
    fn failures_spread_beyond_the_window_never_lock() {
        let policy = ACCOUNT_THROTTLE;
        let mut state = None;
        for n in 0..20 {
            let now = at(n * 16);
            let next = Throttle::after_failure(state, now, &policy);
            assert_eq!(next.failures, 1);
            assert_eq!(next.locked_for(now), None);
            state = Some(next);
        }
    }

    #[test]
    fn an_address_has_more_room_than_an_account() {
        let mut state = None;
        for _ in 0..19 {
            state = Some(Throttle::after_failure(state, at(0), &ADDRESS_THROTTLE));
        }
        assert_eq!(state.unwrap().locked_for(at(0)), None);
        let locked = Throttle::after_failure(state, at(0), &ADDRESS_THROTTLE);
        assert!(locked.locked_for(at(0)).is_some());
    }
}
