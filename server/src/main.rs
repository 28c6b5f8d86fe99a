//! `outpost-server`: runs the Outpost sync server over a redb store in a data directory.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use outpost_protocol::api::{NewUser, Role};
use outpost_protocol::{DeviceId, DocId, MAX_MESSAGE_BYTES, PushOutcome};
use outpost_server::auth::LoginConfig;
use outpost_server::backup::{self, BackupConfig};
use outpost_server::limits::Limits;
use outpost_server::storage::DEFAULT_CACHE_BYTES;
use outpost_server::storage::SERVER_DEVICE;
use outpost_server::{Config, Principal, Server, Storage, Writer};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(version, about = "The Outpost sync server for field sales teams")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the server keeps its database.
#[derive(Debug, Args)]
struct Data {
    /// Directory holding the server's database (created if missing).
    #[arg(long, env = "OUTPOST_DATA", default_value = "./outpost-data")]
    data: PathBuf,
}

/// Bounds on what one sync request may carry. Devices of this version send at most 1,000
/// accounts and 4 MiB of changes per request: limits below those refuse them.
#[derive(Debug, Args)]
struct LimitArgs {
    /// Largest sync request body, in bytes (at most the protocol's 16 MiB).
    #[arg(long, default_value_t = Limits::default().request_bytes)]
    max_request_bytes: usize,
    /// Accounts one sync request may push.
    #[arg(long, default_value_t = Limits::default().docs_per_request)]
    max_docs_per_request: usize,
    /// Bytes of changes one request may push to one account (beyond: that push is refused).
    #[arg(long, default_value_t = Limits::default().push_bytes)]
    max_push_bytes: usize,
    /// Bytes one compressed change may inflate to.
    #[arg(long, default_value_t = Limits::default().change_bytes)]
    max_change_bytes: usize,
    /// Operations one account's document may hold.
    #[arg(long, default_value_t = Limits::default().doc_ops)]
    max_doc_ops: u64,
    /// New accounts one user may create per UTC day (beyond: refused into the device's
    /// rejected list).
    #[arg(long, default_value_t = Limits::default().new_accounts_per_day)]
    max_new_accounts_per_day: u64,
    /// Bytes of changes one user may have stored in all.
    #[arg(long, default_value_t = Limits::default().user_bytes)]
    max_user_bytes: u64,
}

impl LimitArgs {
    fn limits(self) -> anyhow::Result<Limits> {
        if self.max_request_bytes > MAX_MESSAGE_BYTES {
            bail!("--max-request-bytes may be at most {MAX_MESSAGE_BYTES}, the protocol's limit");
        }
        Ok(Limits {
            request_bytes: self.max_request_bytes,
            docs_per_request: self.max_docs_per_request,
            push_bytes: self.max_push_bytes,
            change_bytes: self.max_change_bytes,
            doc_ops: self.max_doc_ops,
            new_accounts_per_day: self.max_new_accounts_per_day,
            user_bytes: self.max_user_bytes,
        })
    }
}

/// Timeouts and limits on connections and event streams (durations: a number and a unit,
/// s, m, h).
#[derive(Debug, Args)]
struct ConnectionArgs {
    /// How long a client may take to send a request's head once it began.
    #[arg(long, env = "OUTPOST_HEADER_TIMEOUT", default_value = "10s", value_parser = backup::parse_duration)]
    header_timeout: Duration,
    /// How long a client may take to send a request's body.
    #[arg(long, env = "OUTPOST_BODY_TIMEOUT", default_value = "120s", value_parser = backup::parse_duration)]
    body_timeout: Duration,
    /// How long a keep-alive connection may stay idle before it is closed.
    #[arg(long, env = "OUTPOST_IDLE_TIMEOUT", default_value = "60s", value_parser = backup::parse_duration)]
    idle_timeout: Duration,
    /// Connections open at once (beyond: 503 and closed); default: the open-file limit less
    /// 128 (at most 10,000).
    #[arg(long, env = "OUTPOST_MAX_CONNECTIONS")]
    max_connections: Option<NonZeroUsize>,
    /// Event streams one device may hold open (beyond: 429).
    #[arg(long, env = "OUTPOST_MAX_STREAMS_PER_DEVICE", default_value = "4")]
    max_streams_per_device: NonZeroUsize,
    /// Event streams one user's devices may hold open together (beyond: 429).
    #[arg(long, env = "OUTPOST_MAX_STREAMS_PER_USER", default_value = "16")]
    max_streams_per_user: NonZeroUsize,
}

