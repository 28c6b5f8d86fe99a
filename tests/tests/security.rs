//! Attacks on a server put on a network, each through the real server, each a defect once
//! seen and fixed at its root:
//! - a write share used as an ownership grant (`owner = self` pushed by a share holder, also
//!   after a merge gave the duplicate's owner a share), and a merge whose duplicate carried
//!   nothing over never reaching the duplicate's owner;
//! - the shared schema-upgrade actor accepted for any change, not only the upgrade.

use chrono::{DateTime, TimeZone, Utc};
use outpost_client::{AccountEdit, NewAccount};
use outpost_protocol::DocId;
use outpost_tests::{Device, TestServer};
use serde_json::{Value, json};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 9, hour, 0, 0).unwrap()
}

async fn post(server: &TestServer, device: &Device, path: &str, body: Value) -> u16 {
    reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .bearer_auth(device.token())
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn create(device: &Device, name: &str, owner: &str) -> DocId {
    let new = NewAccount {
        name: name.into(),
        owner: owner.into(),
        ..NewAccount::default()
    };
    let id = device.store.create_account_anyway(&new, at(8)).unwrap();
    let report = device.sync().await;
    assert!(report.rejected.is_empty(), "{report:?}");
    id
}

/// Pushes `owner = login` from `device` and checks the server refused it and kept the owner.
async fn takeover_is_refused(server: &TestServer, device: &Device, id: DocId, login: &str) {
    let before = server.storage().heads(id).unwrap();
    device
        .store
        .edit_account(id, &AccountEdit::SetOwner(login.into()), at(10))
        .unwrap();
    let report = device.sync().await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(
        report.rejected[0].1.contains("only a manager"),
        "{report:?}"
    );
    assert_eq!(
        server.storage().heads(id).unwrap(),
        before,
        "server untouched"
    );
    assert_ne!(device.store.account(id).unwrap().record.owner, login);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_share_never_grants_ownership() {
    let server = TestServer::start().await;
    let [ana, ben, sol, mia] = [
        server.device_of("ana").await,
        server.device_of("ben").await,
        server.device_of("sol").await,
        server.device_of("mia").await,
    ];

    // Within a team and across teams: a write share lets ben and ana edit, not take over.
    let anas = create(&ana, "Ana Account", "ana").await;
    let sols = create(&sol, "Sol Account", "sol").await;
    let share = |login: &str| json!({ "login": login, "write": true });
    assert_eq!(
        post(
            &server,
            &ana,
            &format!("/v1/accounts/{anas}/shares"),
            share("ben")
        )
        .await,
        204
    );
    assert_eq!(
        post(
            &server,
            &sol,
            &format!("/v1/accounts/{sols}/shares"),
            share("ana")
        )
        .await,
        204
    );
    ben.sync().await;
    ana.sync().await;
    ben.store
        .edit_account(anas, &AccountEdit::SetRegion("North".into()), at(9))
        .unwrap();
    assert!(
        ben.sync().await.rejected.is_empty(),
        "the share still lets ben edit"
    );
    takeover_is_refused(&server, &ben, anas, "ben").await;
    takeover_is_refused(&server, &ana, sols, "ana").await;

    // After a merge the duplicate's owner holds a write share on the survivor: the same.
    let survivor = create(&ana, "Harbor Foods", "ana").await;
    let duplicate = create(&ben, "Harbor Foods GmbH", "ben").await;
    mia.sync().await;
    let merge = json!({ "from": duplicate.to_string() });
    assert_eq!(
        post(
            &server,
            &mia,
            &format!("/v1/accounts/{survivor}/merge"),
            merge
        )
        .await,
        204
    );
    // The duplicate carried nothing over (no contacts, follow-ups, notes), yet ben, who goes on
    // working with the customer on the survivor, receives it.
    let report = ben.sync().await;
    assert!(report.received.contains(&survivor), "{report:?}");
    takeover_is_refused(&server, &ben, survivor, "ben").await;

    // A manager of the team still hands over.
    mia.sync().await;
    mia.store
        .edit_account(anas, &AccountEdit::SetOwner("ben".into()), at(11))
        .unwrap();
    assert!(mia.sync().await.rejected.is_empty());
    assert!(server.storage().owned_by("ben").unwrap().contains(&anas));
}

/// The shared schema-upgrade actor signs one change only, the deterministic upgrade; an
/// ordinary rename under its name was accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_actor_signs_nothing_but_the_upgrade() {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ROOT};
    use outpost_client::model::{UPGRADE_ACTOR, upgrade_change};
    use outpost_protocol::{DocPush, PushOutcome};

    let server = TestServer::start().await;
    let ana = server.device_of("ana").await;
    let id = create(&ana, "Ana Account", "ana").await;
    let before = server.storage().heads(id).unwrap();
    let mut forged = server
        .storage()
        .document(id)
        .unwrap()
        .unwrap()
        .with_actor(ActorId::from(&UPGRADE_ACTOR[..]));
    let heads = forged.get_heads();
    let mut tx = forged.transaction();
    tx.put(ROOT, "name", "Renamed By Nobody").unwrap();
    tx.commit();
    let change = forged.get_changes(&heads).remove(0).raw_bytes().to_vec();
    let push = DocPush {
        doc: id,
        changes: vec![change],
    };
    let (status, reply) = ana.push_raw(&server.url(), vec![push]).await;
    assert_eq!(status, 200);
    match &reply.unwrap().pushed[0].outcome {
        PushOutcome::Rejected { reason } => {
            assert!(reason.contains("not by this device"), "{reason}")
        }
        other => panic!("a rename signed by the upgrade actor was {other:?}"),
    }
    assert_eq!(
        server.storage().heads(id).unwrap(),
        before,
        "server untouched"
    );

    // The upgrade itself is still taken: a schema-1 document pushed with it is accepted.
    let mut old = automerge::Automerge::new()
        .with_actor(ActorId::from(ana.store.device().to_bytes().as_slice()));
    let mut tx = old.transaction();
    tx.put(ROOT, "name", "Schema One").unwrap();
    tx.put(ROOT, "owner", "ana").unwrap();
    tx.put(ROOT, "created_at", automerge::ScalarValue::Timestamp(0))
        .unwrap();
    tx.put_object(ROOT, "follow_ups", automerge::ObjType::Map)
        .unwrap();
    tx.commit();
    let mut changes: Vec<Vec<u8>> = old
        .get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    changes.push(upgrade_change().raw_bytes().to_vec());
    let push = DocPush {
        doc: DocId::from_u128(0x5c4e_0001),
        changes,
    };
    let (_, reply) = ana.push_raw(&server.url(), vec![push]).await;
    assert_eq!(reply.unwrap().pushed[0].outcome, PushOutcome::Accepted);
}
