//! causerie-forms-analytics
