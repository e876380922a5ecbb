//! A visit's own steps after its assignment: EVV check-in and check-out, the
//! late check-in alert, cancel, billing, and the exceptions that hold billing
//! until a coordinator resolves them. Each runs under the visit's row lock.

pub(crate) mod alerts;
pub(crate) mod billing;
pub(crate) mod cancel;
pub(crate) mod evv;
pub(crate) mod exceptions;
