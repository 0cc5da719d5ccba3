//! The `cco` command: loads Claude Code transcripts into a cco database and reports on them.

pub mod chart;
pub mod connect;
pub mod dates;
pub mod discover;
pub mod failure;
pub mod format;
pub mod hook;
pub mod load;
pub mod report;
pub mod search;
pub mod settings;
pub mod show;
pub mod statusline;
pub mod table;
pub mod views;
pub mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use postgres::Client;

use failure::{Failure, Kind, Outcome};
use report::{Period, Scope};
use settings::Settings;
use table::Screen;

/// The Claude Code Observatory: your Claude Code history in PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "cco", version, about, long_about = None)]
pub struct Cli {
    /// Connection string or URL (default: `dsn` in the configuration file, else the libpq
    /// environment: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE)
    #[arg(long, global = true, value_name = "CONNECTION")]
    dsn: Option<String>,

    /// The configuration file (default: $CCO_CONFIG, else ~/.config/cco/config); cco's format of
    /// `key = value` lines, not ccusage's JSON
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load transcripts (default: Claude Code's projects folders); only what is new is sent
    Load(LoadArgs),
    /// Usage and cost reports, as ccusage prints them
    Report {
        #[command(subcommand)]
        report: ReportKind,
    },
    /// The line Claude Code shows under its prompt: reads its statusline JSON on standard input
    Statusline {
        /// Time zone of "today" (default: as for reports)
        #[arg(long, short = 'z')]
        timezone: Option<String>,
        #[command(flatten)]
        _ccusage: StatuslineCompatibility,
    },
    /// Messages matching a query, best first
    Search(SearchArgs),
    /// A conversation as a thread (by conversation, message or session id)
    Show {
        /// A conversation's, a message's or a Claude Code session's id
        id: String,
        /// Messages whole, nothing folded
        #[arg(long)]
        full: bool,
        /// Time zone of the times shown (default: as for reports)
        #[arg(long, short = 'z')]
        timezone: Option<String>,
        /// JSON instead of text
        #[arg(long, short)]
        json: bool,
    },
    /// A Claude Code hook (Stop, SubagentStop, SessionEnd): loads the new lines of the
    /// transcript named in the hook JSON on standard input
    Hook {
        /// Load as this user (see `cco load --user-id`)
        #[arg(long, value_name = "UUID")]
        user_id: Option<String>,
    },
}

/// `cco load`, also the whole of `cco-load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Folder to load (default: the projects folder of each of CLAUDE_CONFIG_DIR's folders,
    /// else ~/.claude/projects)
    #[arg(long, value_name = "FOLDER")]
    dir: Option<PathBuf>,
    /// Keep following the folders, loading what is written within a second
    #[arg(long)]
    watch: bool,
    /// Load as this user: an administrator's override, honoured only on a superuser's or an API
    /// login's connection; a developer connects with their own login, which cco.user_logins maps
    /// to their user id
    #[arg(long, value_name = "UUID")]
    user_id: Option<String>,
    /// Print only the final summary (for cron)
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum ReportKind {
    /// Usage and cost per day
    Daily(ReportArgs),
    /// Usage and cost per week
    Weekly {
        #[command(flatten)]
        args: ReportArgs,
        /// First day of a week
        #[arg(long, short = 'w', value_enum, default_value_t = WeekStart::Monday)]
        start_of_week: WeekStart,
    },
    /// Usage and cost per month
    Monthly(ReportArgs),
    /// Usage and cost per Claude Code session
    Session(ReportArgs),
    /// 5-hour billing blocks; the active one with burn rate and projection
    Blocks(ReportArgs),
    /// Messages by weekday and hour of the day, as a heat map
    Heatmap(ReportArgs),
    /// Per tool, all time: calls, success rate, median and p95 time, last use
    Tools(ReportArgs),
    /// Per project, all time: conversations, messages, tokens, cost, tool calls
    Projects(ReportArgs),
}

#[derive(Debug, Args)]
struct SearchArgs {
    /// Words (AND), "quoted phrases", or, -exclude
    query: String,
    /// Only this project (its name or path)
    #[arg(long, short)]
    project: Option<String>,
    /// Only messages of this role (user, assistant)
    #[arg(long, short)]
    role: Option<String>,
    /// Only messages that called this tool (Bash, Edit, ...)
    #[arg(long, short)]
    tool: Option<String>,
    /// Only messages from this day on, YYYYMMDD or YYYY-MM-DD
    #[arg(long, short)]
    since: Option<String>,
    /// Matches shown (at most 1000)
    #[arg(long, short, default_value_t = 20, value_parser = clap::value_parser!(i32).range(1..=1000))]
    limit: i32,
    /// Time zone of --since and the times shown (default: as for reports)
    #[arg(long, short = 'z')]
    timezone: Option<String>,
    /// JSON instead of text
    #[arg(long, short)]
    json: bool,
}

/// ccusage 20's statusline flags that have no meaning in cco, accepted so that a `settings.json`
/// written for ccusage works unchanged (see the README's table).
#[derive(Debug, Args)]
struct StatuslineCompatibility {
    /// Accepted for ccusage's command lines; cco never downloads anything
    #[arg(long = "offline", short = 'O', overrides_with = "_no_offline")]
    _offline: bool,
    /// Accepted for ccusage's command lines; cco never downloads anything
    #[arg(long = "no-offline")]
    _no_offline: bool,
    /// Accepted for ccusage's command lines; the burn rate is always shown as text
    #[arg(long = "visual-burn-rate", short = 'B', value_name = "STYLE", num_args = 0..=1,
          default_missing_value = "text",
          value_parser = ["off", "emoji", "text", "emoji-text"])]
    _visual_burn_rate: Option<String>,
    /// Accepted for ccusage's command lines; the session's cost is always cco's (from the database)
    #[arg(long = "cost-source", value_name = "SOURCE", num_args = 0..=1, default_missing_value = "auto",
          value_parser = ["auto", "ccusage", "cc", "both"])]
    _cost_source: Option<String>,
    /// Accepted for ccusage's command lines; cco answers from the database, uncached
    #[arg(long = "cache", overrides_with = "_no_cache")]
    _cache: bool,
    /// Accepted for ccusage's command lines; cco answers from the database, uncached
    #[arg(long = "no-cache")]
    _no_cache: bool,
    /// Accepted for ccusage's command lines; cco answers from the database, uncached
    #[arg(long = "refresh-interval", value_name = "SECONDS", num_args = 0..=1)]
    _refresh_interval: Option<String>,
    /// Accepted for ccusage's command lines; cco's line shows no context usage
    #[arg(long = "context-low-threshold", value_name = "PERCENT", num_args = 0..=1)]
    _context_low_threshold: Option<String>,
    /// Accepted for ccusage's command lines; cco's line shows no context usage
    #[arg(long = "context-medium-threshold", value_name = "PERCENT", num_args = 0..=1)]
    _context_medium_threshold: Option<String>,
    /// Accepted for ccusage's command lines; cco prices every response in the database
    #[arg(long = "debug", short = 'd')]
    _debug: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CostMode {
    Auto,
    Calculate,
    Display,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WeekStart {
    Sunday,
    Monday,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// First day, YYYYMMDD or YYYY-MM-DD
    #[arg(long, short)]
    since: Option<String>,
    /// Last day (included), YYYYMMDD or YYYY-MM-DD
    #[arg(long, short)]
    until: Option<String>,
    /// Time zone of days and times, an IANA name (default: `timezone` in the configuration
    /// file, else TZ, else the system's)
    #[arg(long, short = 'z')]
    timezone: Option<String>,
    /// Only this project (its name or path)
    #[arg(long, short)]
    project: Option<String>,
    /// A line per model under each entry
    #[arg(long, short)]
    breakdown: bool,
    /// Oldest first (asc) or newest first (desc)
    #[arg(long, short, value_enum, default_value_t = Order::Asc)]
    order: Order,
    /// ccusage's JSON instead of a table
    #[arg(long, short)]
    json: bool,
    /// Cost and tokens over time as bar charts, below the table (daily, weekly, monthly)
    #[arg(long)]
    chart: bool,
    /// Broken down by team member (who loaded the conversations) instead of model, over every
    /// project you can read (daily, weekly, monthly)
    #[arg(long, conflicts_with = "instances")]
    team: bool,
    /// Broken down by project instead of model (daily, weekly, monthly)
    #[arg(long, short)]
    instances: bool,
    /// Accepted for ccusage's scripts; cco never downloads anything (prices are in the database)
    #[arg(long = "offline", short = 'O', overrides_with = "_no_offline")]
    _offline: bool,
    /// Accepted for ccusage's scripts; cco never downloads anything (prices are in the database)
    #[arg(long = "no-offline")]
    _no_offline: bool,
    /// No cost: the tables without their cost columns, the JSON without its cost fields
    #[arg(long)]
    no_cost: bool,
    /// With --instances: show projects by other names, `name=Alias,other=Other alias` (a name
    /// is a project's name or path)
    #[arg(long, value_name = "ALIASES")]
    project_aliases: Option<String>,
    /// session: only this Claude Code session
    #[arg(long, value_name = "SESSION")]
    id: Option<String>,
    /// blocks: only the active block
    #[arg(long, short = 'a')]
    active: bool,
    /// blocks: only the blocks of the last 3 days (and the active one)
    #[arg(long, short = 'r')]
    recent: bool,
    /// blocks: judge the active block's projection against this many tokens, or `max` (the most
    /// a finished block used): ok, warning over 80%, exceeds over 100%
    #[arg(long, short = 't', value_name = "TOKENS|max", value_parser = report::token_limit)]
    token_limit: Option<report::TokenLimit>,
    /// blocks: hours per block; cco's blocks are 5 hours (cco.usage_blocks), the only length
    /// accepted
    #[arg(long, short = 'n', value_name = "HOURS", num_args = 0..=1, default_missing_value = "5")]
    session_length: Option<f64>,
    /// Accepted for ccusage's scripts; cco always calculates each response's cost from its
    /// tokens and the prices in the database
    #[arg(long = "mode", short = 'm', value_enum, num_args = 0..=1, default_missing_value = "auto")]
    _mode: Option<CostMode>,
    /// Accepted for ccusage's scripts; cco prices in the database and has no pricing mismatches
    /// to show
    #[arg(long = "debug", short = 'd')]
    _debug: bool,
    /// Accepted with --debug for ccusage's scripts
    #[arg(long = "debug-samples", value_name = "N", num_args = 0..=1)]
    _debug_samples: Option<u32>,
    /// Accepted for ccusage's scripts; the database does the work
    #[arg(long = "single-thread")]
    _single_thread: bool,
    /// Several reports from one command: daily, weekly, monthly, session, separated by commas
    /// (daily, weekly, monthly, session)
    #[arg(long, value_name = "REPORTS", value_parser = sections)]
    sections: Option<Sections>,
    /// Accepted for ccusage's scripts; cco holds Claude Code's transcripts only, all included
    #[arg(long = "all")]
    _all: bool,
    /// Accepted for ccusage's scripts; cco holds Claude Code's transcripts only, so there is one
    /// agent and no per-agent breakdown
    #[arg(long = "by-agent")]
    _by_agent: bool,
    /// Only the most recent N periods (1: today, this week, this month); daily, weekly, monthly
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=100_000))]
    last: Option<i32>,
    /// Leave out the optional columns (cache tokens, ...) whatever the width
    #[arg(long)]
    compact: bool,
    /// Colour even when the output is not a terminal (FORCE_COLOR=1 does the same)
    #[arg(long, conflicts_with = "no_color")]
    color: bool,
    /// No colour (NO_COLOR=1 does the same)
    #[arg(long)]
    no_color: bool,
}

