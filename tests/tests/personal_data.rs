//! Personal data stays where PROTOCOL.md §12 puts it (issue 17, "Personal data"), proved with
//! real `lingong` processes over real libp2p sockets: the chain village → township → county →
//! city → province, each a daemon dialling its parent. At the village a clerk registers
//! workers with distinctive clear ID numbers (one ending in `X`, typed in lower case; one
//! imported from a GBK spreadsheet), names, phones and every priority flag the schema names
//! (`older`, `disabled`, `long-wait`; it has no `hardship` flag), an individual employer with
//! an ID number, a post naming it (approved), a placement, assistance records (`assist log`,
//! `push mark`), a complaint naming a worker, an edit of a worker, its directory entry and
//! its seal of last month's report; the county orders it to rectify (a supervision order).
//! Once every envelope the village holds is held at each node above (polled through
//! `status`, and checked envelope by envelope in the stores at the end), the test proves, at
//! every node above the village:
//!
//! - **(a) files**: no byte of any file in the node's home (the sled store, its logs, the
//!   config, everything) holds a clear ID number, in any form: the plain 17 digits before the
//!   check character, or those digits with anything between them (spaces, dashes, UTF-16),
//!   so upper and lower `x` alike. Since sled compresses its pages with zstd (store format 3)
//!   and Automerge may DEFLATE-compress a change's or a saved document's columns, raw bytes
//!   prove little about the store, so it is also **decoded**: after its daemon stops, the test opens
//!   it (`SledStore::open`) and walks every envelope held (`Store::items`, `Store::envelope`),
//!   decoding every document payload to its Automerge operations (`Change::decode`), every
//!   record's saved document (each of its changes, decoded) and listing view, and the
//!   private table; none holds an ID number.
//! - **(b) above the county** (city, province): worker and assistance envelopes are held as
//!   signed headers only (no payload, no document, no view), and no decoded operation, view
//!   or document of any record holds a worker's name or phone, or a priority flag as a value
//!   (`older`, `disabled`, `long-wait`, or their Chinese labels) or under a `flags` key. At the
//!   township and the county the same walk finds every name, phone and flag (they hold the
//!   records in full by design), which shows the walk reads what it should.
//! - **(c) the HTTP API and the CLI**: a staff account logs in at each upper node (the web
//!   tests' `/api/login`), and every GET endpoint `/openapi.json` lists is called, each
//!   `{id}` with every record id the village made, with the queries that select workers and
//!   posts (`/api/match?worker=…`, `/api/reports?period=…`, …), and the console's and public
//!   pages; every `--json` list, show, match, push, assist, report, audit, directory and
//!   status command prints (stdout and stderr, succeeded or refused), at the village too.
//!   None holds an ID number; above the county none holds a name, a phone or a priority flag (a JSON string
//!   equal to a flag, a non-empty `flags` or `priority_reasons`).
//! - **(d) logs**: every daemon's log, the village's at `debug` level, and the stderr of every
//!   command run at the village (also at `debug`) never print a clear ID number.
//! - **(e) exports and bundles**: the CSV exports (posts, workers, employers, placements,
//!   directory as CSV and HTML), `report --csv` and a placement agreement made at each upper
//!   node hold no ID number (above the county no name, phone or flag cell); each upper node's
//!   bundle for its parent holds none, decoded (sealed ones opened with the receiver's key).
//!   The village's bundle for the township, and the township's for the county, are sealed:
//!   neither file holds a name, a phone or an ID number as bytes; opened with the receiver's
//!   key, neither holds an ID number, and the village's carries the names (the records in
//!   full).
//! - **(f) sync frames**: checked two ways. First, by what the receiving stores accepted:
//!   the decoded walk of (a) and (b) covers every payload each node received, since a node
//!   keeps every envelope it was sent that its scope wants. An envelope the receiver may hold
//!   only as a header is stripped on receipt, so whether the sender put its payload on the
//!   wire shows only the second way: on the wire itself. After the other checks, a stand-in for the township (its key and chain read
//!   from its home, its daemon stopped) runs one whole sync session from an empty store with
//!   the village's daemon, and a stand-in for the city one with the county's, over libp2p
//!   (noise, yamux, `/lingong/sync/3`, the node's own frame codec); every frame the daemon
//!   sent is kept as it arrived, and its raw bytes and every envelope in it, decoded, are
//!   checked: no ID number on either link; on the county → city link every worker and
//!   assistance envelope is a header without payload and nothing decoded holds a name, a
//!   phone or a flag, while the village → township link carries the records in full.
//!
//! About 30–40 s in a debug build on two loaded cores.
//! Run: `cargo test -p lingong-tests --test personal_data -- --nocapture` (it prints what it
//! checked).

mod stand_in;

