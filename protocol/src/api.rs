//! The JSON API beside sync: logging a device in, administering users, teams and devices,
//! handing accounts over, sharing them, and reading an account's history.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, DocId, Seq};

/// What a user may do. A rep works their own accounts (and those shared with them); a manager
/// also sees and reassigns the accounts of the teams they lead; an admin sees everything and
/// manages users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Rep,
    Manager,
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Admin => "admin",
        })
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "rep" => Ok(Role::Rep),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}: use rep, manager or admin")),
        }
    }
}

/// `POST /v1/login`: a user logs a device in once and receives the device's token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub login: String,
    pub password: String,
    /// The device's own id (its automerge actor); one device belongs to one user.
    pub device: DeviceId,
    /// A name the user recognises the device by in `devices` lists.
    pub label: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password never reaches a log through a Debug print.
        f.debug_struct("LoginRequest")
            .field("login", &self.login)
            .field("device", &self.device)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/me/password`: a user changes their own password. The user's devices keep
/// their tokens (revoke one with `DELETE /v1/me/devices/{device}`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub old_password: String,
    /// The new one (at least 10 characters, and hard to guess).
    pub new_password: String,
}

impl fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither password reaches a log through a Debug print.
        f.debug_struct("PasswordChange").finish_non_exhaustive()
    }
}

/// The answer to a login: the token to send as `Authorization: Bearer TOKEN`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginReply {
    pub token: String,
    pub user: UserInfo,
}

impl fmt::Debug for LoginReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginReply")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A user as the API shows it (never with a password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub login: String,
    /// The name people read, in any script (`张伟`); the login when none was given.
    #[serde(default)]
    pub display_name: String,
    pub role: Role,
    /// The team a rep belongs to.
    pub team: Option<String>,
    /// The teams a manager leads.
    pub leads: Vec<String>,
    pub disabled: bool,
}

/// One active user as any logged-in user sees them (`GET /v1/people`): enough to name an
/// account's owner, for instance when an import is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub login: String,
    /// The name people read, in any script (`张伟`); the login when none was given.
    #[serde(default)]
    pub display_name: String,
    pub role: Role,
    /// The team a rep belongs to.
    pub team: Option<String>,
}

/// `POST /v1/admin/users`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub login: String,
    pub password: String,
    pub role: Role,
    /// The team of a rep (required for reps, refused for others).
    #[serde(default)]
    pub team: Option<String>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("login", &self.login)
            .field("role", &self.role)
            .field("team", &self.team)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/admin/users` as sent: the new user and, optionally, the name people read
/// (`张伟`; the login when not given). Kept beside [`NewUser`] so code that builds a
/// `NewUser` needs no change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUserRequest {
    #[serde(flatten)]
    pub user: NewUser,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `PATCH` (or `PUT`) `/v1/admin/users/{login}`, and `PATCH /v1/admin/teams/{team}`: what
/// to change; a field left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplayNameChange {
    /// The name people read, in any script (1 to 64 characters, no control characters).
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A team and who is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInfo {
    /// The team's key: ASCII, as in scopes and filters.
    pub name: String,
    /// The name people read, in any script (`华南销售部`); the key when none was given.
    #[serde(default)]
    pub display_name: String,
    pub managers: Vec<String>,
    pub members: Vec<String>,
    /// The IANA time zone the team's views count days in; `None`: the server's.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// A device a user logged in from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device: DeviceId,
    pub user: String,
    pub label: String,
    pub logged_in_at: DateTime<Utc>,
    /// Revoked devices are refused from their next request on.
    pub revoked: bool,
}

/// `POST /v1/handover`: a manager moves accounts of one rep to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    pub from: String,
    pub to: String,
    /// The accounts to move; `None` moves the whole book of `from`.
    #[serde(default)]
    pub accounts: Option<Vec<DocId>>,
    /// Nothing is moved: the reply lists what would be.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a handover moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverReply {
    pub moved: Vec<DocId>,
    /// The same accounts with their customers' names.
    #[serde(default)]
    pub accounts: Vec<AccountRef>,
}

/// `POST /v1/people/{login}/offboard`: a departing rep's whole book goes to `to`, then the
/// rep is disabled and every device of theirs revoked. With `dry_run` nothing changes: the
/// reply says what would be done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offboard {
    pub to: String,
    #[serde(default)]
    pub dry_run: bool,
}

/// An account named in a reply: its id and the customer's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    pub id: DocId,
    pub name: String,
}

/// What an off-boarding did (or, for a dry run, would do). A retry after an interruption
/// reports only what was still left to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffboardReply {
    pub login: String,
    pub to: String,
    /// The accounts handed over to `to`.
    pub moved: Vec<AccountRef>,
    /// Whether the user was disabled by this request (false if they already were).
    pub disabled: bool,
    /// The devices revoked by this request.
    pub revoked: Vec<DeviceId>,
    pub dry_run: bool,
}

/// `POST /v1/admin/users/{login}/password`: an admin sets a new password for a user who
/// lost theirs. The user's devices keep their tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    pub new_password: String,
}

impl fmt::Debug for PasswordReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password never reaches a log through a Debug print.
        f.debug_struct("PasswordReset").finish_non_exhaustive()
    }
}

/// One user an account is shared with (`GET /v1/accounts/{id}/shares`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub login: String,
    #[serde(default)]
    pub display_name: String,
    pub write: bool,
}

