//! The `outpost` binary driven as a rep runs it: one device (a store folder in a temp dir)
//! against one server, in a chosen locale and time zone. Shared by every CLI test.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use chrono_tz::Tz;
use serde_json::Value;
use tempfile::TempDir;

use crate::{PASSWORD, TestServer, binary};

/// English, the locale every CLI test reads unless it asks for another.
pub const ENGLISH: &str = "en_US.UTF-8";
/// Simplified Chinese.
pub const CHINESE: &str = "zh_CN.UTF-8";

/// One device used through the CLI. Cloning gives another handle on the same store, so
/// [`Rep::in_locale`] and [`Rep::in_zone`] can vary how one command runs.
#[derive(Debug, Clone)]
pub struct Rep {
    store: Arc<TempDir>,
    /// The server's address; a test may point it elsewhere (an unreachable port).
    pub server: String,
    locale: String,
    zone: Option<Tz>,
    env: Vec<(String, String)>,
}

impl Rep {
    /// A device logged in as `login` with `outpost login` (password on standard input).
    pub async fn new(server: &TestServer, login: &str) -> Rep {
        Rep::with_label(server, login, "cli test").await
    }

    /// [`Rep::new`] with the device label given to the server.
    pub async fn with_label(server: &TestServer, login: &str, label: &str) -> Rep {
        let rep = Rep::offline(server.url());
        let mut command = rep.command(&["login", "--user", login, "--label", label]);
        let output = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run outpost login");
            writeln!(child.stdin.take().expect("stdin"), "{PASSWORD}").expect("password");
            child.wait_with_output().expect("outpost login")
        })
        .await
        .expect("login runner");
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && printed.contains(&format!("as {login}")),
            "login failed: {printed}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        rep
    }

    /// A device that has not logged in, for `server`.
    pub fn offline(server: String) -> Rep {
        Rep {
            store: Arc::new(TempDir::new().expect("temp dir")),
            server,
            locale: ENGLISH.to_owned(),
            zone: None,
            env: Vec::new(),
        }
    }

    /// The same device, its commands run with `LANG` set to `locale`.
    pub fn in_locale(&self, locale: &str) -> Rep {
        Rep {
            locale: locale.to_owned(),
            ..self.clone()
        }
    }

    /// The same device, its commands run with `--tz ZONE`.
    pub fn in_zone(&self, zone: Tz) -> Rep {
        Rep {
            zone: Some(zone),
            ..self.clone()
        }
    }

    /// The same device, its commands run with one more environment variable.
    pub fn with_env(&self, name: &str, value: &str) -> Rep {
        let mut rep = self.clone();
        rep.env.push((name.to_owned(), value.to_owned()));
        rep
    }

    /// The folder of this device's store.
    pub fn store_dir(&self) -> &std::path::Path {
        self.store.path()
    }

    /// `outpost ARGS` for this device, not yet run. The locale is set through `LANG` with
    /// `LC_ALL` and `LC_MESSAGES` cleared, so the machine's own locale cannot leak in.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary("outpost"));
        command
            .env_remove("OUTPOST_STORE")
            .env_remove("OUTPOST_SERVER")
            .env_remove("OUTPOST_TZ")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", &self.locale);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        if let Some(zone) = self.zone {
            command.args(["--tz", zone.name()]);
        }
        command
            .arg("--store")
            .arg(self.store.path())
            .args(["--server", &self.server])
            .args(args);
        command
    }

    /// Runs one command to completion off the runtime, so the in-process server keeps serving.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(args);
        tokio::task::spawn_blocking(move || command.output().expect("run outpost"))
            .await
            .expect("outpost runner")
    }

    /// Runs one command that must succeed and returns its stdout.
    pub async fn check(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "`outpost {}` failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    /// Runs one command that must succeed and prints JSON, and returns it.
    pub async fn json(&self, args: &[&str]) -> Value {
        let text = self.check(args).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Runs one command that must fail and returns its stderr.
    pub async fn fails(&self, args: &[&str]) -> String {
        self.fails_with_output(args).await.1
    }

    /// Runs one command that must fail and returns its stdout and stderr.
    pub async fn fails_with_output(&self, args: &[&str]) -> (String, String) {
        let output = self.run(args).await;
        assert!(
            !output.status.success(),
            "`outpost {}` succeeded:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout)
        );
        (
            String::from_utf8(output.stdout).expect("utf-8 stdout"),
            String::from_utf8(output.stderr).expect("utf-8 stderr"),
        )
    }

    /// Creates an account and returns its id.
    pub async fn create(&self, name: &str, owner: &str, extra: &[&str]) -> String {
        let mut args = vec!["create", "--name", name, "--owner", owner];
        args.extend(extra);
        let id = self.check(&args).await.trim().to_owned();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "create printed {id:?}"
        );
        id
    }

    /// `outpost show ID --json`.
    pub async fn show(&self, id: &str) -> Value {
        self.json(&["show", id, "--json"]).await
    }

    /// How many accounts this device holds.
    pub async fn accounts(&self) -> usize {
        let list = self.json(&["list", "--json"]).await;
        list.as_array().expect("a JSON array").len()
    }
}