impl ReportArgs {
    /// Where the report's table goes, as the flags say.
    fn screen(&self) -> Screen {
        let colour = match (self.color, self.no_color) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        Screen::of_stdout(colour, self.compact, self.no_cost)
    }
}

/// Runs `cco` with the process's arguments.
pub fn main_cco() -> ExitCode {
    let cli = match Cli::try_parse_from(with_ccusage_short_forms(std::env::args().collect())) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            let code = u8::try_from(error.exit_code()).unwrap_or(2);
            // Wrong arguments exit with 2, which Claude Code reads from a Stop hook as "do not
            // stop" (see hook::as_hook_failure): a hook's exit with 1.
            let hooked = subcommand_of(std::env::args().skip(1)).as_deref() == Some("hook");
            return ExitCode::from(if hooked && code == 2 { 1 } else { code });
        }
    };
    finish(run(cli, "cco load"), "cco")
}

/// ccusage's `session -i SESSION` is `--id` there, while `-i` is `--instances` on cco's reports
/// (where it does not apply to sessions): on `report session`, `-i` is read as `--id`.
fn with_ccusage_short_forms(mut args: Vec<String>) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        if arg == "--dsn" || arg == "--config" {
            rest.next();
        } else if !arg.starts_with('-') {
            words.push(arg.as_str());
        }
    }
    if words.starts_with(&["report", "session"]) {
        for arg in args.iter_mut().filter(|arg| *arg == "-i") {
            *arg = "--id".into();
        }
    }
    args
}