use lingong_node::store::SledStore;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::record::RecordKind;
use lingong_protocol::store::Store;
use lingong_tests::{
    CHAIN, Daemon, ExcelEncoding, Node, as_a_thief_reads, everything_under, free_port, http,
    init_chain, json_of, poll_until, start_web, web_request, write_excel_csv,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Generous: two loaded cores, a debug build.
const DEADLINE: Duration = Duration::from_secs(120);
/// The staff account that logs in at each upper node's web console.
const STAFF: (&str, &str, &str) = ("inspector", "admin", "pd-test-2026-personal");
/// The flags of `schema::worker` as stored, and their labels in both languages.
const FLAG_VALUES: [&str; 8] = [
    "older",
    "disabled",
    "long-wait",
    "大龄",
    "残疾",
    "长期失业",
    "long unemployed",
    "long-unemployed",
];

/// One person whose personal data the village holds.
struct Person {
    name: String,
    phone: String,
    /// The clear ID number as the registry prints it (upper-case `X`).
    id_number: String,
    /// The flags registered (empty for the employer).
    flags: Vec<&'static str>,
    /// An individual employer: its record, name and phone included, travels to the province
    /// by design (PROTOCOL.md §12); only its clear ID number must stay at the village.
    employer: bool,
}

/// A valid ID number issued in 清镇市 (520181, outside the chain's regions, so its digits
/// cannot appear by chance in a region code) to someone born on `birth`, the first with a
/// sequence number from `seq` whose check character is `X` when `want_x`, else not `X`.
fn id_number(birth: &str, seq: u32, want_x: bool) -> String {
    (seq..seq + 200)
        .map(|s| lingong_protocol::id_number::complete_id_number(&format!("520181{birth}{s:03}")))
        .find(|id| id.ends_with('X') == want_x)
        .expect("one in eleven ends in X")
}

/// The digits of `bytes` in order, everything else dropped: a number written with spaces,
/// dashes or as UTF-16 is one run here.
fn digits(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().copied().filter(u8::is_ascii_digit).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Which of `people`'s clear ID numbers `bytes` holds, in any form: its 17 digits before the
/// check character (so `x` or `X`), together or with anything between them.
fn id_found(bytes: &[u8], people: &[&Person]) -> Option<String> {
    let projected = digits(bytes);
    people.iter().find_map(|p| {
        let body = &p.id_number.as_bytes()[..17];
        (contains(bytes, body) || contains(&projected, body)).then(|| p.id_number.clone())
    })
}

/// Which name or phone of `people`'s workers `bytes` holds as UTF-8.
fn personal_found(bytes: &[u8], people: &[&Person]) -> Option<String> {
    people.iter().filter(|p| !p.employer).find_map(|p| {
        [&p.name, &p.phone]
            .into_iter()
            .find(|s| contains(bytes, s.as_bytes()))
            .cloned()
    })
}

/// Every string in `v` (keys and values), one per line.
fn strings_of(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|x| strings_of(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push_str(k);
            out.push('\n');
            strings_of(x, out);
        }),
        Value::Number(n) => {
            out.push_str(&n.to_string());
            out.push('\n');
        }
        _ => {}
    }
}

/// A priority flag in `v`: a string equal to a flag or its label, or a non-empty `flags` or
/// `priority_reasons`.
fn flag_found(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => FLAG_VALUES.contains(&s.as_str()).then(|| s.clone()),
        Value::Array(a) => a.iter().find_map(flag_found),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let listed = matches!(k.as_str(), "flags" | "priority_reasons")
                && x.as_array().is_some_and(|a| !a.is_empty());
            if listed {
                Some(format!("{k}: {x}"))
            } else {
                flag_found(x)
            }
        }),
        _ => None,
    }
}

/// What the test checks of one piece of output seen at a node: never a clear ID number;
/// above the county no name, phone or (when `json` is given) priority flag.
fn check_output(what: &str, bytes: &[u8], json: Option<&Value>, people: &[&Person], above: bool) {
    if let Some(id) = id_found(bytes, people) {
        panic!(
            "{what} holds the clear ID number {id}: {}",
            String::from_utf8_lossy(bytes)
        );
    }
    if above {
        if let Some(p) = personal_found(bytes, people) {
            panic!(
                "{what} holds {p} above the county: {}",
                String::from_utf8_lossy(bytes)
            );
        }
        if let Some(f) = json.and_then(flag_found) {
            panic!("{what} holds the priority flag {f} above the county");
        }
    }
}

/// Every file under `dir`, as a thief of the disk reads it ([`as_a_thief_reads`]: zstd
/// frames decompressed).
fn files_read_by_a_thief(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    everything_under(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = as_a_thief_reads(&p);
            (p, bytes)
        })
        .collect()
}

/// A document payload (one Automerge change) as JSON: its operations with every key and
/// value, decompressed and decoded.
fn change_json(payload: &[u8]) -> Value {
    let change = automerge::Change::from_bytes(payload.to_vec()).expect("an Automerge change");
    serde_json::to_value(change.decode()).expect("a change as JSON")
}

/// What a node received and holds, decoded: one JSON value per envelope payload (document
/// payloads as their operations, others as their bytes read as text) and per record (its
/// view, and each change of its saved document).
struct Decoded {
    /// (what, value)
    values: Vec<(String, Value)>,
    /// The envelopes' kinds and whether each carries a payload.
    envelopes: Vec<(RecordKind, bool)>,
}

impl Decoded {
    fn of_envelopes(envs: &[Envelope]) -> Decoded {
        let mut d = Decoded {
            values: Vec::new(),
            envelopes: Vec::new(),
        };
        for env in envs {
            d.add_envelope(env);
        }
        d
    }

