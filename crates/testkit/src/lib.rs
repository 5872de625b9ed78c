//! causerie-testkit
