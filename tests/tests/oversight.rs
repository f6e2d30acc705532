//! Oversight up the line, with real `lingong` processes: a county's sealed month verifies at
//! the province, and a record changed in a copy of the province's store is found by `report
//! verify` and `audit`; `supervise` lists a station that has not posted for 15 days; a
//! rectification order reaches the station, clears when it posts, and one past its deadline is
//! listed at the province; an order from a node that is not a city or county above the station
//! is refused (exit 2, nothing changed); bad periods and a second seal are refused; `report`
//! without `--json` prints a table (Chinese by default, English with `--lang en`); a station
//! certified as the successor of a dead one amends the dead station's seal (and a second seal
//! without `--amend` is refused there as at the station itself); `audit` names a change signed
//! after its author's revocation (taken before the revocation arrived) and a payload changed in
//! a copy of the store.
//!
//! Records travel on "USB sticks" (`bundle export` / `bundle import`), so nothing waits on a
//! network. The clock is passed in: every command runs with `LINGONG_NOW` (the test hook read
//! by `lingong_node::station::now_ms`), so "15 days later" is a value, not a sleep.

use lingong_node::store::SledStore;
use lingong_protocol::id_number::complete_id_number;
use lingong_protocol::record::RecordKind;
use lingong_protocol::store::{Batch, Op, Store};
use lingong_tests::{CHAIN, Failure, Node, post_args};
use serde_json::Value;
use std::path::Path;

/// `lingong --json ARGS…` at `node` with its clock at `now`; asserts success.
fn at(node: &Node, now: &str, args: &[&str]) -> Value {
    node.json_env(&[("LINGONG_NOW", now)], args)
}

/// Like [`at`], but the command must fail; returns how.
fn fail_at(node: &Node, now: &str, args: &[&str]) -> Failure {
    node.fail_env(&[("LINGONG_NOW", now)], args)
}

fn path(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

/// `cert request` at `child`, `cert issue` at `parent` (itself for the root), `cert install`,
/// all at `now`.
fn certify_at(parent: Option<&Node>, child: &Node, now: &str) {
    let request = child.home.join("request.json");
    let cert = child.home.join("issued-cert.json");
    at(child, now, &["cert", "request", "--out", &path(&request)]);
    at(
        parent.unwrap_or(child),
        now,
        &[
            "cert",
            "issue",
            "--request",
            &path(&request),
            "--out",
            &path(&cert),
        ],
    );
    at(child, now, &["cert", "install", &path(&cert)]);
}

/// The five nodes of [`CHAIN`], certified at `now`.
fn chain_at(dir: &Path, now: &str) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for (folder, name, region) in CHAIN {
        let node = Node::init(dir, folder, name, region);
        certify_at(nodes.last(), &node, now);
        nodes.push(node);
    }
    nodes
}

/// Everything `from` holds, imported at `to` (which keeps what its scope wants), at `now`.
fn carry_at(from: &Node, to: &Node, now: &str) -> Value {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = path(&from.home.join(format!("carry-{n}.bundle")));
    // Sealed to the receiver: the bundle may carry workers' personal data.
    let receiver = at(to, now, &["status"])["node_id"]
        .as_str()
        .expect("node_id")
        .to_string();
    at(
        from,
        now,
        &["bundle", "export", "--out", &file, "--to", &receiver],
    );
    at(to, now, &["bundle", "import", &file])
}

fn post_at(node: &Node, now: &str, title: &str) -> String {
    let mut args = post_args(title);
    args.extend(["--contact", "王师傅 13800000000", "--expires", "2026-12-31"]);
    at(node, now, &args)["id"].as_str().expect("id").to_string()
}

const OCT_5: &str = "2026-10-05T09:00:00+08:00";
const OCT_10: &str = "2026-10-10T10:00:00+08:00";
const NOV_3: &str = "2026-11-03T09:00:00+08:00";
const NOV_4: &str = "2026-11-04T09:00:00+08:00";

