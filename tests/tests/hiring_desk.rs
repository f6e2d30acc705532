//! The hiring desk end to end, with real `lingong` processes over real libp2p sockets: a post
//! is reviewed (真实性审查) where it may be, reaches the stations inside its reach, is matched
//! with priority workers first (困难帮扶), and takes placements (即时确认结果) whose count
//! travels up to the post's station and beyond, and sideways to every station of the county
//! (a sibling village sees the last place taken and neither offers nor fills it again); two
//! sibling villages placing on the last place while offline both keep their placements and the
//! post shows overfilled at both until one is cancelled; a suspended employer's posts are refused; bad input exits 2 naming the field and
//! changes nothing; lists page without repeats or gaps.
//!
//! Two layouts: the whole chain with a daemon at every station, each dialling its parent
//! ([`chain_of_daemons`]); or a daemon at the township only, which the county and two sibling
//! villages dial with `lingong sync` ([`township_hub`]), so a village is offline except while
//! it syncs. Nothing sleeps a fixed time: every wait polls with a deadline.

use lingong_protocol::credit_code::{ALPHABET, check_character, org_check_character};
use lingong_protocol::id_number::complete_id_number;
use lingong_tests::{Daemon, Node, certify, free_port, init_chain, poll_until, post_args};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Generous: CI runs these on two loaded cores in a debug build.
const DEADLINE: Duration = Duration::from_secs(120);

/// The township of [`lingong_tests::CHAIN`] (旧州镇).
const TOWNSHIP: &str = "522622101";

/// A second village under the township: a sibling of the chain's village (乐源社区).
const SIBLING: (&str, &str, &str) = ("village-b", "舞阳社区零工服务站", "522622101002");

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("the output has an id").to_string()
}

