//! Who may use the server: users (role, team, argon2-hashed password), teams, and the devices
//! users logged in from. A device token is 32 random bytes; the server keeps only its SHA-256,
//! so a copy of the database does not hand out working tokens. Revoking a device or disabling
//! a user takes effect on the next request, because every request looks the token up.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use chrono::{DateTime, Utc};
use outpost_protocol::DeviceId;
use outpost_protocol::api::{DeviceInfo, LoginRequest, NewUser, Role, TeamInfo, UserInfo};
use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::storage::{
    DEVICES, Storage, StorageError, TEAM_NAMES, TEAM_ZONES, TEAMS, TOKENS, TOLD, USERS,
};
use crate::views::LastSyncs;

/// The shortest password the server accepts.
pub const MIN_PASSWORD: usize = 10;

/// A directory operation that did not happen, and why. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    #[error("unknown login or wrong password")]
    BadCredentials,
    #[error("this device's token is unknown or was revoked; log in again")]
    BadToken,
    #[error("user {0} is disabled")]
    Disabled(String),
    #[error("{0}")]
    Invalid(String),
    /// A display name that cannot be used (empty, too long, control characters): a 400.
    #[error("{0}")]
    BadDisplayName(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<redb::Error> for DirectoryError {
    fn from(e: redb::Error) -> Self {
        DirectoryError::Storage(e.into())
    }
}

macro_rules! via_storage {
    ($($ty:ty),*) => {$(
        impl From<$ty> for DirectoryError {
            fn from(e: $ty) -> Self {
                DirectoryError::Storage(StorageError::from(e))
            }
        }
    )*};
}
via_storage!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub role: Role,
    pub team: Option<String>,
    pub leads: Vec<String>,
    pub password_hash: String,
    pub disabled: bool,
    /// The name people read (`张伟`); `None`: the login. Last, so rows written before it
    /// existed are the same bytes without it (see [`decode_user`]).
    pub display_name: Option<String>,
}

/// A user as stored before display names: read from rows written by earlier versions.
#[derive(Deserialize)]
struct UserRecordV1 {
    role: Role,
    team: Option<String>,
    leads: Vec<String>,
    password_hash: String,
    disabled: bool,
}

/// The name people read for `login`, from the display names by login
/// ([`Storage::display_names`]): the display name, or the login without one.
pub(crate) fn shown_name(names: &HashMap<String, String>, login: &str) -> String {
    names
        .get(login)
        .map_or_else(|| login.to_owned(), Clone::clone)
}

impl UserRecord {
    /// The name people read: the display name, or the login without one.
    pub(crate) fn shown<'a>(&'a self, login: &'a str) -> &'a str {
        self.display_name.as_deref().unwrap_or(login)
    }

    fn info(&self, login: &str) -> UserInfo {
        UserInfo {
            login: login.to_owned(),
            display_name: self.shown(login).to_owned(),
            role: self.role,
            team: self.team.clone(),
            leads: self.leads.clone(),
            disabled: self.disabled,
        }
    }
}

/// A device as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DeviceRecord {
    user: String,
    label: String,
    logged_in_at_ms: i64,
    token: [u8; 32],
    revoked: bool,
    /// When the device last completed a sync (server clock).
    last_sync_ms: Option<i64>,
}

/// The user of a stored device record (`None` if it does not decode).
pub(crate) fn device_user(bytes: &[u8]) -> Option<String> {
    postcard::from_bytes::<DeviceRecord>(bytes)
        .ok()
        .map(|record| record.user)
}

/// An authenticated caller: the user behind a device token, as of this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub login: String,
    pub role: Role,
    pub team: Option<String>,
    pub leads: Vec<String>,
    pub device: DeviceId,
}

pub(crate) fn decode_user(login: &str, bytes: &[u8]) -> Result<UserRecord, DirectoryError> {
    // postcard is not self-describing, so a serde default cannot fill a field a row lacks:
    // a row that ends before the display name is one written before it existed.
    postcard::from_bytes(bytes)
        .or_else(|_| {
            postcard::from_bytes::<UserRecordV1>(bytes).map(|old| UserRecord {
                role: old.role,
                team: old.team,
                leads: old.leads,
                password_hash: old.password_hash,
                disabled: old.disabled,
                display_name: None,
            })
        })
        .map_err(|e| DirectoryError::Invalid(format!("stored user {login} is damaged: {e}")))
}

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 64;

