//! hotreload (crate docs are written once the API settles).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Errors are built once at startup and carry a file, a line and a fix; their
// size does not matter on those paths.
#![allow(clippy::result_large_err)]

mod client;
pub mod config;
mod error;
mod manager;
pub mod protocol;
pub mod serve;
pub mod server;
mod watcher;

pub use config::{Config, WatchDir};
pub use error::Error;
pub use manager::Manager;
pub use protocol::{Action, Change, ChangeBatch, Operation};
pub use server::{CLIENT_JS, Server};
