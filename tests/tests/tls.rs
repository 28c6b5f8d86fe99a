//! The real server binary serving TLS with a certificate and key given as options: a device
//! that trusts the certificate and requires TLS logs in and syncs; a device that does not
//! trust it, or speaks plain HTTP to it, gets nowhere; a device that requires TLS refuses a
//! plain `http://` address before sending anything.

use outpost_client::{HttpClient, NewAccount, Store, SyncError, TlsOptions};
use outpost_tests::ServerProcess;
use tempfile::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_sync_over_tls_and_can_insist_on_it() {
    let dir = TempDir::new().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let password = std::fs::read_to_string(data.join("admin-password")).unwrap();
    let https = format!("https://localhost:{}", server.addr.port());

    let trusting = TlsOptions {
        ca_cert: Some(certified.cert.pem().into_bytes()),
        require_tls: true,
    };
    let store = Store::in_memory().unwrap();
    let client = HttpClient::with_tls(&https, &trusting).unwrap();
    client
        .login(&store, "admin", password.trim(), "tls test")
        .await
        .unwrap();
    let new = NewAccount {
        name: "Harbor Foods".into(),
        owner: "admin".into(),
        ..NewAccount::default()
    };
    let id = store.create_account(&new, chrono::Utc::now()).unwrap();
    let report = client.sync(&store).await.unwrap();
    assert_eq!(report.pushed, [id]);

    // Without the certificate trusted, the handshake fails and nothing is sent.
    let untrusting = HttpClient::with_tls(&https, &TlsOptions::default()).unwrap();
    let err = untrusting.sync(&store).await.unwrap_err();
    assert!(matches!(err, SyncError::Transport(_)), "{err:?}");

    // Plain HTTP to the TLS port gets no answer an Outpost client accepts.
    let plain = HttpClient::new(&format!("http://localhost:{}", server.addr.port()));
    assert!(plain.sync(&store).await.is_err());

    // A client that requires TLS refuses an http:// address outright.
    let err = HttpClient::with_tls("http://localhost:7420", &trusting).unwrap_err();
    assert!(matches!(err, SyncError::NotTls(_)), "{err:?}");
    assert!(err.to_string().contains("https://"), "{err}");
}
