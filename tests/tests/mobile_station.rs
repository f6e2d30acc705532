//! A mobile station (流动驿站: a laptop on the recruitment caravan, certified by the city for a
//! county) meets a township station of that county on the same LAN: neither knows the other's
//! address, mDNS finds it, and they sync. The two run in separate network namespaces joined by
//! a veth pair (a LAN of two hosts), so multicast discovery is real and isolated from the
//! machine's own network.
//!
//! Needs root and iproute2; where the machine does not allow it, the test prints why and passes
//! without checking anything else.

use lingong_tests::{Daemon, NetnsPair, Node, certify, init_chain, poll_until};
use std::time::Duration;

#[test]
fn a_mobile_station_finds_a_township_by_mdns_and_syncs_with_it() {
    let Some(pair) = NetnsPair::create_or_skip("lgmb", 92, None) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = init_chain(dir.path());
    let (city, county, township) = (&chain[1], &chain[2], &chain[3]);
    // The city certifies a mobile station for the county (a county-level node).
    let mobile = Node::init(dir.path(), "mobile", "黄平县流动驿站", "522622");
    certify(Some(city), &mobile);
    // Both need the county's certificate record to verify each other's posts' authors; the
    // township already knows its own chain. A post at the township for the whole county:
    township.create_post("乡镇驿站的采茶工", Some("522622"), &[]);
    mobile.json(&[
        "post",
        "create",
        "--title",
        "流动驿站登记的搬运工",
        "--occupation",
        "装卸工",
        "--wage",
        "200",
        "--unit",
        "day",
        "--headcount",
        "2",
    ]);
    let _ = county;

    let _t = Daemon::start_discoverable(
        township,
        &format!("/ip4/{}/tcp/4801", pair.addr_b),
        Some(&pair.b),
    );
    let _m = Daemon::start_discoverable(
        &mobile,
        &format!("/ip4/{}/tcp/4802", pair.addr_a),
        Some(&pair.a),
    );

    let deadline = Duration::from_secs(180);
    poll_until(
        "the township's post at the mobile station",
        deadline,
        || {
            let list = mobile.json(&["post", "list"]);
            list.as_array()?
                .iter()
                .any(|p| p["title"] == "乡镇驿站的采茶工")
                .then_some(())
        },
    );
    // The mobile station's region (the county) contains the township but the township is not
    // inside the mobile station's post's reach unless it is county-wide: this one is.
    poll_until(
        "the mobile station's post at the township",
        deadline,
        || {
            let list = township.json(&["post", "list"]);
            list.as_array()?
                .iter()
                .any(|p| p["title"] == "流动驿站登记的搬运工")
                .then_some(())
        },
    );
}