    fn add_envelope(&mut self, env: &Envelope) {
        let kind = env.header.kind;
        self.envelopes.push((kind, env.payload.is_some()));
        if let Some(payload) = &env.payload {
            let what = format!("a {} envelope's payload", kind.as_str());
            let value = if kind.is_document() {
                change_json(payload)
            } else {
                Value::String(String::from_utf8_lossy(payload).into_owned())
            };
            self.values.push((what, value));
        }
    }

    /// Every envelope and record of the store in `home` (its daemon stopped), and its
    /// private table.
    fn of_store(home: &Path) -> Decoded {
        let store = SledStore::open(&lingong_node::home::Home::new(Some(home.into())).store_path())
            .expect("the store opens");
        let mut d = Decoded {
            values: Vec::new(),
            envelopes: Vec::new(),
        };
        for item in store.items().expect("items") {
            let env = store
                .envelope(&item.id)
                .expect("read")
                .expect("a listed envelope is held");
            d.add_envelope(&env);
        }
        for record in store.records_of(None).expect("records") {
            let kind = record.kind.as_str();
            d.values.push((
                format!("a {kind} record's view"),
                Value::Object(record.view.clone()),
            ));
            if let Some(saved) = &record.doc {
                let mut doc = automerge::AutoCommit::load(saved).expect("a saved document");
                let changes: Vec<Value> = doc
                    .get_changes(&[])
                    .into_iter()
                    .map(|c| serde_json::to_value(c.decode()).expect("json"))
                    .collect();
                d.values.push((
                    format!("a {kind} record's saved document"),
                    Value::Array(changes),
                ));
            }
        }
        for (key, value) in store.private_rows().expect("private rows") {
            d.values.push((
                "a private row".into(),
                Value::String(format!(
                    "{} {}",
                    String::from_utf8_lossy(&key),
                    String::from_utf8_lossy(&value)
                )),
            ));
        }
        d
    }

    /// Checks every decoded value: no ID number; `above`: no name, phone or flag. Returns
    /// every string decoded, for the checks that the data is there where it should be.
    fn check(&self, at: &str, people: &[&Person], above: bool) -> String {
        let mut all = String::new();
        for (what, value) in &self.values {
            let mut text = String::new();
            strings_of(value, &mut text);
            check_output(
                &format!("at {at}, {what}"),
                text.as_bytes(),
                Some(value),
                people,
                above,
            );
            all.push_str(&text);
        }
        if above {
            for (kind, has_payload) in &self.envelopes {
                assert!(
                    !(matches!(kind, RecordKind::Worker | RecordKind::Assistance) && *has_payload),
                    "at {at}, a {} envelope carries its payload above the county",
                    kind.as_str()
                );
            }
        }
        all
    }
}

/// A node of the chain with what it is checked for.
struct Station<'a> {
    node: &'a Node,
    label: &'static str,
    /// City or province: worker records as headers only.
    above: bool,
}

/// The village's commands: `--json`, logs at `debug`, stderr kept for the log check.
struct Clerk<'a> {
    node: &'a Node,
    stderr: Vec<u8>,
}