/// `lingong --json ARGS…` at `node`, parsed, or `None` if the command failed (a record not
/// held yet, say).
fn try_json(node: &Node, args: &[&str]) -> Option<Value> {
    let out = node.command().arg("--json").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// The address `node` listens on at `port`, with its node id.
fn addr(node: &Node, port: u16) -> String {
    format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", node.node_id())
}

/// The chain of [`lingong_tests::CHAIN`] with a daemon at every station, each dialling its
/// parent.
fn chain_of_daemons(dir: &Path) -> (Vec<Node>, Vec<Daemon>) {
    let nodes = init_chain(dir);
    let ports: Vec<u16> = nodes.iter().map(|_| free_port()).collect();
    for i in 1..nodes.len() {
        nodes[i].json(&["peer", "add", &addr(&nodes[i - 1], ports[i - 1])]);
    }
    let daemons = nodes
        .iter()
        .zip(&ports)
        .map(|(n, p)| Daemon::start(n, *p))
        .collect();
    (nodes, daemons)
}

/// The chain plus [`SIBLING`] certified by the township; a daemon at the township only, which
/// the county and both villages dial when they run `lingong sync`.
fn township_hub(dir: &Path) -> (Vec<Node>, Node, Daemon) {
    let nodes = init_chain(dir);
    let (folder, name, region) = SIBLING;
    let sibling = Node::init(dir, folder, name, region);
    certify(Some(&nodes[3]), &sibling);
    let port = free_port();
    let township = addr(&nodes[3], port);
    for node in [&nodes[2], &nodes[4], &sibling] {
        node.json(&["peer", "add", &township]);
    }
    let daemon = Daemon::start(&nodes[3], port);
    (nodes, sibling, daemon)
}

/// `lingong sync --once` at a node without a daemon; every peer must answer.
fn sync(node: &Node) {
    let out = node.json(&["sync", "--once", "--timeout", "60"]);
    let peers = out["peers"].as_array().expect("peers");
    assert!(
        !peers.is_empty() && peers.iter().all(|p| p["ok"] == true),
        "sync at {}: {out}",
        node.home.display()
    );
}

/// Polls `node`'s `post show ID` until `check` accepts it, syncing first when `syncing`
/// (a node without a daemon).
fn post_until(
    node: &Node,
    post: &str,
    syncing: bool,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    poll_until(
        &format!("{what} at {}", node.home.display()),
        DEADLINE,
        || {
            if syncing {
                sync(node);
            }
            try_json(node, &["post", "show", post]).filter(|p| check(p))
        },
    )
}

/// The `post list` row of `post` at `node`.
fn row_of(node: &Node, post: &str) -> Option<Value> {
    node.json(&["post", "list"])
        .as_array()?
        .iter()
        .find(|r| r["id"] == post)
        .cloned()
}

/// A valid unified social credit code of an enterprise (91) registered in 黄平县 with the
/// organization code body `body` (8 characters of [`ALPHABET`]): both check characters computed.
fn credit_code(body: &str) -> String {
    let mut code = format!("91522622{body}");
    code.push(org_check_character(body).expect("an organization code body"));
    code.push(check_character(&code).expect("17 characters"));
    code
}

/// `employer register --type enterprise` at `node`, verified when `verified_by` is given.
fn register_employer(node: &Node, name: &str, code: &str, verified_by: Option<&str>) -> String {
    let mut args = vec![
        "employer",
        "register",
        "--name",
        name,
        "--type",
        "enterprise",
        "--credit-code",
        code,
        "--contact",
        "张三",
        "--phone",
        "13800001111",
    ];
    if let Some(v) = verified_by {
        args.extend(["--verified-by", v]);
    }
    id_of(&node.json(&args))
}

/// Everything a refused command must leave as it was: the record counts of `status` and the
/// lists a clerk reads.
fn snapshot(node: &Node) -> Value {
    json!({
        "records": node.json(&["status"])["records"],
        "posts": node.json(&["post", "list"]),
        "placements": node.json(&["placement", "list"]),
        "workers": node.json(&["worker", "list"]),
        "employers": node.json(&["employer", "list"]),
    })
}

/// Runs `args` at `node` and asserts exit status 2, one line on stderr naming one of `fields`,
/// the `--json` error naming it too, and an unchanged store.
fn assert_refused(node: &Node, label: &str, args: &[&str], fields: &[&str]) {
    let before = snapshot(node);
    let failure = node.fail(args);
    assert_eq!(failure.status, 2, "{label}: exit status 2, got {failure:?}");
    let stderr = failure.stderr.trim();
    assert_eq!(
        stderr.lines().count(),
        1,
        "{label}: one line on stderr: {stderr}"
    );
    let lower = stderr.to_lowercase();
    assert!(
        fields.iter().any(|f| lower.contains(f)),
        "{label}: stderr must name the field ({fields:?}): {stderr}"
    );
    let message = failure.json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        fields.iter().any(|f| message.contains(f)),
        "{label}: the JSON error names the field ({fields:?}): {}",
        failure.json
    );
    assert_eq!(snapshot(node), before, "{label}: the store changed");
}

