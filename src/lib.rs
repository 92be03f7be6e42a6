//! golive: executable go-live runbooks. See ARCHITECTURE.md for the map of this crate.

pub mod clock;
pub mod config;
pub mod diagnostic;
pub mod digest;
pub mod duration;
pub mod effects;
pub mod engine;
pub mod error;
pub mod lifecycle;
pub mod modules;
pub mod repl;
pub mod run;
pub mod script_error;
pub mod secrets;
pub mod serve;
pub mod strand;
pub mod suggest;
pub mod terminal;
pub mod verdict;
