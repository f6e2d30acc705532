//! The node's request vocabulary and its one dispatcher.
//!
//! [`Request`] is everything a command or a web page can ask of a node (serde, so the same value
//! travels over the daemon's control socket as one JSON line). The control socket, the command
//! line without a daemon, and the HTTP API all turn what they receive into a `Request` and call
//! [`dispatch`], so they can never disagree. [`Request::is_write`] is exhaustive: a read never
//! triggers a sync nudge, and a new request kind must say which it is.
//!
//! Arrows point one way: daemon → control/net → dispatch → services → station → store →
//! protocol.

use crate::error::{NodeError, Result};
use crate::services::{
    self, certs, directory, employers, matching, peers, placements, posts, review, staff, status,
    workers,
};
use crate::station::Station;
use lingong_protocol::cert::CertRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::services::assistance::AssistFields;
pub use crate::services::complaints::{ComplaintFields, ComplaintUpdate};
pub use crate::services::csv::{ExportTable, ImportTable};
pub use crate::services::employers::EmployerFields;
pub use crate::services::placements::PlacementFields;
pub use crate::services::posts::{PostFields, PostFilter};
pub use crate::services::staff::{Role, Secret};
pub use crate::services::workers::WorkerFields;

/// Every operation a node offers, with its arguments as typed by the user.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    CertRequest,
    CertIssue {
        request: CertRequest,
        days: u32,
    },
    /// `cert issue --successor-of NODE_ID`: a write (it revokes the predecessor's key).
    CertIssueSuccessor {
        request: CertRequest,
        days: u32,
        successor_of: String,
    },
    CertRotate,
    CertInstall {
        chain: Value,
    },
    CertShow,
    CertRevoke {
        node_id: String,
        reason: Option<String>,
    },
    PostCreate(PostFields),
    PostList(PostFilter),
    PostShow {
        id: String,
    },
    PostUpdate {
        id: String,
        fields: PostFields,
    },
    PostReview {
        id: String,
        approve: bool,
        reason: Option<String>,
    },
    PostReviewQueue {
        #[serde(default)]
        limit: Option<usize>,
        #[serde(default)]
        after: Option<String>,
    },
    PostExport {
        id: String,
        out: String,
    },
    EmployerRegister(EmployerFields),
    EmployerList {
        status: Option<String>,
    },
    EmployerShow {
        id: String,
    },
    EmployerUpdate {
        id: String,
        fields: EmployerFields,
    },
    EmployerSuspend {
        id: String,
        reason: String,
    },
    WorkerRegister(WorkerFields),
    WorkerList {
        #[serde(default)]
        priority: bool,
    },
    WorkerShow {
        id: String,
    },
    WorkerUpdate {
        id: String,
        fields: WorkerFields,
    },
    WorkerDeregister {
        id: String,
    },
    WorkerErase {
        id: String,
        reason: Option<String>,
    },
    MatchWorker {
        id: String,
        limit: Option<usize>,
        #[serde(default)]
        lang: String,
    },
    MatchPost {
        id: String,
        limit: Option<usize>,
        #[serde(default)]
        lang: String,
    },
    PlacementConfirm(PlacementFields),
    PlacementList {
        post: Option<String>,
        worker: Option<String>,
    },
    PlacementCancel {
        id: String,
        reason: String,
    },
    PlacementEnd {
        id: String,
        outcome: String,
    },
    PlacementAgreement {
        id: String,
        out: String,
    },
    /// `push list [--post ID] [--days N] [--limit N]`.
    PushList {
        post: Option<String>,
        days: Option<i64>,
        limit: Option<usize>,
        #[serde(default)]
        lang: String,
    },
    /// `push mark POST --worker W --result R [--note T]`.
    PushMark {
        post: String,
        worker: Option<String>,
        result: Option<String>,
        note: Option<String>,
    },
    /// `push send [--post ID] [--worker W] [--days N]`.
    PushSend {
        post: Option<String>,
        worker: Option<String>,
        days: Option<i64>,
    },
    /// `assist log --worker W --kind K [--note T] [--post P] [--result R]`.
    AssistLog(AssistFields),
    /// `assist list [--worker W] [--kind K] [--limit N]`.
    AssistList {
        worker: Option<String>,
        kind: Option<String>,
        limit: Option<usize>,
    },
    /// `assist due [--worker W]`.
    AssistDue {
        worker: Option<String>,
    },
    DirectorySet {
        address: Option<String>,
        hours: Option<String>,
        hotline: Option<String>,
        services: Option<String>,
        /// The station's service rules (服务制度).
        #[serde(default)]
        rules: Option<String>,
    },
    DirectoryList {
        #[serde(default)]
        region: Option<String>,
    },
    DirectoryExport {
        out: String,
        format: Option<String>,
        #[serde(default)]
        region: Option<String>,
    },
    ComplaintFile(ComplaintFields),
    ComplaintList {
        status: Option<String>,
        #[serde(default)]
        overdue: bool,
    },
    ComplaintShow {
        id: String,
    },
    ComplaintUpdate {
        id: String,
        update: ComplaintUpdate,
    },
    /// `report --period P [--region CODE] [--csv]`.
    Report {
        period: String,
        region: Option<String>,
        #[serde(default)]
        csv: bool,
    },
    /// `report seal --period P [--amend --reason T]`.
    ReportSeal {
        period: String,
        #[serde(default)]
        amend: bool,
        reason: Option<String>,
    },
    /// `report verify [--period P]`.
    ReportVerify {
        period: Option<String>,
    },
    /// `supervise [--stale-days N]`.
    Supervise {
        stale_days: Option<u32>,
    },
    /// `supervise order NODE_ID --reason T --deadline DATE`.
    SuperviseOrder {
        node_id: String,
        reason: String,
        deadline: String,
    },
    /// `supervise orders`.
    SuperviseOrders,
    /// `audit`.
    Audit,
    /// This node's own changes signed after `since` (the web console's sync-state page).
    SyncWaiting {
        since: Option<String>,
    },
    Status,
    PeerAdd {
        addr: String,
    },
    Sync {
        timeout_secs: u64,
    },
    BundleExport {
        out: String,
        for_node: Option<String>,
        #[serde(default)]
        to: Option<String>,
    },
    BundleImport {
        file: String,
    },
    Sample {
        posts: usize,
    },
    /// `post|worker|employer import FILE`: every row checked, then all signed in one batch.
    CsvImport {
        table: ImportTable,
        file: String,
        #[serde(default)]
        encoding: Option<String>,
        #[serde(default)]
        dry_run: bool,
    },
    /// `post|worker|employer|placement export --csv FILE`.
    CsvExport {
        what: ExportTable,
        file: String,
        #[serde(default)]
        encoding: Option<String>,
    },
    /// Local accounts (never replicated): staff who log in to the web console, API tokens.
    /// Without a password, one is made and shown once.
    StaffAdd {
        name: String,
        role: String,
        password: Option<Secret>,
    },
    StaffList,
    StaffPasswd {
        name: String,
        password: Option<Secret>,
    },
    StaffRemove {
        name: String,
    },
    TokenAdd {
        name: String,
        role: String,
    },
    TokenList,
    TokenRevoke {
        name: String,
    },
    /// `lingong backup --out FILE`: the whole node in one encrypted file (`crate::backup`).
    Backup {
        out: String,
        passphrase: Secret,
    },
    /// What `lingong doctor` reads of the store (`services::doctor::facts`): this node's own
    /// changes signed after `since_ms`, and the newest change held from each of `peers`.
    DoctorStore {
        since_ms: Option<i64>,
        peers: Vec<String>,
    },
}

