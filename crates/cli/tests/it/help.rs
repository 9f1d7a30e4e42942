//! What `postroom` says about itself: help with no command, help texts
//! without internal ids, `serve --help` naming the settings a first run
//! changes, `--config` only where it is read, and errors that name what was
//! not found.

use crate::common::postroom;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Words like "T8" or "O7": feature ids of the project's own notes.
fn feature_ids(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            let mut chars = w.chars();
            w.len() >= 2
                && chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && chars.all(|c| c.is_ascii_digit())
        })
        .map(str::to_owned)
        .collect()
}

const COMMANDS: [&str; 5] = [
    "serve",
    "default-config",
    "check-config",
    "backup",
    "verify-domain",
];

#[test]
fn no_command_prints_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = postroom(dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let help = stdout(&out);
    assert!(help.contains("Usage: postroom"), "{help}");
    for command in COMMANDS {
        assert!(help.contains(command), "{command} is listed: {help}");
    }
    assert!(!help.contains("# Postroom configuration"), "{help}");
    let out = postroom(dir.path(), &["default-config"]);
    assert!(stdout(&out).starts_with("# Postroom configuration"));
}

#[test]
fn help_texts_carry_no_feature_ids_and_config_only_where_read() {
    let dir = tempfile::tempdir().unwrap();
    let top = stdout(&postroom(dir.path(), &["--help"]));
    assert_eq!(feature_ids(&top), Vec::<String>::new(), "{top}");
    assert!(!top.contains("--config"), "{top}");
    for command in COMMANDS {
        let help = stdout(&postroom(dir.path(), &[command, "--help"]));
        assert_eq!(
            feature_ids(&help),
            Vec::<String>::new(),
            "{command}: {help}"
        );
        assert_eq!(
            help.contains("--config"),
            command != "default-config",
            "{command}: {help}"
        );
    }
    let serve = stdout(&postroom(dir.path(), &["serve", "--help"]));
    for setting in [
        "POSTROOM_LISTEN",
        "POSTROOM_DATA_DIR",
        "POSTROOM_DATABASE_URL",
    ] {
        assert!(serve.contains(setting), "{setting}: {serve}");
    }
}

#[test]
fn errors_name_what_was_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let out = postroom(
        dir.path(),
        &["check-config", "--config", "no-such-postroom.toml"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the configuration file no-such-postroom.toml was not found"),
        "{}",
        stderr(&out)
    );
    let out = postroom(dir.path(), &["verify-domain", "nope", "acme.test"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("there is no team with the URL name \"nope\""),
        "{}",
        stderr(&out)
    );
}