/// A display name as given, trimmed, or why it is refused: any script is fine, but not
/// empty, not longer than [`MAX_DISPLAY_NAME`] characters, and without control characters
/// or the invisible direction marks that make one name look like another.
pub fn check_display_name(name: &str) -> Result<String, DirectoryError> {
    let name = name.trim();
    let refuse = |why: &str| {
        Err(DirectoryError::BadDisplayName(format!(
            "display name {name:?} {why}; it takes 1 to {MAX_DISPLAY_NAME} characters in any script (张伟, Ana Müller)"
        )))
    };
    if name.is_empty() {
        return refuse("is empty");
    }
    if name.chars().count() > MAX_DISPLAY_NAME {
        return refuse("is too long");
    }
    let hidden = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{2028}' | '\u{2029}'
            )
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if let Some(c) = name.chars().find(|&c| hidden(c)) {
        return refuse(&format!(
            "holds the control character U+{:04X}",
            u32::from(c)
        ));
    }
    Ok(name.to_owned())
}

/// Users' display names by login, kept in memory for the views (which name every rep of
/// every row) and rebuilt from the `users` table after every change to a user.
#[derive(Debug, Default)]
pub(crate) struct DisplayNames {
    by_login: RwLock<Option<Arc<HashMap<String, String>>>>,
}

/// A counter bumped after every committed change to a user or a device (disabled, revoked,
/// role, team, led teams): open event streams wait on it and check their token again, so a
/// stream ends when its access does.
#[derive(Debug)]
pub(crate) struct AccessChanges(tokio::sync::watch::Sender<u64>);

impl Default for AccessChanges {
    fn default() -> Self {
        AccessChanges(tokio::sync::watch::Sender::new(0))
    }
}

impl AccessChanges {
    fn changed(&self) {
        self.0.send_modify(|count| *count += 1);
    }

    /// A receiver that sees the changes from now on.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscribe()
    }
}

impl DisplayNames {
    /// The current map: loaded from `storage` the first time.
    fn get(&self, storage: &Storage) -> Result<Arc<HashMap<String, String>>, DirectoryError> {
        if let Some(map) = &*self.by_login.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(map.clone());
        }
        self.reload(storage)
    }

    /// Reads the map anew. The lock is held while reading, so a reload started after a
    /// commit always lands after (and over) one that read before it.
    fn reload(&self, storage: &Storage) -> Result<Arc<HashMap<String, String>>, DirectoryError> {
        let mut slot = self.by_login.write().unwrap_or_else(|e| e.into_inner());
        let txn = storage.begin_read()?;
        let mut map = HashMap::new();
        for entry in txn.open_table(USERS)?.iter()? {
            let (login, bytes) = entry?;
            let record = decode_user(login.value(), bytes.value())?;
            if let Some(name) = record.display_name {
                map.insert(login.value().to_owned(), name);
            }
        }
        let map = Arc::new(map);
        *slot = Some(map.clone());
        Ok(map)
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("directory records always serialize")
}

fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

thread_local! {
    /// The memory argon2 works in (19 MiB with the default parameters), one per thread that
    /// hashes, kept for its next hash. Each call allocating its own left the allocator
    /// holding a block per thread that ever hashed (100 logins grew the server by 62 MiB in
    /// the benchmark), and one block shared behind a lock made every password check wait
    /// for the others inside the blocking pool the rest of the server needs. The server
    /// hashes only on the password pool's few threads (`auth::PasswordPool`), so this is
    /// one block per worker.
    static ARGON2_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// `password` hashed with `argon` and `salt`, in the shared memory, as a PHC string's parts.
fn argon2_hash<'a>(
    argon: &Argon2<'_>,
    algorithm: Algorithm,
    version: Version,
    password: &[u8],
    salt: Salt<'a>,
) -> password_hash::Result<PasswordHash<'a>> {
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let params = argon.params();
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let hash = ARGON2_MEMORY.with_borrow_mut(|memory| {
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::default());
        }
        Output::init_with(output_len, |out| {
            Ok(argon.hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])?)
        })
    })?;
    Ok(PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(salt),
        hash: Some(hash),
    })
}

/// The lowest zxcvbn score (0 to 4) a new password must reach: 3 is "safely unguessable:
/// moderate protection from an offline slow-hash scenario" (about 10^10 guesses).
pub const MIN_PASSWORD_SCORE: u8 = 3;

