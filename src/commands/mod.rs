//! One module per subcommand.

pub mod configure;
pub mod dev;
pub mod dev_server;
pub mod invoke;
pub mod list;
pub mod make;
pub mod run;
pub mod runs;
pub mod send;
mod server_api;