fn ids(rows: &Value) -> Vec<String> {
    rows.as_array()
        .expect("a list")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn a_county_post_matches_priority_workers_first_at_the_village_and_its_placement_fills_it_up_the_line()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, _daemons) = chain_of_daemons(dir.path());
    let (province, city, county, village) = (&nodes[0], &nodes[1], &nodes[2], &nodes[4]);

    // 1. A county post, approved at the county, reaches the village approved.
    let post = county.create_post("县城仓库搬运工", Some("522622"), &[]);
    assert_eq!(row_of(county, &post).expect("listed")["review"], "pending");
    let reviewed = county.json(&["post", "review", &post, "--approve"]);
    assert_eq!(reviewed["review"], "approved");
    post_until(village, &post, false, "the approved county post", |p| {
        p["review"] == "approved"
    });

    // Three porters alike but for their priority, registered so that the order they are held
    // in (newest first) is the reverse of the order help is due.
    let disabled = village.register_porter("杨光荣", 1, &["--flags", "disabled"]);
    let older = village.register_porter("吴秀英", 2, &["--flags", "older"]);
    let plain = village.register_porter("龙建国", 3, &[]);
    let matched = village.json(&["match", "--post", &post]);
    let rows = matched.as_array().expect("a list");
    let order: Vec<&str> = rows
        .iter()
        .map(|r| r["worker_id"].as_str().expect("worker_id"))
        .collect();
    assert_eq!(
        order,
        vec![disabled.as_str(), older.as_str(), plain.as_str()],
        "priority workers first (disability counts double): {matched}"
    );
    for r in rows {
        assert_eq!(r["band"], rows[0]["band"], "otherwise similar: {matched}");
        assert_eq!(r["score"], rows[0]["score"], "otherwise similar: {matched}");
        assert!(
            r["reasons"].as_array().is_some_and(|a| a.len() >= 3),
            "every result says why: {r}"
        );
    }
    assert_eq!(rows[0]["priority"], 2);
    assert_eq!(rows[1]["priority"], 1);
    assert_eq!(rows[2]["priority"], 0);
    let says_priority = |r: &Value| {
        r["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.starts_with("priority")))
    };
    assert!(says_priority(&rows[0]) && says_priority(&rows[1]));
    assert!(!says_priority(&rows[2]), "no priority reason: {}", rows[2]);
    let zh = village.json(&["--lang", "zh", "match", "--post", &post]);
    assert!(
        zh[0]["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.starts_with("优先帮扶"))),
        "reasons in the user's language: {zh}"
    );

    // 2. A placement at the village fills the post at the village, the county (the post's
    //    station) and above.
    let placement = id_of(&village.json(&[
        "placement",
        "confirm",
        "--post",
        &post,
        "--worker",
        &disabled,
        "--worker-confirmed",
        "paper",
    ]));
    assert_eq!(row_of(village, &post).expect("listed")["filled"], 1);
    let at_county = post_until(county, &post, false, "the placement", |p| p["filled"] == 1);
    assert_eq!(at_county["overfilled"], false);
    let placements = at_county["placements"].as_array().expect("placements");
    assert_eq!(placements.len(), 1, "{at_county}");
    assert_eq!(placements[0]["id"], placement.as_str());
    assert_eq!(placements[0]["worker_id"], disabled.as_str());
    assert_eq!(placements[0]["region"], "522622101001");
    for above in [city, province] {
        poll_until(
            &format!("the placement at {}", above.home.display()),
            DEADLINE,
            || row_of(above, &post).filter(|r| r["filled"] == 1),
        );
    }
    // The placed worker is no longer a candidate for this post.
    let again = village.json(&["match", "--post", &post]);
    assert!(
        !ids_of_workers(&again).contains(&disabled),
        "a placed worker is matched again: {again}"
    );
}

fn ids_of_workers(rows: &Value) -> Vec<String> {
    rows.as_array()
        .expect("a list")
        .iter()
        .map(|r| r["worker_id"].as_str().expect("worker_id").to_string())
        .collect()
}

#[test]
fn two_villages_placing_on_the_last_place_offline_both_keep_their_placements_until_one_is_cancelled()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, village_b, _township_daemon) = township_hub(dir.path());
    let (county, township, village_a) = (&nodes[2], &nodes[3], &nodes[4]);

    // The township's post for both villages, one place.
    let post = id_of(&township.json(&[
        "post",
        "create",
        "--title",
        "旧州镇茶园采茶工",
        "--occupation",
        "4-10-01-06",
        "--wage",
        "160",
        "--unit",
        "day",
        "--headcount",
        "1",
        "--reach",
        TOWNSHIP,
    ]));
    township.json(&["post", "review", &post, "--approve"]);
    for village in [village_a, &village_b] {
        post_until(village, &post, true, "the approved township post", |p| {
            p["review"] == "approved" && p["filled"] == 0
        });
    }

    // Offline, each village places its own worker on the last place.
    let worker_a = village_a.register_porter("潘金花", 11, &[]);
    let worker_b = village_b.register_porter("龙志强", 12, &[]);
    let placed_a = id_of(&village_a.json(&[
        "placement",
        "confirm",
        "--post",
        &post,
        "--worker",
        &worker_a,
    ]));
    let placed_b = id_of(&village_b.json(&[
        "placement",
        "confirm",
        "--post",
        &post,
        "--worker",
        &worker_b,
    ]));

    // Back online: both placements survive, and the county sees the post overfilled.
    sync(village_a);
    sync(&village_b);
    // So does each village once it synced again: the other's placement came sideways.
    for village in [village_a, &village_b] {
        let seen = post_until(village, &post, true, "the other village's placement", |p| {
            p["placements"].as_array().is_some_and(|a| a.len() == 2)
        });
        assert_eq!(
            (seen["overfilled"].clone(), seen["filled"].clone()),
            (json!(true), json!(2)),
            "{seen}"
        );
    }
    let shown = post_until(county, &post, true, "both placements", |p| {
        p["placements"].as_array().is_some_and(|a| a.len() == 2)
    });
    assert_eq!(shown["overfilled"], true, "{shown}");
    assert_eq!(shown["filled"], 2);
    let listed: BTreeSet<&str> = shown["placements"]
        .as_array()
        .expect("placements")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        listed,
        BTreeSet::from([placed_a.as_str(), placed_b.as_str()])
    );
    let row = row_of(county, &post).expect("listed at the county");
    assert_eq!(
        (row["overfilled"].clone(), row["filled"].clone()),
        (json!(true), json!(2))
    );
    let at_township = row_of(township, &post).expect("listed at the township");
    assert_eq!(at_township["overfilled"], true, "{at_township}");

    // Cancelling one resolves it. Its reason goes to every station of the county and up: it
    // may not name the worker or carry a phone number.
    for (label, reason) in [
        (
            "a cancellation naming the worker",
            "龙志强另有工作，改派其他岗位",
        ),
        (
            "a cancellation with a phone number",
            "请联系 13800000012 改派",
        ),
    ] {
        assert_refused(
            &village_b,
            label,
            &["placement", "cancel", &placed_b, "--reason", reason],
            &["reason"],
        );
    }
    let cancelled = village_b.json(&[
        "placement",
        "cancel",
        &placed_b,
        "--reason",
        "两站同时确认了最后一个名额，改派其他岗位",
    ]);
    assert_eq!(cancelled["status"], "cancelled");
    sync(&village_b);
    let resolved = post_until(county, &post, true, "the cancellation", |p| {
        p["overfilled"] == false
    });
    assert_eq!(resolved["filled"], 1);
    let statuses: BTreeSet<(String, String)> = resolved["placements"]
        .as_array()
        .expect("placements")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().into(),
                p["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from([
            (placed_a.clone(), "active".to_string()),
            (placed_b.clone(), "cancelled".to_string())
        ])
    );
    let row = row_of(county, &post).expect("listed at the county");
    assert_eq!(row["overfilled"], false);
    assert_eq!(row["status"], "filled");
    // The village that placed first sees the cancellation too.
    let at_a = post_until(village_a, &post, true, "the cancellation", |p| {
        p["overfilled"] == false
    });
    assert_eq!(at_a["filled"], 1);
}