/// The subcommand named on a command line: its first word that is neither an option nor the
/// value of `--dsn`.
fn subcommand_of(args: impl Iterator<Item = String>) -> Option<String> {
    let mut args = args;
    while let Some(arg) = args.next() {
        if arg == "--dsn" {
            args.next();
        } else if !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

/// Runs `cco-load`, the command's first name: `cco load` with the same flags.
pub fn main_cco_load() -> ExitCode {
    #[derive(Debug, Parser)]
    #[command(
        name = "cco-load",
        version,
        about = "Loads Claude Code transcripts into a database that has the cco extension (the same as `cco load`)"
    )]
    struct CcoLoad {
        /// Connection string or URL (default: as `cco`)
        #[arg(long, value_name = "CONNECTION")]
        dsn: Option<String>,
        #[command(flatten)]
        load: LoadArgs,
    }
    let args = CcoLoad::parse();
    let cli = Cli {
        dsn: args.dsn,
        config: None,
        command: Command::Load(args.load),
    };
    finish(run(cli, "cco-load"), "cco-load")
}

fn finish(outcome: Outcome<()>, name: &str) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("{name}: {failure}");
            }
            ExitCode::from(failure.kind.exit_code())
        }
    }
}

/// Standard input, whole.
fn read_stdin() -> Outcome<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| Failure::new(Kind::Input, format!("cannot read the standard input: {e}")))?;
    Ok(text)
}