/// Refuses a password that is short or easy to guess (zxcvbn: dictionary words, names,
/// keyboard patterns, repeats, dates, and `inputs` such as the login), saying why and how
/// to choose a better one.
pub fn check_password_strength(password: &str, inputs: &[&str]) -> Result<(), DirectoryError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(DirectoryError::Invalid(format!(
            "the password is too short: it needs at least {MIN_PASSWORD} characters"
        )));
    }
    let estimate = zxcvbn::zxcvbn(password, inputs);
    let score = u8::from(estimate.score());
    if score >= MIN_PASSWORD_SCORE {
        return Ok(());
    }
    let mut why = format!(
        "the password is too easy to guess (strength {score} of 4; at least {MIN_PASSWORD_SCORE} is needed)"
    );
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            why.push_str(&format!(": {warning}"));
        }
        for suggestion in feedback.suggestions() {
            why.push_str(&format!(" {suggestion}"));
        }
    }
    if !why.ends_with('.') {
        why.push('.');
    }
    why.push_str(" Several unrelated words or a long random string work well.");
    Err(DirectoryError::Invalid(why))
}

/// A new password for `login`, checked for strength, hashed.
fn new_password_hash(
    login: &str,
    display_name: Option<&str>,
    password: &str,
) -> Result<String, DirectoryError> {
    let mut inputs = vec![login, "outpost"];
    inputs.extend(display_name);
    check_password_strength(password, &inputs)?;
    hash_password(password)
}

