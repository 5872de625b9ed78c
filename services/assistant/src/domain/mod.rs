//! The assistant's rules: who may touch a knowledge base (`actor`), its entries (`entries`), the
//! projects as accounts knows them (`projects`), the matching engine (`matching`), the reply to a
//! visitor (`replies`), the masking of what visitors typed (`masking`), the programmed
//! notifications of the widget (`notifications`), and the scenarios (`scenarios`) visitors are
//! taken through (`sessions`), the supervised sessions (`supervision`), and the sub-processor
//! connectors the tenant's policy allows (`connectors`).

pub mod actor;
pub mod connectors;
pub mod entries;
pub mod masking;
pub mod matching;
pub mod notifications;
pub mod projects;
pub mod replies;
pub mod scenarios;
pub mod sessions;
pub mod supervision;