/// Runs a command; `load_name` is how the load's summary names the command that loaded.
fn run(cli: Cli, load_name: &str) -> Outcome<()> {
    let settings = settings::load(cli.config.as_deref())?;
    let dsn = cli.dsn.clone().or_else(|| settings.dsn.clone());
    let dsn = dsn.as_deref();
    match cli.command {
        Command::Load(args) => run_load(args, dsn, load_name),
        Command::Report { report } => run_report(report, dsn, &settings),
        Command::Statusline { timezone, .. } => {
            run_statusline(dsn, &time_zone(timezone.as_deref(), &settings))
        }
        Command::Hook { user_id } => run_hook(dsn, user_id.as_deref()),
        Command::Search(args) => run_search(args, dsn, &settings),
        Command::Show {
            id,
            full,
            timezone,
            json,
        } => {
            let zone = time_zone(timezone.as_deref(), &settings);
            let mut client = connect_in_zone(dsn, &zone)?;
            let conversation = show::find(&mut client, &id)?;
            let messages = show::messages(&mut client, &conversation)?;
            let subagents = show::subagents(&mut client, &conversation)?;
            if json {
                print!(
                    "{}",
                    json_text(&show::thread_json(&conversation, &messages, &subagents))
                );
            } else {
                print!(
                    "{}",
                    show::thread_text(&conversation, &messages, &subagents, full)
                );
            }
            Ok(())
        }
    }
}

fn run_load(args: LoadArgs, dsn: Option<&str>, name: &str) -> Outcome<()> {
    let dirs = match args.dir {
        Some(dir) => vec![dir],
        None => watch::default_projects_dirs(),
    };
    if args.watch {
        let target = watch::Target {
            dsn,
            user_id: args.user_id.as_deref(),
            quiet: args.quiet,
        };
        return watch::watch(&dirs, &target);
    }
    let mut files = Vec::new();
    for dir in &dirs {
        files.extend(load::transcript_files(dir)?);
    }
    let mut client = connect::connect(dsn)?;
    let totals = load::load_files(&mut client, &files, args.user_id.as_deref(), args.quiet)?;
    println!("{name}: {totals}");
    if totals.failed > 0 {
        return Err(Failure::new(Kind::Partial, ""));
    }
    Ok(())
}

