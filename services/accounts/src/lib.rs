//! causerie-accounts
