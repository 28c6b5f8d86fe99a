//! Who may read and write which account.
//!
//! Visibility is expressed as scopes, each with its own change feed: `u:LOGIN` holds the
//! accounts a user owns or that are shared with them, `t:TEAM` the accounts owned by the
//! team's reps. A rep reads `u:self`; a manager reads `u:self` and `t:T` for each team they
//! lead; an admin reads everything (the global feed).
//!
//! Writing: an admin may change any account; an owner their own; a manager the accounts of
//! the teams they lead; a user an account shared with them for writing. Only a manager (for
//! their teams) or an admin changes an owner; a share, even for writing, never does. A change is also allowed when its author owned
//! the account at the point the change was made (its dependencies): an edit made offline
//! before a handover is still the old owner's work and is kept.

use outpost_client::AccountDoc;
use outpost_protocol::api::Role;
use redb::ReadableTable;

use crate::directory::{Principal, decode_user};
use crate::storage::{DocMeta, StorageError, WriteTables};

pub(crate) fn user_scope(login: &str) -> String {
    format!("u:{login}")
}

pub(crate) fn team_scope(team: &str) -> String {
    format!("t:{team}")
}

/// The scopes a caller reads; `None` for everything.
pub(crate) fn reader_scopes(who: &Principal) -> Option<Vec<String>> {
    match who.role {
        Role::Admin => None,
        Role::Rep => Some(vec![user_scope(&who.login)]),
        Role::Manager => Some(
            std::iter::once(user_scope(&who.login))
                .chain(who.leads.iter().map(|t| team_scope(t)))
                .collect(),
        ),
    }
}

/// Whether a reader with `scopes` (`None`: everything) sees a document in `doc_scopes`.
pub(crate) fn sees(scopes: Option<&[String]>, doc_scopes: &[String]) -> bool {
    scopes.is_none_or(|mine| doc_scopes.iter().any(|s| mine.contains(s)))
}

/// The scopes a document owned by `owner` (a member of `team`) and shared with `shares` is
/// visible in.
pub(crate) fn doc_scopes(
    owner: &str,
    team: Option<&str>,
    shares: &[(String, bool)],
) -> Vec<String> {
    let mut scopes = vec![user_scope(owner)];
    if let Some(team) = team {
        scopes.push(team_scope(team));
    }
    for (login, _) in shares {
        let scope = user_scope(login);
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes
}

/// The team of the user `owner`, if they are a rep of one.
pub(crate) fn owner_team(
    tables: &WriteTables<'_>,
    owner: &str,
) -> Result<Option<String>, StorageError> {
    let Some(bytes) = tables.users.get(owner)? else {
        return Ok(None);
    };
    Ok(decode_user(owner, bytes.value()).ok().and_then(|u| u.team))
}

/// Whether `who` may change a document as it stands (`meta`, shared as `shares`).
pub(crate) fn may_write(who: &Principal, meta: &DocMeta, shares: &[(String, bool)]) -> bool {
    match who.role {
        Role::Admin => true,
        _ if meta.owner == who.login => true,
        Role::Manager
            if who
                .leads
                .iter()
                .any(|t| meta.scopes.contains(&team_scope(t))) =>
        {
            true
        }
        _ => shares
            .iter()
            .any(|(login, write)| *write && *login == who.login),
    }
}

/// Whether `who` may change the owner of an account as it stands: an admin, or a manager of
/// the account's team (or its owner). Shares never count, read or write.
pub(crate) fn may_reassign(who: &Principal, meta: &DocMeta) -> bool {
    match who.role {
        Role::Admin => true,
        Role::Manager => {
            meta.owner == who.login
                || who
                    .leads
                    .iter()
                    .any(|t| meta.scopes.contains(&team_scope(t)))
        }
        Role::Rep => false,
    }
}

/// Checks that `who` may make `owner` the owner of an account: themselves for anyone; a rep
/// of a team they lead for a manager; any active user for an admin.
pub(crate) fn check_owner(
    tables: &WriteTables<'_>,
    who: &Principal,
    owner: &str,
) -> Result<Result<(), String>, StorageError> {
    let Some(bytes) = tables.users.get(owner)? else {
        return Ok(Err(format!("owner {owner:?} is not a user of this server")));
    };
    let Ok(user) = decode_user(owner, bytes.value()) else {
        return Ok(Err(format!("owner {owner:?} cannot be read")));
    };
    if user.disabled {
        return Ok(Err(format!("owner {owner} is disabled")));
    }
    let allowed = match who.role {
        Role::Admin => true,
        _ if owner == who.login => true,
        Role::Manager => user.team.is_some_and(|t| who.leads.contains(&t)),
        Role::Rep => false,
    };
    Ok(if allowed {
        Ok(())
    } else if who.role == Role::Rep {
        Err(format!(
            "only a manager or an admin may make {owner} the owner of an account"
        ))
    } else {
        Err(format!("{owner} is not in a team you lead"))
    })
}

/// The record rules of an edit, as a rejection reason; times are checked against `now`, the
/// server's receive time.
pub(crate) fn check_rules(
    before: Option<&AccountDoc>,
    after: &AccountDoc,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let (comments, merged_into, archived) = before.map_or((None, None, None), |b| {
        (
            Some(&b.comments),
            b.merged_into.as_ref(),
            b.archived.as_ref(),
        )
    });
    if comments.map_or(!after.comments.is_empty(), |c| *c != after.comments) {
        return Err("comments are added through the server's comment API, not by devices".into());
    }
    if merged_into != after.merged_into.as_ref() {
        return Err("accounts are merged through the server's merge API, not by devices".into());
    }
    if archived != after.archived.as_ref() {
        return Err(
            "accounts are archived and restored through the server's archive API, not by devices"
                .into(),
        );
    }
    outpost_client::rules::check(before, after)
        .and_then(|()| outpost_client::rules::check_times(before, after, now))
        .map_err(|e| e.to_string())
}
