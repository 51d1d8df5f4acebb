//! Conveyor's shared library: domain types, Postgres and Redis access, status
//! events and the executor trait, used by both the api and the worker.

pub mod auth;
pub mod clock;
pub mod config;
pub mod dag;
pub mod db;
pub mod events;
pub mod executor;
pub mod metrics;
pub mod model;
pub mod outbound;
pub mod queue;
pub mod secrets;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
