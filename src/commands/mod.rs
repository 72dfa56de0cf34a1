//! One module per subcommand.

pub mod configure;
pub mod dev;
pub mod dev_server;
pub mod list;
pub mod make;
