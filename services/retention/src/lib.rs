//! causerie-retention
