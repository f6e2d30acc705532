//! A sync session cut after any frame leaves no gap in any author's log at either end
//! (SECURITY.md §4, issue 17): each side pushes, once its reconciliation has settled (so no
//! older change of an author can still be found after a newer one went), every author's
//! changes in sequence order and an edit after its record's create, an urgent change pulling
//! the changes it needs ahead with it.
//!
//! The scenarios are logs of four stations (a county, a township and two of its villages)
//! mixing kinds of every push priority, edits of records other stations created, changes of
//! one millisecond and changes back-dated by up to 50 minutes, of which each store holds its
//! own log whole and a prefix of each other author's (what a session cut earlier leaves), as
//! far as its scope wants it: a county that wants everything, and a village entitled to only
//! some of the township's and none of the other village's changes (scope gaps, which are not
//! gaps). Frames carry one envelope each or up to 2,000 or 32 KiB of them, and differences lie
//! all over the history so that reconciliation finds them over several rounds.
//!
//! A receiver's log has a gap after a cut when it holds a change of an author that the
//! session brought and lacks an older change of that author that the whole session brings.
//! The property test checks every frame of each session, on both sides (the state a cut after
//! that frame leaves); the second test cuts one session after each of its frames in turn and
//! then lets a fresh session finish, which fills everything. Every envelope pushed is
//! accepted (an edit never arrives before its record).

use lingong_protocol::accept::{AcceptConfig, accept_all};
use lingong_protocol::author::Target;
use lingong_protocol::envelope::Envelope;
use lingong_protocol::fixture::{FIXTURE_NOT_BEFORE_S, Hierarchy};
use lingong_protocol::keys::PublicKey;
use lingong_protocol::record::{FieldValue, RecordId, RecordKind};
use lingong_protocol::region::RegionCode;
use lingong_protocol::scope::{Scope, Want};
use lingong_protocol::store::{MemoryStore, Staged, Store};
use lingong_protocol::sync::{Frame, Session, SyncConfig, frame_is_empty, load_from};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const T0: i64 = (FIXTURE_NOT_BEFORE_S + 86_400) * 1000;
const COUNTY: &str = "522622";
const TOWNSHIP: &str = "522622101";
const VILLAGE_1: &str = "522622101001";
const VILLAGE_2: &str = "522622101002";
/// The stations that write, in the order a [`Write`]'s `author` indexes them.
const AUTHORS: [&str; 4] = [COUNTY, TOWNSHIP, VILLAGE_1, VILLAGE_2];

fn code(s: &str) -> RegionCode {
    RegionCode::parse(s).expect("valid code")
}

/// One change of the scenario: who writes it, what, and when.
#[derive(Clone, Debug)]
struct Write {
    /// Index into [`AUTHORS`].
    author: usize,
    /// 0 post, 1 employer, 2 placement, 3 complaint, 4 worker (push priorities 4, 4, 3, 2,
    /// 6); 5 and up: an edit of a record created earlier that the author may edit (its own,
    /// or one of a station below it), picked by this number, if there is one.
    kind: u8,
    /// Which of the author's areas a post reaches (the township's: its own or one village's).
    reach: u8,
    /// Milliseconds after the previous write (0: the same millisecond).
    step_ms: i64,
    /// How far the change is back-dated from the running clock (at most 50 minutes, inside
    /// the hour a log may run back).
    back_ms: i64,
}

/// What `w` writes: an edit of one of `records` (each with its creator's index into
/// [`AUTHORS`]) when it asks for one and the author may edit one, else a new record.
fn target(w: &Write, records: &[(usize, RecordId)]) -> Target {
    let author = AUTHORS[w.author];
    let editable: Vec<RecordId> = records
        .iter()
        .filter(|(creator, _)| {
            *creator == w.author || code(author).is_strict_ancestor_of(&code(AUTHORS[*creator]))
        })
        .map(|(_, r)| *r)
        .collect();
    if w.kind >= 5 && !editable.is_empty() {
        return Target::Edit(editable[usize::from(w.kind) * 7 % editable.len()]);
    }
    let kind = match w.kind {
        0 => RecordKind::Post,
        1 => RecordKind::Employer,
        2 => RecordKind::Placement,
        3 => RecordKind::Complaint,
        _ => RecordKind::Worker,
    };
    let reach = (kind == RecordKind::Post).then(|| match (author, w.reach % 3) {
        (TOWNSHIP, 1) => code(VILLAGE_1),
        (TOWNSHIP, 2) => code(VILLAGE_2),
        (COUNTY, 1) => code(TOWNSHIP),
        _ => code(author),
    });
    Target::Create { kind, reach }
}