impl Clerk<'_> {
    fn json(&mut self, args: &[&str]) -> Value {
        let out = self
            .node
            .command()
            .env("LINGONG_LOG", "debug")
            .env("NO_COLOR", "1")
            .arg("--json")
            .args(args)
            .output()
            .expect("runs");
        self.stderr.extend_from_slice(&out.stderr);
        assert!(
            out.status.success(),
            "`lingong {}` failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }

    fn id(&mut self, args: &[&str]) -> String {
        self.json(args)["id"].as_str().expect("id").to_string()
    }
}

/// Runs `lingong --json ARGS` at `node` and returns stdout and stderr together, whatever the
/// exit status (a command refused above the county is output too), with the JSON it printed.
fn output_of(node: &Node, args: &[&str]) -> (Vec<u8>, Value) {
    let out = node
        .command()
        .arg("--json")
        .args(args)
        .output()
        .expect("runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    ([out.stdout, out.stderr].concat(), json)
}

/// Logs in at the web console at `addr` as [`STAFF`] and returns the session cookie.
fn login(addr: &str) -> String {
    let body = serde_json::json!({ "name": STAFF.0, "password": STAFF.2 }).to_string();
    let answer = web_request(
        addr,
        "POST",
        "/api/login",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(answer.status, 200, "login: {}", answer.body);
    answer
        .head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// The records the village made, by kind, for the `{id}` of every endpoint and command.
struct Made {
    workers: Vec<String>,
    employers: Vec<String>,
    post: String,
    placement: String,
    complaint: String,
    assistance: Vec<String>,
}

impl Made {
    fn all(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.workers.iter().map(String::as_str).collect();
        all.extend(self.employers.iter().map(String::as_str));
        all.extend([
            self.post.as_str(),
            self.placement.as_str(),
            self.complaint.as_str(),
        ]);
        all.extend(self.assistance.iter().map(String::as_str));
        all
    }
}

/// (c), the web: every GET endpoint of `/openapi.json` with every id, the queries that
/// select records, and the console's and public pages.
fn check_web(st: &Station, addr: &str, made: &Made, people: &[&Person]) -> usize {
    let cookie = login(addr);
    let headers = [("Cookie", cookie.as_str())];
    let (status, body) = http(addr, "GET", "/openapi.json", &headers, b"");
    assert_eq!(status, 200, "{body}");
    let api = json_of(&body);
    let mut paths: Vec<String> = Vec::new();
    for (path, methods) in api["paths"].as_object().expect("paths") {
        if methods.get("get").is_none() {
            continue;
        }
        if path.contains("{id}") {
            paths.extend(made.all().iter().map(|id| path.replace("{id}", id)));
        } else {
            paths.push(path.clone());
        }
    }
    let (w, p) = (&made.workers[0], &made.post);
    paths.extend([
        format!("/api/match?worker={w}"),
        format!("/api/match?post={p}"),
        "/api/workers?priority=true".into(),
        "/api/reports?period=2026-12".into(),
        "/api/reports/verify?period=2026-12".into(),
        "/api/push?days=30".into(),
        format!("/api/push?post={p}"),
        format!("/api/assist?worker={w}"),
        format!("/api/assist/due?worker={w}"),
        format!("/api/placements?worker={w}"),
        "/".into(),
        "/screen".into(),
        "/posts".into(),
        format!("/posts/{p}"),
        format!("/posts/{p}/poster"),
        "/posters/today".into(),
        "/directory".into(),
        "/feed.json".into(),
        "/complaints".into(),
        format!("/complaints?id={}", made.complaint),
        "/report?period=2026-12".into(),
        "/supervision".into(),
        "/audit?run=1".into(),
        "/sync".into(),
        "/push?days=30".into(),
        "/assist".into(),
        format!("/assist?worker={w}"),
    ]);
    let mut answered = 0;
    for path in &paths {
        let answer = web_request(addr, "GET", path, &headers, b"");
        let json: Option<Value> = serde_json::from_str(&answer.body).ok();
        check_output(
            &format!("GET {path} at the {}", st.label),
            answer.body.as_bytes(),
            json.as_ref(),
            people,
            st.above,
        );
        answered += usize::from(answer.status == 200);
    }
    answered
}

/// (c), the command line: every `--json` read command, with every id.
fn check_cli(st: &Station, made: &Made, people: &[&Person]) -> usize {
    let (w, p) = (made.workers[0].as_str(), made.post.as_str());
    let mut commands: Vec<Vec<&str>> = vec![
        vec!["post", "list"],
        vec!["post", "show", p],
        vec!["post", "review", "--queue"],
        vec!["employer", "list"],
        vec!["worker", "list"],
        vec!["worker", "list", "--priority"],
        vec!["match", "--post", p],
        vec!["match", "--worker", w],
        vec!["push", "list", "--days", "30"],
        vec!["assist", "list"],
        vec!["assist", "due"],
        vec!["placement", "list"],
        vec!["complaint", "list"],
        vec!["complaint", "show", &made.complaint],
        vec!["directory", "list"],
        vec!["report", "--period", "2026-12"],
        vec!["report", "--period", "2026-12", "--csv"],
        vec!["report", "verify"],
        vec!["supervise"],
        vec!["supervise", "orders"],
        vec!["audit"],
        vec!["status"],
        vec!["staff", "list"],
    ];
    for id in &made.workers {
        commands.push(vec!["worker", "show", id]);
        commands.push(vec!["assist", "list", "--worker", id]);
        commands.push(vec!["assist", "due", "--worker", id]);
        commands.push(vec!["placement", "list", "--worker", id]);
    }
    for id in &made.employers {
        commands.push(vec!["employer", "show", id]);
    }
    let mut ok = 0;
    for args in &commands {
        let (bytes, json) = output_of(st.node, args);
        check_output(
            &format!("`lingong --json {}` at the {}", args.join(" "), st.label),
            &bytes,
            Some(&json),
            people,
            st.above,
        );
        ok += usize::from(json.get("error").is_none() && !json.is_null());
    }
    ok
}

/// (e) The exports made at an upper node, into `out`: every CSV export, the directory as CSV
/// and HTML, a placement agreement, checked as bytes (and, above the county, no CSV cell equal
/// to a flag).
fn check_exports(st: &Station, made: &Made, out: &Path, people: &[&Person]) {
    std::fs::create_dir_all(out).expect("export folder");
    let file = |name: &str| out.join(name).to_str().expect("utf-8").to_string();
    let runs: Vec<(String, Vec<String>)> = vec![
        (
            "posts.csv".into(),
            vec!["post".into(), "export".into(), "--csv".into()],
        ),
        (
            "workers.csv".into(),
            vec!["worker".into(), "export".into(), "--csv".into()],
        ),
        (
            "workers-gbk.csv".into(),
            vec![
                "worker",
                "export",
                "--priority",
                "--encoding",
                "gbk",
                "--csv",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        (
            "employers.csv".into(),
            vec!["employer".into(), "export".into(), "--csv".into()],
        ),
        (
            "placements.csv".into(),
            vec!["placement".into(), "export".into(), "--csv".into()],
        ),
        (
            "directory.csv".into(),
            vec!["directory".into(), "export".into(), "--out".into()],
        ),
        (
            "directory.html".into(),
            vec!["directory", "export", "--format", "html", "--out"]
                .into_iter()
                .map(String::from)
                .collect(),
        ),
        (
            "agreement.txt".into(),
            vec![
                "placement".into(),
                "agreement".into(),
                made.placement.clone(),
                "--out".into(),
            ],
        ),
    ];
    for (name, args) in runs {
        let path = file(&name);
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.push(&path);
        st.node.json(&args);
        let bytes = std::fs::read(&path).expect("the export was written");
        let gbk;
        let text: &[u8] = if name.contains("gbk") {
            gbk = encoding_rs::GBK.decode(&bytes).0.into_owned();
            gbk.as_bytes()
        } else {
            &bytes
        };
        check_output(
            &format!("{name} exported at the {}", st.label),
            text,
            None,
            people,
            st.above,
        );
        if st.above && name.ends_with(".csv") {
            let cells = String::from_utf8_lossy(text);
            for cell in cells.split([',', '\n', '\r', '"']) {
                assert!(
                    !FLAG_VALUES.contains(&cell.trim()),
                    "{name} at the {} holds the flag {cell}",
                    st.label
                );
            }
        }
    }
}

/// (e) A bundle exported at `from` for `to` (sealed when it carries worker records in full):
/// its bytes never hold an ID number, its decoded envelopes neither. Returns the decoded
/// bundle and whether it was sealed.
fn bundle_for(from: &Node, to: &Node, file: &Path, seal: bool) -> (Decoded, bool) {
    let path = file.to_str().expect("utf-8");
    let to_id = to.node_id();
    let mut args = vec!["bundle", "export", "--out", path, "--for", &to_id];
    if seal {
        args.extend(["--to", &to_id]);
    }
    let printed = from.json(&args);
    let raw = std::fs::read(file).expect("bundle written");
    let sealed = raw.starts_with(lingong_protocol::bundle::SEALED_MAGIC);
    assert_eq!(printed["sealed_to"].is_string(), sealed, "{printed}");
    let key = lingong_node::home::Home::new(Some(to.home.clone()))
        .load_key()
        .expect("the receiver's key");
    let envelopes =
        lingong_protocol::bundle::parse_for(&raw, &key).expect("the receiver opens the bundle");
    assert!(!envelopes.is_empty(), "an empty bundle proves nothing");
    (Decoded::of_envelopes(&envelopes), sealed)
}

/// (f) One whole sync session from an empty store, run by a stand-in for `me` (its key and
/// chain read from its home; its own daemon must be stopped) against the daemon listening on
/// `target`: every frame the daemon sent, as it arrived (already through noise and yamux, in
/// the node's own frame codec).
fn capture_session(me: &Node, me_region: &str, peer_region: &str, target: &str) -> Vec<Vec<u8>> {
    use futures::StreamExt;
    use libp2p::request_response;
    use libp2p::swarm::SwarmEvent;
    use lingong_protocol::sync::{Frame, Session, SyncConfig};
    let home = lingong_node::home::Home::new(Some(me.home.clone()));
    let key = home.load_key().expect("the station's key");
    let chain: Value =
        serde_json::from_slice(&std::fs::read(home.cert_path()).expect("cert.json")).expect("json");
    let chain = lingong_protocol::cert::CertChain::from_json(&chain).expect("the chain");
    let scope = |r: &str| lingong_protocol::scope::Scope::new(r.parse().expect("region"));
    let (me_scope, peer_scope) = (scope(me_region), scope(peer_region));
    // As the node's network loop does: a handshake frame carrying the chain, then, once the
    // daemon answered with its own, a session over this side's (empty) set.
    let handshake = Frame {
        session: 7,
        hello: Some(chain.to_bytes()),
        ..Default::default()
    };
    let mut session: Option<Session> = None;
    let target: libp2p::Multiaddr = target.parse().expect("multiaddr");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let keypair = libp2p::identity::Keypair::ed25519_from_bytes(key.seed()).expect("seed");
        let mut swarm = stand_in::outbound_swarm::<lingong_node::net::FrameCodec>(
            keypair,
            request_response::Config::default().with_request_timeout(Duration::from_secs(60)),
        );
        swarm.dial(target).expect("dial");
        let mut frames = Vec::new();
        let deadline = tokio::time::sleep(DEADLINE);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => panic!("the captured session did not finish in {DEADLINE:?}"),
                event = swarm.select_next_some() => match event {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                        swarm.behaviour_mut().send_request(&peer_id, handshake.encode());
                    }
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        peer,
                        message: request_response::Message::Response { response, .. },
                        ..
                    }) => {
                        let frame = Frame::decode(&response).unwrap_or_else(|e| {
                            panic!("the daemon answered with something that is not a frame: {e}")
                        });
                        frames.push(response.clone());
                        let Some(session) = session.as_mut() else {
                            assert!(frame.hello.is_some(), "the daemon answered without its chain");
                            let mut started =
                                Session::new(7, me_scope, peer_scope, &[], Vec::new(), SyncConfig::default());
                            started.set_clock(
                                std::time::SystemTime::now()
                                    .duration_since(std::time::UNIX_EPOCH)
                                    .expect("clock")
                                    .as_millis() as i64,
                            );
                            let first = started.start().encode();
                            swarm.behaviour_mut().send_request(&peer, first);
                            session = Some(started);
                            continue;
                        };
                        session.receive(&frame, response.len()).expect("a valid frame");
                        if session.finished() {
                            return frames;
                        }
                        // An empty store pushes nothing; it only answers the reconciliation.
                        let next = session.next_frame(&mut |_, _| None).encode();
                        swarm.behaviour_mut().send_request(&peer, next);
                    }
                    SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                        error, ..
                    }) => panic!("a captured sync request failed: {error}"),
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        panic!("the stand-in could not connect: {error}")
                    }
                    _ => {}
                },
            }
        }
    })
}