#[test]
fn a_sealed_month_verifies_at_the_province_and_a_tampered_copy_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = chain_at(dir.path(), OCT_5);
    let (province, county, township, village) = (&nodes[0], &nodes[2], &nodes[3], &nodes[4]);
    // The county knows the township below it (its certificate record).
    carry_at(township, county, OCT_5);

    // October's work at the village: a priority worker, a post approved, a placement.
    let id_number = complete_id_number("52262219600101001");
    let worker = at(
        village,
        OCT_10,
        &[
            "worker",
            "register",
            "--name",
            "杨大姐",
            "--id-number",
            &id_number,
            "--phone",
            "13800000001",
            "--skills",
            "4-10-01-06",
            "--flags",
            "older",
        ],
    )["id"]
        .as_str()
        .expect("id")
        .to_string();
    let post = post_at(village, OCT_10, "搬运工");
    at(village, OCT_10, &["post", "review", &post, "--approve"]);
    at(
        village,
        OCT_10,
        &["placement", "confirm", "--post", &post, "--worker", &worker],
    );
    carry_at(village, county, NOV_3);

    let report = at(county, NOV_3, &["report", "--period", "2026-10"]);
    assert_eq!(report["posts"], 1, "{report}");
    assert_eq!(report["headcount"], 2);
    assert_eq!(report["placements"], 1);
    assert_eq!(report["placements_priority"], 1);
    assert_eq!(report["job_seekers"], 1);
    assert_eq!(report["job_seekers_new"], 1);
    assert_eq!(report["avg_daily_wage"], 150.0);
    let township_row = report["by_region"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["region"] == "522622101")
        .expect("the township's row");
    assert_eq!(township_row["placements"], 1);
    // Without --json: a table in Chinese (the default), the township a row of its own.
    let readable = |lang: Option<&str>| {
        let mut args = vec!["report", "--period", "2026-10"];
        if let Some(l) = lang {
            args.extend(["--lang", l]);
        }
        let out = county
            .command()
            .env("LINGONG_NOW", NOV_3)
            .args(&args)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let zh = readable(None);
    assert!(!zh.contains('{'), "no JSON in the table:\n{zh}");
    assert!(zh.contains("零工市场服务成效表"), "{zh}");
    // The block of posts, places, placements and priority placements: the township's row.
    let block: Vec<&str> = zh
        .lines()
        .skip_while(|l| !l.contains("发布岗位数"))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(block[0].contains("实现上岗人数"), "{zh}");
    let row = block
        .iter()
        .find(|l| l.contains("522622101"))
        .unwrap_or_else(|| panic!("the township's row:\n{zh}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[cells.len() - 4..], ["1", "2", "1", "1"], "{zh}");
    assert!(
        zh.contains("平均日工资（元）") && zh.contains("150.00"),
        "{zh}"
    );
    assert!(zh.contains("本期尚未签章"), "{zh}");
    let en = readable(Some("en"));
    assert!(!en.contains('{'), "{en}");
    assert!(
        en.contains("Posts published") && en.contains("Job seekers") && en.contains("not sealed"),
        "{en}"
    );
    let csv = county
        .command()
        .env("LINGONG_NOW", NOV_3)
        .args(["report", "--period", "2026-10", "--csv"])
        .output()
        .expect("runs");
    let csv = String::from_utf8(csv.stdout).expect("utf-8");
    assert!(
        csv.lines()
            .next()
            .expect("header")
            .contains("month wage /21.75"),
        "{csv}"
    );

    // Bad periods, an unfinished one, and a second seal: exit 2, nothing signed.
    let before = at(county, NOV_3, &["status"])["records"].clone();
    for bad in ["2026-13", "October", "2027-01"] {
        let f = fail_at(county, NOV_3, &["report", "seal", "--period", bad]);
        assert_eq!(f.status, 2, "{bad}: {}", f.stderr);
        assert!(f.stderr.contains("period"), "{}", f.stderr);
    }
    assert_eq!(
        fail_at(county, NOV_3, &["report", "seal", "--period", "2026-11"]).status,
        2
    );
    assert_eq!(
        fail_at(county, NOV_3, &["report", "--period", "2027-Q1"]).status,
        2
    );
    let sealed = at(county, NOV_3, &["report", "seal", "--period", "2026-10"]);
    assert_eq!(sealed["figures"]["placements_priority"], 1);
    assert_eq!(sealed["missing_children"], serde_json::json!(["522622101"]));
    let again = fail_at(county, NOV_3, &["report", "seal", "--period", "2026-10"]);
    assert_eq!(again.status, 2, "{}", again.stderr);
    let after = at(county, NOV_3, &["status"])["records"].clone();
    assert_eq!(after["report-seals"], 1);
    assert_eq!(before["posts"], after["posts"]);

    // The township seals after the county: the county's seal names it missing; an amended
    // county seal includes it.
    carry_at(village, township, NOV_3);
    at(township, NOV_3, &["report", "seal", "--period", "2026-10"]);
    carry_at(township, county, NOV_3);
    let amended = at(
        county,
        NOV_4,
        &[
            "report",
            "seal",
            "--period",
            "2026-10",
            "--amend",
            "--reason",
            "旧州镇签章后重新汇总",
        ],
    );
    assert_eq!(amended["amends"], sealed["id"]);
    assert_eq!(amended["children"][0]["region"], "522622101");

    // At the province: the county's seal (and the township's) recomputed from the records held
    // there, worker records as headers only.
    carry_at(county, province, NOV_4);
    let verified = at(
        province,
        NOV_4,
        &["report", "verify", "--period", "2026-10"],
    );
    assert_eq!(verified["checked"], 2, "{verified}");
    assert_eq!(verified["superseded"], 1);
    assert_eq!(verified["mismatches"], serde_json::json!([]), "{verified}");
    let audit = at(province, NOV_4, &["audit"]);
    assert_eq!(audit["problems"], serde_json::json!([]), "{audit}");
    assert!(
        audit["records_checked"].as_u64().expect("count") >= 8,
        "{audit}"
    );
    let at_province = at(province, NOV_4, &["report", "--period", "2026-10"]);
    assert_eq!(
        at_province["placements_priority"], 1,
        "carried by the county's seal"
    );
    assert_eq!(at_province["posts"], 1);

    // A copy of the province's store in which the post now says 20 places.
    let copy = Node::at(dir.path().join("province-copy"));
    lingong_tests::copy_home(&province.home, &copy.home);
    {
        let mut store = SledStore::open(&copy.home.join("store")).expect("the copy opens");
        let mut state = store
            .records_of(Some(RecordKind::Post))
            .expect("posts")
            .pop()
            .expect("the post");
        state.view.insert("headcount".into(), 20.into());
        store
            .commit(Batch {
                ops: vec![Op::PutRecord(state.id(), Box::new(state))],
            })
            .expect("written");
    }
    let verified = at(&copy, NOV_4, &["report", "verify"]);
    let mismatches = verified["mismatches"].as_array().expect("list");
    let headcount: Vec<&Value> = mismatches
        .iter()
        .filter(|m| m["field"] == "headcount" && m["region"] == "522622")
        .collect();
    assert_eq!(headcount.len(), 1, "{verified}");
    assert_eq!(headcount[0]["region"], "522622");
    assert_eq!(headcount[0]["sealed"], 2);
    assert_eq!(headcount[0]["recomputed"], 20);
    assert_eq!(headcount[0]["seal"], amended["id"]);
    let audit = at(&copy, NOV_4, &["audit"]);
    let problems = audit["problems"].as_array().expect("list");
    assert!(
        problems
            .iter()
            .any(|p| p["kind"] == "seal-mismatch" && p["record"] == amended["id"]),
        "{audit}"
    );
    // The original still verifies.
    let verified = at(province, NOV_4, &["report", "verify"]);
    assert_eq!(verified["mismatches"], serde_json::json!([]));
}

#[test]
fn supervise_lists_a_silent_station_and_orders_come_only_from_above() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = chain_at(dir.path(), OCT_5);
    let (province, city, county, township, village) =
        (&nodes[0], &nodes[1], &nodes[2], &nodes[3], &nodes[4]);
    let village_id = at(village, OCT_5, &["status"])["node_id"]
        .as_str()
        .expect("node id")
        .to_string();
    post_at(village, "2026-10-05T10:00:00+08:00", "采茶工");
    carry_at(village, county, "2026-10-05T11:00:00+08:00");

    let listed = |rows: &Value| -> Option<Value> {
        rows.as_array()
            .expect("rows")
            .iter()
            .find(|r| r["node_id"] == village_id.as_str())
            .cloned()
    };
    let today = at(county, "2026-10-05T12:00:00+08:00", &["supervise"]);
    assert!(listed(&today).is_none(), "{today}");

    // Fifteen days later, by the clock passed in.
    let later = "2026-10-20T11:00:00+08:00";
    let rows = at(county, later, &["supervise"]);
    let row = listed(&rows).expect("the village is listed");
    assert!(
        row["reasons"]
            .as_array()
            .expect("reasons")
            .contains(&"no-posts".into()),
        "{row}"
    );
    assert_eq!(row["days_stale"], 15);
    assert_eq!(row["region"], "522622101001");
    let longer = at(county, later, &["supervise", "--stale-days", "20"]);
    assert!(listed(&longer).is_none(), "{longer}");

    // Orders from a node that is not a city or county above the station: refused.
    carry_at(city, county, later);
    let city_id = at(city, later, &["status"])["node_id"]
        .as_str()
        .expect("node id")
        .to_string();
    let before = at(county, later, &["status"])["records"].clone();
    let order = |node: &Node, target: &str| {
        fail_at(
            node,
            later,
            &[
                "supervise",
                "order",
                target,
                "--reason",
                "两周未更新岗位",
                "--deadline",
                "2026-10-27",
            ],
        )
    };
    let upward = order(county, &city_id);
    assert_eq!(upward.status, 2, "{}", upward.stderr);
    assert!(upward.stderr.contains("node"), "{}", upward.stderr);
    carry_at(village, township, later);
    let township_order = order(township, &village_id);
    assert_eq!(township_order.status, 2, "{}", township_order.stderr);
    assert_eq!(at(county, later, &["status"])["records"], before);
    assert_eq!(
        fail_at(
            county,
            later,
            &[
                "supervise",
                "order",
                &village_id,
                "--reason",
                "x",
                "--deadline",
                "2026-10-01"
            ]
        )
        .status,
        2
    );

    // The county orders the village; the village sees it, and it clears once the village posts.
    let issued = at(
        county,
        later,
        &[
            "supervise",
            "order",
            &village_id,
            "--reason",
            "两周未更新岗位，请于一周内整改",
            "--deadline",
            "2026-10-27",
        ],
    );
    assert!(
        issued["conditions"]
            .as_array()
            .expect("conditions")
            .contains(&"no-posts".into()),
        "{issued}"
    );
    carry_at(county, village, later);
    let seen = at(village, later, &["supervise", "orders"]);
    assert_eq!(seen[0]["id"], issued["id"], "{seen}");
    assert_eq!(seen[0]["status"], "open");
    post_at(village, "2026-10-21T09:00:00+08:00", "搬运工");
    let cleared = at(
        village,
        "2026-10-21T10:00:00+08:00",
        &["supervise", "orders"],
    );
    assert_eq!(cleared[0]["status"], "cleared", "{cleared}");

    // Past its deadline, the province (which has not heard from the village since) lists it.
    carry_at(county, province, "2026-10-29T09:00:00+08:00");
    let rows = at(province, "2026-10-29T09:00:00+08:00", &["supervise"]);
    let row = listed(&rows).expect("the village is listed at the province");
    assert!(
        row["reasons"]
            .as_array()
            .expect("reasons")
            .contains(&"order-overdue".into()),
        "{row}"
    );
    assert_eq!(row["orders_overdue"][0], issued["id"]);
    let orders = at(
        province,
        "2026-10-29T09:00:00+08:00",
        &["supervise", "orders"],
    );
    assert_eq!(orders[0]["status"], "overdue", "{orders}");
}

#[test]
fn a_successor_station_amends_the_seal_its_predecessor_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = chain_at(dir.path(), OCT_5);
    let (county, township, village) = (&nodes[2], &nodes[3], &nodes[4]);
    carry_at(township, county, OCT_5);
    let post = post_at(village, OCT_10, "采茶工");
    at(village, OCT_10, &["post", "review", &post, "--approve"]);
    carry_at(village, township, NOV_3);
    let sealed = at(township, NOV_3, &["report", "seal", "--period", "2026-10"]);
    assert_eq!(sealed["figures"]["posts"], 1, "{sealed}");
    carry_at(township, county, NOV_3);
    let old_id = at(township, NOV_3, &["status"])["node_id"]
        .as_str()
        .expect("node id")
        .to_string();

    // The township's machine dies; a new key for the same region, certified by the county as
    // its successor, gets the region's records (the old seal included) from the county.
    let (folder, name, region) = CHAIN[3];
    let new = Node::init(dir.path(), &format!("{folder}-new"), name, region);
    let request = new.home.join("request.json");
    let cert = new.home.join("issued-cert.json");
    at(&new, NOV_4, &["cert", "request", "--out", &path(&request)]);
    at(
        county,
        NOV_4,
        &[
            "cert",
            "issue",
            "--request",
            &path(&request),
            "--successor-of",
            &old_id,
            "--out",
            &path(&cert),
        ],
    );
    at(&new, NOV_4, &["cert", "install", &path(&cert)]);
    carry_at(county, &new, NOV_4);
    let report = at(&new, NOV_4, &["report", "--period", "2026-10"]);
    assert_eq!(report["seal"]["id"], sealed["id"], "{report}");

    // The predecessor's seal is this station's: a second seal needs --amend (exit 2, the seal
    // named, nothing signed).
    let before = at(&new, NOV_4, &["status"])["records"]["report-seals"].clone();
    let again = fail_at(&new, NOV_4, &["report", "seal", "--period", "2026-10"]);
    assert_eq!(again.status, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("period")
            && again.stderr.contains(sealed["id"].as_str().expect("id")),
        "{}",
        again.stderr
    );
    assert_eq!(
        at(&new, NOV_4, &["status"])["records"]["report-seals"],
        before
    );
    let amended = at(
        &new,
        NOV_4,
        &[
            "report",
            "seal",
            "--period",
            "2026-10",
            "--amend",
            "--reason",
            "原站点设备损毁，接替站点重新签章",
        ],
    );
    assert_eq!(amended["amends"], sealed["id"], "{amended}");
    let report = at(&new, NOV_4, &["report", "--period", "2026-10"]);
    assert_eq!(report["seal"]["id"], amended["id"], "{report}");
    assert_eq!(report["seal"]["matches"], true, "{report}");

    // At the county: the successor's seal is the one in force, and it verifies.
    carry_at(&new, county, NOV_4);
    let verified = at(county, NOV_4, &["report", "verify", "--period", "2026-10"]);
    assert_eq!(verified["checked"], 1, "{verified}");
    assert_eq!(verified["superseded"], 1, "{verified}");
    assert_eq!(verified["mismatches"], serde_json::json!([]), "{verified}");
    let audit = at(county, NOV_4, &["audit"]);
    assert_eq!(audit["problems"], serde_json::json!([]), "{audit}");
}

