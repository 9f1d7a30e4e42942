//! What the command-line tests share: running the real binary on a data
//! directory.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `postroom <args>` with `data_dir` as its data directory (and working
/// directory), ignoring any configuration of the machine it runs on.
pub fn postroom(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postroom"))
        .args(args)
        .current_dir(data_dir)
        .env("POSTROOM_DATA_DIR", data_dir)
        .env_remove("POSTROOM_DATABASE_URL")
        .env_remove("POSTROOM_CONFIG")
        .output()
        .expect("the postroom binary runs")
}
