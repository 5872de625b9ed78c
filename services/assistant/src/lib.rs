//! causerie-assistant
