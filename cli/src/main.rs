//! The `lingong` binary: parses the command line (clap), installs logging (tracing), and hands
//! each command to `lingong-node`. No logic of its own beyond turning arguments into a
//! [`Request`] and the result into output and an exit status (0 ok, 2 bad input, 1 other).

mod help_zh;
mod output;
mod progress;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use lingong_node::control::{Failure, execute};
use lingong_node::home::Home;
use lingong_node::request::{
    EmployerFields, PlacementFields, PostFields, PostFilter, Request, Secret, WorkerFields,
};
use lingong_node::request::{ExportTable, ImportTable};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "lingong",
    version,
    about = "零工 lingong: a signed peer-to-peer node of Guizhou's public gig-work service"
)]
struct Cli {
    /// The node's home folder (key, config, store).
    #[arg(long, global = true, env = "LINGONG_HOME")]
    home: Option<PathBuf>,
    /// Print exactly one JSON value on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Language of messages: zh or en (default from LANG).
    #[arg(long, global = true)]
    lang: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create this node's key and configuration.
    Init {
        /// The station's name (e.g. 青岩镇零工驿站).
        #[arg(long)]
        name: String,
        /// The division code this station serves: 2 digits province, 4 city, 6 county,
        /// 9 township, 12 village.
        #[arg(long)]
        region: String,
        /// A multiaddr to listen on for peers (repeatable; default /ip4/0.0.0.0/tcp/0).
        #[arg(long)]
        listen: Vec<String>,
        /// Address of the web console and HTTP API (default 127.0.0.1:0, a free port).
        #[arg(long)]
        http: Option<String>,
    },
    /// Certificates: request, issue, install, show, revoke.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Job posts (岗位).
    #[command(subcommand)]
    Post(PostCommand),
    /// Flexible workers (灵活就业人员).
    #[command(subcommand)]
    Worker(WorkerCommand),
    /// Employers (用工主体).
    #[command(subcommand)]
    Employer(EmployerCommand),
    /// Rank posts for a worker (--worker) or workers for a post (--post), priority first.
    Match {
        /// The worker's id: the posts that suit this worker.
        #[arg(long, conflicts_with = "post", required_unless_present = "post")]
        worker: Option<String>,
        /// The post's id: the workers who suit this post.
        #[arg(long)]
        post: Option<String>,
        /// At most this many results (default 20).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Placements confirmed on the spot (即时确认结果).
    #[command(subcommand)]
    Placement(PlacementCommand),
    /// Push lists (精准推送): workers to contact for newly approved posts, priority first.
    #[command(subcommand)]
    Push(PushCommand),
    /// The assistance ledger (困难帮扶台账) and who is behind the yearly targets.
    #[command(subcommand)]
    Assist(AssistCommand),
    /// The directory of markets and stations (名录).
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Complaints (投诉维权): wage arrears, discrimination, fraud, unsafe work.
    #[command(subcommand)]
    Complaint(ComplaintCommand),
    /// Service reports (成效表): figures of a period, seals, verification of seals.
    Report(ReportArgs),
    /// Supervision (督查): stations that need attention, rectification orders (限期整改).
    Supervise(SuperviseArgs),
    /// Check every signature, certificate chain, log and seal this node holds.
    Audit,
    /// What this node holds and whom it talks to.
    Status,
    /// Peers to dial.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Staff accounts of the web console (local to this node, never replicated).
    #[command(subcommand)]
    Staff(StaffCommand),
    /// API tokens for partner platforms and the bureau's systems (local to this node).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The daemon: listen, dial peers, sync; stops cleanly on SIGTERM/SIGINT.
    Run {
        /// A multiaddr to listen on for peers (repeatable; overrides the config).
        #[arg(long)]
        listen: Vec<String>,
        /// Address of the web console and HTTP API (overrides the config).
        #[arg(long)]
        http: Option<String>,
        /// Seconds between sync rounds with each peer (overrides the config).
        #[arg(long)]
        sync_interval: Option<u64>,
        /// Do not look for peers on the local network (mDNS).
        #[arg(long)]
        no_mdns: bool,
    },
    /// Record sample posts (demos and load tests): realistic fields, signed like any other.
    Sample {
        /// How many sample posts to record.
        #[arg(long, default_value_t = 100)]
        posts: usize,
    },
    /// Reconcile with every configured peer now.
    Sync {
        /// Sync once and return (the only mode; kept for scripts).
        #[arg(long)]
        once: bool,
        /// Seconds the whole sync may take.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Carry changes on a USB stick where no link exists.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Build an eight-node network on this machine (province to three villages) with sample data.
    Demo {
        /// Folder for the eight nodes' homes (default ./lingong-demo).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Stop after showing the network (scripts, tests); by default the eight daemons and
        /// their web consoles run until Ctrl-C.
        #[arg(long)]
        no_wait: bool,
        /// Accepted for older scripts: running until Ctrl-C is the default now.
        #[arg(long, hide = true)]
        keep_running: bool,
    },
    /// Check this node and say what needs a person: files, certificate, store, disk, peers,
    /// clock, what waits to go up (exit 0 all well, 1 with findings).
    Doctor,
    /// First run: key, configuration and certificate request in one go (asks in Chinese for
    /// what is missing when run at a terminal).
    Setup {
        /// The station's name (e.g. 青岩镇零工驿站).
        #[arg(long)]
        name: Option<String>,
        /// The division code this station serves (as for `init`).
        #[arg(long)]
        region: Option<String>,
        /// The parent station's address (multiaddr ending in /p2p/NODE_ID).
        #[arg(long)]
        parent_peer: Option<String>,
        /// Where to write the certificate request for the parent.
        #[arg(long)]
        out_request: Option<PathBuf>,
        /// A multiaddr to listen on for peers (repeatable).
        #[arg(long)]
        listen: Vec<String>,
        /// Address of the web console and HTTP API.
        #[arg(long)]
        http: Option<String>,
    },
    /// Rebuild a damaged store: move it aside, keep what still verifies, fetch the rest from
    /// the peers (stop the daemon first).
    Repair {
        /// Rebuild even a store that opens fine.
        #[arg(long)]
        force: bool,
        /// Seconds the sync with the peers may take.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Write the store afresh (every row once, into a fresh store swapped in), so that its files
    /// no longer hold erased or replaced data; stop the daemon first.
    Compact {
        /// Keep the store as it is when written afresh it would take more room (to reclaim
        /// room only; without it the rewrite always replaces the store, as erasure needs).
        #[arg(long)]
        only_if_smaller: bool,
    },
    /// Write the whole node (configuration, key, certificate, ID-hash secret, store, staff
    /// accounts, clear ID numbers) to one file encrypted with a passphrase; works while the
    /// daemon runs.
    Backup {
        /// The backup file to write (mode 0600).
        #[arg(long)]
        out: PathBuf,
        /// Read the passphrase from the first line of standard input (else asked on the
        /// terminal).
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// Make a new home (--home, which must not exist or be empty) from a backup file; the
    /// restored node signs nothing until it has synced with its parent.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Read the passphrase from the first line of standard input (else asked on the
        /// terminal).
        #[arg(long)]
        passphrase_stdin: bool,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Add a staff member; without --password-stdin a password is made and shown once.
    Add {
        /// The login name.
        #[arg(long)]
        name: String,
        /// clerk (经办员), reviewer (审核员), supervisor (监督员) or admin (管理员).
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Staff members and their roles (never a password).
    List,
    /// A new password (made and shown once without --password-stdin); open sessions end.
    Passwd {
        /// The staff member's login name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a staff member; their sessions end.
    Remove {
        /// The staff member's login name.
        name: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make an API token for a partner platform or system: shown once, kept only as a hash.
    Add {
        /// A name for the token (the platform or system it is for).
        #[arg(long)]
        name: String,
        /// clerk, reviewer, supervisor or admin: what the token may do.
        #[arg(long)]
        role: String,
    },
    /// Tokens by name and role (never the token).
    List,
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum PeerCommand {
    /// Add a peer, e.g. /ip4/127.0.0.1/tcp/4101/p2p/12D3KooW...
    Add {
        /// The peer's address, ending in /p2p/NODE_ID.
        multiaddr: String,
    },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Write the changes this node holds (or only what --for wants) to a bundle file for a USB stick.
    Export {
        /// The bundle file to write (mode 0600).
        #[arg(long)]
        out: PathBuf,
        /// Only what that node's scope wants.
        #[arg(long = "for")]
        for_node: Option<String>,
        /// Seal the file to this node (its node id, or a certificate file of it): required
        /// when the bundle carries workers' personal data.
        #[arg(long)]
        to: Option<String>,
    },
    /// Take in a bundle file's changes, each checked as a peer's would be.
    Import {
        /// The bundle file to read.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum CertCommand {
    /// A certificate request for this node.
    Request {
        /// Also write the request to this file (mode 0600).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign a child's request.
    Issue {
        /// The child's certificate request file.
        #[arg(long)]
        request: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Also write the certificate to this file (mode 0600).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The node id of the station this new key replaces (a dead machine): the certificate
        /// names it, and its key is revoked in the same step.
        #[arg(long, value_name = "NODE_ID")]
        successor_of: Option<String>,
    },
    /// Key rotation: make this node's next key and its certificate request (for the parent's
    /// `cert issue --successor-of THIS_NODE_ID`); `cert install` of the certificate switches.
    Rotate {
        /// Also write the request to this file (mode 0600).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a certificate chain and install it.
    Install {
        /// The certificate file the parent issued.
        file: PathBuf,
    },
    /// Show the installed chain.
    Show,
    /// Revoke a node in this node's jurisdiction.
    Revoke {
        /// The node id to revoke (12D3KooW…).
        node_id: String,
        /// Why; kept in the revocation.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Args, Default)]
struct PostArgs {
    /// The post's title (e.g. 搬运工).
    #[arg(long)]
    title: Option<String>,
    /// Occupation code (e.g. 4-10-01-06) or an everyday name (e.g. 钟点工).
    #[arg(long)]
    occupation: Option<String>,
    /// Yuan per unit.
    #[arg(long)]
    wage: Option<f64>,
    /// day, hour, piece or month.
    #[arg(long)]
    unit: Option<String>,
    /// How many workers are wanted.
    #[arg(long)]
    headcount: Option<i64>,
    /// Region the post is advertised in (defaults to this station's region).
    #[arg(long)]
    reach: Option<String>,
    /// YYYY-MM-DD (default: 30 days from today).
    #[arg(long)]
    expires: Option<String>,
    /// Where the work is.
    #[arg(long)]
    location: Option<String>,
    /// Who to call, with a phone number.
    #[arg(long)]
    contact: Option<String>,
    /// What the work is, hours, conditions.
    #[arg(long)]
    description: Option<String>,
    /// The employer's id (employer register).
    #[arg(long)]
    employer: Option<String>,
}

impl PostArgs {
    fn into_fields(self, status: Option<String>) -> PostFields {
        PostFields {
            title: self.title,
            occupation: self.occupation,
            wage: self.wage,
            unit: self.unit,
            headcount: self.headcount,
            reach: self.reach,
            expires: self.expires,
            location: self.location,
            contact: self.contact,
            description: self.description,
            employer: self.employer,
            status,
        }
    }
}

#[derive(Subcommand)]
enum PostCommand {
    /// Publish a post (发布岗位); it waits in the review queue before it is shown.
    Create(PostArgs),
    /// List posts, filtered and a page at a time (--limit, --after).
    List {
        /// Only posts of this division code or inside it.
        #[arg(long)]
        region: Option<String>,
        /// open, filled, closed or expired.
        #[arg(long)]
        status: Option<String>,
        /// pending, approved or rejected.
        #[arg(long)]
        review: Option<String>,
        /// Only posts of this occupation (code or everyday name).
        #[arg(long)]
        occupation: Option<String>,
        /// Only posts of this employer (its id).
        #[arg(long)]
        employer: Option<String>,
        /// At most this many rows (default 100).
        #[arg(long)]
        limit: Option<usize>,
        /// Continue after this post (the last id of the previous page).
        #[arg(long)]
        after: Option<String>,
    },
    /// One post, whole: fields, review, places filled.
    Show {
        /// The post's id.
        id: String,
    },
    /// Change a post's fields or status (a signed edit).
    Update {
        /// The post's id.
        id: String,
        /// open, filled, closed or expired.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        fields: PostArgs,
    },
    /// Review a post (真实性审查), or list the queue with --queue.
    Review {
        /// The post's id.
        #[arg(required_unless_present = "queue")]
        id: Option<String>,
        /// Posts waiting for review, oldest first, with the automatic findings.
        #[arg(long, conflicts_with_all = ["approve", "reject"])]
        queue: bool,
        /// Approve the post: it is shown and pushed.
        #[arg(long, conflicts_with = "reject", required_unless_present_any = ["reject", "queue"])]
        approve: bool,
        /// Reject the post (give --reason).
        #[arg(long)]
        reject: bool,
        /// Why it was rejected (or a note on the approval).
        #[arg(long)]
        reason: Option<String>,
        /// With --queue: at most N posts (all by default).
        #[arg(long, requires = "queue")]
        limit: Option<usize>,
        /// With --queue: the posts waiting after this one (the last id of the previous page).
        #[arg(long, requires = "queue")]
        after: Option<String>,
    },
    /// Write one post's Automerge document (ID --out FILE), or the posts matching the
    /// filters of `post list` as CSV (--csv FILE).
    Export {
        /// The post's id (with --out).
        #[arg(
            required_unless_present = "csv",
            conflicts_with = "csv",
            requires = "out"
        )]
        id: Option<String>,
        /// The file for the post's Automerge document.
        #[arg(long, requires = "id")]
        out: Option<PathBuf>,
        #[command(flatten)]
        csv: CsvOut,
        #[command(flatten)]
        filter: PostFilterArgs,
    },
    /// Create a post for every row of a CSV file: all rows or none.
    Import(CsvIn),
}

/// `import FILE [--encoding utf-8|gbk] [--dry-run]`.
#[derive(Args)]
struct CsvIn {
    /// A CSV file as a spreadsheet saves it (UTF-8, with or without BOM, or GBK).
    file: PathBuf,
    /// utf-8 or gbk (default: detected).
    #[arg(long)]
    encoding: Option<String>,
    /// Check every row and import nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `export --csv FILE [--encoding utf-8|gbk]`.
#[derive(Args)]
struct CsvOut {
    /// Write CSV that Excel opens to this file (mode 0600).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// utf-8 (with a BOM, the default) or gbk.
    #[arg(long, requires = "csv")]
    encoding: Option<String>,
}

/// The filters of `post list`, for `post export --csv`.
#[derive(Args)]
struct PostFilterArgs {
    /// Only posts of this division code or inside it.
    #[arg(long, requires = "csv")]
    region: Option<String>,
    /// open, filled, closed or expired.
    #[arg(long, requires = "csv")]
    status: Option<String>,
    /// pending, approved or rejected.
    #[arg(long, requires = "csv")]
    review: Option<String>,
    /// Only posts of this occupation (code or everyday name).
    #[arg(long, requires = "csv")]
    occupation: Option<String>,
    /// Only posts of this employer (its id).
    #[arg(long, requires = "csv")]
    employer: Option<String>,
    /// At most this many posts (default: every matching post).
    #[arg(long, requires = "csv")]
    limit: Option<usize>,
    /// Continue after this post (the last id of the previous page).
    #[arg(long, requires = "csv")]
    after: Option<String>,
}

#[derive(Args, Default)]
struct WorkerArgs {
    /// The worker's name.
    #[arg(long)]
    name: Option<String>,
    /// The 18-character resident ID number (kept in clear only at this station).
    #[arg(long)]
    id_number: Option<String>,
    /// A mobile phone number (11 digits).
    #[arg(long)]
    phone: Option<String>,
    /// Occupation codes or everyday names (钟点工, 搬运), comma-separated.
    #[arg(long)]
    skills: Option<String>,
    /// Lowest acceptable wage, yuan per day.
    #[arg(long)]
    wage_min: Option<f64>,
    /// older, disabled, long-wait (comma-separated, each once).
    #[arg(long)]
    flags: Option<String>,
    /// YYYY-MM-DD.
    #[arg(long)]
    available_from: Option<String>,
    /// YYYY-MM-DD.
    #[arg(long)]
    available_to: Option<String>,
}

impl From<WorkerArgs> for WorkerFields {
    fn from(a: WorkerArgs) -> WorkerFields {
        WorkerFields {
            name: a.name,
            id_number: a.id_number,
            phone: a.phone,
            skills: a.skills,
            wage_min: a.wage_min,
            flags: a.flags,
            available_from: a.available_from,
            available_to: a.available_to,
        }
    }
}

#[derive(Subcommand)]
enum WorkerCommand {
    /// Register a worker (求职登记); the clear ID number stays at this station.
    Register(WorkerArgs),
    /// List workers, filtered and a page at a time (masked ID numbers only).
    List {
        /// Only workers with a priority (older, disabled, long-wait).
        #[arg(long)]
        priority: bool,
    },
    /// One worker's record (masked ID number).
    Show {
        /// The worker's id.
        id: String,
    },
    /// Change a worker's fields (a signed edit).
    Update {
        /// The worker's id.
        id: String,
        #[command(flatten)]
        fields: WorkerArgs,
    },
    /// Deregister a worker (注销): the record stays, marked, and is no longer matched.
    Deregister {
        /// The worker's id.
        id: String,
    },
    /// Erase the worker's personal data (PIPL), at the station that registered the worker.
    Erase {
        /// The worker's id.
        id: String,
        /// Why (e.g. 本人申请); kept in the record.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Register a worker for every row of a CSV file: all rows or none.
    Import(CsvIn),
    /// Write the workers (as `worker list`; masked ID numbers only) as CSV.
    Export {
        /// Write CSV that Excel opens to this file (mode 0600).
        #[arg(long, required = true)]
        csv: Option<PathBuf>,
        /// utf-8 (with a BOM, the default) or gbk.
        #[arg(long)]
        encoding: Option<String>,
        /// Only workers with a priority.
        #[arg(long)]
        priority: bool,
    },
}

#[derive(Args, Default)]
struct EmployerArgs {
    /// The employer's name (as on its licence).
    #[arg(long)]
    name: Option<String>,
    /// enterprise, individual-business, individual or other.
    #[arg(long = "type")]
    kind: Option<String>,
    /// The 18-character unified social credit code (统一社会信用代码).
    #[arg(long)]
    credit_code: Option<String>,
    /// An individual employer's ID number.
    #[arg(long)]
    id_number: Option<String>,
    /// The contact person.
    #[arg(long)]
    contact: Option<String>,
    /// The contact's phone number.
    #[arg(long)]
    phone: Option<String>,
    /// The employer's address.
    #[arg(long)]
    address: Option<String>,
    /// Who checked the licence or ID, and how.
    #[arg(long)]
    verified_by: Option<String>,
}

impl From<EmployerArgs> for EmployerFields {
    fn from(a: EmployerArgs) -> EmployerFields {
        EmployerFields {
            name: a.name,
            kind: a.kind,
            credit_code: a.credit_code,
            id_number: a.id_number,
            contact: a.contact,
            phone: a.phone,
            address: a.address,
            verified_by: a.verified_by,
        }
    }
}

#[derive(Subcommand)]
enum EmployerCommand {
    /// Register an employer (用工主体), with its credit code or ID number checked.
    Register(EmployerArgs),
    /// List employers, filtered and a page at a time.
    List {
        /// active or suspended.
        #[arg(long)]
        status: Option<String>,
    },
    /// One employer's record, with complaints found against it.
    Show {
        /// The employer's id.
        id: String,
    },
    /// Change an employer's fields (a signed edit).
    Update {
        /// The employer's id.
        id: String,
        #[command(flatten)]
        fields: EmployerArgs,
    },
    /// Suspend an employer, with the reason: its new posts cannot be approved.
    Suspend {
        /// The employer's id.
        id: String,
        /// Why; kept in the record.
        #[arg(long)]
        reason: String,
    },
    /// Register an employer for every row of a CSV file: all rows or none.
    Import(CsvIn),
    /// Write the employers (as `employer list`) as CSV.
    Export {
        /// Write CSV that Excel opens to this file (mode 0600).
        #[arg(long, required = true)]
        csv: Option<PathBuf>,
        /// utf-8 (with a BOM, the default) or gbk.
        #[arg(long)]
        encoding: Option<String>,
        /// active or suspended.
        #[arg(long)]
        status: Option<String>,
    },
}

#[derive(Subcommand)]
enum PlacementCommand {
    /// Record a hire on the spot.
    Confirm {
        /// The post's id.
        #[arg(long)]
        post: String,
        /// The worker's id.
        #[arg(long)]
        worker: String,
        /// Yuan per the post's unit (default: the post's wage).
        #[arg(long)]
        wage: Option<f64>,
        /// First day of work, YYYY-MM-DD (default: today).
        #[arg(long)]
        start: Option<String>,
        /// Last day of work, YYYY-MM-DD (if agreed).
        #[arg(long)]
        end: Option<String>,
        /// paper, spoken or phone-code.
        #[arg(long)]
        worker_confirmed: Option<String>,
        /// paper, spoken or phone-code.
        #[arg(long)]
        employer_confirmed: Option<String>,
    },
    /// List placements, of one post or one worker if given.
    List {
        /// Only placements on this post.
        #[arg(long)]
        post: Option<String>,
        /// Only placements of this worker.
        #[arg(long)]
        worker: Option<String>,
    },
    /// Cancel a placement (e.g. an overfill), with the reason.
    Cancel {
        /// The placement's id.
        id: String,
        /// Why; kept in the record.
        #[arg(long)]
        reason: String,
    },
    /// End a placement with its outcome (paid, paid-late, unpaid, left-early).
    End {
        /// The placement's id.
        id: String,
        /// paid, paid-late, unpaid or left-early.
        #[arg(long)]
        outcome: String,
    },
    /// Write the labour agreement (用工协议) prefilled from the placement.
    Agreement {
        /// The placement's id.
        id: String,
        /// The file to write the agreement to (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the placements (as `placement list`) as CSV.
    Export {
        /// Write CSV that Excel opens to this file (mode 0600).
        #[arg(long, required = true)]
        csv: Option<PathBuf>,
        /// utf-8 (with a BOM, the default) or gbk.
        #[arg(long)]
        encoding: Option<String>,
        /// Only placements on this post.
        #[arg(long)]
        post: Option<String>,
        /// Only placements of this worker.
        #[arg(long)]
        worker: Option<String>,
    },
}

#[derive(Subcommand)]
enum PushCommand {
    /// For each newly approved open post reaching this station, the workers to contact.
    List {
        /// Only this post (whenever it was approved).
        #[arg(long)]
        post: Option<String>,
        /// Posts approved in the last N days (default 7).
        #[arg(long)]
        days: Option<i64>,
        /// Workers per post (default 20).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Record the result of contacting a worker about a post (a job recommendation).
    Mark {
        /// The post's id.
        post: String,
        /// The worker's id.
        #[arg(long)]
        worker: Option<String>,
        /// contacted, interested, declined or unreachable.
        #[arg(long)]
        result: Option<String>,
        /// A note on the contact.
        #[arg(long)]
        note: Option<String>,
    },
    /// Send each worker on the push lists the post's message through `push_command`.
    Send {
        /// Only this post's list.
        #[arg(long)]
        post: Option<String>,
        /// Only this worker.
        #[arg(long)]
        worker: Option<String>,
        /// Posts approved in the last N days (default 7).
        #[arg(long)]
        days: Option<i64>,
    },
}

#[derive(Subcommand)]
enum AssistCommand {
    /// Record something this station did for a worker.
    Log {
        /// The worker's id.
        #[arg(long)]
        worker: Option<String>,
        /// career-guidance, job-recommendation, training-info, internship-offer,
        /// policy-consultation, subsidy-application, social-insurance or civil-affairs-referral.
        #[arg(long)]
        kind: Option<String>,
        /// What was done.
        #[arg(long)]
        note: Option<String>,
        /// The post recommended (job-recommendation only).
        #[arg(long)]
        post: Option<String>,
        /// contacted, interested, declined or unreachable (job-recommendation only).
        #[arg(long)]
        result: Option<String>,
    },
    /// Assistance records held here, newest first.
    List {
        /// Only this worker's records.
        #[arg(long)]
        worker: Option<String>,
        /// Only records of this kind (as for `assist log --kind`).
        #[arg(long)]
        kind: Option<String>,
        /// At most this many rows (all by default).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Priority workers behind their yearly targets, most overdue first.
    Due {
        /// Only this worker.
        #[arg(long)]
        worker: Option<String>,
    },
}

#[derive(Subcommand)]
enum DirectoryCommand {
    /// Create or update this station's entry.
    Set {
        /// The station's address.
        #[arg(long)]
        address: Option<String>,
        /// Opening days and hours (e.g. 周一至周五 8:30-17:30).
        #[arg(long)]
        hours: Option<String>,
        /// The service telephone number.
        #[arg(long)]
        hotline: Option<String>,
        /// Services offered, comma-separated.
        #[arg(long)]
        services: Option<String>,
        /// The station's service rules (服务制度).
        #[arg(long)]
        rules: Option<String>,
    },
    /// Every certified station known here, with its entry, last contact and state.
    List {
        /// Only stations inside this division code.
        #[arg(long)]
        region: Option<String>,
    },
    /// Write the directory as CSV (Excel) or a printable HTML page.
    Export {
        /// The file to write (mode 0600).
        #[arg(long)]
        out: PathBuf,
        /// csv (default) or html.
        #[arg(long)]
        format: Option<String>,
        /// Only stations inside this division code.
        #[arg(long)]
        region: Option<String>,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ReportArgs {
    #[command(subcommand)]
    action: Option<ReportCommand>,
    /// YYYY-MM (a month) or YYYY-Qn (a quarter).
    #[arg(long)]
    period: Option<String>,
    /// A region inside this node's (default: this node's region).
    #[arg(long)]
    region: Option<String>,
    /// Print CSV (the header states the wage rule) instead of a table.
    #[arg(long)]
    csv: bool,
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Sign this node's report of a period that has ended (once; corrections with --amend).
    Seal {
        /// YYYY-MM (a month) or YYYY-Qn (a quarter).
        #[arg(long)]
        period: String,
        /// Seal again, replacing this node's seal of the period.
        #[arg(long, requires = "reason")]
        amend: bool,
        /// Why the seal is amended.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Recompute every seal held from the records held and list what differs.
    Verify {
        /// Only seals of this period (YYYY-MM or YYYY-Qn).
        #[arg(long)]
        period: Option<String>,
    },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct SuperviseArgs {
    #[command(subcommand)]
    action: Option<SuperviseCommand>,
    /// Days without a post (or without a word) before a station is listed.
    #[arg(long)]
    stale_days: Option<u32>,
}

#[derive(Subcommand)]
enum SuperviseCommand {
    /// Order a station below this city or county to correct by a deadline (限期整改).
    Order {
        /// The station's node id (12D3KooW…).
        node_id: String,
        /// What must be corrected.
        #[arg(long)]
        reason: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        deadline: String,
    },
    /// Rectification orders naming this node or a station below it, with their status.
    Orders,
}

#[derive(Subcommand)]
enum ComplaintCommand {
    /// File a complaint at this station.
    File {
        /// wage-arrears, discrimination, fraud, unsafe-work or other.
        #[arg(long)]
        kind: String,
        /// The post the complaint is about (its id).
        #[arg(long)]
        post: Option<String>,
        /// The employer the complaint is about (its id).
        #[arg(long)]
        employer: Option<String>,
        /// The worker record's id (nothing else of the worker is stored).
        #[arg(long)]
        worker: Option<String>,
        /// What happened, in the complainant's words.
        #[arg(long)]
        text: String,
        /// Yuan owed or lost.
        #[arg(long)]
        amount: Option<f64>,
    },
    /// Complaints held here, newest first.
    List {
        /// received, accepted, handling, referred, resolved or closed.
        #[arg(long)]
        status: Option<String>,
        /// Only those still received after their acknowledgement deadline.
        #[arg(long)]
        overdue: bool,
    },
    /// A complaint with its status history.
    Show {
        /// The complaint's id.
        id: String,
    },
    /// Move a complaint one step: accepted, handling, referred, resolved, closed.
    Update {
        /// The complaint's id.
        id: String,
        /// accepted, handling, referred, resolved or closed.
        #[arg(long)]
        status: String,
        /// What was done; kept in the status history.
        #[arg(long)]
        note: Option<String>,
        /// Where it was referred (legal aid, labour arbitration, civil affairs…).
        #[arg(long)]
        referred_to: Option<String>,
        /// Wages recovered, yuan (wage arrears, with --status resolved).
        #[arg(long)]
        recovered: Option<f64>,
        /// upheld, partly-upheld or not-upheld (with --status resolved).
        #[arg(long)]
        finding: Option<String>,
        /// Close the post the complaint names (fraud or discrimination upheld; county or above).
        #[arg(long)]
        close_post: bool,
        /// Suspend the employer the complaint names (same conditions).
        #[arg(long)]
        suspend_employer: bool,
    },
}

fn main() {
    // Before anything is created: every file and folder this process makes is its owner's only
    // (a store holds clear ID numbers), whatever umask it was started with.
    lingong_node::home::restrict_umask();
    // Under Chinese (`--lang zh`, else `LANG=zh…`, read before parsing) the help is Chinese:
    // the same tree with Chinese text (help_zh.rs); what parses is the same either way.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let chinese = help_zh::wants_chinese(&args);
    let mut command = Cli::command();
    if chinese {
        command = help_zh::localize(command);
    }
    let parsed = command
        .try_get_matches_from_mut(&args)
        .and_then(|matches| Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command)));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            if chinese && e.kind() != clap::error::ErrorKind::DisplayVersion {
                output::print_help(&help_zh::builtin_zh(&e.render().to_string()));
            } else {
                let _ = e.print();
            }
            std::process::exit(0);
        }
        Err(e) => usage_error(&e),
    };
    // Sled's own log lines (English, about its files) stay out of the user's way unless asked
    // for (`LINGONG_LOG=sled=error`): a damaged store is reported as one clear error instead.
    // Colours only on a terminal.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LINGONG_LOG")
                .unwrap_or_else(|_| "warn,sled=off".into()),
        )
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_writer(std::io::stderr)
        .init();
    let lang = if help_zh::is_chinese(cli.lang.as_deref()) {
        "zh".to_string()
    } else {
        "en".to_string()
    };
    let home = Home::new(cli.home.clone());
    let json = cli.json;
    progress::set_quiet(json);
    if let Command::Doctor = cli.command {
        doctor(&home, &lang, json);
    }
    // `lingong demo` prints its own readable text (Chinese unless --lang en), or one JSON value
    // with --json, once the network is up, then runs until Ctrl-C.
    if let Command::Demo { dir, no_wait, .. } = &cli.command {
        let lang = cli.lang.clone().unwrap_or_else(|| "zh".into());
        let status = match lingong_node::demo::run(dir.clone(), &lang, !no_wait, json) {
            Ok(_) => 0,
            Err(e) => {
                let failure = Failure::from(e);
                output::print_failure(&failure, json, &lang);
                if failure.is_usage() { 2 } else { 1 }
            }
        };
        std::process::exit(status);
    }
    // `report` without --json or --csv prints a readable table, Chinese unless --lang en.
    let report_lang = match &cli.command {
        Command::Report(ReportArgs {
            action: None,
            csv: false,
            ..
        }) if !json => Some(cli.lang.clone().unwrap_or_else(|| "zh".into())),
        _ => None,
    };
    let status = match run(cli.command, &home, &lang) {
        Ok(Value::Null) => 0,
        Ok(value) if report_lang.is_some() && value.is_object() => {
            let text = lingong_node::services::reports::readable(
                &value,
                report_lang.as_deref().unwrap_or("zh"),
            );
            output::print_value(&Value::String(text.trim_end().to_string()), false, &lang);
            0
        }
        Ok(value) => {
            output::print_value(&value, json, &lang);
            0
        }
        Err(failure) => {
            output::print_failure(&failure, json, &lang);
            if failure.is_usage() { 2 } else { 1 }
        }
    };
    std::process::exit(status);
}

/// `lingong doctor`: the report (text, or one JSON value under `--json`), exit 0 when all is
/// well and 1 with findings.
fn doctor(home: &Home, lang: &str, json: bool) -> ! {
    let report = lingong_node::doctor::doctor(home, lang);
    if json {
        output::print_value(&serde_json::to_value(&report).expect("json"), true, lang);
    } else {
        use std::io::Write;
        let _ = std::io::stdout().write_all(report.render(lang).as_bytes());
    }
    std::process::exit(if report.ok { 0 } else { 1 });
}

/// `lingong setup`: `init`, then `peer add` of the parent, then `cert request` written to a
/// file, through the same code paths as those commands. Flags missing are asked for (in
/// Chinese) when standard input is a terminal; otherwise a missing `--name` or `--region` is a
/// usage error. Everything is checked before the key is made: bad input changes nothing.
fn setup(
    home: &Home,
    fields: [Option<String>; 2],
    parent_peer: Option<String>,
    out_request: Option<PathBuf>,
    listen: Vec<String>,
    http: Option<String>,
) -> Result<Value, Failure> {
    use lingong_node::error::NodeError;
    use std::io::IsTerminal;
    let interactive = std::io::stdin().is_terminal();
    let ask = |prompt: &str| -> Result<String, Failure> {
        use std::io::Write;
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Failure::Local(NodeError::io("stdin", e)))?;
        Ok(line.trim().to_string())
    };
    let [name, region] = fields;
    let missing = |field: &str| {
        Failure::Local(NodeError::usage(
            field,
            "is required (no terminal to ask on)",
            "必须提供（没有终端可以询问）",
        ))
    };
    let name = match name {
        Some(n) => n,
        None if interactive => ask("站点名称（如 青岩镇零工驿站）：")?,
        None => return Err(missing("--name")),
    };
    let region = match region {
        Some(r) => r,
        None if interactive => ask("区划代码（如 520115101）：")?,
        None => return Err(missing("--region")),
    };
    let parent_peer = match parent_peer {
        Some(p) => Some(p),
        None if interactive => Some(ask("上级节点地址（/ip4/…/tcp/…/p2p/…，没有可直接回车）：")?)
            .filter(|p| !p.is_empty()),
        None => None,
    };
    let out_request = match out_request {
        Some(o) => Some(o),
        None if interactive => {
            let o = ask("证书申请保存到（直接回车为 request.json）：")?;
            Some(PathBuf::from(if o.is_empty() {
                "request.json".into()
            } else {
                o
            }))
        }
        None => None,
    };
    if let Some(p) = &parent_peer {
        lingong_node::services::peers::parse_peer_addr(p).map_err(|e| {
            Failure::Local(NodeError::usage(
                "--parent-peer",
                e.message("en"),
                e.message("zh"),
            ))
        })?;
    }
    if let Some(out) = &out_request
        && out.exists()
    {
        return Err(Failure::Local(NodeError::usage(
            "--out-request",
            format!("{} exists already; choose another file", out.display()),
            format!("{} 已存在，请换一个文件名", out.display()),
        )));
    }
    let mut value = lingong_node::station::init(home, &name, &region, listen, http)?;
    if let Some(p) = parent_peer {
        execute(home, Request::PeerAdd { addr: p.clone() })?;
        value["parent_peer"] = Value::String(p);
    }
    let request = execute(home, Request::CertRequest)?;
    match out_request {
        Some(out) => {
            write_out(Some(out.clone()), request)?;
            value["request"] = Value::String(out.display().to_string());
        }
        None => value["request"] = request,
    }
    Ok(value)
}

/// A command line clap could not parse: one line in the user's language (clap's own text as
/// the detail), `{"error": {"code": "usage", "message"}}` on stdout under `--json`, exit 2. The
/// language and `--json` are read from the raw arguments, since parsing them failed.
fn usage_error(e: &clap::Error) -> ! {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let json = args.iter().any(|a| a == "--json");
    let lang = if help_zh::wants_chinese(&std::env::args_os().collect::<Vec<_>>()) {
        "zh"
    } else {
        "en"
    };
    let rendered = e.render().to_string();
    let mut detail = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string();
    // A group without its command (`lingong post`): clap renders the group's help, whose first
    // line is only its about, or says so in English; name the commands instead.
    use clap::error::ErrorKind;
    let missing = matches!(
        e.kind(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand
    );
    let (group, commands) = named_group(&args);
    if missing {
        detail = format!("`{group}` needs a command: {}", commands.join(", "));
    }
    let message = if lang.starts_with("zh") {
        let detail = match missing {
            true => format!("{group} 后面要写一个命令：{}", commands.join("、")),
            false => usage_detail_zh(e, &args).unwrap_or(detail),
        };
        format!("命令用法错误：{detail}（运行 lingong --help 查看用法）")
    } else {
        format!("bad usage: {detail} (see lingong --help)")
    };
    let prefix = if lang.starts_with("zh") {
        "错误"
    } else {
        "error"
    };
    eprintln!("{prefix}: {message}");
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": { "code": "usage", "message": message } })
        );
    }
    std::process::exit(2);
}

/// The command group the raw arguments name (`lingong post`: the words that are commands,
/// global flags and their values skipped) and the names of its commands.
fn named_group(args: &[String]) -> (String, Vec<String>) {
    let mut command = Cli::command();
    let mut path = vec!["lingong".to_string()];
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--home" || word == "--lang" {
            words.next();
            continue;
        }
        if word.starts_with('-') {
            continue;
        }
        match command.find_subcommand(word) {
            Some(sub) => {
                path.push(word.clone());
                command = sub.clone();
            }
            None => break,
        }
    }
    let names = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    (path.join(" "), names)
}

/// What clap could not parse, said in Chinese for the errors a person makes at a terminal (a
/// mistyped command or flag, a missing or bad value); `None` for the others, whose clap text
/// is kept. `args`: the command line as typed, for the flag a negative number followed.
fn usage_detail_zh(e: &clap::Error, args: &[String]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let text = |kind: ContextKind| -> Option<String> {
        match e.get(kind)? {
            ContextValue::String(s) => Some(s.clone()),
            ContextValue::Strings(v) => Some(v.join("、")),
            ContextValue::StyledStr(s) => Some(s.to_string()),
            ContextValue::StyledStrs(v) => Some(
                v.iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join("、"),
            ),
            _ => None,
        }
    };
    let suggestion = |kind: ContextKind| {
        text(kind)
            .map(|s| format!("；是否要用 {s}？"))
            .unwrap_or_default()
    };
    let flag = |arg: String| {
        arg.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    Some(match e.kind() {
        ErrorKind::InvalidSubcommand => format!(
            "没有 {} 这个命令{}",
            text(ContextKind::InvalidSubcommand)?,
            suggestion(ContextKind::SuggestedSubcommand)
        ),
        ErrorKind::UnknownArgument => {
            let arg = text(ContextKind::InvalidArg)?;
            // A negative number after a flag reads as a flag of its own (clap names its first
            // digit: `-300` is reported as `-3`): the number and its flag as typed.
            let typed = args
                .iter()
                .position(|a| a.starts_with(&arg) && a.parse::<f64>().is_ok_and(|n| n < 0.0));
            match typed {
                Some(i) => {
                    let number = &args[i];
                    let flag = i
                        .checked_sub(1)
                        .map(|b| args[b].as_str())
                        .filter(|a| a.starts_with("--"))
                        .unwrap_or("--wage");
                    format!("不认识的参数 {number}；负数请连着参数名写，如 {flag}={number}")
                }
                None => format!(
                    "不认识的参数 {arg}{}",
                    suggestion(ContextKind::SuggestedArg)
                ),
            }
        }
        ErrorKind::MissingRequiredArgument => {
            format!("缺少必填的参数：{}", text(ContextKind::InvalidArg)?)
        }
        ErrorKind::InvalidValue => {
            let arg = flag(text(ContextKind::InvalidArg)?);
            match text(ContextKind::InvalidValue).filter(|v| !v.is_empty()) {
                None => format!("{arg} 后面需要一个值"),
                Some(value) => {
                    let valid = text(ContextKind::ValidValue)
                        .filter(|v| !v.is_empty())
                        .map(|v| format!("；可用的值：{v}"))
                        .unwrap_or_default();
                    format!("{arg} 的值 {value:?} 无效{valid}")
                }
            }
        }
        ErrorKind::ValueValidation => {
            use std::error::Error as _;
            let number = e.source().is_some_and(|s| {
                s.is::<std::num::ParseIntError>() || s.is::<std::num::ParseFloatError>()
            });
            format!(
                "{} 的值 {:?} 无效{}",
                flag(text(ContextKind::InvalidArg)?),
                text(ContextKind::InvalidValue).unwrap_or_default(),
                if number { "：必须是数字" } else { "" }
            )
        }
        ErrorKind::ArgumentConflict => format!(
            "{} 不能与 {} 同时使用",
            flag(text(ContextKind::InvalidArg)?),
            text(ContextKind::PriorArg).map(flag).unwrap_or_default()
        ),
        _ => return None,
    })
}

fn read_json_file(path: &PathBuf, field: &str) -> Result<Value, Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|e| lingong_node::error::NodeError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::Local(lingong_node::error::NodeError::usage(
            field,
            format!("{} is not JSON: {e}", path.display()),
            format!("{} 不是 JSON 文件：{e}", path.display()),
        ))
    })
}

/// The password of `--password-stdin`: the first line of standard input, without its line end.
fn read_password(from_stdin: bool) -> Result<Option<Secret>, Failure> {
    if !from_stdin {
        return Ok(None);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| lingong_node::error::NodeError::io("stdin", e))?;
    Ok(Some(Secret(
        line.trim_end_matches(['\n', '\r']).to_string(),
    )))
}

/// `post|worker|employer import FILE`: the node reads the file (its absolute path travels to
/// the daemon); a spinner counts the file's rows here while it works (`progress`).
fn csv_import(home: &Home, table: ImportTable, args: CsvIn, lang: &str) -> Result<Value, Failure> {
    let file = std::path::absolute(&args.file).unwrap_or(args.file);
    let encoding = args
        .encoding
        .as_deref()
        .and_then(|e| lingong_node::services::csv::Encoding::parse(e).ok());
    let rows = lingong_node::services::csv::read_file(&file, encoding)
        .map(|sheet| sheet.rows.len())
        .ok();
    let name = file.display().to_string();
    let message = match (lang.starts_with("zh"), rows, args.dry_run) {
        (true, Some(n), true) => format!("正在检查 {name} 的 {n} 行"),
        (true, Some(n), false) => format!("正在导入 {name} 的 {n} 行"),
        (true, None, _) => format!("正在读取 {name}"),
        (false, Some(n), true) => format!("checking {n} rows of {name}"),
        (false, Some(n), false) => format!("importing {n} rows of {name}"),
        (false, None, _) => format!("reading {name}"),
    };
    let request = Request::CsvImport {
        table,
        file: name,
        encoding: args.encoding,
        dry_run: args.dry_run,
    };
    progress::with_spinner(message, || execute(home, request))
}

/// `… export --csv FILE`: the node writes the file (mode 0600) at its absolute path.
fn csv_export(home: &Home, what: ExportTable, out: CsvOut, lang: &str) -> Result<Value, Failure> {
    let file = out.csv.expect("clap requires --csv here");
    let file = std::path::absolute(&file).unwrap_or(file);
    let name = file.display().to_string();
    let message = if lang.starts_with("zh") {
        format!("正在导出到 {name}")
    } else {
        format!("exporting to {name}")
    };
    let request = Request::CsvExport {
        what,
        file: name,
        encoding: out.encoding,
    };
    progress::with_spinner(message, || execute(home, request))
}

fn write_out(out: Option<PathBuf>, value: Value) -> Result<Value, Failure> {
    if let Some(path) = out {
        let text = serde_json::to_string_pretty(&value).expect("json");
        lingong_node::home::write_atomically(&path, text.as_bytes())?;
    }
    Ok(value)
}

fn run(command: Command, home: &Home, lang: &str) -> Result<Value, Failure> {
    let request = match command {
        Command::Init {
            name,
            region,
            listen,
            http,
        } => {
            return Ok(lingong_node::station::init(
                home, &name, &region, listen, http,
            )?);
        }
        Command::Demo { .. } => unreachable!("main() runs lingong demo before run()"),
        Command::Repair { force, timeout } => {
            return Ok(lingong_node::repair::repair(home, force, timeout, lang)?);
        }
        Command::Backup {
            out,
            passphrase_stdin,
        } => {
            // The node (the daemon, when it runs) writes into the home; this command moves the
            // file to --out, which the daemon's sandbox may not reach.
            let out = lingong_node::backup::check_out(&out)?;
            let passphrase = lingong_node::backup::read_passphrase(passphrase_stdin, true, lang)?;
            let name = out.display().to_string();
            let message = if lang.starts_with("zh") {
                format!("正在备份到 {name}")
            } else {
                format!("backing up to {name}")
            };
            let spool = lingong_node::backup::spool_path(home, std::process::id());
            let request = Request::Backup {
                out: spool.display().to_string(),
                passphrase,
            };
            let mut made = progress::with_spinner(message, || execute(home, request))?;
            lingong_node::backup::deliver(&spool, &out)?;
            made["file"] = Value::String(name);
            return Ok(made);
        }
        Command::Compact { only_if_smaller } => {
            let when = if only_if_smaller {
                lingong_node::compact::Rewrite::IfSmaller
            } else {
                lingong_node::compact::Rewrite::Always
            };
            let message = if lang.starts_with("zh") {
                "正在重写存储，已写行数".to_string()
            } else {
                "rewriting the store, rows written".to_string()
            };
            return progress::with_counter(message, |rows| {
                Ok(lingong_node::compact::compact(home, rows, when)?)
            });
        }
        Command::Restore {
            file,
            passphrase_stdin,
        } => {
            let passphrase = lingong_node::backup::read_passphrase(passphrase_stdin, false, lang)?;
            let message = if lang.starts_with("zh") {
                format!("正在从 {} 恢复", file.display())
            } else {
                format!("restoring from {}", file.display())
            };
            return progress::with_spinner(message, || {
                Ok(lingong_node::backup::restore(home, &file, &passphrase.0)?)
            });
        }
        Command::Doctor => unreachable!("handled in main"),
        Command::Setup {
            name,
            region,
            parent_peer,
            out_request,
            listen,
            http,
        } => {
            return setup(home, [name, region], parent_peer, out_request, listen, http);
        }
        Command::Cert(CertCommand::Request { out }) => {
            return write_out(out, execute(home, Request::CertRequest)?);
        }
        Command::Cert(CertCommand::Rotate { out }) => {
            return write_out(out, execute(home, Request::CertRotate)?);
        }
        Command::Cert(CertCommand::Issue {
            request,
            days,
            out,
            successor_of,
        }) => {
            let value = read_json_file(&request, "--request")?;
            let request = serde_json::from_value(value).map_err(|e| {
                Failure::Local(lingong_node::error::NodeError::usage(
                    "--request",
                    format!("not a certificate request: {e}"),
                    format!("不是证书申请文件：{e}"),
                ))
            })?;
            let request = match successor_of {
                Some(successor_of) => Request::CertIssueSuccessor {
                    request,
                    days,
                    successor_of,
                },
                None => Request::CertIssue { request, days },
            };
            return write_out(out, execute(home, request)?);
        }
        Command::Cert(CertCommand::Install { file }) => Request::CertInstall {
            chain: read_json_file(&file, "FILE")?,
        },
        Command::Cert(CertCommand::Show) => Request::CertShow,
        Command::Cert(CertCommand::Revoke { node_id, reason }) => {
            Request::CertRevoke { node_id, reason }
        }
        Command::Post(PostCommand::Create(args)) => Request::PostCreate(args.into_fields(None)),
        Command::Post(PostCommand::List {
            region,
            status,
            review,
            occupation,
            employer,
            limit,
            after,
        }) => Request::PostList(PostFilter {
            region,
            status,
            review,
            occupation,
            employer,
            limit,
            after,
        }),
        Command::Post(PostCommand::Show { id }) => Request::PostShow { id },
        Command::Post(PostCommand::Update { id, status, fields }) => Request::PostUpdate {
            id,
            fields: fields.into_fields(status),
        },
        Command::Post(PostCommand::Review {
            queue: true,
            limit,
            after,
            ..
        }) => Request::PostReviewQueue { limit, after },
        Command::Post(PostCommand::Review {
            id,
            approve,
            reason,
            ..
        }) => Request::PostReview {
            id: id.unwrap_or_default(),
            approve,
            reason,
        },
        Command::Post(PostCommand::Export {
            id: Some(id),
            out: Some(out),
            ..
        }) => {
            let out = std::path::absolute(&out).unwrap_or(out);
            Request::PostExport {
                id,
                out: out.display().to_string(),
            }
        }
        Command::Post(PostCommand::Export { csv, filter, .. }) => {
            let what = ExportTable::Posts(PostFilter {
                region: filter.region,
                status: filter.status,
                review: filter.review,
                occupation: filter.occupation,
                employer: filter.employer,
                limit: filter.limit,
                after: filter.after,
            });
            return csv_export(home, what, csv, lang);
        }
        Command::Post(PostCommand::Import(args)) => {
            return csv_import(home, ImportTable::Posts, args, lang);
        }
        Command::Worker(WorkerCommand::Import(args)) => {
            return csv_import(home, ImportTable::Workers, args, lang);
        }
        Command::Worker(WorkerCommand::Export {
            csv,
            encoding,
            priority,
        }) => {
            let what = ExportTable::Workers { priority };
            return csv_export(home, what, CsvOut { csv, encoding }, lang);
        }
        Command::Employer(EmployerCommand::Import(args)) => {
            return csv_import(home, ImportTable::Employers, args, lang);
        }
        Command::Employer(EmployerCommand::Export {
            csv,
            encoding,
            status,
        }) => {
            let what = ExportTable::Employers { status };
            return csv_export(home, what, CsvOut { csv, encoding }, lang);
        }
        Command::Placement(PlacementCommand::Export {
            csv,
            encoding,
            post,
            worker,
        }) => {
            let what = ExportTable::Placements { post, worker };
            return csv_export(home, what, CsvOut { csv, encoding }, lang);
        }
        Command::Worker(WorkerCommand::Register(args)) => Request::WorkerRegister(args.into()),
        Command::Worker(WorkerCommand::List { priority }) => Request::WorkerList { priority },
        Command::Worker(WorkerCommand::Show { id }) => Request::WorkerShow { id },
        Command::Worker(WorkerCommand::Update { id, fields }) => Request::WorkerUpdate {
            id,
            fields: fields.into(),
        },
        Command::Worker(WorkerCommand::Deregister { id }) => Request::WorkerDeregister { id },
        Command::Worker(WorkerCommand::Erase { id, reason }) => Request::WorkerErase { id, reason },
        Command::Employer(EmployerCommand::Register(args)) => {
            Request::EmployerRegister(args.into())
        }
        Command::Employer(EmployerCommand::List { status }) => Request::EmployerList { status },
        Command::Employer(EmployerCommand::Show { id }) => Request::EmployerShow { id },
        Command::Employer(EmployerCommand::Update { id, fields }) => Request::EmployerUpdate {
            id,
            fields: fields.into(),
        },
        Command::Employer(EmployerCommand::Suspend { id, reason }) => {
            Request::EmployerSuspend { id, reason }
        }
        Command::Match {
            worker: Some(id),
            limit,
            ..
        } => Request::MatchWorker {
            id,
            limit,
            lang: lang.to_string(),
        },
        Command::Match { post, limit, .. } => Request::MatchPost {
            id: post.unwrap_or_default(),
            limit,
            lang: lang.to_string(),
        },
        Command::Placement(PlacementCommand::Confirm {
            post,
            worker,
            wage,
            start,
            end,
            worker_confirmed,
            employer_confirmed,
        }) => Request::PlacementConfirm(PlacementFields {
            post: Some(post),
            worker: Some(worker),
            wage,
            start,
            end,
            worker_confirmed,
            employer_confirmed,
        }),
        Command::Placement(PlacementCommand::List { post, worker }) => {
            Request::PlacementList { post, worker }
        }
        Command::Placement(PlacementCommand::Cancel { id, reason }) => {
            Request::PlacementCancel { id, reason }
        }
        Command::Placement(PlacementCommand::End { id, outcome }) => {
            Request::PlacementEnd { id, outcome }
        }
        Command::Push(PushCommand::List { post, days, limit }) => Request::PushList {
            post,
            days,
            limit,
            lang: lang.to_string(),
        },
        Command::Push(PushCommand::Mark {
            post,
            worker,
            result,
            note,
        }) => Request::PushMark {
            post,
            worker,
            result,
            note,
        },
        Command::Push(PushCommand::Send { post, worker, days }) => {
            Request::PushSend { post, worker, days }
        }
        Command::Assist(AssistCommand::Log {
            worker,
            kind,
            note,
            post,
            result,
        }) => Request::AssistLog(lingong_node::request::AssistFields {
            worker,
            kind,
            note,
            post,
            result,
        }),
        Command::Assist(AssistCommand::List {
            worker,
            kind,
            limit,
        }) => Request::AssistList {
            worker,
            kind,
            limit,
        },
        Command::Assist(AssistCommand::Due { worker }) => Request::AssistDue { worker },
        Command::Placement(PlacementCommand::Agreement { id, out }) => {
            let out = std::path::absolute(&out).unwrap_or(out);
            Request::PlacementAgreement {
                id,
                out: out.display().to_string(),
            }
        }
        Command::Directory(DirectoryCommand::Set {
            address,
            hours,
            hotline,
            services,
            rules,
        }) => Request::DirectorySet {
            address,
            hours,
            hotline,
            services,
            rules,
        },
        Command::Directory(DirectoryCommand::List { region }) => Request::DirectoryList { region },
        Command::Directory(DirectoryCommand::Export {
            out,
            format,
            region,
        }) => {
            let out = std::path::absolute(&out).unwrap_or(out);
            Request::DirectoryExport {
                out: out.display().to_string(),
                format,
                region,
            }
        }
        Command::Complaint(ComplaintCommand::File {
            kind,
            post,
            employer,
            worker,
            text,
            amount,
        }) => Request::ComplaintFile(lingong_node::request::ComplaintFields {
            kind: Some(kind),
            post,
            employer,
            worker,
            text: Some(text),
            amount,
        }),
        Command::Complaint(ComplaintCommand::List { status, overdue }) => {
            Request::ComplaintList { status, overdue }
        }
        Command::Complaint(ComplaintCommand::Show { id }) => Request::ComplaintShow { id },
        Command::Complaint(ComplaintCommand::Update {
            id,
            status,
            note,
            referred_to,
            recovered,
            finding,
            close_post,
            suspend_employer,
        }) => Request::ComplaintUpdate {
            id,
            update: lingong_node::request::ComplaintUpdate {
                status: Some(status),
                note,
                referred_to,
                recovered,
                finding,
                close_post,
                suspend_employer,
            },
        },
        Command::Report(ReportArgs {
            action:
                Some(ReportCommand::Seal {
                    period,
                    amend,
                    reason,
                }),
            ..
        }) => Request::ReportSeal {
            period,
            amend,
            reason,
        },
        Command::Report(ReportArgs {
            action: Some(ReportCommand::Verify { period }),
            ..
        }) => Request::ReportVerify { period },
        Command::Report(ReportArgs {
            action: None,
            period,
            region,
            csv,
        }) => Request::Report {
            period: period.ok_or_else(|| {
                Failure::Local(lingong_node::error::NodeError::usage(
                    "period",
                    "--period YYYY-MM|YYYY-Qn is required",
                    "必须提供 --period（YYYY-MM 或 YYYY-Qn）",
                ))
            })?,
            region,
            csv,
        },
        Command::Supervise(SuperviseArgs {
            action:
                Some(SuperviseCommand::Order {
                    node_id,
                    reason,
                    deadline,
                }),
            ..
        }) => Request::SuperviseOrder {
            node_id,
            reason,
            deadline,
        },
        Command::Supervise(SuperviseArgs {
            action: Some(SuperviseCommand::Orders),
            ..
        }) => Request::SuperviseOrders,
        Command::Supervise(SuperviseArgs {
            action: None,
            stale_days,
        }) => Request::Supervise { stale_days },
        Command::Audit => Request::Audit,
        Command::Status => Request::Status,
        Command::Sample { posts } => Request::Sample { posts },
        Command::Peer(PeerCommand::Add { multiaddr }) => Request::PeerAdd { addr: multiaddr },
        Command::Staff(StaffCommand::Add {
            name,
            role,
            password_stdin,
        }) => Request::StaffAdd {
            name,
            role,
            password: read_password(password_stdin)?,
        },
        Command::Staff(StaffCommand::List) => Request::StaffList,
        Command::Staff(StaffCommand::Passwd {
            name,
            password_stdin,
        }) => Request::StaffPasswd {
            name,
            password: read_password(password_stdin)?,
        },
        Command::Staff(StaffCommand::Remove { name }) => Request::StaffRemove { name },
        Command::Token(TokenCommand::Add { name, role }) => Request::TokenAdd { name, role },
        Command::Token(TokenCommand::List) => Request::TokenList,
        Command::Token(TokenCommand::Revoke { name }) => Request::TokenRevoke { name },
        Command::Run {
            listen,
            http,
            sync_interval,
            no_mdns,
        } => {
            lingong_node::daemon::run(home, listen, http, sync_interval, no_mdns)?;
            return Ok(Value::Null);
        }
        Command::Sync { once: _, timeout } => Request::Sync {
            timeout_secs: timeout,
        },
        Command::Bundle(BundleCommand::Export { out, for_node, to }) => {
            let out = std::path::absolute(&out).unwrap_or(out);
            // A certificate file named by --to is read by the node: pass its absolute path.
            let to = to.map(|t| match std::path::Path::new(&t).is_file() {
                true => std::path::absolute(&t)
                    .map(|p| p.display().to_string())
                    .unwrap_or(t),
                false => t,
            });
            Request::BundleExport {
                out: out.display().to_string(),
                for_node,
                to,
            }
        }
        Command::Bundle(BundleCommand::Import { file }) => {
            let file = std::path::absolute(&file).unwrap_or(file);
            Request::BundleImport {
                file: file.display().to_string(),
            }
        }
    };
    execute(home, request)
}