fn run_statusline(dsn: Option<&str>, zone: &str) -> Outcome<()> {
    let outcome = read_stdin()
        .and_then(|text| statusline::StatusInput::parse(&text))
        .and_then(|input| {
            let mut client = connect::connect(dsn)?;
            let status = statusline::status(&mut client, &input, zone)?;
            Ok(statusline::line(input.model.as_deref(), &status))
        });
    // Claude Code shows standard output only: a failure is said there too, briefly.
    match outcome {
        Ok(ref line) => println!("{line}"),
        Err(ref failure) => println!("cco: {failure}"),
    }
    outcome.map(drop)
}

fn run_search(args: SearchArgs, dsn: Option<&str>, settings: &Settings) -> Outcome<()> {
    let (since, _) = dates::day_range(args.since.as_deref(), None)
        .map_err(|message| Failure::new(Kind::Usage, message))?;
    let zone = time_zone(args.timezone.as_deref(), settings);
    let mut client = connect_in_zone(dsn, &zone)?;
    let query = search::Query {
        text: args.query,
        project: args.project,
        role: args.role,
        tool: args.tool,
        since,
        limit: args.limit,
    };
    let hits = search::search(&mut client, &query)?;
    if args.json {
        print!("{}", json_text(&search::hits_json(&hits)));
    } else {
        let screen = Screen::of_stdout(None, false, false);
        print!("{}", search::hits_text(&hits, screen.colour, screen.width));
    }
    Ok(())
}

/// Loads the hook's transcript; a failure exits with 1 rather than 2 (see hook::as_hook_failure).
fn run_hook(dsn: Option<&str>, user_id: Option<&str>) -> Outcome<()> {
    let hooked = || -> Outcome<()> {
        let input = hook::HookInput::parse(&read_stdin()?)?;
        let bytes = std::fs::metadata(&input.transcript_path)
            .map_err(|e| {
                Failure::new(
                    Kind::Input,
                    format!("cannot read {}: {e}", input.transcript_path.display()),
                )
            })?
            .len();
        let files = [discover::TranscriptFile {
            path: input.transcript_path,
            bytes,
        }];
        let mut client = connect::connect(dsn)?;
        let totals = load::load_files(&mut client, &files, user_id, true)?;
        if totals.failed > 0 {
            return Err(Failure::new(Kind::Partial, ""));
        }
        Ok(())
    };
    hooked().map_err(hook::as_hook_failure)
}

/// The time zone of days and times: the flag, the configuration file, TZ, the system's, UTC.
pub fn time_zone(flag: Option<&str>, settings: &Settings) -> String {
    if let Some(zone) = flag.or(settings.timezone.as_deref()) {
        return zone.to_owned();
    }
    if let Ok(zone) = std::env::var("TZ") {
        let zone = zone.trim_start_matches(':');
        if !zone.is_empty() {
            return zone.to_owned();
        }
    }
    std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .split_once("zoneinfo/")
                .map(|(_, zone)| zone.to_owned())
        })
        .unwrap_or_else(|| "UTC".into())
}

/// Connects and sets the report's time zone.
fn connect_in_zone(dsn: Option<&str>, zone: &str) -> Outcome<Client> {
    let mut client = connect::connect(dsn)?;
    report::use_time_zone(&mut client, zone)?;
    Ok(client)
}