/// The envelopes of captured frames, decoded.
fn frames_decoded(frames: &[Vec<u8>]) -> Decoded {
    let mut envelopes = Vec::new();
    for raw in frames {
        let frame = lingong_protocol::sync::Frame::decode(raw).expect("frame");
        for wire in &frame.envelopes {
            envelopes.push(Envelope::from_bytes(wire).expect("an envelope in wire form"));
        }
    }
    Decoded::of_envelopes(&envelopes)
}

/// Every string of every value decoded, to show the data is where it should be.
fn assert_holds(all: &str, at: &str, people: &[&Person], flags: bool) {
    for p in people {
        assert!(all.contains(&p.name), "{at} does not hold {}", p.name);
        assert!(all.contains(&p.phone), "{at} does not hold {}", p.phone);
    }
    if flags {
        for flag in ["older", "disabled", "long-wait"] {
            assert!(
                all.lines().any(|l| l == flag),
                "{at} does not hold the flag {flag}"
            );
        }
    }
}

#[test]
fn clear_id_numbers_never_leave_the_village_and_priority_flags_never_go_above_the_county() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = init_chain(dir.path());
    let (city, county, township, village) = (&nodes[1], &nodes[2], &nodes[3], &nodes[4]);
    let ports: Vec<u16> = nodes.iter().map(|_| free_port()).collect();
    let addr = |i: usize| format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", ports[i], nodes[i].node_id());
    for (i, node) in nodes.iter().enumerate().skip(1) {
        node.json(&["peer", "add", &addr(i - 1)]);
    }
    let stations: Vec<Station> = (0..4)
        .map(|i| Station {
            node: &nodes[i],
            label: CHAIN[i].0,
            above: i < 2,
        })
        .collect();

    // Daemons: the upper four with the web console and a staff account, the village logging
    // at debug level.
    let mut daemons: Vec<(Daemon, String)> = (0..4)
        .map(|i| start_web(&nodes[i], ports[i], &[STAFF]))
        .collect();
    let mut village_daemon =
        Daemon::new(village, &format!("/ip4/127.0.0.1/tcp/{}", ports[4]), None);
    village_daemon.log_filter = "debug".into();
    village_daemon.restart();

    // The people. One ID number ends in X and is typed in lower case.
    let people = [
        Person {
            name: "龙秀梅".into(),
            phone: "15985131001".into(),
            id_number: id_number("19630417", 211, false),
            flags: vec!["older"],
            employer: false,
        },
        Person {
            name: "潘阿香".into(),
            phone: "15985132002".into(),
            id_number: id_number("19880923", 345, true),
            flags: vec!["disabled", "long-wait"],
            employer: false,
        },
        Person {
            name: "杨老幺".into(),
            phone: "15985133003".into(),
            id_number: id_number("19751202", 467, false),
            flags: vec!["older", "disabled", "long-wait"],
            employer: false,
        },
        // An individual employer with an ID number.
        Person {
            name: "吴老板".into(),
            phone: "15985134004".into(),
            id_number: id_number("19700315", 589, false),
            flags: vec![],
            employer: true,
        },
    ];
    let workers_people: Vec<&Person> = people[..3].iter().collect();
    let everyone: Vec<&Person> = people.iter().collect();

    let mut clerk = Clerk {
        node: village,
        stderr: Vec::new(),
    };
    let mut made_workers = Vec::new();
    for p in &people[..2] {
        let flags = p.flags.join(",");
        let typed = p.id_number.to_lowercase();
        made_workers.push(clerk.id(&[
            "worker",
            "register",
            "--name",
            &p.name,
            "--id-number",
            &typed,
            "--phone",
            &p.phone,
            "--skills",
            "4-10-01-06",
            "--wage-min",
            "120",
            "--flags",
            &flags,
        ]));
    }
    // The third worker comes from a spreadsheet (GBK, as Excel saves it in China).
    let sheet = write_excel_csv(
        &dir.path().join("workers.csv"),
        &[
            vec!["name", "id_number", "phone", "skills", "wage_min", "flags"],
            vec![
                people[2].name.as_str(),
                people[2].id_number.as_str(),
                people[2].phone.as_str(),
                "4-10-01-06",
                "130",
                &people[2].flags.join(","),
            ],
        ],
        ExcelEncoding::Gbk,
    );
    assert_eq!(clerk.json(&["worker", "import", &sheet])["imported"], 1);
    let listed = clerk.json(&["worker", "list"]);
    let third = listed
        .as_array()
        .expect("list")
        .iter()
        .find(|w| w["name"] == people[2].name.as_str())
        .expect("the imported worker");
    made_workers.push(third["id"].as_str().expect("id").to_string());
    clerk.json(&["worker", "update", &made_workers[0], "--wage-min", "140"]);

    let employer = clerk.id(&[
        "employer",
        "register",
        "--name",
        &people[3].name,
        "--type",
        "individual",
        "--id-number",
        &people[3].id_number,
        "--contact",
        &people[3].name,
        "--phone",
        &people[3].phone,
        "--verified-by",
        "村干部核验",
    ]);
    let post = village.create_post("茶园采茶工", None, &["--employer", &employer]);
    clerk.json(&["post", "review", &post, "--approve"]);
    let placement = clerk.id(&[
        "placement",
        "confirm",
        "--post",
        &post,
        "--worker",
        &made_workers[0],
        "--worker-confirmed",
        "paper",
    ]);
    let assisted = clerk.id(&[
        "assist",
        "log",
        "--worker",
        &made_workers[1],
        "--kind",
        "career-guidance",
        "--note",
        "残疾人就业政策讲解",
    ]);
    let marked = clerk.id(&[
        "push",
        "mark",
        &post,
        "--worker",
        &made_workers[2],
        "--result",
        "interested",
    ]);
    let complaint = clerk.id(&[
        "complaint",
        "file",
        "--kind",
        "wage-arrears",
        "--post",
        &post,
        "--worker",
        &made_workers[0],
        "--text",
        "采茶工资拖欠两周",
        "--amount",
        "800",
    ]);
    clerk.json(&["directory", "set", "--hotline", "0855-5211234"]);
    // Two more kinds: the village's seal of last month's report, and a rectification order
    // of the county to the village (both reach every node of the chain).
    clerk.json(&["report", "seal", "--period", "2026-11"]);
    let village_id = village.node_id();
    county.json(&[
        "supervise",
        "order",
        &village_id,
        "--reason",
        "岗位信息更新不及时",
        "--deadline",
        "2026-12-31",
    ]);
    poll_until("the county's order at the village", DEADLINE, || {
        (clerk.json(&["status"])["records"]["supervision-orders"] == 1).then_some(())
    });
    let made = Made {
        workers: made_workers,
        employers: vec![employer],
        post,
        placement,
        complaint,
        assistance: vec![assisted, marked],
    };

    // Everything syncs up: each node above holds every envelope the village holds (whole or
    // as a header), and so the same number.
    let village_envelopes = clerk.json(&["status"])["records"]["envelopes"].clone();
    assert!(village_envelopes.as_u64().is_some_and(|n| n > 10));
    for st in &stations {
        poll_until(
            &format!("every envelope of the village at the {}", st.label),
            DEADLINE,
            || {
                (st.node.json(&["status"])["records"]["envelopes"] == village_envelopes)
                    .then_some(())
            },
        );
    }
    eprintln!("synced after {:?}", started.elapsed());

    // (c) The HTTP API, the console and every --json command at each node above.
    for (st, (_, web)) in stations.iter().zip(&daemons) {
        let answered = check_web(st, web, &made, &everyone);
        let ok = check_cli(st, &made, &everyone);
        eprintln!(
            "{}: {answered} web answers of 200 and {ok} commands that succeeded, checked",
            st.label
        );
        assert!(
            answered > 30 && ok > 20,
            "too little answered to prove anything"
        );
    }
    // The village's own commands never print a clear ID number either.
    let at_village = Station {
        node: village,
        label: "village",
        above: false,
    };
    check_cli(&at_village, &made, &everyone);
    // Above the county a worker is known by its header only: not shown.
    for st in &stations[..2] {
        let (_, shown) = output_of(st.node, &["worker", "show", &made.workers[0]]);
        assert!(shown.get("name").is_none_or(Value::is_null), "{shown}");
    }
    eprintln!("web and commands checked after {:?}", started.elapsed());

    // (f) on the wire: stand-ins for the township (at the village's daemon) and the city (at
    // the county's), each after stopping the real node's daemon.
    daemons[3].0.stop();
    let village_addr = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", ports[4], village.node_id());
    let down = capture_session(township, CHAIN[3].2, CHAIN[4].2, &village_addr);
    daemons[1].0.stop();
    let county_addr = format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", ports[2], county.node_id());
    let up = capture_session(city, CHAIN[1].2, CHAIN[2].2, &county_addr);
    for (link, frames, above) in [
        ("village → township", &down, false),
        ("county → city", &up, true),
    ] {
        for (i, raw) in frames.iter().enumerate() {
            check_output(
                &format!("frame {i} on the {link} link"),
                raw,
                None,
                &everyone,
                above,
            );
        }
        let decoded = frames_decoded(frames);
        let all = decoded.check(&format!("the {link} link"), &everyone, above);
        let workers = decoded
            .envelopes
            .iter()
            .filter(|(k, _)| *k == RecordKind::Worker)
            .count();
        assert!(
            workers >= 4,
            "the {link} link carried {workers} worker envelopes"
        );
        if !above {
            assert_holds(&all, &format!("the {link} link"), &workers_people, true);
        }
        eprintln!(
            "{link}: {} frames, {} bytes, {} envelopes checked",
            frames.len(),
            frames.iter().map(Vec::len).sum::<usize>(),
            decoded.envelopes.len()
        );
    }

    // Every daemon stops: its store can be opened.
    for (d, _) in daemons.iter_mut() {
        d.stop();
    }
    village_daemon.stop();

    // (e) Bundles: the village's for the township and the township's for the county are
    // sealed; every upper node's bundle for its parent holds no ID number, decoded.
    let (bundle, sealed) = bundle_for(village, township, &dir.path().join("v-t.bundle"), true);
    assert!(
        sealed,
        "the village's bundle for the township is not sealed"
    );
    let raw = std::fs::read(dir.path().join("v-t.bundle")).expect("bundle");
    check_output("the village's sealed bundle", &raw, None, &everyone, true);
    let all = bundle.check("the village's bundle, opened", &everyone, false);
    assert_holds(&all, "the village's bundle, opened", &workers_people, true);
    for i in 1..4 {
        let st = &stations[i];
        let file = dir.path().join(format!("{}.bundle", st.label));
        // A bundle carrying worker records in full (the township's) must be sealed; those of
        // the county and the city carry headers only, so their export is not refused unsealed.
        let (bundle, sealed) = bundle_for(st.node, &nodes[i - 1], &file, i == 3);
        let raw = std::fs::read(&file).expect("bundle");
        assert_eq!(sealed, i == 3, "the {}'s bundle: sealed {sealed}", st.label);
        check_output(
            &format!("the {}'s bundle file", st.label),
            &raw,
            None,
            &everyone,
            i < 3,
        );
        bundle.check(
            &format!("the {}'s bundle for its parent", st.label),
            &everyone,
            i < 3,
        );
    }

    // (d) Logs: every daemon's, and the stderr of every command the clerk ran.
    assert!(
        !clerk.stderr.is_empty() || village.home.join("daemon.log").exists(),
        "no log was written"
    );
    check_output(
        "the village commands' stderr",
        &clerk.stderr,
        None,
        &everyone,
        false,
    );
    for node in &nodes {
        let log = std::fs::read(node.home.join("daemon.log")).expect("daemon.log");
        assert!(!log.is_empty(), "{} wrote no log", node.home.display());
        check_output(
            &format!("the daemon log of {}", node.home.display()),
            &log,
            None,
            &everyone,
            false,
        );
    }
    let village_log = std::fs::read_to_string(village.home.join("daemon.log")).expect("log");
    assert!(
        village_log.contains("DEBUG"),
        "the village daemon did not log at debug level"
    );

    // The search finds what it looks for: the village keeps every clear ID number in its
    // private table, and both the byte search of its files (zstd frames decompressed: sled
    // compresses its pages, store format 3, so raw bytes alone hold the 17 digits only while
    // a page's last write is an uncompressed fragment; stop 25's CI failed on that) and the
    // decoded walk of its store (the walk run above the village) find each.
    let village_files: Vec<u8> = files_read_by_a_thief(&village.home)
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect();
    let village_decoded = Decoded::of_store(&village.home);
    let mut village_text = String::new();
    for (_, value) in &village_decoded.values {
        strings_of(value, &mut village_text);
    }
    for p in &people {
        for (how, found) in [
            ("files", &village_files),
            ("store, decoded,", &village_text.clone().into_bytes()),
        ] {
            assert_eq!(
                id_found(found, &[p]),
                Some(p.id_number.clone()),
                "the village's {how} should hold {}",
                p.id_number
            );
        }
    }

    // (e) Exports at each node above, then (a) every file of each home as bytes, then the
    // store decoded.
    let village_items: BTreeSet<_> = {
        let store = SledStore::open(
            &lingong_node::home::Home::new(Some(village.home.clone())).store_path(),
        )
        .expect("village store");
        store
            .items()
            .expect("items")
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    for st in &stations {
        check_exports(
            st,
            &made,
            &dir.path().join(format!("exports-{}", st.label)),
            &everyone,
        );
        for (file, bytes) in files_read_by_a_thief(&st.node.home) {
            check_output(
                &format!("{}", file.display()),
                &bytes,
                None,
                &everyone,
                st.above,
            );
        }
        let held: BTreeSet<_> = {
            let store = SledStore::open(
                &lingong_node::home::Home::new(Some(st.node.home.clone())).store_path(),
            )
            .expect("store");
            store
                .items()
                .expect("items")
                .into_iter()
                .map(|m| m.id)
                .collect()
        };
        assert!(
            village_items.is_subset(&held),
            "the {} misses {} envelopes of the village",
            st.label,
            village_items.difference(&held).count()
        );
        let decoded = Decoded::of_store(&st.node.home);
        let all = decoded.check(&format!("the {}'s store", st.label), &everyone, st.above);
        if st.above {
            let headers = decoded
                .envelopes
                .iter()
                .filter(|(k, p)| matches!(k, RecordKind::Worker | RecordKind::Assistance) && !p)
                .count();
            assert!(
                headers >= 6,
                "the {} holds {headers} worker headers",
                st.label
            );
        } else {
            assert_holds(
                &all,
                &format!("the {}'s store", st.label),
                &workers_people,
                true,
            );
        }
    }
    eprintln!("done after {:?}", started.elapsed());
}