/// Every change of the scenario, as its authors signed them, and the accept clock after them.
struct World {
    cfg: AcceptConfig,
    /// Every envelope, in (author, sequence number) order, certificates first.
    envelopes: Vec<Envelope>,
    now: i64,
}

fn world(writes: &[Write]) -> World {
    let mut h = Hierarchy::new(17);
    let cfg = h.accept_config();
    let mut truth = MemoryStore::new();
    for r in ["52", "5226", COUNTY, TOWNSHIP, VILLAGE_1, VILLAGE_2] {
        h.publish(&mut truth, &code(r), T0);
    }
    let mut clock = T0 + 3_600_000;
    let mut records = Vec::new();
    for (n, w) in writes.iter().enumerate() {
        clock += w.step_ms;
        let text = FieldValue::Text(format!("change {n}"));
        let target = target(w, &records);
        let created = matches!(target, Target::Create { .. });
        let env = h.write(
            &mut truth,
            &code(AUTHORS[w.author]),
            target,
            &[("title", text)],
            clock - w.back_ms,
        );
        if created {
            records.push((w.author, env.header.record));
        }
    }
    let mut envelopes: Vec<Envelope> = truth.envelopes.values().cloned().collect();
    envelopes.sort_by_key(|e| {
        (
            e.header.kind != RecordKind::Certificate,
            e.header.author,
            e.header.seq,
        )
    });
    World {
        cfg,
        envelopes,
        now: clock + 60_000,
    }
}

/// A store for the station of `region`: its own log whole, of every other author the
/// changes up to sequence number `held(author)` (and every certificate record), and further
/// where a change held edits a record created later in its creator's log (a station holds a
/// record before any edit of it), each as far as its scope wants it.
fn station(w: &World, region: &str, held: &dyn Fn(&PublicKey) -> u64) -> MemoryStore {
    let scope = Scope::new(code(region));
    let me = key_of(region);
    let wanted = |e: &&Envelope| {
        let h = &e.header;
        scope.wants(h.kind, &h.region, &h.reach) != Want::Nothing
    };
    let mut upto: BTreeMap<PublicKey, u64> = BTreeMap::new();
    for e in &w.envelopes {
        let h = &e.header;
        let cut = if h.author == me {
            u64::MAX
        } else {
            held(&h.author)
        };
        upto.insert(h.author, cut);
    }
    let holds = |upto: &BTreeMap<PublicKey, u64>, e: &Envelope| {
        e.header.kind == RecordKind::Certificate || e.header.seq <= upto[&e.header.author]
    };
    loop {
        let missing: Vec<(PublicKey, u64)> = w
            .envelopes
            .iter()
            .filter(wanted)
            .filter(|e| holds(&upto, e))
            .map(|e| (e.header.record.creator, e.header.record.serial))
            .filter(|(creator, serial)| upto[creator] < *serial)
            .collect();
        if missing.is_empty() {
            break;
        }
        for (creator, serial) in missing {
            let cut = upto.get_mut(&creator).expect("a creator writes");
            *cut = (*cut).max(serial);
        }
    }
    let envs: Vec<Envelope> = w
        .envelopes
        .iter()
        .filter(wanted)
        .filter(|e| holds(&upto, e))
        .map(
            |e| match scope.wants(e.header.kind, &e.header.region, &e.header.reach) {
                Want::Header => e.header_only(),
                _ => e.clone(),
            },
        )
        .collect();
    let mut store = MemoryStore::new();
    commit(&w.cfg, &mut store, &envs, w.now);
    store
}

fn commit(cfg: &AcceptConfig, store: &mut MemoryStore, envs: &[Envelope], now: i64) {
    let mut staged = Staged::new(&*store);
    for (r, e) in accept_all(&mut staged, cfg, envs, now)
        .into_iter()
        .zip(envs)
    {
        if let Err(err) = r {
            panic!("seq {} refused: {err}", e.header.seq);
        }
    }
    let batch = staged.into_batch();
    store.commit(batch).expect("memory commit");
}

/// Each author's sequence numbers a store holds.
type Logs = BTreeMap<PublicKey, BTreeSet<u64>>;

fn logs(store: &MemoryStore) -> Logs {
    let mut logs = Logs::new();
    for (author, seq) in store.logs.keys() {
        logs.entry(*author).or_default().insert(*seq);
    }
    logs
}