/// A county post offered at two sibling villages: once village A has placed a worker on its
/// last place and village B has synced (through the township, as the county's placements and
/// posts travel), B shows the post filled, refuses its own placement on it (exit 2, the post
/// named full, nothing written) and no longer offers it to its worker in `match --worker`. B
/// learns the placement's worker only as an opaque record id: not the worker's name or phone.
#[test]
fn a_placement_at_one_village_fills_the_post_at_its_sibling_village_after_a_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, village_b, _township_daemon) = township_hub(dir.path());
    let (county, village_a) = (&nodes[2], &nodes[4]);

    // The county's post for the whole county, one place.
    let post = id_of(&county.json(&[
        "post",
        "create",
        "--title",
        "黄平县城仓库装卸工",
        "--occupation",
        "4-10-01-06",
        "--wage",
        "170",
        "--unit",
        "day",
        "--headcount",
        "1",
        "--reach",
        "522622",
    ]));
    county.json(&["post", "review", &post, "--approve"]);
    sync(county);
    for village in [village_a, &village_b] {
        post_until(village, &post, true, "the approved county post", |p| {
            p["review"] == "approved" && p["filled"] == 0
        });
    }
    let worker_a = village_a.register_porter("潘金花", 21, &[]);
    let worker_b = village_b.register_porter("龙志强", 22, &[]);
    let offered = village_b.json(&["match", "--worker", &worker_b]);
    assert!(
        offered
            .as_array()
            .expect("a list")
            .iter()
            .any(|r| r["post_id"] == post.as_str()),
        "the open post is offered at village B first: {offered}"
    );

    // Village A takes the last place and syncs; village B syncs and sees it.
    let placed = id_of(&village_a.json(&[
        "placement",
        "confirm",
        "--post",
        &post,
        "--worker",
        &worker_a,
    ]));
    sync(village_a);
    let seen = post_until(&village_b, &post, true, "village A's placement", |p| {
        p["filled"] == 1
    });
    assert_eq!(seen["status"], "filled", "{seen}");
    assert_eq!(seen["overfilled"], false, "{seen}");
    let listed = seen["placements"].as_array().expect("placements");
    assert_eq!(listed.len(), 1, "{seen}");
    assert_eq!(listed[0]["id"], placed.as_str());
    assert_eq!(listed[0]["region"], "522622101001");
    assert_eq!(
        row_of(&village_b, &post).expect("listed at village B")["status"],
        "filled"
    );

    // B's own placement on the full post is refused, naming the post, and changes nothing.
    assert_refused(
        &village_b,
        "a placement on a post filled at the sibling village",
        &[
            "placement",
            "confirm",
            "--post",
            &post,
            "--worker",
            &worker_b,
        ],
        &["post"],
    );
    let refused = village_b.fail(&[
        "placement",
        "confirm",
        "--post",
        &post,
        "--worker",
        &worker_b,
    ]);
    assert!(
        refused.stderr.contains("places are taken"),
        "the post is named full: {}",
        refused.stderr
    );
    // Nor does B offer it any more.
    let offered = village_b.json(&["match", "--worker", &worker_b]);
    assert!(
        offered
            .as_array()
            .expect("a list")
            .iter()
            .all(|r| r["post_id"] != post.as_str()),
        "the filled post is still offered at village B: {offered}"
    );

    // What B holds of the placement names A's worker only by record id.
    let rows = village_b.json(&["placement", "list", "--post", &post]);
    assert_eq!(ids(&rows), vec![placed.clone()]);
    assert_eq!(rows[0]["worker_id"], worker_a.as_str());
    let text = rows.to_string() + &seen.to_string();
    assert!(
        !text.contains("潘金花") && !text.contains("13800000021"),
        "a sibling village learns no name or phone: {text}"
    );
    assert!(
        try_json(&village_b, &["worker", "show", &worker_a]).is_none(),
        "village A's worker record stays out of village B"
    );
}

