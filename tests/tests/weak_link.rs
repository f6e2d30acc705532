//! A village behind a weak, flapping link: two network namespaces joined by a veth pair shaped
//! to 50 kbit/s each way (`tc … tbf`), with the link taken down half of the time. The village
//! daemon runs in one namespace; the township, county, city and province daemons in the other.
//! Posts made at the village must reach the province, and a county post must reach the village.
//!
//! Needs root, iproute2 and tc. Where the machine does not allow it, the test prints why and
//! passes without checking anything else. This kernel has no `netem`, so packet loss is not
//! emulated here; the outages are real link-down periods.

use lingong_tests::{Daemon, NetnsPair, init_chain, poll_until};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[test]
fn posts_cross_a_slow_link_that_is_down_half_of_the_time() {
    let Some(pair) = NetnsPair::create_or_skip("lgwl", 91, Some("50kbit")) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    // Upstream nodes share namespace b (loopback among themselves; the township also listens on
    // the veth address); the village is alone in namespace a.
    let upstream_ports = [4711u16, 4712, 4713];
    for i in 1..4 {
        let parent = format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            upstream_ports[i - 1],
            nodes[i - 1].node_id()
        );
        nodes[i].json(&["peer", "add", &parent]);
    }
    let township_addr = format!("/ip4/{}/tcp/4714/p2p/{}", pair.addr_b, nodes[3].node_id());
    nodes[4].json(&["peer", "add", &township_addr]);
    let mut daemons = Vec::new();
    for (i, port) in upstream_ports.iter().enumerate() {
        daemons.push(Daemon::start_at(
            &nodes[i],
            &format!("/ip4/127.0.0.1/tcp/{port}"),
            Some(&pair.b),
        ));
    }
    let township = Daemon::start_at(&nodes[3], "/ip4/0.0.0.0/tcp/4714", Some(&pair.b));
    let village = Daemon::start_at(
        &nodes[4],
        &format!("/ip4/{}/tcp/4715", pair.addr_a),
        Some(&pair.a),
    );

    // The link flaps: 3 s down, 3 s up, until the checks are done.
    let stop = Arc::new(AtomicBool::new(false));
    let flapper = {
        let stop = Arc::clone(&stop);
        let (ns, dev) = (pair.a.clone(), pair.dev_a.clone());
        std::thread::spawn(move || {
            let mut up = true;
            while !stop.load(Ordering::Relaxed) {
                // A fixed rhythm here is the fault being injected, not a wait for a result.
                std::thread::sleep(Duration::from_secs(3));
                up = !up;
                let _ = std::process::Command::new("ip")
                    .args([
                        "-n",
                        &ns,
                        "link",
                        "set",
                        &dev,
                        if up { "up" } else { "down" },
                    ])
                    .status();
            }
            let _ = std::process::Command::new("ip")
                .args(["-n", &ns, "link", "set", &dev, "up"])
                .status();
        })
    };

    for i in 0..20 {
        nodes[4].json(&[
            "post",
            "create",
            "--title",
            &format!("弱网村站岗位 {i}"),
            "--occupation",
            "4-10-01-06",
            "--wage",
            "120",
            "--unit",
            "day",
            "--headcount",
            "1",
            "--description",
            &"山区村站通过弱网发布的岗位说明。".repeat(20),
        ]);
    }
    nodes[2].create_post("弱网测试县岗位", Some("522622"), &[]);

    let deadline = Duration::from_secs(600);
    poll_until("the village's 20 posts at the province", deadline, || {
        let n = nodes[0]
            .json(&["post", "list", "--region", "522622101001"])
            .as_array()?
            .len();
        (n >= 20).then_some(())
    });
    poll_until("the county post at the village", deadline, || {
        let list = nodes[4].json(&["post", "list"]);
        list.as_array()?
            .iter()
            .any(|p| p["title"] == "弱网测试县岗位")
            .then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    flapper.join().expect("flapper");
    drop(village);
    drop(township);
    drop(daemons);
}