/// One backup file in the server's backup directory (`GET /v1/admin/backups`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    pub file: String,
    /// When it was written (from its name, which the server gives it).
    pub written_at: DateTime<Utc>,
    pub bytes: u64,
}

/// `POST /v1/accounts/{id}/shares`: lets another user see (and with `write`, edit) an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub login: String,
    #[serde(default)]
    pub write: bool,
}

/// `POST /v1/accounts/{id}/merge`: merges the duplicate `from` into the account `{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    pub from: DocId,
}

/// `POST /v1/accounts/{id}/comments`: a manager's review comment on the account, or on one
/// of its follow-ups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub text: String,
    #[serde(default)]
    pub follow_up: Option<String>,
}

/// One commit of an account as `GET /v1/accounts/{id}/history` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The commit's position in the change feed.
    pub seq: Seq,
    /// When the server committed it.
    pub server_time: DateTime<Utc>,
    /// The device that pushed it (for server-made changes such as a handover: none).
    pub device: Option<DeviceId>,
    /// The user that device belonged to, or `server` for the server's own changes.
    pub user: String,
    /// That user's display name (`张伟`), as it is now; `user` for the server's changes.
    #[serde(default)]
    pub display_name: String,
    /// The label of the device that pushed it, as it is now.
    #[serde(default)]
    pub device_label: Option<String>,
    pub changes: Vec<HistoryChange>,
}

/// One automerge change inside a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryChange {
    pub hash: String,
    /// When the edit was made, by the device's clock.
    pub device_time: DateTime<Utc>,
    /// The fields it set or removed, as paths such as `stage` or `contacts/k3x/phone`.
    pub fields: Vec<String>,
}

/// Where a rep's week stands in the weekly review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Submitted by the rep, waiting for the manager.
    Submitted,
    /// Sent back by the manager with an opinion; the rep fixes and submits again.
    Returned,
    /// Checked and filed.
    Reviewed,
}

impl fmt::Display for ReviewStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReviewStatus::Submitted => "submitted",
            ReviewStatus::Returned => "returned",
            ReviewStatus::Reviewed => "reviewed",
        })
    }
}

/// `POST /v1/reviews`: a rep submits one week's records for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSubmission {
    /// The Monday the week starts on, in the rep's zone.
    pub week: chrono::NaiveDate,
    /// The rep's IANA time zone: the week runs Monday 00:00 to Sunday 24:00 in it.
    pub time_zone: String,
}

/// `POST /v1/reviews/{rep}/{week}/decision`: the manager's verdict on a submitted week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecision {
    /// `reviewed` or `returned` (`submitted` is refused).
    pub decision: ReviewStatus,
    /// The review opinion; required when the week is returned.
    #[serde(default)]
    pub opinion: Option<String>,
}

/// A manager's opinion on one round of a week's review, signed with name and date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewOpinion {
    pub decision: ReviewStatus,
    pub text: String,
    pub reviewer: String,
    /// The reviewer's display name (`李经理`) when the opinion was written.
    pub reviewer_name: String,
    pub at: DateTime<Utc>,
}

/// One submission of a week and what the manager made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRound {
    pub submitted_at: DateTime<Utc>,
    pub opinion: Option<ReviewOpinion>,
    /// What the server found incomplete when the manager decided (empty while waiting).
    #[serde(default)]
    pub incomplete: Vec<IncompleteItem>,
}

/// Something the week's records lack, found by the server from the stored documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteItem {
    pub account: DocId,
    pub account_name: String,
    /// The record, as a path in the account: `follow_ups/ID`, `opportunities/ID`, `plans/ID`.
    pub record: String,
    /// What the record is, for people: a follow-up's time and summary, an opportunity's
    /// name and stage, a plan's goal.
    pub record_label: String,
    /// What is missing, as a code: `follow_up_no_summary`, `follow_up_no_next_action`,
    /// `next_action_no_date`, `next_action_no_owner`, `probability_outside_stage`,
    /// `logged_late`.
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
}

/// An account of a week's review as it is filed: by customer name and first-contact date
/// (`ABC公司_20240315`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiledAccount {
    pub account: DocId,
    pub name: String,
    pub first_contact: Option<chrono::NaiveDate>,
    /// `NAME_YYYYMMDD` (the day of first contact, or of entry when none was recorded).
    pub filed_as: String,
}

/// One rep's week in the weekly review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekReview {
    pub rep: String,
    pub rep_name: String,
    pub team: Option<String>,
    /// The Monday the week starts on.
    pub week: chrono::NaiveDate,
    pub time_zone: String,
    pub status: ReviewStatus,
    /// When the week was last submitted.
    pub submitted_at: DateTime<Utc>,
    /// The latest opinion, if the manager decided on the latest round.
    pub opinion: Option<ReviewOpinion>,
    /// Every round, oldest first: an earlier return's opinion stays here after the rep
    /// submits again.
    pub rounds: Vec<ReviewRound>,
    /// The accounts with records in the week.
    pub accounts: Vec<FiledAccount>,
    /// What is incomplete now (while waiting for the manager) or was when the manager
    /// decided.
    pub incomplete: Vec<IncompleteItem>,
}

/// One account in the archive of reviewed weeks (`GET /v1/reviews/archive`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedReview {
    pub filed: FiledAccount,
    pub rep: String,
    pub rep_name: String,
    pub week: chrono::NaiveDate,
    pub opinion: Option<ReviewOpinion>,
}