/// Panics if `now` (a store after some frames of a session) holds a change the session
/// brought (not in `before`) while lacking an older change of the same author that the whole
/// session brings (in `after`, the store once the session finished).
fn assert_no_gap(before: &Logs, now: &Logs, after: &Logs, at: &str) {
    let empty = BTreeSet::new();
    for (author, held) in now {
        let had = before.get(author).unwrap_or(&empty);
        let Some(newest) = held.difference(had).last() else {
            continue;
        };
        let brought = after[author].difference(had);
        if let Some(missing) = brought
            .take_while(|s| *s < newest)
            .find(|s| !held.contains(s))
        {
            panic!(
                "{at}: the log of {} holds change {newest} the session brought but not \
                 change {missing}, which it also brings",
                author.node_id()
            );
        }
    }
}

/// Both ends of a session.
#[derive(Clone)]
struct Pair {
    a: MemoryStore,
    a_scope: Scope,
    b: MemoryStore,
    b_scope: Scope,
}

/// Runs a session from `a` (the initiator) with `b`, each received batch committed before the
/// next frame is built, calling `after_frame(frames, pair)` after each frame taken in; stops
/// after `cut` frames if given. Returns the number of frames and whether the session finished.
fn run(
    w: &World,
    p: &mut Pair,
    config: SyncConfig,
    cut: Option<usize>,
    after_frame: &mut dyn FnMut(usize, &Pair),
) -> (usize, bool) {
    let mut sa = Session::new(
        1,
        p.a_scope,
        p.b_scope,
        &p.a.items().unwrap(),
        vec![],
        config,
    );
    let mut sb = Session::new(
        1,
        p.b_scope,
        p.a_scope,
        &p.b.items().unwrap(),
        vec![],
        config,
    );
    sa.set_clock(w.now);
    sb.set_clock(w.now);
    let mut frames = 0;
    let mut frame: Frame = sa.start();
    for _ in 0..10_000 {
        let got = sb.receive(&frame, frame.encode().len()).unwrap();
        commit(&w.cfg, &mut p.b, &got, w.now);
        frames += 1;
        after_frame(frames, p);
        if cut == Some(frames) {
            return (frames, false);
        }
        let reply = sb.next_frame(&mut load_from(&p.b));
        let got = sa.receive(&reply, reply.encode().len()).unwrap();
        commit(&w.cfg, &mut p.a, &got, w.now);
        frames += 1;
        after_frame(frames, p);
        if cut == Some(frames) {
            return (frames, false);
        }
        let next = sa.next_frame(&mut load_from(&p.a));
        if sa.finished() && frame_is_empty(&next) {
            return (frames, true);
        }
        frame = next;
    }
    panic!("the session did not finish");
}

/// Runs a whole session and checks, after every frame, that neither side's logs have a gap
/// (the state a cut after that frame leaves). Returns the pair after the session.
fn check_every_frame(w: &World, start: &Pair, config: SyncConfig) -> Pair {
    let mut whole = start.clone();
    let (_, finished) = run(w, &mut whole, config, None, &mut |_, _| {});
    assert!(finished);
    let (before_a, before_b) = (logs(&start.a), logs(&start.b));
    let (after_a, after_b) = (logs(&whole.a), logs(&whole.b));
    let mut p = start.clone();
    run(w, &mut p, config, None, &mut |frame, p| {
        let at = format!("after frame {frame}");
        assert_no_gap(&before_a, &logs(&p.a), &after_a, &at);
        assert_no_gap(&before_b, &logs(&p.b), &after_b, &at);
    });
    whole
}

fn key_of(region: &str) -> PublicKey {
    Hierarchy::new(17).key_for(&code(region)).public()
}

/// The two pairs of a scenario: the township with its county, and with its first village;
/// `cuts[store][author]` says how much of each other author's log each store held already,
/// as a fraction of 255.
fn pairs(w: &World, cuts: &[[u8; 4]; 3]) -> [Pair; 2] {
    let lengths: BTreeMap<PublicKey, u64> = w.envelopes.iter().fold(BTreeMap::new(), |mut m, e| {
        let len = m.entry(e.header.author).or_insert(0);
        *len = (*len).max(e.header.seq);
        m
    });
    let held_by = |row: &[u8; 4]| {
        let row = *row;
        let lengths = lengths.clone();
        move |author: &PublicKey| {
            let i = AUTHORS.iter().position(|r| key_of(r) == *author);
            let len = lengths.get(author).copied().unwrap_or(0);
            i.map_or(len, |i| len * u64::from(row[i]) / 255)
        }
    };
    let township = station(w, TOWNSHIP, &held_by(&cuts[0]));
    let county = station(w, COUNTY, &held_by(&cuts[1]));
    let village = station(w, VILLAGE_1, &held_by(&cuts[2]));
    [
        Pair {
            a: township.clone(),
            a_scope: Scope::new(code(TOWNSHIP)),
            b: county,
            b_scope: Scope::new(code(COUNTY)),
        },
        Pair {
            a: village,
            a_scope: Scope::new(code(VILLAGE_1)),
            b: township,
            b_scope: Scope::new(code(TOWNSHIP)),
        },
    ]
}

