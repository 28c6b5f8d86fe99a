//! `outpost password`: the logged-in user changes their own password on the server.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, bail};
use outpost_client::store::Store;

use crate::sync::{Remote, runtime};

/// One line of standard input, without its line ending; `prompt` is shown on a terminal.
fn read_line(input: &mut impl BufRead, terminal: bool, prompt: &str) -> Result<String> {
    if terminal {
        eprint!("{prompt} (shown as you type): ");
    }
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        bail!("standard input ended before the {prompt}");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) fn change(store: &Store, remote: &Remote) -> Result<()> {
    let terminal = std::io::stdin().is_terminal();
    let mut input = std::io::stdin().lock();
    let old = read_line(&mut input, terminal, "current password")
        .context("cannot read the current password from standard input")?;
    let new = read_line(&mut input, terminal, "new password")
        .context("cannot read the new password from standard input")?;
    if terminal {
        // A typo no one saw would lock the user out.
        let again = read_line(&mut input, terminal, "new password again")?;
        if again != new {
            bail!("the two new passwords differ; nothing was changed");
        }
    }
    drop(input);
    let server = &remote.url;
    let user = runtime()?
        .block_on(remote.client.change_password(store, &old, &new))
        .with_context(|| format!("the password was not changed on {server}"))?;
    out!(
        "password of {} changed on {server}; this device stays logged in",
        user.login
    );
    Ok(())
}
