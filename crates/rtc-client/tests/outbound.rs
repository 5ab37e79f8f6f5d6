//! SIP Outbound (RFC 5626) against a real registrar: Kamailio with its `outbound` and `path`
//! modules (`-A WITH_OUTBOUND`). The binding carries our instance id and `reg-id`; the instance
//! id is kept beside the presence store, so a client restarted on the same store is the same
//! device, and the registrar replaces its binding instead of adding a second one.

mod common;

use common::*;
use rtc_client::outbound::InstanceId;
use rtc_client::{Event, RegistrationState, Store};

const ALICE: &str = "sip:alice@example.test";

/// The lines of `ul.dump` about alice's bindings: (contact, instance, reg-id) each.
fn alice_bindings(kam: &Kamailio) -> Vec<(String, String, String)> {
    let dump = kam.rpc("ul.dump");
    let Some(start) = dump.find("AoR: alice") else {
        return Vec::new();
    };
    // Every binding's fields follow its `Address:` line, up to the next one.
    let mut bindings = Vec::new();
    for block in dump[start..].split("Address: ").skip(1) {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let address = block.lines().next().unwrap_or_default().trim().to_owned();
        bindings.push((address, field("Instance:"), field("Reg-Id:")));
    }
    bindings
}

/// Registers alice with presence on `store` (enabled first, as `rtc login` does) in a runtime
/// of its own, then drops the runtime with the client in it: the process "dies" without
/// deregistering. `outbound` is [`rtc_client::ClientConfig::outbound`].
fn run_and_die(kam: &Kamailio, store: &std::path::Path, outbound: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let port = kam.port;
    let store = store.to_owned();
    rt.block_on(async move {
        let (client, mut events) = client_with(None, |c| c.outbound = outbound).await;
        client.enable_presence(Store::file(&store)).await.unwrap();
        let profile = client
            .create_profile(&profile_xml("alice", port, "udp"))
            .unwrap();
        client
            .enable_profile(&profile, rtc_client::RegisterFlags::ALL)
            .await
            .unwrap();
        expect_state(&mut events, RegistrationState::Registered).await;
        std::mem::forget(client); // no logoff: the runtime ends under it
        std::mem::forget(events);
    });
    drop(rt);
}

#[test]
fn a_restarted_client_on_the_same_store_replaces_its_binding() {
    let Some(kam) = Kamailio::start("outbound", &["-A", "WITH_OUTBOUND"]) else {
        return;
    };
    let dir = TempDir::new("outbound-store");
    let store = dir.path("alice.xml");

    run_and_die(&kam, &store, true);
    let instance = InstanceId::load_or_create(&Store::file(&store).instance_path()).unwrap();
    let first = alice_bindings(&kam);
    assert_eq!(
        first.len(),
        1,
        "one binding: {first:?}\n{}",
        kam.rpc("ul.dump")
    );
    assert_eq!(first[0].1, format!("<{instance}>"), "{first:?}");
    assert_eq!(first[0].2, "1", "reg-id: {first:?}");

    // The same device starts again (another port, another Call-ID): its binding replaces the
    // first instead of standing beside it.
    run_and_die(&kam, &store, true);
    assert_eq!(
        InstanceId::load_or_create(&Store::file(&store).instance_path()).unwrap(),
        instance,
        "the instance id survives the restart"
    );
    let second = alice_bindings(&kam);
    assert_eq!(second.len(), 1, "one binding, not two: {second:?}");
    assert_eq!(second[0].1, format!("<{instance}>"));
    assert_ne!(second[0].0, first[0].0, "the new run's Contact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_an_outbound_flow_messages_reach_us_and_logoff_removes_the_binding() {
    let Some(kam) = Kamailio::start("outbound-flow", &["-A", "WITH_OUTBOUND"]) else {
        return;
    };
    let (alice, mut alice_events, _) =
        registered(&profile_xml("alice", kam.port, "udp"), None).await;
    let (bob, _bob_events, _) = registered(&profile_xml("bob", kam.port, "udp"), None).await;
    assert_eq!(alice_bindings(&kam).len(), 1);
    // Kamailio sends bob's MESSAGE to alice over the flow her REGISTER came on.
    bob.send_message(ALICE, "over the flow").await.unwrap();
    expect(
        &mut alice_events,
        "bob's message",
        |e| matches!(e, Event::Message { text, .. } if text == "over the flow"),
    )
    .await;
    alice.shutdown().await.unwrap();
    assert_eq!(alice_bindings(&kam), Vec::new(), "{}", kam.rpc("ul.dump"));
    bob.shutdown().await.unwrap();
}

/// The control: without an instance id the registrar can only key bindings by Contact URI,
/// and a restart (another port) leaves the dead run's binding beside the new one until it
/// expires. This is what the test above would see if the instance id were not kept.
#[test]
fn without_outbound_a_restarted_client_leaves_a_second_binding() {
    let Some(kam) = Kamailio::start("outbound-off", &["-A", "WITH_OUTBOUND"]) else {
        return;
    };
    let dir = TempDir::new("outbound-off-store");
    let store = dir.path("alice.xml");
    run_and_die(&kam, &store, false);
    run_and_die(&kam, &store, false);
    let bindings = alice_bindings(&kam);
    assert_eq!(bindings.len(), 2, "{bindings:?}");
    assert!(
        bindings
            .iter()
            .all(|(_, instance, _)| instance.is_empty() || instance == "[not set]")
    );
    assert!(!Store::file(&store).instance_path().exists());
}