impl Request {
    /// True when the request may sign and store a change (so the daemon offers it to peers
    /// afterwards); false for reads, and for requests that only write files or configuration.
    pub fn is_write(&self) -> bool {
        match self {
            Request::CertInstall { .. }
            | Request::CertRevoke { .. }
            | Request::CertIssueSuccessor { .. }
            | Request::PostCreate(_)
            | Request::PostUpdate { .. }
            | Request::PostReview { .. }
            | Request::EmployerRegister(_)
            | Request::EmployerUpdate { .. }
            | Request::EmployerSuspend { .. }
            | Request::WorkerRegister(_)
            | Request::WorkerUpdate { .. }
            | Request::WorkerDeregister { .. }
            | Request::WorkerErase { .. }
            | Request::PlacementConfirm(_)
            | Request::PlacementCancel { .. }
            | Request::PlacementEnd { .. }
            | Request::DirectorySet { .. }
            | Request::ComplaintFile(_)
            | Request::ComplaintUpdate { .. }
            | Request::ReportSeal { .. }
            | Request::SuperviseOrder { .. }
            | Request::BundleImport { .. }
            | Request::Sample { .. }
            | Request::PushMark { .. }
            | Request::PushSend { .. }
            | Request::AssistLog(_) => true,
            Request::CsvImport { dry_run, .. } => !dry_run,
            Request::CertRequest
            | Request::CertRotate
            | Request::CertIssue { .. }
            | Request::CertShow
            | Request::PostList(_)
            | Request::PostShow { .. }
            | Request::PostReviewQueue { .. }
            | Request::PostExport { .. }
            | Request::EmployerList { .. }
            | Request::EmployerShow { .. }
            | Request::WorkerList { .. }
            | Request::WorkerShow { .. }
            | Request::MatchWorker { .. }
            | Request::MatchPost { .. }
            | Request::PlacementList { .. }
            | Request::PlacementAgreement { .. }
            | Request::PushList { .. }
            | Request::AssistList { .. }
            | Request::AssistDue { .. }
            | Request::DirectoryList { .. }
            | Request::DirectoryExport { .. }
            | Request::ComplaintList { .. }
            | Request::ComplaintShow { .. }
            | Request::Report { .. }
            | Request::ReportVerify { .. }
            | Request::Supervise { .. }
            | Request::SuperviseOrders
            | Request::Audit
            | Request::SyncWaiting { .. }
            | Request::Status
            | Request::PeerAdd { .. }
            | Request::Sync { .. }
            | Request::BundleExport { .. }
            | Request::CsvExport { .. }
            | Request::StaffAdd { .. }
            | Request::StaffList
            | Request::StaffPasswd { .. }
            | Request::StaffRemove { .. }
            | Request::TokenAdd { .. }
            | Request::TokenList
            | Request::TokenRevoke { .. }
            | Request::Backup { .. }
            | Request::DoctorStore { .. } => false,
        }
    }
}

