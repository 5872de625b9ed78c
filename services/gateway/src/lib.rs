//! causerie-gateway
