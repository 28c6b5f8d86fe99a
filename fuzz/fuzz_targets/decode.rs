//! Protocol decoding of arbitrary bytes: a request or a reply decodes or fails with an error,
//! never panics, and what decodes re-encodes to a message that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use outpost_protocol::{SyncReply, SyncRequest, decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = decode::<SyncRequest>(data) {
        assert_eq!(decode::<SyncRequest>(&encode(&request)).unwrap(), request);
    }
    if let Ok(reply) = decode::<SyncReply>(data) {
        assert_eq!(decode::<SyncReply>(&encode(&reply)).unwrap(), reply);
    }
});
