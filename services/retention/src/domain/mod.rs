//! Retention's rules, one module per aggregate.

pub mod tenants;
