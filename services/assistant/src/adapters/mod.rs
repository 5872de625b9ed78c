//! The assistant's sub-processors, each behind a trait with its real client: text-to-speech
//! (`speech`: espeak-ng on this machine, or Acapela) and translation (`translation`: Google).

pub mod speech;
pub mod translation;
