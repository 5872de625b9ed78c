//! The access directory in Redis: what accounts tells every gateway between two token issuances,
//! so that a revocation or a new legal notice takes effect before the tokens already out expire.
//! Accounts writes it; gateways read it. Only ids and version numbers, no personal data.

/// Sorted set: a user's or an API key's id, scored by the Unix time in milliseconds of its
/// revocation. Tokens issued at or before that millisecond are refused. Entries older than a token lifetime are pruned.
pub fn revoked_subjects_key(namespace: &str) -> String {
    format!("{namespace}:access:revoked-subjects")
}

/// Hash: tenant id to the version of its current legal notice.
pub fn legal_notice_versions_key(namespace: &str) -> String {
    format!("{namespace}:access:legal-notice-versions")
}

/// Hash: user id to the latest legal-notice version the user accepted, per tenant.
pub fn legal_notice_acceptances_key(namespace: &str, tenant_id: causerie_core::TenantId) -> String {
    format!("{namespace}:access:legal-notice-acceptances:{tenant_id}")
}
