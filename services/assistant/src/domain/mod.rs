//! The assistant's rules: who may touch a knowledge base (`actor`), its entries (`entries`), the
//! projects as accounts knows them (`projects`), the matching engine (`matching`), the reply to a
//! visitor (`replies`) and the masking of what visitors typed (`masking`).

pub mod actor;
pub mod entries;
pub mod masking;
pub mod matching;
pub mod projects;
pub mod replies;
