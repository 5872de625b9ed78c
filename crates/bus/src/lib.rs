//! The RabbitMQ bus: its topology, the message envelope and types, a connection supervised by
//! our own reconnect loop, the transactional outbox and its relay (publisher confirms), and
//! consumers that ack after commit and apply each message once through an inbox.

pub mod broadcast;
mod connection;
pub mod consumer;
pub mod message;
pub mod outbox;
mod publisher;
pub mod topology;

pub use connection::{Bus, BusError};
pub use consumer::{Consumer, HandlerError, MessageHandler};
pub use message::{Envelope, Message};
pub use outbox::{Relay, enqueue};
pub use publisher::Publisher;
pub use topology::Topology;