fn run_report(kind: ReportKind, dsn: Option<&str>, settings: &Settings) -> Outcome<()> {
    let (args, period) = match &kind {
        ReportKind::Daily(args) => (args, Some(Period::Day)),
        ReportKind::Weekly {
            args,
            start_of_week,
        } => (
            args,
            Some(Period::Week {
                monday: matches!(start_of_week, WeekStart::Monday),
            }),
        ),
        ReportKind::Monthly(args) => (args, Some(Period::Month)),
        ReportKind::Session(args)
        | ReportKind::Blocks(args)
        | ReportKind::Heatmap(args)
        | ReportKind::Tools(args)
        | ReportKind::Projects(args) => (args, None),
    };
    let view = match kind {
        ReportKind::Tools(_) => Some(&views::TOOLS),
        ReportKind::Projects(_) => Some(&views::PROJECTS),
        _ => None,
    };
    if view.is_some() && (args.since.is_some() || args.until.is_some()) {
        return Err(Failure::new(
            Kind::Usage,
            "the tools and projects reports cover all time: --since and --until do not apply",
        ));
    }
    if (args.chart || args.team || args.instances || args.last.is_some()) && period.is_none() {
        return Err(Failure::new(
            Kind::Usage,
            "--chart, --team, --instances and --last apply to the daily, weekly and monthly reports",
        ));
    }
    let is_blocks = matches!(kind, ReportKind::Blocks(_));
    if (args.active || args.recent || args.session_length.is_some() || args.token_limit.is_some())
        && !is_blocks
    {
        return Err(Failure::new(
            Kind::Usage,
            "--active, --recent, --session-length and --token-limit apply to the blocks report",
        ));
    }
    if args.session_length.is_some_and(|hours| hours != 5.0) {
        return Err(Failure::new(
            Kind::Usage,
            "--session-length: cco's blocks are 5 hours long (cco.usage_blocks), the only length it reports",
        ));
    }
    if args.sections.is_some()
        && !matches!(
            kind,
            ReportKind::Daily(_)
                | ReportKind::Weekly { .. }
                | ReportKind::Monthly(_)
                | ReportKind::Session(_)
        )
    {
        return Err(Failure::new(
            Kind::Usage,
            "--sections applies to the daily, weekly, monthly and session reports",
        ));
    }
    if args.id.is_some() && !matches!(kind, ReportKind::Session(_)) {
        return Err(Failure::new(
            Kind::Usage,
            "--id applies to the session report",
        ));
    }
    let aliases = match &args.project_aliases {
        Some(_) if !args.instances => {
            return Err(Failure::new(
                Kind::Usage,
                "--project-aliases applies with --instances",
            ))
        }
        Some(text) => {
            report::project_aliases(text).map_err(|message| Failure::new(Kind::Usage, message))?
        }
        None => Vec::new(),
    };
    let by = match (args.team, args.instances) {
        (true, _) => report::By::Member,
        (_, true) => report::By::Project,
        _ => report::By::Model,
    };
    let (since, until) = dates::day_range(args.since.as_deref(), args.until.as_deref())
        .map_err(|message| Failure::new(Kind::Usage, message))?;
    let scope = Scope {
        since,
        until,
        project: args.project.clone(),
        last: args.last,
    };
    let zone = time_zone(args.timezone.as_deref(), settings);
    let mut client = connect_in_zone(dsn, &zone)?;
    let screen = args.screen();
    let descending = matches!(args.order, Order::Desc);
    let as_json = |mut value: serde_json::Value| {
        if args.no_cost {
            report::without_costs(&mut value);
        }
        json_text(&value)
    };
    let text = match (&kind, period) {
        (ReportKind::Tools(_) | ReportKind::Projects(_), _) => {
            let view = view.unwrap_or(&views::TOOLS);
            let mut rows = view.rows(&mut client, scope.project.as_deref())?;
            if descending {
                rows.reverse();
            }
            if args.json {
                as_json(serde_json::Value::Array(rows))
            } else {
                view.table(&rows, screen)
            }
        }
        (ReportKind::Blocks(_), _) => {
            let mut blocks = report::blocks(&mut client, &scope)?;
            if args.active {
                blocks.retain(|block| block.is_active);
            }
            if args.recent {
                let cutoff = report::days_ago_utc(&mut client, 3)?;
                report::keep_recent(&mut blocks, &cutoff);
            }
            if descending {
                blocks.reverse();
            }
            let limit = args
                .token_limit
                .and_then(|limit| report::limit_status(&blocks, limit));
            if args.json {
                let mut value = report::blocks_json(&blocks);
                if let Some(status) = &limit {
                    report::with_limit_status(&mut value, status);
                }
                as_json(value)
            } else {
                let mut text = report::blocks_table(&blocks, screen);
                if let Some(status) = &limit {
                    text.push_str(&report::limit_status_text(status));
                }
                text
            }
        }
        (ReportKind::Heatmap(_), _) => {
            let counts = report::weekday_hours(&mut client, &scope)?;
            if args.json {
                as_json(report::weekday_hours_json(&counts))
            } else {
                chart::heatmap(&counts, "messages")
            }
        }
        _ => {
            let sections = match &args.sections {
                Some(Sections(sections)) => sections.clone(),
                None => vec![Section::of(period)],
            };
            let monday = match &kind {
                ReportKind::Weekly { start_of_week, .. } => {
                    matches!(start_of_week, WeekStart::Monday)
                }
                _ => true,
            };
            let mut values = Vec::new();
            let mut texts = Vec::new();
            for section in &sections {
                let request = UsageRequest {
                    period: section.period(monday),
                    scope: &scope,
                    by,
                    aliases: &aliases,
                    args,
                    screen,
                };
                let (value, text) = usage_report(&mut client, &request)?;
                values.push((section.name(), value));
                texts.push(match sections.len() {
                    1 => text,
                    _ => format!("{}\n{text}", section.title()),
                });
            }
            if args.json {
                as_json(report::merged_sections(values))
            } else {
                texts.join("\n")
            }
        }
    };
    print!("{text}");
    Ok(())
}