/// Executes `request` against the node; a damaged store found by a read is reported naming
/// this node's store.
pub fn dispatch(station: &mut Station, request: Request) -> Result<Value> {
    let store_path = station.home.store_path();
    run(station, request).map_err(|e| e.in_store(&store_path))
}

/// [`dispatch`] for the requests that only read ([`run_read`]), with `&Station`; any other
/// request comes back unanswered (`Err`) for [`dispatch`].
pub fn dispatch_read(
    station: &Station,
    request: Request,
) -> std::result::Result<Result<Value>, Request> {
    let store_path = station.home.store_path();
    run_read(station, request).map(|out| out.map_err(|e| e.in_store(&store_path)))
}

fn run(station: &mut Station, request: Request) -> Result<Value> {
    match request {
        Request::CertRequest => certs::request(station),
        Request::CertRotate => certs::rotate(station),
        Request::CertIssue { request, days } => certs::issue(station, &request, days),
        Request::CertIssueSuccessor {
            request,
            days,
            successor_of,
        } => certs::issue_successor(station, &request, days, &successor_of),
        Request::CertInstall { chain } => certs::install(station, &chain),
        Request::CertRevoke { node_id, reason } => {
            certs::revoke(station, &node_id, reason.unwrap_or_default())
        }
        Request::PostCreate(fields) => posts::create(station, fields),
        Request::PostUpdate { id, fields } => posts::update(station, &id, fields),
        Request::PostReview {
            id,
            approve,
            reason,
        } => review::decide(station, &id, approve, reason),
        Request::EmployerRegister(fields) => employers::register(station, fields),
        Request::EmployerUpdate { id, fields } => employers::update(station, &id, fields),
        Request::EmployerSuspend { id, reason } => employers::suspend(station, &id, &reason),
        Request::WorkerRegister(fields) => workers::register(station, fields),
        Request::WorkerUpdate { id, fields } => workers::update(station, &id, fields),
        Request::WorkerDeregister { id } => workers::deregister(station, &id),
        Request::WorkerErase { id, reason } => workers::erase(station, &id, reason),
        Request::PlacementConfirm(fields) => placements::confirm(station, fields),
        Request::PlacementCancel { id, reason } => placements::cancel(station, &id, &reason),
        Request::PlacementEnd { id, outcome } => placements::end(station, &id, &outcome),
        Request::DirectorySet {
            address,
            hours,
            hotline,
            services,
            rules,
        } => directory::set(
            station,
            directory::EntryFields {
                address,
                hours,
                hotline,
                services,
                rules,
            },
        ),
        Request::ComplaintFile(fields) => services::complaints::file(station, fields),
        Request::ComplaintUpdate { id, update } => {
            services::complaints::update(station, &id, update)
        }
        Request::ReportSeal {
            period,
            amend,
            reason,
        } => services::reports::seal(station, &period, amend, reason),
        Request::SuperviseOrder {
            node_id,
            reason,
            deadline,
        } => services::supervision::order(station, &node_id, &reason, &deadline),
        Request::PeerAdd { addr } => peers::add(station, &addr),
        Request::Sync { .. } => Err(NodeError::Network {
            detail: "sync runs through control::execute, which brings the network up".into(),
        }),
        Request::BundleImport { file } => services::bundle::import(station, &file),
        Request::Sample { posts } => crate::demo::sample_posts(station, posts),
        Request::CsvImport {
            table,
            file,
            encoding,
            dry_run,
        } => services::csv::import(station, table, &file, encoding.as_deref(), dry_run),
        Request::StaffAdd {
            name,
            role,
            password,
        } => staff::add(
            station,
            &name,
            &role,
            password.as_ref().map(|p| p.0.as_str()),
        ),
        Request::StaffPasswd { name, password } => {
            staff::passwd(station, &name, password.as_ref().map(|p| p.0.as_str()))
        }
        Request::StaffRemove { name } => staff::remove(station, &name),
        Request::TokenAdd { name, role } => staff::token_add(station, &name, &role),
        Request::TokenRevoke { name } => staff::token_revoke(station, &name),
        Request::PushMark {
            post,
            worker,
            result,
            note,
        } => services::push::mark(
            station,
            &post,
            worker.as_deref(),
            result.as_deref(),
            note.as_deref(),
        ),
        Request::PushSend { post, worker, days } => {
            services::push::send(station, post.as_deref(), worker.as_deref(), days)
        }
        Request::AssistLog(fields) => services::assistance::log(station, fields),
        Request::Backup { out, passphrase } => {
            crate::backup::backup(station, std::path::Path::new(&out), &passphrase.0)
        }
        read => run_read(station, read)
            .unwrap_or_else(|r| unreachable!("run_read answers every request run does not: {r:?}")),
    }
}