#[test]
fn a_suspended_employers_posts_are_neither_created_nor_approved_anywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, _daemons) = chain_of_daemons(dir.path());
    let (county, village) = (&nodes[2], &nodes[4]);

    // A post naming an employer not verified yet waits at the county.
    let unverified = register_employer(
        county,
        "黄平县旧州农业开发有限公司",
        &credit_code("MA6H1234"),
        None,
    );
    let waiting = county.create_post("蔬菜基地采收工", None, &["--employer", &unverified]);

    // A verified employer of the county; the village posts for it.
    let employer = register_employer(
        county,
        "黄平县旧州建筑劳务有限公司",
        &credit_code("MA7K2Q5B"),
        Some("张三，营业执照原件"),
    );
    poll_until("the employer at the village", DEADLINE, || {
        try_json(village, &["employer", "show", &employer])
    });
    let pending = village.create_post("工地小工", None, &["--employer", &employer]);

    // The county suspends it; every station learns of it and holds the pending post.
    let suspended = county.json(&[
        "employer",
        "suspend",
        &employer,
        "--reason",
        "拖欠工资，经查属实",
    ]);
    assert_eq!(suspended["status"], "suspended");
    for node in &nodes {
        poll_until(
            &format!("the suspension and the post at {}", node.home.display()),
            DEADLINE,
            || {
                let e = try_json(node, &["employer", "show", &employer])?;
                let p = try_json(node, &["post", "show", &pending])?;
                let w = try_json(node, &["post", "show", &waiting])?;
                (e["status"] == "suspended" && p["review"] == "pending" && w["review"] == "pending")
                    .then_some(())
            },
        );
    }

    for node in [village, county] {
        assert_refused(
            node,
            "a new post of a suspended employer",
            &[post_args("工地小工"), vec!["--employer", &employer]].concat(),
            &["employer"],
        );
    }
    for node in &nodes {
        assert_refused(
            node,
            &format!("approving at {}", node.home.display()),
            &["post", "review", &pending, "--approve"],
            &["employer"],
        );
    }

    // Approving a post that names an employer needs the employer verified: refused, then
    // approved once `employer update --verified-by` records who checked the licence.
    assert_refused(
        county,
        "approving a post of an unverified employer",
        &["post", "review", &waiting, "--approve"],
        &["employer"],
    );
    county.json(&[
        "employer",
        "update",
        &unverified,
        "--verified-by",
        "李四，营业执照原件",
    ]);
    assert_eq!(
        county.json(&["post", "review", &waiting, "--approve"])["review"],
        "approved"
    );
}

