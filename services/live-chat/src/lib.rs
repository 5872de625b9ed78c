//! causerie-live-chat