#[test]
fn audit_names_a_change_signed_after_its_authors_revocation_and_a_payload_changed_in_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = chain_at(dir.path(), OCT_5);
    let (county, township, village) = (&nodes[2], &nodes[3], &nodes[4]);
    carry_at(village, township, OCT_5);
    carry_at(village, county, OCT_5);
    let village_id = at(village, OCT_5, &["status"])["node_id"]
        .as_str()
        .expect("node id")
        .to_string();
    let before = post_at(village, OCT_10, "采茶工");
    // The county revokes the village on 3 November; the village, not knowing, posts on the 4th,
    // and the township takes that post before the revocation reaches it.
    at(
        county,
        NOV_3,
        &["cert", "revoke", &village_id, "--reason", "设备遗失"],
    );
    let after = post_at(village, NOV_4, "摘果工");
    carry_at(village, township, NOV_4);
    let clean = at(township, NOV_4, &["audit"]);
    assert_eq!(clean["problems"], serde_json::json!([]), "{clean}");
    carry_at(county, township, NOV_4);
    let audit = at(township, NOV_4, &["audit"]);
    let problems = audit["problems"].as_array().expect("list");
    let revoked: Vec<&Value> = problems.iter().filter(|p| p["kind"] == "revoked").collect();
    assert_eq!(revoked.len(), 1, "{audit}");
    assert_eq!(revoked[0]["record"], after.as_str(), "{audit}");
    assert_eq!(revoked[0]["author"], village_id.as_str());
    assert!(
        !problems.iter().any(|p| p["record"] == before.as_str()),
        "the post made before the revocation is fine: {audit}"
    );

    // A copy of the township's store in which the first post's signed change carries other
    // bytes (its header and signature untouched, so it is still stored under its own id).
    let copy = Node::at(dir.path().join("township-copy"));
    lingong_tests::copy_home(&township.home, &copy.home);
    {
        let mut store = SledStore::open(&copy.home.join("store")).expect("the copy opens");
        let state = store
            .records_of(Some(RecordKind::Post))
            .expect("posts")
            .into_iter()
            .find(|s| s.id().to_hex() == before)
            .expect("the first post");
        let id = state.changes[0];
        let meta = store
            .items()
            .expect("items")
            .into_iter()
            .find(|m| m.id == id)
            .expect("listed");
        let mut env = store.envelope(&id).expect("read").expect("held");
        env.payload.as_mut().expect("a payload")[0] ^= 1;
        store
            .commit(Batch {
                ops: vec![Op::PutEnvelope(Box::new(env), meta)],
            })
            .expect("written");
    }
    let audit = at(&copy, NOV_4, &["audit"]);
    let problems = audit["problems"].as_array().expect("list");
    assert!(
        problems.iter().any(|p| p["kind"] == "bad-signature"
            && p["record"] == before.as_str()
            && p["detail"].as_str().is_some_and(|d| d.contains("payload"))),
        "{audit}"
    );
    assert_eq!(
        problems.iter().filter(|p| p["kind"] == "revoked").count(),
        1,
        "{audit}"
    );
}