#[test]
fn bad_hiring_desk_input_exits_2_names_the_field_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, village_b, _township_daemon) = township_hub(dir.path());
    let village = &nodes[4];
    let worker = village.register_porter("杨小平", 21, &[]);
    let gone = village.register_porter("吴大山", 22, &[]);
    village.json(&["worker", "deregister", &gone]);
    let pending = village.create_post("待审核的搬运工", Some(TOWNSHIP), &[]);
    let approved = village.create_post("已审核的搬运工", None, &[]);
    village.json(&["post", "review", &approved, "--approve"]);

    assert_refused(
        village,
        "placement on a pending post",
        &[
            "placement",
            "confirm",
            "--post",
            &pending,
            "--worker",
            &worker,
        ],
        &["post"],
    );
    assert_refused(
        village,
        "placement of a deregistered worker",
        &[
            "placement",
            "confirm",
            "--post",
            &approved,
            "--worker",
            &gone,
        ],
        &["worker"],
    );
    assert_refused(
        village,
        "placement at a wage of 1e-320",
        &[
            "placement",
            "confirm",
            "--post",
            &approved,
            "--worker",
            &worker,
            "--wage",
            "1e-320",
        ],
        &["wage"],
    );

    // The sibling village holds the post (it lies in its reach) but may not review it.
    sync(village);
    post_until(&village_b, &pending, true, "the pending post", |_| true);
    assert_refused(
        &village_b,
        "review by a sibling village",
        &["post", "review", &pending, "--approve"],
        &["review"],
    );

    let good = credit_code("MA6H1234");
    let last = good.chars().last().expect("18 characters");
    let other = ALPHABET.chars().find(|c| *c != last).expect("another");
    let wrong = format!("{}{other}", &good[..17]);
    assert_refused(
        village,
        "a credit code with a wrong check character",
        &[
            "employer",
            "register",
            "--name",
            "乐源种养殖专业合作社",
            "--type",
            "enterprise",
            "--credit-code",
            &wrong,
            "--contact",
            "张三",
            "--phone",
            "13800001111",
        ],
        &["credit_code", "credit-code"],
    );
    assert_refused(
        village,
        "a blank verification",
        &[
            "employer",
            "register",
            "--name",
            "乐源种养殖专业合作社",
            "--type",
            "enterprise",
            "--credit-code",
            &good,
            "--contact",
            "张三",
            "--phone",
            "13800001111",
            "--verified-by",
            " ",
        ],
        &["verified_by", "verified-by"],
    );
    assert_refused(
        village,
        "a priority flag given twice",
        &[
            "worker",
            "register",
            "--name",
            "王二妹",
            "--id-number",
            &complete_id_number("52262219700101023"),
            "--phone",
            "13800000023",
            "--flags",
            "older,older",
        ],
        &["flags"],
    );
    assert_refused(
        village,
        "match for an unknown worker",
        &["match", "--worker", "0123456789abcdef0123456789abcdef"],
        &["worker"],
    );
    assert_refused(
        village,
        "a wage of 1e-320",
        &[
            "post",
            "create",
            "--title",
            "搬运工",
            "--occupation",
            "4-10-01-06",
            "--wage",
            "1e-320",
            "--unit",
            "day",
            "--headcount",
            "1",
        ],
        &["wage"],
    );
    assert_refused(
        village,
        "a title with a newline",
        &[
            "post",
            "create",
            "--title",
            "急招\n搬运工",
            "--occupation",
            "4-10-01-06",
            "--wage",
            "150",
            "--unit",
            "day",
            "--headcount",
            "1",
        ],
        &["title"],
    );
    assert_refused(
        village,
        "a worker's phone 10000000000",
        &[
            "worker",
            "register",
            "--name",
            "王二妹",
            "--id-number",
            &complete_id_number("52262219700101024"),
            "--phone",
            "10000000000",
        ],
        &["phone"],
    );
    assert_refused(
        village,
        "an employer's phone 10000000000",
        &[
            "employer",
            "register",
            "--name",
            "乐源种养殖专业合作社",
            "--type",
            "enterprise",
            "--credit-code",
            &good,
            "--contact",
            "张三",
            "--phone",
            "10000000000",
        ],
        &["phone"],
    );
}

