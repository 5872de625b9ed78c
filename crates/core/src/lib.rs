//! The vocabulary every Causerie service shares: typed ids, the clock, retention categories and the
//! one error type that maps to both problem+json and gRPC statuses.

pub mod clock;
pub mod cookies;
pub mod error;
pub mod id;
pub mod page;
pub mod policy;
pub mod public_id;
pub mod retention;
pub mod sql;

pub use clock::Clock;
pub use error::{Error, ErrorCode, FieldError};
pub use id::{ProjectId, StaffId, TenantId, UserId};
pub use retention::RetentionCategory;
pub use sql::SqlFailure;