fn config(budget: u8) -> SyncConfig {
    SyncConfig {
        max_frame_envelope_bytes: [1, 2000, 32 * 1024][budget as usize % 3],
        ..SyncConfig::default()
    }
}

fn writes() -> impl Strategy<Value = Vec<Write>> {
    let write = (
        0usize..4,
        0u8..9,
        0u8..3,
        prop_oneof![Just(0i64), 1i64..2_000, 2_000i64..600_000],
        prop_oneof![3 => Just(0i64), 1 => 1i64..3_000_000],
    )
        .prop_map(|(author, kind, reach, step_ms, back_ms)| Write {
            author,
            kind,
            reach,
            step_ms,
            back_ms,
        });
    prop::collection::vec(write, 30..110)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_prefix_of_a_sessions_frames_leaves_a_gap_in_any_log(
        writes in writes(),
        cuts in prop::array::uniform3(prop::array::uniform4(any::<u8>())),
        budget in 0u8..3,
    ) {
        let w = world(&writes);
        for pair in pairs(&w, &cuts) {
            let done = check_every_frame(&w, &pair, config(budget));
            // The session finished: both ends hold the same of what their scopes share.
            let (a, b) = (logs(&done.a), logs(&done.b));
            for author in AUTHORS.map(key_of) {
                let shared = |l: &Logs, s: &MemoryStore, scope: &Scope| -> BTreeSet<u64> {
                    l.get(&author).into_iter().flatten().copied().filter(|seq| {
                        let id = s.logs[&(author, *seq)];
                        let h = &s.envelopes[&id].header;
                        scope.wants(h.kind, &h.region, &h.reach) != Want::Nothing
                    }).collect()
                };
                prop_assert_eq!(shared(&a, &done.a, &done.b_scope), shared(&b, &done.b, &done.a_scope));
            }
        }
    }
}

/// A fixed scenario that needs several rounds of reconciliation: the county already holds
/// the older part of each village's log, the rest is spread over months among changes both
/// hold, with urgent kinds late in the logs and changes of one millisecond.
fn spread_scenario() -> Vec<Write> {
    (0..90)
        .map(|n: usize| Write {
            author: [0, 1, 2, 3, 2, 1][n % 6],
            kind: [0, 0, 4, 1, 0, 2, 5, 3, 0, 6, 7][n % 11],
            reach: (n % 3) as u8,
            step_ms: if n % 5 == 0 {
                0
            } else {
                40_000 + (n as i64 * 7_919) % 900_000
            },
            back_ms: if n % 11 == 3 { 1_800_000 } else { 0 },
        })
        .collect()
}

#[test]
fn a_session_cut_after_any_frame_leaves_no_gap_and_the_next_session_fills_the_rest() {
    let writes = spread_scenario();
    let w = world(&writes);
    // The township holds a third of the county's log; the county half of each village's.
    let cuts = [
        [85, 255, 255, 255],
        [255, 255, 128, 128],
        [255, 200, 255, 60],
    ];
    for (n, start) in pairs(&w, &cuts).into_iter().enumerate() {
        let config = config(0);
        let mut whole = start.clone();
        let (frames, finished) = run(&w, &mut whole, config, None, &mut |_, _| {});
        assert!(finished && frames > 6, "pair {n}: {frames} frames");
        let (before_a, before_b) = (logs(&start.a), logs(&start.b));
        let (after_a, after_b) = (logs(&whole.a), logs(&whole.b));
        for cut in 1..frames {
            let mut p = start.clone();
            run(&w, &mut p, config, Some(cut), &mut |_, _| {});
            let at = format!("pair {n}, cut after frame {cut} of {frames}");
            assert_no_gap(&before_a, &logs(&p.a), &after_a, &at);
            assert_no_gap(&before_b, &logs(&p.b), &after_b, &at);
            // The next session fills what the cut one left.
            let (_, finished) = run(&w, &mut p, config, None, &mut |_, _| {});
            assert!(finished);
            assert_eq!(
                (logs(&p.a), logs(&p.b)),
                (after_a.clone(), after_b.clone()),
                "{at}"
            );
        }
    }
}
