//! What one sync request may carry, so no device — buggy or hostile — can make the server
//! allocate without bound or grow a document past what a sales account needs.
//!
//! - The whole request body: [`Limits::request_bytes`] (413 beyond it).
//! - Documents per request: [`Limits::docs_per_request`] (413 beyond it). Devices of this
//!   version send at most [`outpost_protocol::MAX_PUSHES`] per request and
//!   `outpost_client::sync::PUSH_BUDGET` bytes of pushes, so limits below those refuse them.
//! - Per document, refused as `Rejected` with the reason (the other documents of the request
//!   go ahead; the device keeps the refused edit in its rejected list): the bytes of its pushed changes as sent
//!   ([`Limits::push_bytes`]); the size each compressed change inflates to, checked with a
//!   bounded decoder *before* automerge inflates it ([`Limits::change_bytes`]), so a small
//!   deflate bomb is refused without being expanded; and the operations the document would
//!   hold after the push ([`Limits::doc_ops`]).
//! - Per user, refused the same way, counted in the store with the commit (so they hold across
//!   restarts and a refused push counts nothing): new accounts per UTC day
//!   ([`Limits::new_accounts_per_day`]) and the bytes of changes the user has had stored
//!   ([`Limits::user_bytes`]). Changes the server writes itself (handovers, merges, comments)
//!   count against nobody, and neither do admins (who set the limits, and load a whole
//!   team's book at once).

use std::io::Read;

use outpost_protocol::MAX_PUSHES;

/// The bounds a running server puts on sync requests; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub request_bytes: usize,
    pub docs_per_request: usize,
    pub push_bytes: usize,
    pub change_bytes: usize,
    pub doc_ops: u64,
    /// New accounts one user may create per UTC day.
    pub new_accounts_per_day: u64,
    /// Bytes of changes one user may have stored (their share of the store; automerge keeps
    /// history, so this only grows).
    pub user_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_bytes: outpost_protocol::MAX_MESSAGE_BYTES,
            docs_per_request: MAX_PUSHES,
            push_bytes: 4 * 1024 * 1024,
            change_bytes: 16 * 1024 * 1024,
            doc_ops: 2_000_000,
            // A rep's import of a whole Excel book (a field rep's is hundreds of accounts)
            // fits in a day; a runaway or hostile device stops well before it fills the disk.
            new_accounts_per_day: 5_000,
            user_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// The chunk type automerge gives a DEFLATE-compressed change.
const COMPRESSED_CHANGE: u8 = 2;
/// Magic bytes and checksum before the chunk type.
const CHUNK_PREFIX: usize = 8;

impl Limits {
    /// Refuses one pushed change whose compressed body inflates to more than
    /// [`Self::change_bytes`], reading at most that many bytes of it.
    pub fn check_change(&self, bytes: &[u8]) -> Result<(), String> {
        let Some((&COMPRESSED_CHANGE, rest)) =
            bytes.get(CHUNK_PREFIX..).and_then(|b| b.split_first())
        else {
            // Not compressed: its size is its length, bounded by the push.
            return Ok(());
        };
        let Some((len, body)) = uleb128(rest) else {
            return Err("the change's header is truncated".into());
        };
        let body = usize::try_from(len)
            .ok()
            .and_then(|len| body.get(..len))
            .ok_or("the change is shorter than its header says")?;
        let limit = self.change_bytes as u64;
        let inflated = std::io::copy(
            &mut flate2::bufread::DeflateDecoder::new(body).take(limit + 1),
            &mut std::io::sink(),
        )
        .map_err(|e| format!("the change does not inflate: {e}"))?;
        if inflated > limit {
            return Err(format!(
                "a change inflates to more than {} bytes, the limit",
                self.change_bytes
            ));
        }
        Ok(())
    }
}

/// An unsigned LEB128 number and the bytes after it.
fn uleb128(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT};

    use super::*;

    /// A change setting a text of `len` repeated letters: tiny once compressed.
    fn compressible_change(len: usize) -> Vec<u8> {
        let mut doc = AutoCommit::new();
        let text = doc.put_object(ROOT, "notes", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, &"a".repeat(len)).unwrap();
        let mut change = doc.get_last_local_change().unwrap().clone();
        change.bytes().into_owned()
    }

    #[test]
    fn a_change_inflating_past_the_limit_is_refused_before_it_is_expanded() {
        let limits = Limits {
            change_bytes: 64 * 1024,
            ..Limits::default()
        };
        let small = compressible_change(1_000);
        assert_eq!(small[CHUNK_PREFIX], COMPRESSED_CHANGE, "compressed");
        assert_eq!(limits.check_change(&small), Ok(()));
        let bomb = compressible_change(1_000_000);
        assert_eq!(bomb[CHUNK_PREFIX], COMPRESSED_CHANGE, "compressed");
        assert!(bomb.len() < 64 * 1024, "{} bytes as sent", bomb.len());
        let refused = limits.check_change(&bomb).unwrap_err();
        assert!(
            refused.contains("inflates to more than 65536 bytes"),
            "{refused}"
        );
        // Cut short: refused, not read past its end.
        assert!(limits.check_change(&bomb[..20]).is_err());
    }

    #[test]
    fn uleb128_reads_multi_byte_numbers() {
        assert_eq!(uleb128(&[0xe5, 0x8e, 0x26, 7]), Some((624_485, &[7u8][..])));
        assert_eq!(uleb128(&[0x80]), None);
    }
}