/// A report of `--sections`: ccusage 20's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Daily,
    Weekly,
    Monthly,
    Session,
}

impl Section {
    /// The section of a period's report, or the session report's.
    fn of(period: Option<Period>) -> Section {
        match period {
            Some(Period::Day) => Section::Daily,
            Some(Period::Week { .. }) => Section::Weekly,
            Some(Period::Month) => Section::Monthly,
            None => Section::Session,
        }
    }

    fn period(self, monday: bool) -> Option<Period> {
        match self {
            Section::Daily => Some(Period::Day),
            Section::Weekly => Some(Period::Week { monday }),
            Section::Monthly => Some(Period::Month),
            Section::Session => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Section::Daily => "daily",
            Section::Weekly => "weekly",
            Section::Monthly => "monthly",
            Section::Session => "session",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Section::Daily => "Daily",
            Section::Weekly => "Weekly",
            Section::Monthly => "Monthly",
            Section::Session => "Session",
        }
    }
}

/// The reports `--sections` names, in its order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sections(Vec<Section>);

/// Reads `--sections`: report names separated by commas, each once.
fn sections(text: &str) -> Result<Sections, String> {
    let mut sections = Vec::new();
    for name in text.split(',').map(str::trim) {
        let section = match name {
            "daily" => Section::Daily,
            "weekly" => Section::Weekly,
            "monthly" => Section::Monthly,
            "session" => Section::Session,
            other => {
                return Err(format!(
                    "`{other}` is not a section (daily, weekly, monthly, session)"
                ))
            }
        };
        if !sections.contains(&section) {
            sections.push(section);
        }
    }
    Ok(Sections(sections))
}

/// What a day, week, month or session report is asked.
struct UsageRequest<'a> {
    period: Option<Period>,
    scope: &'a Scope,
    by: report::By,
    aliases: &'a [(String, String)],
    args: &'a ReportArgs,
    screen: Screen,
}

/// A day, week or month report (`period`) or the session report, as JSON and as text.
fn usage_report(
    client: &mut Client,
    request: &UsageRequest,
) -> Outcome<(serde_json::Value, String)> {
    let args = request.args;
    let descending = matches!(args.order, Order::Desc);
    let Some(period) = request.period else {
        let mut groups = report::session_groups(client, request.scope)?;
        if let Some(session) = &args.id {
            groups.retain(|group| &group.key == session);
        }
        if descending {
            groups.reverse();
        }
        return Ok((
            report::session_json(&groups),
            report::session_table(&groups, args.breakdown, request.screen),
        ));
    };
    let mut groups = report::period_groups(client, period, request.scope, request.by)?;
    report::rename_projects(&mut groups, request.aliases);
    if descending {
        groups.reverse();
    }
    let mut text = report::period_table(period, &groups, args.breakdown, request.screen);
    if args.chart {
        text.push_str(&report::period_charts(&groups, request.screen));
    }
    Ok((report::period_json(period, &groups), text))
}

