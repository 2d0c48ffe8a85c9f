//! The command line (see `../shared/docs/cli.md`, the contract).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "driftdeck",
    version,
    about = "A terminal cockpit for GitOps operations: every Argo CD app of every instance, live.",
    after_help = "Try it with no cluster: `driftdeck demo`. Keys: press ? in the TUI."
)]
pub struct Cli {
    /// The config file (default: ~/.config/driftdeck/config.toml).
    #[arg(long, global = true, env = "DRIFTDECK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Hide and refuse every action.
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Plain ASCII symbols, for terminals without the glyphs.
    #[arg(long, global = true)]
    pub ascii: bool,
    /// Colours: auto (detect), truecolor, 256, 16 or none.
    #[arg(long, global = true, value_name = "DEPTH", default_value = "auto",
          value_parser = ["auto", "truecolor", "256", "16", "none"])]
    pub colors: String,
    /// No animation and fewer redraws, for slow links (also `low_bandwidth = true`).
    #[arg(long, global = true)]
    pub low_bandwidth: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The demo fleet's shape and behaviour.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Applications in the fleet.
    #[arg(long, default_value_t = 60, value_name = "N")]
    pub apps: usize,
    /// Kubernetes clusters.
    #[arg(long, default_value_t = 4, value_name = "M")]
    pub clusters: usize,
    /// Argo CD instances.
    #[arg(long, default_value_t = 2, value_name = "K")]
    pub instances: usize,
    /// Seed of the generator: the same seed gives the same fleet.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// Make something drift this often (e.g. 3s, 500ms); 0 for a still fleet.
    #[arg(long, value_name = "DURATION")]
    pub drift_every: Option<String>,
    /// At most this share of the apps starts drifted (e.g. 0.05); default: as generated.
    #[arg(long, value_name = "SHARE")]
    pub drifted: Option<f64>,
    /// Injected server faults: none, flaky (5xx, 429, cut replies, dropped streams), slow
    /// (every reply 0.2-1.2 s late) or hostile (more of everything, stalls, expiring tokens).
    #[arg(long, value_name = "PROFILE", default_value = "none")]
    pub faults: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapshotOutput {
    Json,
    Text,
    Ansi,
    Svg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffOutput {
    Text,
    Json,
    Ansi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HealthOutput {
    Json,
    Text,
}

/// Flags every action takes.
#[derive(Debug, Clone, Args)]
pub struct ActArgs {
    /// The instance of the app when several have an app of that name.
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Act (without it a dangerous action prints its plan and exits 1).
    #[arg(long)]
    pub yes: bool,
    /// For a protected app: its name, typed again.
    #[arg(long, value_name = "APP")]
    pub confirm: Option<String>,
    /// How long to follow an operation (e.g. 5m).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub timeout: String,
}

/// Which resource of the app (`resource-actions`).
#[derive(Debug, Clone, Args)]
pub struct ResourceArgs {
    /// The resource's kind, e.g. Deployment or Rollout.
    #[arg(long, value_name = "KIND")]
    pub kind: String,
    /// The resource's name.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The resource's namespace (needed only when the name is in several).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The resource's API group, e.g. apps or argoproj.io (needed only when ambiguous).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ResourceActionsCommand {
    /// The actions Argo CD offers for the resource, one a line (exit 0; 2 on error).
    List {
        app: String,
        #[command(flatten)]
        resource: ResourceArgs,
        /// The instance of the app when several have an app of that name.
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        output: HealthOutput,
    },
    /// Run an action on the resource (exit 0 done, 1 refused, 2 error). Without --yes: print
    /// the plan, exit 1.
    Run {
        app: String,
        action: String,
        #[command(flatten)]
        resource: ResourceArgs,
        #[command(flatten)]
        act: ActArgs,
        /// A parameter of the action, e.g. replicas=3 for scale (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// An app OutOfSync for longer than its SLA.
    Sla,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeferralsCommand {
    List,
    Apply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AdoptOutput {
    Ignore,
    Patch,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DefaultKind {
    Theme,
    Keymap,
    Config,
    Policy,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The always-on daemon: watches every instance, decides every drift (shadow, advisory
    /// or autonomous), journals it, writes it as a Kubernetes Event on the Application and
    /// serves /metrics, /healthz and /readyz. Exit 0 on a clean stop, 2 on a bad config.
    Serve {
        /// Address to serve on (default: [serve] listen, else 127.0.0.1:9464).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// The Model Context Protocol over stdio (JSON-RPC, one message a line): tools to list
    /// apps, get an app, its drift diff, decide (shadow), explain a decision, the drift queue;
    /// sync, defer and annotate only once the user confirms. Exit 0 when stdin closes.
    Mcp,
    /// The TUI over the embedded demo fleet (or, with --serve, only its servers).
    Demo {
        #[command(flatten)]
        demo: DemoArgs,
        /// Run only the demo servers; print the path of a config that points at them first.
        #[arg(long)]
        serve: bool,
        /// Address of the first demo server (later ones take the next ports).
        #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
        listen: String,
    },
    /// Print the fleet (JSON) or the rendered screen after replaying keys.
    Snapshot {
        /// Use the embedded demo fleet instead of the config's instances.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        demo_args: DemoArgs,
        #[arg(long, value_enum, default_value = "json")]
        output: SnapshotOutput,
        /// Screen size for text and ansi output.
        #[arg(long, default_value = "120x40", value_name = "WxH")]
        size: String,
        /// Keys to replay before rendering, e.g. "j j enter".
        #[arg(long, default_value = "", value_name = "KEYS")]
        keys: String,
        /// A filter expression, e.g. "status:OutOfSync env:prod".
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        /// Exit 4 when an app is OutOfSync for longer than its SLA (`[fleet]
        /// out_of_sync_sla`), for cron and CI.
        #[arg(long, value_enum, value_name = "WHAT")]
        fail_on: Option<FailOn>,
    },
    /// Diff a live object against its desired state (files), or a live app's drifted resources.
    /// Exit 0 when the same, 1 when they differ, 2 on error.
    Diff {
        /// An application of the configured instances (instead of --live/--desired).
        app: Option<String>,
        /// The instance of APP when several have an app of that name.
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
        /// The live object (JSON or YAML file; - for standard input).
        #[arg(
            long,
            value_name = "FILE",
            requires = "desired",
            conflicts_with = "app"
        )]
        live: Option<std::path::PathBuf>,
        /// The desired object, as Git has it.
        #[arg(long, value_name = "FILE", requires = "live")]
        desired: Option<std::path::PathBuf>,
        /// ignoreDifferences rules: a list, {ignoreDifferences: [...]}, or an Application.
        #[arg(long, value_name = "FILE")]
        ignore_differences: Option<std::path::PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        output: DiffOutput,
    },
    /// The health of an object as Argo CD assesses it.
    Health {
        #[arg(long, value_name = "FILE")]
        file: std::path::PathBuf,
        #[arg(long, value_enum, default_value = "json")]
        output: HealthOutput,
    },
    /// Check the config, theme and keymap; report every problem with file and line.
    CheckConfig,
    /// Print an embedded default.
    PrintDefault {
        #[arg(value_enum)]
        kind: DefaultKind,
        /// Which one (for themes and keymaps).
        name: Option<String>,
    },
    /// When an automated sync is allowed, by Argo CD's sync windows (JSON: matches, active,
    /// can_sync_auto, can_sync_manual, error, next_auto_sync).
    Windows {
        /// The AppProject (JSON or YAML), or just its spec with syncWindows.
        #[arg(long, value_name = "FILE")]
        project: PathBuf,
        /// The Application (JSON or YAML).
        #[arg(long, value_name = "FILE")]
        app: PathBuf,
        /// The instant to evaluate (RFC 3339; default now).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        #[arg(long, value_enum, default_value = "json")]
        output: crate::headless::decide::Output,
    },
    /// Decide a drift scenario (docs/policy.md); the decision is appended to the journal.
    Decide {
        #[arg(long, value_name = "FILE")]
        scenario: PathBuf,
        /// shadow, advisory or autonomous (default: the config's, else advisory).
        #[arg(long, value_name = "MODE")]
        mode: Option<crate::decide::decider::Mode>,
        #[arg(long, value_enum, default_value = "json")]
        output: crate::headless::decide::Output,
        /// Do not append the decision to the journal.
        #[arg(long)]
        no_journal: bool,
    },
    /// Decide every scenario of a folder and score the decisions against their labels.
    Replay {
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        output: crate::headless::decide::Output,
        /// heuristic, or llm (the [decide.llm] model, cross-checked by the heuristic, with the
        /// heuristic, the model alone and both measured side by side). Default: the config's.
        #[arg(long, value_enum)]
        advisor: Option<crate::config::decide::AdvisorKind>,
    },
    /// The decision journal.
    Journal {
        #[command(subcommand)]
        which: crate::headless::decide::JournalCommand,
    },
    /// The Rego policy bundle.
    Policy {
        #[command(subcommand)]
        which: crate::headless::decide::PolicyCommand,
    },
    /// Sync apps (exit 0 done, 1 refused, 2 error). Without --yes: print the plan, exit 1.
    Sync {
        /// The apps to sync.
        #[arg(required = true, value_name = "APP")]
        apps: Vec<String>,
        #[command(flatten)]
        act: ActArgs,
        /// Delete live resources Git no longer has (confirm with --yes; listed in the plan).
        #[arg(long)]
        prune: bool,
        /// Replace resources that cannot be patched.
        #[arg(long)]
        force: bool,
        /// Apply only: skip the hooks.
        #[arg(long)]
        apply_only: bool,
        /// Only this resource (repeatable): GROUP:KIND:NAMESPACE/NAME.
        #[arg(long = "resource", value_name = "GROUP:KIND:NAMESPACE/NAME")]
        resources: Vec<String>,
        /// A sync option (repeatable), e.g. ServerSideApply=true, Validate=false.
        #[arg(long = "sync-option", value_name = "K=V")]
        sync_options: Vec<String>,
        /// Sync to this revision instead of the target revision.
        #[arg(long, value_name = "REV")]
        revision: Option<String>,
    },
    /// Refresh an app (--hard re-renders its manifests).
    Refresh {
        app: String,
        #[command(flatten)]
        act: ActArgs,
        #[arg(long)]
        hard: bool,
    },
    /// Terminate the running operation of an app.
    Terminate {
        app: String,
        #[command(flatten)]
        act: ActArgs,
    },
    /// Guided rollback: terminate a running operation, pause auto-sync (recording the policy
    /// and the reason), roll back, follow health.
    Rollback {
        app: String,
        #[command(flatten)]
        act: ActArgs,
        /// The history id to roll back to (default: the previous deployment).
        #[arg(long, value_name = "HISTORY_ID")]
        id: Option<i64>,
        /// Why (recorded on the Application when auto-sync is paused, and in the journal).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Turn auto-sync back on (as it was) once health has settled.
        #[arg(long)]
        restore_auto_sync: bool,
        /// Roll nothing back: only turn back on the auto-sync an earlier rollback paused.
        #[arg(long, conflicts_with_all = ["id", "restore_auto_sync"])]
        restore_only: bool,
    },
    /// Defer the revert of an app's drift: pause self-heal until a time, with a reason.
    Defer {
        app: String,
        #[command(flatten)]
        act: ActArgs,
        /// Why the drift may stay for now (required).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// When the deferral ends: 2h, 30m, tomorrow 02:00 (local time) or RFC 3339
        /// (default: the decision's not_before).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
    },
    /// Annotate an app with an incident (and label its drifted live resources).
    Annotate {
        app: String,
        #[command(flatten)]
        act: ActArgs,
        /// The incident id, e.g. INC-1234 (required).
        #[arg(long, value_name = "ID")]
        incident: Option<String>,
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Also label the drifted live resources with driftdeck.io/incident.
        #[arg(long)]
        label_resources: bool,
    },
    /// The actions Argo CD offers for a live resource of an app (restart, scale, a Rollout's
    /// promote-full or abort, ...): list them, or run one.
    ResourceActions {
        #[command(subcommand)]
        which: ResourceActionsCommand,
    },
    /// Deferrals recorded on the Applications: list them, or restore every one that is due.
    Deferrals {
        #[arg(value_enum)]
        which: DeferralsCommand,
        /// Only this instance.
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
        /// With apply: print what would be restored, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// What would make Git match live for an allowed drift: ignoreDifferences entries and a
    /// patch of the manifests (driftdeck never writes to Git).
    Adopt {
        app: String,
        #[arg(long, value_name = "NAME")]
        instance: Option<String>,
        #[arg(long, value_enum, default_value = "both")]
        output: AdoptOutput,
    },
    /// Measure what docs/performance.md reports (built with `--features bench`).
    #[cfg(feature = "bench")]
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[cfg(feature = "bench")]
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Decision figures: policy decisions per second on one core, full live decisions with
    /// every context source answering.
    Decide {
        /// Seconds of each throughput run.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Apps in the demo fleet.
        #[arg(long, default_value_t = 200)]
        apps: usize,
        /// Latency of each context source, in milliseconds.
        #[arg(long, default_value_t = 0)]
        source_latency: u64,
    },
    /// Diff figures: a pair of large manifests normalized, diffed and highlighted; scrolling the
    /// diff; compared with `diff -u`.
    Diff {
        /// Lines of YAML per manifest.
        #[arg(long, default_value_t = 5000)]
        lines: usize,
        /// Repetitions (the median is reported).
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// Bytes written to the terminal per keystroke (one-row move, scroll, page down) and per
    /// idle minute, at each colour depth and with --low-bandwidth.
    Keys {
        /// Apps in the demo fleet.
        #[arg(long, default_value_t = 2000)]
        apps: usize,
        /// The terminal size.
        #[arg(long, default_value = "120x40")]
        size: String,
    },
    /// Reliability figures: reads under each demo fault profile with and without retries, and
    /// how long after a server comes back the fleet is live again.
    Faults {
        /// Reads of the application list per profile.
        #[arg(long, default_value_t = 200)]
        reads: usize,
        /// Apps in the demo fleet.
        #[arg(long, default_value_t = 120)]
        apps: usize,
        /// Outage lengths to measure recovery after, in seconds (comma-separated).
        #[arg(long, default_value = "1,5,15", value_delimiter = ',')]
        outages: Vec<u64>,
        /// Outages of each length.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
    },
    /// Log figures: a log followed at RATE lines a second, the cost of a batch and of a
    /// keystroke with the log at its cap and a search on.
    Logs {
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// `serve` figures: a daemon deciding a fleet with a share drifted (and more drifting as it
    /// runs), its CPU and memory over the run, a /metrics scrape, and a leader's failover.
    Serve {
        #[arg(long, default_value_t = 10_000)]
        apps: usize,
        /// Share of the apps drifted at the start.
        #[arg(long, default_value_t = 0.05)]
        drifted: f64,
        /// Minutes the daemon runs.
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// Something new drifts this often while it runs.
        #[arg(long, default_value = "2s")]
        drift_every: String,
    },
    /// Fleet figures: first frame, filter keystroke, stream absorption, memory, scroll bytes.
    Fleet {
        #[arg(long, default_value_t = 10_000)]
        apps: usize,
        #[arg(long, default_value_t = 50)]
        clusters: usize,
        #[arg(long, default_value_t = 3)]
        instances: usize,
        /// Stream events per second to inject for the absorption test.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Seconds of streaming for the absorption test.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
}
