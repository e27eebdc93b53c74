//! Data commands: `channels`, `users` and `tokens` write the documented
//! Redis keys directly (the supervisor need not run), validating what they
//! write the way the supervisor will read it.
//!
//! Each command is in its own file: `channels_cmd`, `users_cmd`,
//! `tokens_cmd`.

mod channels_cmd;
mod tokens_cmd;
mod users_cmd;

use std::process::ExitCode;

use super::config::{Cli, Command};
use super::store::Store;
use channels_cmd::channels;
use shared::channel_id;
use tokens_cmd::tokens;
use users_cmd::users_cmd;

type Result<T> = std::result::Result<T, String>;

pub fn run(cli: &Cli, cmd: &Command) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stream-supervisor: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(async {
        let store = Store::from_cli(cli)?;
        match cmd {
            Command::Channels { cmd } => channels(cli, &store, cmd).await,
            Command::Users { cmd } => users_cmd(&store, cmd).await,
            Command::Tokens { cmd } => tokens(&store, cmd).await,
            Command::Epg { cmd } => super::guide::command(cli, &store, cmd).await,
            Command::Nodes { cmd } => super::cluster::nodes_cmd::command(&store, cmd).await,
            _ => unreachable!("not a data command"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stream-supervisor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn valid_id(id: &str) -> Result<()> {
    channel_id::validate(id.as_bytes())
        .map(|_| ())
        .map_err(|e| format!("channel id {id:?}: {e}"))
}