/// The requests that only read the station (lists, shows, matching, reports, status, exports to
/// files): answered with `&Station`, so the daemon serves them under a shared lock, side by side
/// and never behind one another. Any other request comes back unanswered (`Err`).
fn run_read(station: &Station, request: Request) -> std::result::Result<Result<Value>, Request> {
    match request {
        Request::CertShow => Ok(certs::show(station)),
        Request::PostList(filter) => Ok(posts::list(station, &filter)),
        Request::PostShow { id } => Ok(posts::show(station, &id)),
        Request::PostReviewQueue { limit, after } => {
            Ok(review::queue(station, limit, after.as_deref()))
        }
        Request::PostExport { id, out } => Ok(posts::export(station, &id, &out)),
        Request::EmployerList { status } => Ok(employers::list(station, status.as_deref())),
        Request::EmployerShow { id } => Ok(employers::show(station, &id)),
        Request::WorkerList { priority } => Ok(workers::list(station, priority)),
        Request::WorkerShow { id } => Ok(workers::show(station, &id)),
        Request::MatchWorker { id, limit, lang } => {
            Ok(matching::for_worker(station, &id, limit, &lang))
        }
        Request::MatchPost { id, limit, lang } => {
            Ok(matching::for_post(station, &id, limit, &lang))
        }
        Request::PlacementList { post, worker } => Ok(placements::list(
            station,
            post.as_deref(),
            worker.as_deref(),
        )),
        Request::PlacementAgreement { id, out } => Ok(placements::agreement(station, &id, &out)),
        Request::DirectoryList { region } => Ok(directory::list(station, region.as_deref())),
        Request::DirectoryExport {
            out,
            format,
            region,
        } => Ok(directory::export(
            station,
            &out,
            format.as_deref(),
            region.as_deref(),
        )),
        Request::ComplaintList { status, overdue } => Ok(services::complaints::list(
            station,
            status.as_deref(),
            overdue,
        )),
        Request::ComplaintShow { id } => Ok(services::complaints::show(station, &id)),
        Request::Report {
            period,
            region,
            csv,
        } => Ok(services::reports::report(
            station,
            &period,
            region.as_deref(),
            csv,
        )),
        Request::ReportVerify { period } => {
            Ok(services::reports::verify(station, period.as_deref()))
        }
        Request::Supervise { stale_days } => {
            Ok(services::supervision::supervise(station, stale_days))
        }
        Request::SuperviseOrders => Ok(services::supervision::orders(station)),
        Request::Audit => Ok(services::audit::audit(station)),
        Request::SyncWaiting { since } => {
            Ok(services::sync_state::waiting_up(station, since.as_deref()))
        }
        Request::Status => Ok(status::status(station)),
        Request::BundleExport { out, for_node, to } => Ok(services::bundle::export(
            station,
            &out,
            for_node.as_deref(),
            to.as_deref(),
        )),
        Request::CsvExport {
            what,
            file,
            encoding,
        } => Ok(services::csv::export(
            station,
            &what,
            &file,
            encoding.as_deref(),
        )),
        Request::StaffList => Ok(staff::list(station)),
        Request::TokenList => Ok(staff::token_list(station)),
        Request::PushList {
            post,
            days,
            limit,
            lang,
        } => Ok(services::push::list(
            station,
            post.as_deref(),
            days,
            limit,
            &lang,
        )),
        Request::AssistList {
            worker,
            kind,
            limit,
        } => Ok(services::assistance::list(
            station,
            worker.as_deref(),
            kind.as_deref(),
            limit,
        )),
        Request::AssistDue { worker } => Ok(services::assistance::due(station, worker.as_deref())),
        Request::DoctorStore { since_ms, peers } => {
            Ok(services::doctor::facts(station, since_ms, &peers))
        }
        // Answered by `run` alone (they write, or need the station itself): listed so that a
        // new request must be placed on one side or the other before it compiles.
        other @ (Request::CertRequest
        | Request::CertRotate
        | Request::CertIssue { .. }
        | Request::CertIssueSuccessor { .. }
        | Request::CertInstall { .. }
        | Request::CertRevoke { .. }
        | Request::PostCreate(_)
        | Request::PostUpdate { .. }
        | Request::PostReview { .. }
        | Request::EmployerRegister(_)
        | Request::EmployerUpdate { .. }
        | Request::EmployerSuspend { .. }
        | Request::WorkerRegister(_)
        | Request::WorkerUpdate { .. }
        | Request::WorkerDeregister { .. }
        | Request::WorkerErase { .. }
        | Request::PlacementConfirm(_)
        | Request::PlacementCancel { .. }
        | Request::PlacementEnd { .. }
        | Request::DirectorySet { .. }
        | Request::ComplaintFile(_)
        | Request::ComplaintUpdate { .. }
        | Request::ReportSeal { .. }
        | Request::SuperviseOrder { .. }
        | Request::PeerAdd { .. }
        | Request::Sync { .. }
        | Request::BundleImport { .. }
        | Request::Sample { .. }
        | Request::CsvImport { .. }
        | Request::StaffAdd { .. }
        | Request::StaffPasswd { .. }
        | Request::StaffRemove { .. }
        | Request::TokenAdd { .. }
        | Request::TokenRevoke { .. }
        | Request::PushMark { .. }
        | Request::PushSend { .. }
        | Request::AssistLog(_)
        | Request::Backup { .. }) => Err(other),
    }
}