fn hash_password(password: &str) -> Result<String, DirectoryError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| DirectoryError::Invalid(format!("cannot make a salt: {e}")))?;
    let (algorithm, version) = (Algorithm::default(), Version::default());
    let argon = Argon2::new(algorithm, version, Params::default());
    argon2_hash(
        &argon,
        algorithm,
        version,
        password.as_bytes(),
        salt.as_salt(),
    )
    .map(|h| h.to_string())
    .map_err(|e| DirectoryError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` is the one `stored` (a PHC string) was made from.
fn password_matches(password: &str, stored: &str) -> Result<bool, DirectoryError> {
    let invalid =
        |e: password_hash::Error| DirectoryError::Invalid(format!("stored password hash: {e}"));
    let hash = PasswordHash::new(stored).map_err(invalid)?;
    let algorithm = Algorithm::try_from(hash.algorithm).map_err(invalid)?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| invalid(e.into()))?
        .unwrap_or_default();
    let params = Params::try_from(&hash).map_err(invalid)?;
    let salt = hash.salt.ok_or(invalid(password_hash::Error::SaltInvalid(
        password_hash::errors::InvalidValue::Malformed,
    )))?;
    let argon = Argon2::new(algorithm, version, params);
    let computed =
        argon2_hash(&argon, algorithm, version, password.as_bytes(), salt).map_err(invalid)?;
    // `Output`'s comparison takes the same time whatever the bytes.
    Ok(computed.hash.is_some() && computed.hash == hash.hash)
}

fn check_name(what: &str, name: &str) -> Result<(), DirectoryError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "{what} {name:?} must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-'"
        )))
    }
}

fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Storage {
    /// Whether no user exists yet (a first start).
    pub fn has_users(&self) -> Result<bool, DirectoryError> {
        let txn = self.begin_read()?;
        Ok(!txn.open_table(USERS)?.is_empty()?)
    }

    /// On a server without users, creates the admin `admin` with a random password written to
    /// `password_file` (readable by its owner only). Returns whether it did.
    pub fn bootstrap_admin(&self, password_file: &Path) -> Result<bool, anyhow::Error> {
        if self.has_users()? {
            return Ok(false);
        }
        let password = hex::encode(rand::random::<[u8; 12]>());
        write_private(password_file, &format!("{password}\n"))?;
        self.add_user(&NewUser {
            login: "admin".into(),
            password,
            role: Role::Admin,
            team: None,
        })?;
        Ok(true)
    }

    /// Creates a user whose display name is their login.
    pub fn add_user(&self, new: &NewUser) -> Result<UserInfo, DirectoryError> {
        self.add_named_user(new, None)
    }

    /// Creates a user with the name people read (`None`: the login).
    pub fn add_named_user(
        &self,
        new: &NewUser,
        display_name: Option<&str>,
    ) -> Result<UserInfo, DirectoryError> {
        check_name("login", &new.login)?;
        let display_name = display_name.map(check_display_name).transpose()?;
        let password_hash = new_password_hash(&new.login, display_name.as_deref(), &new.password)?;
        let txn = self.begin_write()?;
        let info = {
            let mut users = txn.open_table(USERS)?;
            if users.get(new.login.as_str())?.is_some() {
                return Err(DirectoryError::Conflict(format!(
                    "login {} is taken",
                    new.login
                )));
            }
            let team = match (new.role, &new.team) {
                (Role::Rep, Some(team)) => {
                    if txn.open_table(TEAMS)?.get(team.as_str())?.is_none() {
                        return Err(DirectoryError::NotFound(format!("no team named {team}")));
                    }
                    Some(team.clone())
                }
                (Role::Rep, None) => {
                    return Err(DirectoryError::Invalid(
                        "a rep belongs to a team: name it".into(),
                    ));
                }
                (_, Some(_)) => {
                    return Err(DirectoryError::Invalid(format!(
                        "only reps belong to a team; a {} leads teams instead",
                        new.role
                    )));
                }
                (_, None) => None,
            };
            let record = UserRecord {
                role: new.role,
                team,
                leads: Vec::new(),
                password_hash,
                disabled: false,
                display_name,
            };
            users.insert(new.login.as_str(), encode(&record).as_slice())?;
            record.info(&new.login)
        };
        txn.commit()?;
        self.names.reload(self)?;
        Ok(info)
    }

    /// Renames a user for people: the login stays.
    pub fn set_display_name(&self, login: &str, name: &str) -> Result<UserInfo, DirectoryError> {
        let name = check_display_name(name)?;
        let info = self.update_user(login, |record, _| {
            record.display_name = Some(name);
            Ok(())
        })?;
        self.names.reload(self)?;
        Ok(info)
    }

    /// Display names by login (only users who have one), from memory.
    pub fn display_names(&self) -> Result<Arc<HashMap<String, String>>, DirectoryError> {
        self.names.get(self)
    }

    fn update_user(
        &self,
        login: &str,
        change: impl FnOnce(&mut UserRecord, &redb::WriteTransaction) -> Result<(), DirectoryError>,
    ) -> Result<UserInfo, DirectoryError> {
        let txn = self.begin_write()?;
        let info = {
            let mut users = txn.open_table(USERS)?;
            let mut record = match users.get(login)? {
                Some(bytes) => decode_user(login, bytes.value())?,
                None => return Err(DirectoryError::NotFound(format!("no user {login}"))),
            };
            change(&mut record, &txn)?;
            users.insert(login, encode(&record).as_slice())?;
            record.info(login)
        };
        txn.commit()?;
        self.access.changed();
        Ok(info)
    }

    /// Disables (or enables again) a user: a disabled user's devices are refused.
    pub fn set_disabled(&self, login: &str, disabled: bool) -> Result<UserInfo, DirectoryError> {
        self.update_user(login, |record, _| {
            record.disabled = disabled;
            Ok(())
        })
    }

    /// Sets a user's password (an admin's choice), if it is strong enough.
    pub fn set_password(&self, login: &str, password: &str) -> Result<UserInfo, DirectoryError> {
        let record = self.user_record(login)?;
        let hash = new_password_hash(login, record.display_name.as_deref(), password)?;
        self.update_user(login, |record, _| {
            record.password_hash = hash;
            Ok(())
        })
    }

    /// A user changes their own password: `old` must be the current one (else
    /// [`DirectoryError::BadCredentials`], as for a failed login) and `new` strong enough.
    /// The user's devices keep their tokens; a user who fears one is lost revokes it.
    pub fn change_password(
        &self,
        login: &str,
        old: &str,
        new: &str,
    ) -> Result<UserInfo, DirectoryError> {
        let record = self.user_record(login)?;
        if !password_matches(old, &record.password_hash)? {
            return Err(DirectoryError::BadCredentials);
        }
        if new == old {
            return Err(DirectoryError::Invalid(
                "the new password is the current one; choose another".into(),
            ));
        }
        let hash = new_password_hash(login, record.display_name.as_deref(), new)?;
        let checked = record.password_hash;
        self.update_user(login, |record, _| {
            // Another change landed between the check and now: this one was made against a
            // password that is no longer current.
            if record.password_hash != checked {
                return Err(DirectoryError::BadCredentials);
            }
            record.password_hash = hash;
            Ok(())
        })
    }

    fn user_record(&self, login: &str) -> Result<UserRecord, DirectoryError> {
        let txn = self.begin_read()?;
        let users = txn.open_table(USERS)?;
        match users.get(login)? {
            Some(bytes) => decode_user(login, bytes.value()),
            None => Err(DirectoryError::NotFound(format!("no user {login}"))),
        }
    }

    /// Makes a manager lead a team (or stop leading it).
    pub fn set_lead(
        &self,
        team: &str,
        login: &str,
        leads: bool,
    ) -> Result<UserInfo, DirectoryError> {
        self.update_user(login, |record, txn| {
            if record.role != Role::Manager {
                return Err(DirectoryError::Invalid(format!(
                    "{login} is a {}; only managers lead teams",
                    record.role
                )));
            }
            if txn.open_table(TEAMS)?.get(team)?.is_none() {
                return Err(DirectoryError::NotFound(format!("no team named {team}")));
            }
            record.leads.retain(|t| t != team);
            if leads {
                record.leads.push(team.to_owned());
                record.leads.sort();
            }
            Ok(())
        })
    }

    /// Every user, by login.
    pub fn users(&self) -> Result<Vec<UserInfo>, DirectoryError> {
        let txn = self.begin_read()?;
        let mut out = Vec::new();
        for entry in txn.open_table(USERS)?.iter()? {
            let (login, bytes) = entry?;
            out.push(decode_user(login.value(), bytes.value())?.info(login.value()));
        }
        Ok(out)
    }

    /// One user.
    pub fn user(&self, login: &str) -> Result<UserInfo, DirectoryError> {
        let txn = self.begin_read()?;
        let users = txn.open_table(USERS)?;
        match users.get(login)? {
            Some(bytes) => Ok(decode_user(login, bytes.value())?.info(login)),
            None => Err(DirectoryError::NotFound(format!("no user {login}"))),
        }
    }

    /// Creates a team.
    pub fn add_team(&self, name: &str) -> Result<TeamInfo, DirectoryError> {
        self.add_named_team(name, None)
    }

    /// Creates a team with the name people read (`华南销售部`; `None`: the key `name`).
    pub fn add_named_team(
        &self,
        name: &str,
        display_name: Option<&str>,
    ) -> Result<TeamInfo, DirectoryError> {
        check_name("team name", name)?;
        let display_name = display_name.map(check_display_name).transpose()?;
        let txn = self.begin_write()?;
        {
            let mut teams = txn.open_table(TEAMS)?;
            if teams.get(name)?.is_some() {
                return Err(DirectoryError::Conflict(format!("team {name} exists")));
            }
            teams.insert(name, ())?;
            if let Some(shown) = &display_name {
                txn.open_table(TEAM_NAMES)?.insert(name, shown.as_str())?;
            }
        }
        txn.commit()?;
        Ok(TeamInfo {
            name: name.to_owned(),
            display_name: display_name.unwrap_or_else(|| name.to_owned()),
            managers: Vec::new(),
            members: Vec::new(),
            time_zone: None,
        })
    }

    /// Renames a team for people: its key (in scopes, filters, users' records) stays.
    pub fn set_team_display_name(
        &self,
        team: &str,
        name: &str,
    ) -> Result<TeamInfo, DirectoryError> {
        let name = check_display_name(name)?;
        let txn = self.begin_write()?;
        {
            if txn.open_table(TEAMS)?.get(team)?.is_none() {
                return Err(DirectoryError::NotFound(format!("no team named {team}")));
            }
            txn.open_table(TEAM_NAMES)?.insert(team, name.as_str())?;
        }
        txn.commit()?;
        self.teams()?
            .into_iter()
            .find(|t| t.name == team)
            .ok_or_else(|| DirectoryError::NotFound(format!("no team named {team}")))
    }

    /// Sets the time zone a team's views count days in (an IANA name, checked); `None`
    /// returns the team to the server's zone.
    pub fn set_team_zone(
        &self,
        team: &str,
        zone: Option<&str>,
    ) -> Result<TeamInfo, DirectoryError> {
        let zone = zone
            .map(|name| {
                outpost_client::facts::zone(name)
                    .map_err(|e| DirectoryError::Invalid(e.to_string()))
            })
            .transpose()?;
        let txn = self.begin_write()?;
        {
            if txn.open_table(TEAMS)?.get(team)?.is_none() {
                return Err(DirectoryError::NotFound(format!("no team {team}")));
            }
            let mut zones = txn.open_table(TEAM_ZONES)?;
            match zone {
                Some(zone) => {
                    zones.insert(team, zone.name())?;
                }
                None => {
                    zones.remove(team)?;
                }
            }
        }
        txn.commit()?;
        self.teams()?
            .into_iter()
            .find(|t| t.name == team)
            .ok_or_else(|| DirectoryError::NotFound(format!("no team {team}")))
    }

    /// The time zones teams have, by team (teams without one are absent).
    pub fn team_zones(
        &self,
    ) -> Result<std::collections::HashMap<String, chrono_tz::Tz>, DirectoryError> {
        let txn = self.begin_read()?;
        let mut out = std::collections::HashMap::new();
        for entry in txn.open_table(TEAM_ZONES)?.iter()? {
            let (team, zone) = entry?;
            // Names were checked when set; one this build's database lacks is left out.
            if let Ok(zone) = outpost_client::facts::zone(zone.value()) {
                out.insert(team.value().to_owned(), zone);
            }
        }
        Ok(out)
    }

    /// Every team with its managers and members.
    pub fn teams(&self) -> Result<Vec<TeamInfo>, DirectoryError> {
        let users = self.users()?;
        let zones = self.team_zones()?;
        let txn = self.begin_read()?;
        let shown = txn.open_table(TEAM_NAMES)?;
        let mut out = Vec::new();
        for entry in txn.open_table(TEAMS)?.iter()? {
            let name = entry?.0.value().to_owned();
            let display_name = shown
                .get(name.as_str())?
                .map_or_else(|| name.clone(), |v| v.value().to_owned());
            let managers = users
                .iter()
                .filter(|u| u.leads.contains(&name))
                .map(|u| u.login.clone())
                .collect();
            let members = users
                .iter()
                .filter(|u| u.team.as_deref() == Some(name.as_str()))
                .map(|u| u.login.clone())
                .collect();
            out.push(TeamInfo {
                time_zone: zones.get(&name).map(|z| z.name().to_owned()),
                name,
                display_name,
                managers,
                members,
            });
        }
        Ok(out)
    }

    /// Checks a login's password (slow on purpose: argon2) and registers the device to the
    /// user with a fresh token, replacing the device's previous token. Returns the token.
    pub fn login(
        &self,
        request: &LoginRequest,
        now: DateTime<Utc>,
    ) -> Result<(String, UserInfo), DirectoryError> {
        let record = {
            let txn = self.begin_read()?;
            let users = txn.open_table(USERS)?;
            let stored = users.get(request.login.as_str())?;
            match stored {
                Some(bytes) => decode_user(&request.login, bytes.value())?,
                None => {
                    // Spend the same time as a wrong password, so logins cannot be probed.
                    let _ = hash_password("not a real password, only a timing pad");
                    return Err(DirectoryError::BadCredentials);
                }
            }
        };
        // A disabled user's right password answers as a wrong one (after the same argon2
        // work), so a refusal never confirms a guessed password.
        if !password_matches(&request.password, &record.password_hash)? || record.disabled {
            return Err(DirectoryError::BadCredentials);
        }
        let token = hex::encode(rand::random::<[u8; 32]>());
        let txn = self.begin_write()?;
        {
            let mut devices = txn.open_table(DEVICES)?;
            let mut tokens = txn.open_table(TOKENS)?;
            let key = request.device.as_u128();
            if let Some(bytes) = devices.get(key)? {
                let old: DeviceRecord = postcard::from_bytes(bytes.value())
                    .map_err(|e| DirectoryError::Invalid(format!("stored device: {e}")))?;
                if old.user != request.login {
                    return Err(DirectoryError::Conflict(format!(
                        "device {} belongs to another user; a device serves one user",
                        request.device
                    )));
                }
                drop(bytes);
                tokens.remove(old.token)?;
            }
            let record = DeviceRecord {
                user: request.login.clone(),
                label: request.label.clone(),
                logged_in_at_ms: now.timestamp_millis(),
                token: hash_token(&token),
                revoked: false,
                last_sync_ms: None,
            };
            devices.insert(key, encode(&record).as_slice())?;
            tokens.insert(record.token, key)?;
        }
        txn.commit()?;
        Ok((token, record.info(&request.login)))
    }

    /// The caller behind a device token, or why it is refused.
    pub fn authenticate(&self, token: &str) -> Result<Principal, DirectoryError> {
        let txn = self.begin_read()?;
        let device = txn
            .open_table(TOKENS)?
            .get(hash_token(token))?
            .map(|v| v.value())
            .ok_or(DirectoryError::BadToken)?;
        let devices = txn.open_table(DEVICES)?;
        let record: DeviceRecord = match devices.get(device)? {
            Some(bytes) => postcard::from_bytes(bytes.value())
                .map_err(|e| DirectoryError::Invalid(format!("stored device: {e}")))?,
            None => return Err(DirectoryError::BadToken),
        };
        if record.revoked {
            return Err(DirectoryError::BadToken);
        }
        let users = txn.open_table(USERS)?;
        let user = match users.get(record.user.as_str())? {
            Some(bytes) => decode_user(&record.user, bytes.value())?,
            None => return Err(DirectoryError::BadToken),
        };
        if user.disabled {
            return Err(DirectoryError::Disabled(record.user));
        }
        Ok(Principal {
            login: record.user,
            role: user.role,
            team: user.team,
            leads: user.leads,
            device: DeviceId::from_u128(device),
        })
    }

    /// Devices, all or one user's.
    pub fn devices(&self, user: Option<&str>) -> Result<Vec<DeviceInfo>, DirectoryError> {
        let txn = self.begin_read()?;
        let mut out = Vec::new();
        for entry in txn.open_table(DEVICES)?.iter()? {
            let (device, bytes) = entry?;
            let record: DeviceRecord = postcard::from_bytes(bytes.value())
                .map_err(|e| DirectoryError::Invalid(format!("stored device: {e}")))?;
            if user.is_some_and(|u| u != record.user) {
                continue;
            }
            out.push(DeviceInfo {
                device: DeviceId::from_u128(device.value()),
                user: record.user,
                label: record.label,
                logged_in_at: ms_to_time(record.logged_in_at_ms),
                revoked: record.revoked,
            });
        }
        Ok(out)
    }

    /// The labels of `devices` (those that exist), for naming them beside their users.
    pub fn device_labels(
        &self,
        devices: impl IntoIterator<Item = DeviceId>,
    ) -> Result<HashMap<DeviceId, String>, DirectoryError> {
        let txn = self.begin_read()?;
        let table = txn.open_table(DEVICES)?;
        let mut out = HashMap::new();
        for device in devices {
            if out.contains_key(&device) {
                continue;
            }
            if let Some(bytes) = table.get(device.as_u128())? {
                let record: DeviceRecord = postcard::from_bytes(bytes.value())
                    .map_err(|e| DirectoryError::Invalid(format!("stored device: {e}")))?;
                out.insert(device, record.label);
            }
        }
        Ok(out)
    }

    /// Records when devices completed a sync (server clock), in one transaction.
    pub fn record_syncs(&self, syncs: &[(DeviceId, i64)]) -> Result<(), DirectoryError> {
        let txn = self.begin_write()?;
        {
            let mut devices = txn.open_table(DEVICES)?;
            for &(device, at_ms) in syncs {
                let key = device.as_u128();
                let record = match devices.get(key)? {
                    Some(bytes) => postcard::from_bytes::<DeviceRecord>(bytes.value()).ok(),
                    None => None,
                };
                if let Some(mut record) = record {
                    record.last_sync_ms = record.last_sync_ms.max(Some(at_ms));
                    devices.insert(key, encode(&record).as_slice())?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Stores the checkpoint of the last reply sent to each device (never lowering one).
    pub fn record_told(&self, told: &[(DeviceId, u64)]) -> Result<(), DirectoryError> {
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(TOLD)?;
            for &(device, seq) in told {
                let key = device.as_u128();
                let stored = table.get(key)?.map_or(0, |v| v.value());
                table.insert(key, stored.max(seq))?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// When each user's devices last synced: the latest of their devices, by login.
    pub fn last_syncs(&self) -> Result<LastSyncs, DirectoryError> {
        let txn = self.begin_read()?;
        let mut latest = LastSyncs::new();
        for entry in txn.open_table(DEVICES)?.iter()? {
            let (_, bytes) = entry?;
            let record: DeviceRecord = postcard::from_bytes(bytes.value())
                .map_err(|e| DirectoryError::Invalid(format!("stored device: {e}")))?;
            if let Some(at) = record
                .last_sync_ms
                .and_then(DateTime::from_timestamp_millis)
            {
                let slot = latest.entry(record.user).or_insert(at);
                *slot = (*slot).max(at);
            }
        }
        Ok(latest)
    }

    /// Revokes a device's token; `owner` restricts it to that user's devices.
    pub fn revoke_device(
        &self,
        device: DeviceId,
        owner: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let txn = self.begin_write()?;
        {
            let mut devices = txn.open_table(DEVICES)?;
            let key = device.as_u128();
            let mut record: DeviceRecord = match devices.get(key)? {
                Some(bytes) => postcard::from_bytes(bytes.value())
                    .map_err(|e| DirectoryError::Invalid(format!("stored device: {e}")))?,
                None => return Err(DirectoryError::NotFound(format!("no device {device}"))),
            };
            if owner.is_some_and(|o| o != record.user) {
                return Err(DirectoryError::NotFound(format!("no device {device}")));
            }
            txn.open_table(TOKENS)?.remove(record.token)?;
            record.revoked = true;
            devices.insert(key, encode(&record).as_slice())?;
        }
        txn.commit()?;
        self.access.changed();
        Ok(())
    }
}

/// Writes a secret to a new file only its owner can read.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(content.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user row as versions before display names wrote it.
    #[derive(Serialize)]
    struct OldRow<'a> {
        role: Role,
        team: Option<&'a str>,
        leads: Vec<String>,
        password_hash: &'a str,
        disabled: bool,
    }

    #[test]
    fn rows_written_before_display_names_load_with_the_login_shown() {
        let old = postcard::to_stdvec(&OldRow {
            role: Role::Rep,
            team: Some("field"),
            leads: Vec::new(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            disabled: true,
        })
        .unwrap();
        let record = decode_user("ana", &old).unwrap();
        assert_eq!(record.display_name, None);
        assert_eq!(record.team.as_deref(), Some("field"));
        assert!(record.disabled);
        assert_eq!(record.info("ana").display_name, "ana");

        let new = UserRecord {
            display_name: Some("张伟".into()),
            ..record
        };
        let decoded = decode_user("ana", &encode(&new)).unwrap();
        assert_eq!(decoded, new);
        assert_eq!(decoded.info("ana").display_name, "张伟");
    }

    #[test]
    fn display_names_take_any_script_but_no_control_characters() {
        for good in [
            "张伟",
            "Ana Müller",
            "Jose\u{301}",
            "👩‍💼 蔡",
            &"伟".repeat(64),
        ] {
            assert_eq!(check_display_name(good).unwrap(), good);
        }
        assert_eq!(check_display_name(" 张伟\u{3000}").unwrap(), "张伟");
        for bad in [
            "",
            " ",
            "a\u{0}b",
            "a\tb",
            "\u{202E}x",
            "x\u{2066}",
            &"伟".repeat(65),
        ] {
            assert!(
                matches!(
                    check_display_name(bad),
                    Err(DirectoryError::BadDisplayName(_))
                ),
                "{bad:?}"
            );
        }
    }
}

#[cfg(test)]
mod strength_tests {
    use super::*;

    #[test]
    fn guessable_passwords_are_refused_with_advice_and_strong_ones_pass() {
        for weak in ["aaaaaaaaaa", "password12", "qwertyuiop", "1234567890"] {
            let err = check_password_strength(weak, &["ana"])
                .unwrap_err()
                .to_string();
            assert!(err.contains("too easy to guess"), "{weak}: {err}");
        }
        let short = check_password_strength("x7#Kq", &[])
            .unwrap_err()
            .to_string();
        assert!(short.contains("too short"), "{short}");
        for strong in [
            "field-sales-2026",
            "correct horse battery staple",
            "Tq8!vZr2#pLm",
            "红色的山丘上有一只猫",
        ] {
            check_password_strength(strong, &["ana"]).unwrap_or_else(|e| panic!("{strong}: {e}"));
        }
    }
}