fn json_text(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn load_options_are_read() {
        let cli = Cli::try_parse_from([
            "cco",
            "load",
            "--dir",
            "/t",
            "--quiet",
            "--user-id",
            "u",
            "--dsn",
            "host=x",
        ])
        .unwrap();
        assert_eq!(cli.dsn.as_deref(), Some("host=x"));
        let Command::Load(args) = cli.command else {
            panic!("not load")
        };
        assert_eq!(args.dir, Some(PathBuf::from("/t")));
        assert!(args.quiet);
        assert_eq!(args.user_id.as_deref(), Some("u"));
        assert!(Cli::try_parse_from(["cco", "load", "--dir"]).is_err());
        assert!(Cli::try_parse_from(["cco", "load", "--bogus"]).is_err());
    }

    #[test]
    fn finds_the_subcommand_after_the_global_options() {
        let words = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            subcommand_of(words("--dsn host=x hook --bogus").into_iter()).as_deref(),
            Some("hook")
        );
        assert_eq!(
            subcommand_of(words("--dsn=host=x report daily").into_iter()).as_deref(),
            Some("report")
        );
        assert_eq!(subcommand_of(words("--help").into_iter()), None);
    }

    #[test]
    fn the_time_zone_comes_from_the_flag_first() {
        let settings = Settings {
            dsn: None,
            timezone: Some("Asia/Kathmandu".into()),
        };
        assert_eq!(time_zone(Some("UTC"), &settings), "UTC");
        assert_eq!(time_zone(None, &settings), "Asia/Kathmandu");
    }

    #[test]
    fn ccusage_flags_are_accepted() {
        let parses = |line: &str| Cli::try_parse_from(line.split(' ')).is_ok();
        for line in [
            "cco report daily --no-cost --no-offline --mode calculate --debug --debug-samples 3 --single-thread --all --by-agent",
            "cco report daily -m -d --debug-samples --offline --no-offline",
            "cco report monthly --instances --project-aliases shop=Shop,api=API",
            "cco report session --id 22222222-0000-0000-0000-000000000001 --no-cost",
            "cco report blocks --active --recent --session-length 5",
            "cco report blocks -n",
            "cco report blocks -a -r -n 5 --mode display -t max",
            "cco report blocks --token-limit 500000",
            "cco report daily --sections daily,monthly,session",
            "cco report weekly -w sunday",
            "cco --config /tmp/cco.conf report weekly",
            "cco statusline --offline --no-offline -B emoji --cost-source both --cache --no-cache --refresh-interval 2 --context-low-threshold 40 --context-medium-threshold 70 --debug --config /x",
            "cco statusline --visual-burn-rate --cost-source --refresh-interval",
        ] {
            assert!(parses(line), "{line}");
        }
        for line in [
            "cco report daily --mode exact",
            "cco report blocks --token-limit lots",
            "cco report daily --sections daily,blocks",
            "cco statusline -B loud",
            "cco statusline --cost-source other",
        ] {
            assert!(!parses(line), "{line}");
        }
        let cli =
            Cli::try_parse_from(["cco", "report", "session", "--no-cost", "--id", "s"]).unwrap();
        let Command::Report {
            report: ReportKind::Session(args),
        } = cli.command
        else {
            panic!("not session")
        };
        assert!(args.no_cost && args.screen().no_cost);
        assert_eq!(args.id.as_deref(), Some("s"));
    }

    #[test]
    fn sections_are_read_in_order_once() {
        assert_eq!(
            sections("monthly, daily,monthly").unwrap(),
            Sections(vec![Section::Monthly, Section::Daily])
        );
        assert!(sections("daily,blocks").unwrap_err().contains("`blocks`"));
        assert_eq!(Section::of(Some(Period::Month)), Section::Monthly);
        assert_eq!(Section::Session.period(true), None);
    }

    #[test]
    fn session_i_is_ccusages_id() {
        let words = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            with_ccusage_short_forms(words("cco report session -i s1 --json")),
            words("cco report session --id s1 --json")
        );
        assert_eq!(
            with_ccusage_short_forms(words("cco --dsn host=x report session -i s1")),
            words("cco --dsn host=x report session --id s1")
        );
        assert_eq!(
            with_ccusage_short_forms(words("cco report daily -i")),
            words("cco report daily -i")
        );
    }
}
