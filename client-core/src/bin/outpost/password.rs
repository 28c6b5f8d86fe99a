//! `outpost password`: the logged-in user changes their own password on the server.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, anyhow};
use outpost_client::store::Store;

use crate::sync::{Remote, runtime};

/// One line of standard input, without its line ending; `prompt` is shown on a terminal.
fn read_line(input: &mut impl BufRead, terminal: bool, prompt: &str) -> Result<String> {
    if terminal {
        eprint!("{}", t!("password-prompt", what = prompt));
    }
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Err(anyhow!(t!("password-input-ended", what = prompt)));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) fn change(store: &Store, remote: &Remote) -> Result<()> {
    let terminal = std::io::stdin().is_terminal();
    let mut input = std::io::stdin().lock();
    let (current, fresh) = (t!("password-current"), t!("password-new"));
    let old = read_line(&mut input, terminal, &current)
        .with_context(|| t!("password-unreadable", what = current.as_str()))?;
    let new = read_line(&mut input, terminal, &fresh)
        .with_context(|| t!("password-unreadable", what = fresh.as_str()))?;
    if terminal {
        // A typo no one saw would lock the user out.
        let again = read_line(&mut input, terminal, &t!("password-again"))?;
        if again != new {
            return Err(anyhow!(t!("password-differ")));
        }
    }
    drop(input);
    let server = &remote.url;
    let user = runtime()?
        .block_on(remote.client.change_password(store, &old, &new))
        .with_context(|| t!("password-not-changed", server = server.as_str()))?;
    out!(
        "{}",
        t!(
            "password-changed",
            login = user.login.as_str(),
            server = server.as_str()
        )
    );
    Ok(())
}