/// Pages through `post list FILTER… --limit 2 --after …` and returns every id seen, in order.
fn pages(node: &Node, filter: &[&str]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    loop {
        let mut args = vec!["post", "list"];
        args.extend_from_slice(filter);
        args.extend(["--limit", "2"]);
        let after = seen.last().cloned();
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let page = ids(&node.json(&args));
        assert!(page.len() <= 2, "a page holds at most --limit rows");
        if page.is_empty() {
            return seen;
        }
        seen.extend(page);
        assert!(seen.len() <= 100, "paging does not end: {seen:?}");
    }
}

#[test]
fn post_list_pages_with_limit_and_after_without_repeats_or_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (nodes, _village_b, _township_daemon) = township_hub(dir.path());
    let (township, village) = (&nodes[3], &nodes[4]);
    // Posts from two stations, some listed under two regions (from the village, into the
    // township), one approved.
    let mut made = Vec::new();
    for i in 0..3 {
        made.push(township.create_post(&format!("镇上的搬运工{i}"), Some(TOWNSHIP), &[]));
    }
    for i in 0..2 {
        made.push(village.create_post(&format!("村里的搬运工{i}"), Some(TOWNSHIP), &[]));
    }
    for i in 0..2 {
        made.push(village.create_post(&format!("本村的保洁员{i}"), None, &[]));
    }
    village.json(&["post", "review", &made[4], "--approve"]);
    poll_until("the township's posts at the village", DEADLINE, || {
        sync(village);
        (village.json(&["post", "list"]).as_array()?.len() == made.len()).then_some(())
    });

    for filter in [
        &[][..],
        &["--region", TOWNSHIP][..],
        &["--region", "522622101001"][..],
        &["--review", "pending"][..],
        &["--status", "open"][..],
        &["--occupation", "4-10-01-06"][..],
    ] {
        let mut args = vec!["post", "list"];
        args.extend_from_slice(filter);
        let whole = ids(&village.json(&args));
        let unique: BTreeSet<&String> = whole.iter().collect();
        assert_eq!(
            unique.len(),
            whole.len(),
            "{filter:?}: repeats in {whole:?}"
        );
        assert_eq!(pages(village, filter), whole, "{filter:?}: pages differ");
    }
    // A post approved between two pages of the pending ones: the next page goes on after
    // where it was, neither starting over nor skipping.
    let pending = ids(&village.json(&["post", "list", "--review", "pending"]));
    let first = ids(&village.json(&["post", "list", "--review", "pending", "--limit", "2"]));
    assert_eq!(first, pending[..2]);
    village.json(&["post", "review", &first[1], "--approve"]);
    let mut rest: Vec<String> = Vec::new();
    loop {
        let after = rest.last().unwrap_or(&first[1]).clone();
        let page = ids(&village.json(&[
            "post", "list", "--review", "pending", "--limit", "2", "--after", &after,
        ]));
        if page.is_empty() {
            break;
        }
        rest.extend(page);
        assert!(rest.len() <= 100, "paging does not end: {rest:?}");
    }
    assert_eq!(rest, pending[2..], "the pages after an approved cursor");

    // A cursor the filters do not list has no place in their order: refused, not restarted.
    let township_post = &made[0];
    assert_refused(
        village,
        "--after a post the region filter does not list",
        &[
            "post",
            "list",
            "--region",
            "522622101001",
            "--after",
            township_post,
        ],
        &["after"],
    );

    let all = ids(&village.json(&["post", "list"]));
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>(),
        made.iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        ids(&village.json(&["post", "list", "--region", TOWNSHIP])).len(),
        7
    );
    assert_eq!(
        ids(&village.json(&["post", "list", "--review", "pending"])).len(),
        5
    );

    // The review queue pages too, from the post waiting longest (the reverse of the list's
    // newest-first order), without repeats or gaps.
    let queue = ids(&village.json(&["post", "review", "--queue"]));
    assert!(queue.len() >= 2, "posts wait at the village: {queue:?}");
    let newest_first = ids(&village.json(&["post", "list", "--review", "pending"]));
    let mut oldest_first: Vec<String> = newest_first
        .into_iter()
        .filter(|id| queue.contains(id))
        .collect();
    oldest_first.reverse();
    assert_eq!(queue, oldest_first, "the queue is oldest first");
    let mut paged: Vec<String> = Vec::new();
    loop {
        let mut args = vec!["post", "review", "--queue", "--limit", "1"];
        let after = paged.last().cloned();
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let page = ids(&village.json(&args));
        assert!(page.len() <= 1, "a page holds at most --limit rows");
        if page.is_empty() {
            break;
        }
        paged.extend(page);
        assert!(paged.len() <= 100, "paging does not end: {paged:?}");
    }
    assert_eq!(paged, queue, "the queue's pages");
}

#[test]
fn editing_what_the_review_judged_sends_an_approved_post_back_to_review() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = lingong_tests::init_chain(dir.path());
    let village = &nodes[4];
    let post = village.create_post("茶园采茶工", None, &[]);
    village.json(&["post", "review", &post, "--approve"]);
    // Closing it or moving its expiry keeps the approval.
    village.json(&["post", "update", &post, "--expires", "2099-12-31"]);
    assert_eq!(village.json(&["post", "show", &post])["review"], "approved");
    // A new title is not what was approved.
    village.json(&["post", "update", &post, "--title", "茶园采茶工（包吃住）"]);
    let shown = village.json(&["post", "show", &post]);
    assert_eq!(shown["review"], "pending", "{shown}");
    let queue = village.json(&["post", "review", "--queue"]);
    assert!(
        queue
            .as_array()
            .expect("queue")
            .iter()
            .any(|p| p["id"] == post.as_str()),
        "{queue}"
    );
}