impl ConnectionArgs {
    /// The limits, under the open-file limit raised as far as it goes.
    fn connections(self) -> outpost_server::connections::Connections {
        use outpost_server::connections::{Connections, RESERVED_FILES, raise_open_files};
        let open_files = match raise_open_files() {
            Ok(open_files) => {
                tracing::info!(open_files, "open-file limit");
                Some(open_files)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read or raise the open-file limit");
                None
            }
        };
        let max_connections = match (self.max_connections, open_files) {
            (Some(max), Some(open_files)) => {
                if max.get() as u64 + RESERVED_FILES > open_files {
                    tracing::warn!(
                        max_connections = max.get(),
                        open_files,
                        "--max-connections leaves the server too few files under the \
                         open-file limit: at the limit, new connections may time out"
                    );
                }
                max.get()
            }
            (Some(max), None) => max.get(),
            (None, Some(open_files)) => Connections::max_connections_for(open_files),
            (None, None) => Connections::default().max_connections,
        };
        tracing::info!(max_connections, "connection limit");
        Connections {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            idle_timeout: self.idle_timeout,
            max_connections,
            streams_per_device: self.max_streams_per_device.get(),
            streams_per_user: self.max_streams_per_user.get(),
        }
    }
}

/// Login limits and the password-hashing pool (see README, Security).
#[derive(Debug, Args)]
struct LoginArgs {
    /// Threads that check and hash passwords (19 MiB each while hashing); default: the cores.
    #[arg(long, env = "OUTPOST_HASH_WORKERS", default_value_t = LoginConfig::default().hash_workers)]
    hash_workers: NonZeroUsize,
    /// Password checks that may wait for a thread; beyond them a login gets 503 at once.
    #[arg(long, env = "OUTPOST_HASH_QUEUE", default_value_t = LoginConfig::default().hash_queue)]
    hash_queue: usize,
    /// Login attempts one address may make for one login name per minute.
    #[arg(long, default_value_t = LoginConfig::default().per_name_address)]
    login_per_name_address: u32,
    /// Login attempts one address may make over all names per minute.
    #[arg(long, default_value_t = LoginConfig::default().per_address)]
    login_per_address: u32,
    /// Login attempts one name may receive per minute from addresses and devices it never
    /// logged in from.
    #[arg(long, default_value_t = LoginConfig::default().per_name)]
    login_per_name: u32,
    /// The first lockout when a login limit is reached, in seconds; each further one
    /// doubles, up to an hour.
    #[arg(long, default_value_t = LoginConfig::default().lockout.as_secs())]
    login_lockout_secs: u64,
}

