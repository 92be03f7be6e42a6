//! golive's integration tests, one binary: a module per area, each running the real binary (and the
//! test bed, the doubles and the real services it needs), which start once per test run and are shared.

mod common;

mod bad_scripts;
mod browser;
mod cli;
mod crash;
mod differential;
mod evidence;
mod faults;
mod fuzz_loading;
mod http;
mod interrupt;
mod lifecycle;
mod lock;
mod meaning;
mod metrics;
mod operator;
mod plans;
mod repl;
mod secrets;
mod stack;
mod stock_rhai;
mod stripe;
mod team;
mod vendors;
mod verdicts;