/// A worker registered with `flags` at `node` at `now`; returns the record's id.
fn flagged_worker(node: &Node, now: &str, name: &str, id17: &str, flags: &str) -> String {
    let id_number = complete_id_number(id17);
    at(
        node,
        now,
        &[
            "worker",
            "register",
            "--name",
            name,
            "--id-number",
            &id_number,
            "--phone",
            "13800000001",
            "--skills",
            "4-10-01-06",
            "--flags",
            flags,
        ],
    )["id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[test]
fn a_month_sealed_before_a_workers_erasure_still_verifies_and_its_priority_figure_stays_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = chain_at(dir.path(), OCT_5);
    let (county, township, village) = (&nodes[2], &nodes[3], &nodes[4]);
    carry_at(township, county, OCT_5);

    // October at the village: two priority workers placed in one post.
    let erased = flagged_worker(village, OCT_10, "杨大姐", "52262219600101001", "older");
    let kept = flagged_worker(village, OCT_10, "龙大哥", "52262219700202002", "disabled");
    let post = post_at(village, OCT_10, "搬运工");
    at(village, OCT_10, &["post", "review", &post, "--approve"]);
    for worker in [&erased, &kept] {
        at(
            village,
            OCT_10,
            &["placement", "confirm", "--post", &post, "--worker", worker],
        );
    }
    carry_at(village, county, NOV_3);
    let sealed = at(county, NOV_3, &["report", "seal", "--period", "2026-10"]);
    assert_eq!(sealed["figures"]["placements"], 2, "{sealed}");
    assert_eq!(sealed["figures"]["placements_priority"], 2, "{sealed}");

    // In November the first worker asks to be erased; the county receives the erasure and
    // drops the bodies of the worker's earlier changes, flags included.
    at(
        village,
        NOV_4,
        &["worker", "erase", &erased, "--reason", "本人申请删除"],
    );
    carry_at(village, county, NOV_4);
    assert_eq!(
        at(county, NOV_4, &["worker", "show", &erased])["erased"],
        true
    );

    // October's seal still verifies at the county, and `audit` reports no tampering.
    let verified = at(county, NOV_4, &["report", "verify", "--period", "2026-10"]);
    assert_eq!(verified["checked"], 1, "{verified}");
    assert_eq!(verified["mismatches"], serde_json::json!([]), "{verified}");
    let audit = at(county, NOV_4, &["audit"]);
    assert_eq!(audit["problems"], serde_json::json!([]), "{audit}");
    let again = at(county, NOV_4, &["report", "--period", "2026-10"]);
    assert_eq!(again["placements"], 2, "{again}");

    // The priority figure is still checked: in a copy of the county's store where the other
    // worker's record lost its flag, the seal's 2 is more than the records can give (one
    // placement whose worker is erased, one not a priority worker), and it is reported.
    let copy = Node::at(dir.path().join("county-copy"));
    lingong_tests::copy_home(&county.home, &copy.home);
    {
        let mut store = SledStore::open(&copy.home.join("store")).expect("the copy opens");
        let mut state = store
            .records_of(Some(RecordKind::Worker))
            .expect("workers")
            .into_iter()
            .find(|s| s.view.get("name").and_then(Value::as_str) == Some("龙大哥"))
            .expect("the kept worker");
        state.view.insert("flags".into(), serde_json::json!([]));
        store
            .commit(Batch {
                ops: vec![Op::PutRecord(state.id(), Box::new(state))],
            })
            .expect("written");
    }
    let verified = at(&copy, NOV_4, &["report", "verify", "--period", "2026-10"]);
    let mismatches = verified["mismatches"].as_array().expect("list");
    assert!(
        mismatches
            .iter()
            .any(|m| m["field"] == "placements_priority" && m["sealed"] == 2),
        "{verified}"
    );
    let audit = at(&copy, NOV_4, &["audit"]);
    assert!(
        audit["problems"]
            .as_array()
            .expect("list")
            .iter()
            .any(|p| p["kind"] == "seal-mismatch" && p["record"] == sealed["id"]),
        "{audit}"
    );
}