impl LoginArgs {
    fn config(self) -> LoginConfig {
        LoginConfig {
            hash_workers: self.hash_workers,
            hash_queue: self.hash_queue,
            per_name_address: self.login_per_name_address,
            per_address: self.login_per_address,
            per_name: self.login_per_name,
            lockout: Duration::from_secs(self.login_lockout_secs.max(1)),
            ..LoginConfig::default()
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve devices until SIGINT or SIGTERM. The first start of an empty server creates the
    /// user `admin` and writes its password to DATA/admin-password.
    Serve {
        #[command(flatten)]
        data: Data,
        /// Address to listen on.
        #[arg(long, env = "OUTPOST_LISTEN", default_value = "127.0.0.1:7420")]
        listen: SocketAddr,
        /// Documents kept loaded in memory; others are read from disk when needed.
        #[arg(long, default_value = "1024")]
        cache_docs: NonZeroUsize,
        /// Memory for the database's page cache, in MiB: every read goes through it, so it
        /// bounds what a backup or a catch-up over the whole database can take. Smaller costs
        /// write throughput.
        #[arg(long, env = "OUTPOST_CACHE_MB", default_value_t = default_cache_mb())]
        cache_mb: NonZeroUsize,
        /// Serve TLS with this PEM certificate chain (with --tls-key).
        #[arg(
            long,
            env = "OUTPOST_TLS_CERT",
            requires = "tls_key",
            value_name = "PEM"
        )]
        tls_cert: Option<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
        // Boxed: the largest part of the command line, parsed once.
        #[command(flatten)]
        connections: Box<ConnectionArgs>,
        #[command(flatten)]
        login: LoginArgs,
        /// The PEM private key of --tls-cert.
        #[arg(
            long,
            env = "OUTPOST_TLS_KEY",
            requires = "tls_cert",
            value_name = "PEM"
        )]
        tls_key: Option<PathBuf>,
        /// Directory of the backups the server writes (default: DATA/backups).
        #[arg(long, env = "OUTPOST_BACKUP_DIR", value_name = "DIR")]
        backup_dir: Option<PathBuf>,
        /// How often to write a backup: a number and a unit (s, m, h, d, w), or `off`.
        #[arg(long, env = "OUTPOST_BACKUP_EVERY", default_value = "7d", value_parser = parse_every)]
        backup_every: Every,
        /// Backups to keep: older ones are deleted after each new one.
        #[arg(long, env = "OUTPOST_BACKUP_KEEP", default_value = "4")]
        backup_keep: NonZeroUsize,
        /// The time zone (IANA name, such as Asia/Shanghai) views count days in for teams
        /// without one of their own; default: this system's.
        #[arg(long, env = "OUTPOST_TZ", value_name = "ZONE", value_parser = parse_zone)]
        tz: Option<chrono_tz::Tz>,
    },
    /// Write a backup of a stopped server's database to FILE (while the server runs, use
    /// `POST /v1/admin/backups`).
    Backup {
        #[command(flatten)]
        data: Data,
        /// The backup file to write (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Put a backup in place as the data directory's database (the server must be stopped).
    Restore {
        #[command(flatten)]
        data: Data,
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Replace the database the data directory holds.
        #[arg(long)]
        force: bool,
    },
    /// Users (on a stopped server; while it runs, use the admin API).
    #[command(subcommand)]
    User(UserCommand),
    /// Teams (on a stopped server; while it runs, use the admin API).
    #[command(subcommand)]
    Team(TeamCommand),
    /// Devices users logged in from (on a stopped server; while it runs, use the admin API).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Recompute every account's summary row (the team views' data) from the documents.
    RebuildProjections {
        #[command(flatten)]
        data: Data,
    },
    /// Move accounts of one rep to another: named ones, or the whole book.
    Handover {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Account ids to move (default: every account `from` owns).
        #[arg(long = "account")]
        accounts: Vec<DocId>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        #[command(flatten)]
        data: Data,
        login: String,
        #[arg(long)]
        role: Role,
        /// The team of a rep.
        #[arg(long)]
        team: Option<String>,
        /// The name people read, in any script (`张伟`); the login when not given.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Set the name people read for a user (`张伟`); the login stays.
    Rename {
        #[command(flatten)]
        data: Data,
        login: String,
        display_name: String,
    },
    /// Set a user's password, read from the first line of standard input.
    Password {
        #[command(flatten)]
        data: Data,
        login: String,
    },
    /// Disable a user: their devices are refused from their next request.
    Disable {
        #[command(flatten)]
        data: Data,
        login: String,
    },
    /// Enable a disabled user again.
    Enable {
        #[command(flatten)]
        data: Data,
        login: String,
    },
    /// List users.
    List {
        #[command(flatten)]
        data: Data,
    },
}

#[derive(Debug, Subcommand)]
enum TeamCommand {
    /// Add a team.
    Add {
        #[command(flatten)]
        data: Data,
        /// The team's key: a-z, 0-9, '.', '_' or '-'.
        name: String,
        /// The name people read, in any script (`华南销售部`); the key when not given.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Set the name people read for a team (`华南销售部`); its key stays.
    Rename {
        #[command(flatten)]
        data: Data,
        team: String,
        display_name: String,
    },
    /// Make a manager lead a team (or, with --remove, stop leading it).
    Lead {
        #[command(flatten)]
        data: Data,
        team: String,
        manager: String,
        #[arg(long)]
        remove: bool,
    },
    /// List teams with their managers and members.
    List {
        #[command(flatten)]
        data: Data,
    },
    /// Set the time zone a team's views count days and weeks in (an IANA name such as
    /// Asia/Shanghai), or with `default` return it to the server's.
    Tz {
        #[command(flatten)]
        data: Data,
        team: String,
        zone: String,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// List devices, all or one user's.
    List {
        #[command(flatten)]
        data: Data,
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a device: its token is refused from its next request.
    Revoke {
        #[command(flatten)]
        data: Data,
        device: DeviceId,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match Cli::parse().command {
        Command::Serve {
            data,
            listen,
            cache_docs,
            cache_mb,
            limits,
            connections,
            login,
            tls_cert,
            tls_key,
            backup_dir,
            backup_every,
            backup_keep,
            tz,
        } => {
            let tls = tls_cert.zip(tls_key);
            let time_zone = match tz {
                Some(zone) => zone,
                None => system_zone(),
            };
            let config = Config {
                cache_docs,
                limits: limits.limits()?,
                backups: Some(BackupConfig {
                    dir: backup_dir.unwrap_or_else(|| data.data.join("backups")),
                    every: backup_every.0,
                    keep: backup_keep,
                }),
                time_zone,
                connections: (*connections).connections(),
                login: login.config(),
            };
            let storage = open_with_cache(&data.data, cache_mb.get() << 20)?;
            serve(storage, &data.data, listen, config, tls).await
        }
        Command::Backup { data, out } => {
            let path = database(&data.data);
            if !path.is_file() {
                bail!("there is no database in {}", data.data.display());
            }
            let info = backup::write(&open(&data.data)?, &out)?;
            println!(
                "backup of {} written to {}: {} bytes, feed position {}",
                path.display(),
                out.display(),
                info.bytes,
                info.feed_head
            );
            Ok(())
        }
        Command::Restore { data, from, force } => {
            let path = database(&data.data);
            let head = backup::restore(&from, &path, force)?;
            println!(
                "{} restored to {} (feed position {})",
                from.display(),
                path.display(),
                head.0
            );
            Ok(())
        }
        Command::User(command) => user(command),
        Command::Team(command) => team(command),
        Command::Device(command) => device(command),
        Command::Handover {
            data,
            from,
            to,
            accounts,
        } => handover(&data, from, to, accounts).await,
        Command::RebuildProjections { data } => {
            let count = open(&data.data)?.rebuild_projections()?;
            println!("rebuilt the summary rows of {count} account(s)");
            Ok(())
        }
    }
}

fn default_cache_mb() -> NonZeroUsize {
    NonZeroUsize::new(DEFAULT_CACHE_BYTES >> 20).expect("the default cache is at least 1 MiB")
}

/// How often `serve` writes a backup (`None`: never by itself).
#[derive(Debug, Clone, Copy)]
struct Every(Option<Duration>);

fn parse_every(text: &str) -> Result<Every, String> {
    if text == "off" {
        return Ok(Every(None));
    }
    backup::parse_duration(text).map(|every| Every(Some(every)))
}

/// The database file of a data directory.
fn database(data: &Path) -> PathBuf {
    data.join("outpost.redb")
}

/// Opens the database of a data directory, saying so clearly when a running server holds it.
fn open(data: &Path) -> anyhow::Result<Storage> {
    open_with_cache(data, DEFAULT_CACHE_BYTES)
}

/// [`open`], with a page cache of `cache_bytes`.
fn open_with_cache(data: &Path, cache_bytes: usize) -> anyhow::Result<Storage> {
    outpost_client::private::private_dir(data)
        .with_context(|| format!("cannot create data directory {}", data.display()))?;
    let path = database(data);
    Storage::open_with_cache(&path, cache_bytes).map_err(|e| {
        if e.to_string().contains("already open") {
            anyhow::anyhow!(
                "{} is in use by a running server: stop it, or use the admin API (see README)",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot open {}", path.display()))
        }
    })
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            data,
            login,
            role,
            team,
            display_name,
        } => {
            let storage = open(&data.data)?;
            let password = outpost_client::read_password()
                .context("cannot read the password from standard input")?;
            let user = storage.add_named_user(
                &NewUser {
                    login,
                    password,
                    role,
                    team,
                },
                display_name.as_deref(),
            )?;
            if user.display_name == user.login {
                println!("added {} {}", user.role, user.login);
            } else {
                println!("added {} {} ({})", user.role, user.login, user.display_name);
            }
        }
        UserCommand::Rename {
            data,
            login,
            display_name,
        } => {
            let user = open(&data.data)?.set_display_name(&login, &display_name)?;
            println!("{} is now shown as {}", user.login, user.display_name);
        }
        UserCommand::Password { data, login } => {
            let storage = open(&data.data)?;
            let password = outpost_client::read_password()
                .context("cannot read the password from standard input")?;
            storage.set_password(&login, &password)?;
            println!("password of {login} set");
        }
        UserCommand::Disable { data, login } => {
            open(&data.data)?.set_disabled(&login, true)?;
            println!("{login} disabled");
        }
        UserCommand::Enable { data, login } => {
            open(&data.data)?.set_disabled(&login, false)?;
            println!("{login} enabled");
        }
        UserCommand::List { data } => print_json(&open(&data.data)?.users()?)?,
    }
    Ok(())
}

fn team(command: TeamCommand) -> anyhow::Result<()> {
    match command {
        TeamCommand::Add {
            data,
            name,
            display_name,
        } => {
            let team = open(&data.data)?.add_named_team(&name, display_name.as_deref())?;
            if team.display_name == name {
                println!("team {name} added");
            } else {
                println!("team {name} added ({})", team.display_name);
            }
        }
        TeamCommand::Rename {
            data,
            team,
            display_name,
        } => {
            let team = open(&data.data)?.set_team_display_name(&team, &display_name)?;
            println!("team {} is now shown as {}", team.name, team.display_name);
        }
        TeamCommand::Lead {
            data,
            team,
            manager,
            remove,
        } => {
            open(&data.data)?.set_lead(&team, &manager, !remove)?;
            let verb = if remove { "no longer leads" } else { "leads" };
            println!("{manager} {verb} {team}");
        }
        TeamCommand::List { data } => print_json(&open(&data.data)?.teams()?)?,
        TeamCommand::Tz { data, team, zone } => {
            let zone = (zone != "default").then_some(zone);
            let info = open(&data.data)?.set_team_zone(&team, zone.as_deref())?;
            match info.time_zone {
                Some(zone) => println!("team {team} counts days in {zone}"),
                None => println!("team {team} counts days in the server's time zone"),
            }
        }
    }
    Ok(())
}

fn parse_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    outpost_client::facts::zone(name).map_err(|e| e.to_string())
}

/// This system's time zone; UTC (with a warning) when it cannot be read or is not an IANA
/// name this build knows.
fn system_zone() -> chrono_tz::Tz {
    match iana_time_zone::get_timezone() {
        Ok(name) => match outpost_client::facts::zone(&name) {
            Ok(zone) => zone,
            Err(e) => {
                tracing::warn!("{e}; views count days in UTC (set --tz)");
                chrono_tz::Tz::UTC
            }
        },
        Err(e) => {
            tracing::warn!(
                "cannot read the system's time zone ({e}); views count days in UTC (set --tz)"
            );
            chrono_tz::Tz::UTC
        }
    }
}

fn device(command: DeviceCommand) -> anyhow::Result<()> {
    match command {
        DeviceCommand::List { data, user } => {
            print_json(&open(&data.data)?.devices(user.as_deref())?)?;
        }
        DeviceCommand::Revoke { data, device } => {
            open(&data.data)?.revoke_device(device, None)?;
            println!("device {device} revoked");
        }
    }
    Ok(())
}

/// A handover from the console: done as an admin named `console`, through the writer, so it
/// is one durable commit per account exactly as over the API.
async fn handover(
    data: &Data,
    from: String,
    to: String,
    accounts: Vec<DocId>,
) -> anyhow::Result<()> {
    let storage = Arc::new(open(&data.data)?);
    storage.user(&from)?;
    let docs = if accounts.is_empty() {
        storage.owned_by(&from)?
    } else {
        accounts
    };
    let (events, _) = tokio::sync::broadcast::channel(16);
    let (writer, thread) = Writer::spawn(
        storage,
        &Config::default(),
        events,
        Arc::default(),
        Arc::default(),
    );
    let console = Principal {
        login: "console".into(),
        role: Role::Admin,
        team: None,
        leads: Vec::new(),
        device: SERVER_DEVICE,
    };
    let now = chrono::Utc::now().timestamp_millis();
    let results = writer.reassign(console, docs, to.clone(), now).await;
    drop(writer);
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    let mut moved = 0;
    for result in results? {
        match result.outcome {
            PushOutcome::Accepted => moved += 1,
            PushOutcome::Rejected { reason } | PushOutcome::Invalid { reason } => {
                bail!("account {} was not moved: {reason}", result.doc)
            }
            PushOutcome::MissingDependencies => bail!("account {} is damaged", result.doc),
        }
    }
    println!("{moved} account(s) moved from {from} to {to}");
    Ok(())
}

async fn serve(
    storage: Storage,
    data: &Path,
    listen: SocketAddr,
    config: Config,
    tls: Option<(PathBuf, PathBuf)>,
) -> anyhow::Result<()> {
    let password_file = data.join("admin-password");
    if storage.bootstrap_admin(&password_file)? {
        tracing::warn!(
            file = %password_file.display(),
            "first start: created the user `admin`; its password is in the file. Log in with \
             `outpost login --user admin`, then delete the file"
        );
    }
    let server = Server::new(storage, &config);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    match tls {
        Some((cert, key)) => {
            let config = outpost_server::tls::config(&cert, &key)?;
            let listener = outpost_server::tls::TlsListener::new(listener, config)?;
            tracing::info!(addr = %addr, data = %data.display(), tls = true, "outpost-server listening");
            server.serve(listener, shutdown_signal()).await?;
        }
        None => {
            tracing::info!(addr = %addr, data = %data.display(), tls = false, "outpost-server listening");
            server.serve(listener, shutdown_signal()).await?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
