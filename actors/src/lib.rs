//! Weft core library.
//!
//! Everything the desktop shell and the `weft` binary share lives here: the OTP-style
//! supervision layer on ractor ([`supervision`]), embedded storage ([`storage`]), configuration
//! ([`config`]), health checks for `weft doctor` ([`doctor`]), the local API that `weft status`
//! talks to ([`api`]), the root supervision tree that wires them together ([`tree`]), and the
//! workspace file index: walking, reading and tracking files for indexing ([`index`]).

pub mod api;
pub mod config;
pub mod doctor;
pub mod git;
pub mod index;
pub mod pool;
pub mod session;
pub mod storage;
pub mod supervision;
pub mod term;
pub mod tree;
