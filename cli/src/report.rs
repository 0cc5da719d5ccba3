//! `cco report`: ccusage's reports (daily, weekly, monthly, session, blocks), computed in the
//! database from the extension's views, printed as a table or as ccusage's JSON.

use postgres::Client;
use serde_json::{json, Value};

use crate::failure::{Failure, Kind, Outcome};
use crate::format::{dollars, hours_minutes, short_model, thousands};
use crate::table::{render, Column, RowKind, Screen};

/// Which rows a report covers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// First day (ISO), in the report's time zone.
    pub since: Option<String>,
    /// Last day (ISO), included.
    pub until: Option<String>,
    /// A project's name or path.
    pub project: Option<String>,
    /// Only the last this many periods, the current one included (day, week and month reports).
    pub last: Option<i32>,
}

/// How the day-based reports group days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// Weeks starting on Monday (ccusage 20's default) or Sunday.
    Week {
        monday: bool,
    },
    Month,
}

impl Period {
    fn sql_name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week { monday: false } => "week-sunday",
            Period::Week { monday: true } => "week-monday",
            Period::Month => "month",
        }
    }

    /// ccusage's name of the list in its JSON and of the period's field in older versions.
    fn json_names(self) -> (&'static str, &'static str) {
        match self {
            Period::Day => ("daily", "date"),
            Period::Week { .. } => ("weekly", "week"),
            Period::Month => ("monthly", "month"),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Period::Day => "Date",
            Period::Week { .. } => "Week",
            Period::Month => "Month",
        }
    }
}

/// Tokens by kind and their cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub input: i64,
    pub output: i64,
    pub cache_creation: i64,
    pub cache_read: i64,
    pub cost: f64,
}

impl Usage {
    pub fn total_tokens(&self) -> i64 {
        self.input + self.output + self.cache_creation + self.cache_read
    }

    fn add(&mut self, other: &Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_creation += other.cache_creation;
        self.cache_read += other.cache_read;
        self.cost += other.cost;
    }

    fn from_row(row: &postgres::Row, first: usize) -> Usage {
        Usage {
            input: row.get(first),
            output: row.get(first + 1),
            cache_creation: row.get(first + 2),
            cache_read: row.get(first + 3),
            cost: row.get(first + 4),
        }
    }

    /// ccusage's token fields.
    fn json_fields(&self, map: &mut serde_json::Map<String, Value>) {
        map.insert("inputTokens".into(), json!(self.input));
        map.insert("outputTokens".into(), json!(self.output));
        map.insert("cacheCreationTokens".into(), json!(self.cache_creation));
        map.insert("cacheReadTokens".into(), json!(self.cache_read));
    }

    fn totals_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        self.json_fields(&mut map);
        map.insert("totalTokens".into(), json!(self.total_tokens()));
        map.insert("totalCost".into(), json!(self.cost));
        Value::Object(map)
    }

    fn cells(&self) -> [String; 6] {
        [
            thousands(self.input),
            thousands(self.output),
            thousands(self.cache_creation),
            thousands(self.cache_read),
            thousands(self.total_tokens()),
            dollars(self.cost),
        ]
    }
}

/// What a report's lines are broken down by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum By {
    /// Models, as ccusage does.
    #[default]
    Model,
    /// Team members: who loaded the conversations (their login where the caller may read it,
    /// else their user id).
    Member,
    /// Projects (ccusage's `--instances`), by name.
    Project,
}

impl By {
    /// The JSON names: list of names, breakdowns, a breakdown's name.
    fn json_names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            By::Model => ("modelsUsed", "modelBreakdowns", "modelName"),
            By::Member => ("members", "memberBreakdowns", "member"),
            By::Project => ("projects", "projectBreakdowns", "project"),
        }
    }

    fn title(self) -> &'static str {
        match self {
            By::Model => "Models",
            By::Member => "Members",
            By::Project => "Projects",
        }
    }

    fn display(self, name: &str) -> String {
        match self {
            By::Model => short_model(name),
            By::Member | By::Project => name.to_owned(),
        }
    }
}

/// One line of a report: a period or a session, with its usage per model (or member).
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub key: String,
    pub by: By,
    pub models: Vec<(String, Usage)>,
    /// Sessions: the project's path and the last activity (ISO, UTC; and the local day).
    pub project_path: Option<String>,
    pub last_activity: Option<(String, String)>,
}

impl Group {
    pub fn usage(&self) -> Usage {
        let mut sum = Usage::default();
        for (_, usage) in &self.models {
            sum.add(usage);
        }
        sum
    }

    fn json(&self) -> serde_json::Map<String, Value> {
        let usage = self.usage();
        let mut map = serde_json::Map::new();
        map.insert("period".into(), json!(self.key));
        usage.json_fields(&mut map);
        map.insert("totalTokens".into(), json!(usage.total_tokens()));
        map.insert("totalCost".into(), json!(usage.cost));
        let (list, breakdown, name) = self.by.json_names();
        let mut names: Vec<&str> = self.models.iter().map(|(m, _)| m.as_str()).collect();
        names.sort_unstable();
        map.insert(list.into(), json!(names));
        let breakdowns: Vec<Value> = self
            .models
            .iter()
            .map(|(model, usage)| {
                let mut entry = serde_json::Map::new();
                entry.insert(name.into(), json!(model));
                usage.json_fields(&mut entry);
                entry.insert("cost".into(), json!(usage.cost));
                Value::Object(entry)
            })
            .collect();
        map.insert(breakdown.into(), Value::Array(breakdowns));
        map
    }
}

/// Sets the session's time zone: days, weeks, months and printed times are that zone's.
pub fn use_time_zone(client: &mut Client, zone: &str) -> Outcome<()> {
    client
        .query_one("select set_config('TimeZone', $1, false)", &[&zone])
        .map_err(|e| match e.as_db_error() {
            Some(db) if db.code().code() == "22023" => {
                Failure::new(Kind::Usage, format!("unknown time zone `{zone}`: use an IANA name such as Europe/Berlin or Asia/Kathmandu"))
            }
            _ => Failure::from_database(&e),
        })?;
    Ok(())
}

/// The first day of the period (`$4`: day, week-sunday, week-monday, month) holding the date
/// `date`, as SQL.
fn period_start_sql(date: &str) -> String {
    format!(
        "case $4::text
             when 'day' then {date}
             when 'month' then date_trunc('month', {date})::date
             when 'week-sunday' then {date} - extract(dow from {date})::int
             else {date} - (extract(isodow from {date})::int - 1)
         end"
    )
}

/// Usage per period and model (or member), oldest first.
pub fn period_groups(
    client: &mut Client,
    period: Period,
    scope: &Scope,
    by: By,
) -> Outcome<Vec<Group>> {
    let usage = match by {
        By::Model => {
            "select u.day::date as day, coalesce(u.model, 'unknown') as item, u.input_tokens,
                    u.output_tokens, u.cache_creation_tokens, u.cache_read_tokens, u.cost
             from cco.token_usage_daily u"
        }
        By::Project => {
            "select u.day::date as day, p.name as item, u.input_tokens, u.output_tokens,
                    u.cache_creation_tokens, u.cache_read_tokens, u.cost
             from cco.token_usage_daily u
             join cco.projects p on p.id = u.project_id"
        }
        By::Member => {
            "select u.day::date as day,
                    coalesce((select l.login from cco.user_logins l where l.user_id = c.created_by
                              order by l.login limit 1),
                             c.created_by::text, 'unknown') as item,
                    u.input_tokens, u.output_tokens, u.cache_creation_tokens, u.cache_read_tokens, u.cost
             from cco.message_usage u
             join cco.conversations c on c.id = u.conversation_id and c.project_id = u.project_id"
        }
    };
    let period_start = period_start_sql("day");
    let current_start = period_start_sql("current_date");
    let rows = client
        .query(
            &format!(
                "with usage as (
                 {usage}
                 where ($1::text is null or u.day >= $1::text::date)
                   and ($2::text is null or u.day < $2::text::date + 1)
                   and ($3::text is null or u.project_id in
                            (select p.id from cco.projects p where p.name = $3 or p.path = $3))),
             periods as (
                 select {period_start} as period, usage.* from usage)
             select to_char(period, case $4::text when 'month' then 'YYYY-MM' else 'YYYY-MM-DD' end),
                    item, sum(input_tokens)::bigint, sum(output_tokens)::bigint,
                    sum(cache_creation_tokens)::bigint, sum(cache_read_tokens)::bigint,
                    coalesce(sum(cost), 0)::float8
             from periods
             -- --last: the current period (of today in the session's time zone) and those before
             where $5::int is null
                or period >= case $4::text
                                 when 'day' then {current_start} - ($5 - 1)
                                 when 'month' then ({current_start} - ($5 - 1) * interval '1 month')::date
                                 else {current_start} - ($5 - 1) * 7
                             end
             group by 1, 2
             order by 1, sum(cost) desc nulls last, 2"
            ),
            &[
                &scope.since,
                &scope.until,
                &scope.project,
                &period.sql_name(),
                &scope.last,
            ],
        )
        .map_err(|e| Failure::from_database(&e))?;
    Ok(fold_groups(&rows, 1, |row| Group {
        key: row.get(0),
        by,
        ..Group::default()
    }))
}

/// Rows ordered by their group's key (column 0), each a model's (column `model`) usage in the
/// five columns after it, as groups; `new_group` starts a group from its first row.
fn fold_groups(
    rows: &[postgres::Row],
    model: usize,
    new_group: impl Fn(&postgres::Row) -> Group,
) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for row in rows {
        if groups
            .last()
            .is_none_or(|g| g.key != row.get::<_, String>(0))
        {
            groups.push(new_group(row));
        }
        if let Some(group) = groups.last_mut() {
            group
                .models
                .push((row.get(model), Usage::from_row(row, model + 1)));
        }
    }
    groups
}

/// Usage per Claude Code session (a main transcript and its subagents) and model, by last
/// activity (the session's last API response).
pub fn session_groups(client: &mut Client, scope: &Scope) -> Outcome<Vec<Group>> {
    let rows = client
        .query(
            "with usage as (
                 select coalesce(c.session_id, c.id::text) as session, p.path,
                        coalesce(u.model, 'unknown') as model, u.input_tokens, u.output_tokens,
                        u.cache_creation_tokens, u.cache_read_tokens, u.cost,
                        -- as ccusage: the time of the session's last API response
                        (select max(m.\"timestamp\") from cco.messages m
                         where m.conversation_id = c.id and m.project_id = c.project_id
                           and m.token_count > 0) as last_updated
                 from cco.message_usage u
                 join cco.conversations c on c.id = u.conversation_id and c.project_id = u.project_id
                 join cco.projects p on p.id = u.project_id
                 where ($1::text is null or u.day >= $1::text::date)
                   and ($2::text is null or u.day < $2::text::date + 1)
                   and ($3::text is null or p.name = $3 or p.path = $3)),
             sessions as (
                 select session, min(path) as path, max(last_updated) as last_activity
                 from usage group by session)
             select u.session, s.path,
                    to_char(s.last_activity at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                    to_char(s.last_activity, 'YYYY-MM-DD'),
                    u.model, sum(u.input_tokens)::bigint, sum(u.output_tokens)::bigint,
                    sum(u.cache_creation_tokens)::bigint, sum(u.cache_read_tokens)::bigint,
                    coalesce(sum(u.cost), 0)::float8
             from usage u join sessions s using (session)
             group by u.session, s.path, s.last_activity, u.model
             order by s.last_activity, u.session, sum(u.cost) desc nulls last, u.model",
            &[&scope.since, &scope.until, &scope.project],
        )
        .map_err(|e| Failure::from_database(&e))?;
    Ok(fold_groups(&rows, 4, |row| Group {
        key: row.get(0),
        project_path: row.get(1),
        last_activity: match (row.get(2), row.get(3)) {
            (Some(utc), Some(local)) => Some((utc, local)),
            _ => None,
        },
        ..Group::default()
    }))
}

fn totals(groups: &[Group]) -> Usage {
    let mut sum = Usage::default();
    for group in groups {
        sum.add(&group.usage());
    }
    sum
}

/// ccusage's JSON for a day, week or month report; each entry also carries the older field
/// name of its period (`date`, `week`, `month`).
pub fn period_json(period: Period, groups: &[Group]) -> Value {
    let (list, field) = period.json_names();
    let entries: Vec<Value> = groups
        .iter()
        .map(|group| {
            let mut map = group.json();
            map.insert(field.into(), json!(group.key));
            Value::Object(map)
        })
        .collect();
    json!({ list: entries, "totals": totals(groups).totals_json() })
}

/// ccusage's JSON for the session report.
pub fn session_json(groups: &[Group]) -> Value {
    let entries: Vec<Value> = groups
        .iter()
        .map(|group| {
            let mut map = group.json();
            map.insert("sessionId".into(), json!(group.key));
            map.insert("projectPath".into(), json!(group.project_path));
            let last = group.last_activity.as_ref().map(|(utc, _)| utc);
            map.insert("lastActivity".into(), json!(last));
            map.insert("metadata".into(), json!({ "lastActivity": last }));
            Value::Object(map)
        })
        .collect();
    json!({ "session": entries, "totals": totals(groups).totals_json() })
}

const fn column(title: &'static str, numeric: bool, optional: bool) -> Column {
    Column {
        title,
        numeric,
        optional,
        spare: false,
    }
}

const USAGE_COLUMNS: [Column; 6] = [
    column("Input", true, false),
    column("Output", true, false),
    column("Cache Create", true, true),
    column("Cache Read", true, true),
    column("Total Tokens", true, false),
    column("Cost (USD)", true, false),
];

fn model_list(group: &Group) -> String {
    let mut names: Vec<String> = group
        .models
        .iter()
        .map(|(m, _)| group.by.display(m))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .iter()
        .map(|n| format!("- {n}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The table of a day, week, month or session report. `leading` are the first columns' values
/// of a group (the period, or the session and its project); `breakdown` adds a line per model.
fn usage_table(
    leading_columns: &[Column],
    groups: &[Group],
    leading: impl Fn(&Group) -> Vec<String>,
    breakdown: bool,
    screen: Screen,
) -> String {
    let mut columns = leading_columns.to_vec();
    let by = groups.first().map_or(By::Model, |g| g.by);
    // Rather no model list than numbers cut in two; a breakdown's lines need their names.
    columns.push(Column {
        spare: !breakdown,
        ..column(by.title(), false, false)
    });
    columns.extend(USAGE_COLUMNS);
    let blank = || vec![String::new(); leading_columns.len()];
    let mut rows = Vec::new();
    for group in groups {
        let mut cells = leading(group);
        cells.push(model_list(group));
        cells.extend(group.usage().cells());
        rows.push((RowKind::Entry, cells));
        if breakdown {
            for (model, usage) in &group.models {
                let mut cells = blank();
                cells.push(format!("└─ {}", group.by.display(model)));
                cells.extend(usage.cells());
                rows.push((RowKind::Breakdown, cells));
            }
        }
    }
    let mut cells = blank();
    cells[0] = "Total".into();
    cells.push(String::new());
    cells.extend(totals(groups).cells());
    rows.push((RowKind::Total, cells));
    render(&columns, &rows, screen)
}

/// The table of a day, week or month report.
pub fn period_table(period: Period, groups: &[Group], breakdown: bool, screen: Screen) -> String {
    usage_table(
        &[column(period.title(), false, false)],
        groups,
        |group| vec![group.key.clone()],
        breakdown,
        screen,
    )
}

/// The table of the session report: sessions by the first part of their id, projects by their
/// folder's name.
pub fn session_table(groups: &[Group], breakdown: bool, screen: Screen) -> String {
    usage_table(
        &[
            column("Session", false, false),
            column("Project", false, true),
            column("Last Activity", false, true),
        ],
        groups,
        |group| {
            let project = group.project_path.as_deref().unwrap_or("");
            vec![
                group.key.chars().take(8).collect(),
                project
                    .rsplit('/')
                    .find(|part| !part.is_empty())
                    .unwrap_or(project)
                    .to_owned(),
                group
                    .last_activity
                    .as_ref()
                    .map(|(_, local)| local.clone())
                    .unwrap_or_default(),
            ]
        },
        breakdown,
        screen,
    )
}

/// Cost and total tokens per period as bar charts, oldest period on the left.
pub fn period_charts(groups: &[Group], screen: Screen) -> String {
    let mut ordered: Vec<&Group> = groups.iter().collect();
    ordered.sort_by(|a, b| a.key.cmp(&b.key));
    let labels: Vec<String> = ordered.iter().map(|g| g.key.clone()).collect();
    let costs: Vec<f64> = ordered.iter().map(|g| g.usage().cost).collect();
    let tokens: Vec<f64> = ordered
        .iter()
        .map(|g| g.usage().total_tokens() as f64)
        .collect();
    let token_chart = crate::chart::bars("Total tokens", &labels, &tokens, screen.width, |v| {
        thousands(v.round() as i64)
    });
    if screen.no_cost {
        return format!("\n{token_chart}");
    }
    format!(
        "\n{}\n{token_chart}",
        crate::chart::bars("Cost (USD)", &labels, &costs, screen.width, dollars),
    )
}

/// The JSON without money (ccusage's `--no-cost`): every cost field left out, at any depth.
pub fn without_costs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !COST_FIELDS.contains(&key.as_str()));
            map.values_mut().for_each(without_costs);
        }
        Value::Array(items) => items.iter_mut().for_each(without_costs),
        _ => {}
    }
}

/// ccusage's `--sections` JSON: each report's list under its name, and the totals once (the first
/// report's: every report sums the same responses).
pub fn merged_sections(sections: Vec<(&str, Value)>) -> Value {
    let mut merged = serde_json::Map::new();
    let mut totals = None;
    for (name, mut value) in sections {
        if let Some(list) = value.get_mut(name).map(Value::take) {
            merged.insert(name.to_owned(), list);
        }
        if totals.is_none() {
            totals = value.get_mut("totals").map(Value::take);
        }
    }
    if let Some(totals) = totals {
        merged.insert("totals".into(), totals);
    }
    Value::Object(merged)
}

/// ccusage's `--project-aliases`: `name=Alias,other=Other alias` as (name, alias) pairs.
pub fn project_aliases(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, alias)) if !name.trim().is_empty() && !alias.trim().is_empty() => {
                Ok((name.trim().to_owned(), alias.trim().to_owned()))
            }
            _ => Err(format!(
                "--project-aliases: `{pair}` is not `name=alias` (pairs separated by commas)"
            )),
        })
        .collect()
}

/// The projects of a report by project (`--instances`) named by their aliases.
pub fn rename_projects(groups: &mut [Group], aliases: &[(String, String)]) {
    for group in groups.iter_mut().filter(|group| group.by == By::Project) {
        for (name, _) in &mut group.models {
            if let Some((_, alias)) = aliases.iter().find(|(project, _)| project == name) {
                *name = alias.clone();
            }
        }
    }
}

/// The time `days` days ago, UTC, in the ISO form of `Block::start`, by the database's clock.
pub fn days_ago_utc(client: &mut Client, days: i32) -> Outcome<String> {
    let row = client
        .query_one(
            "select to_char((now() - make_interval(days => $1)) at time zone 'UTC',
                            'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
            &[&days],
        )
        .map_err(|e| Failure::from_database(&e))?;
    Ok(row.get(0))
}

/// ccusage's `blocks --recent`: the blocks that start at `cutoff` or later, and the active one.
pub fn keep_recent(blocks: &mut Vec<Block>, cutoff: &str) {
    blocks.retain(|block| block.is_active || block.start.as_str() >= cutoff);
}

/// The JSON fields of the reports that hold money.
const COST_FIELDS: [&str; 4] = ["totalCost", "cost", "costUSD", "costPerHour"];

/// Messages per weekday (0 = Monday) and hour of the day, in the session's time zone.
pub fn weekday_hours(client: &mut Client, scope: &Scope) -> Outcome<[[i64; 24]; 7]> {
    let rows = client
        .query(
            "select extract(isodow from m.\"timestamp\")::int - 1, extract(hour from m.\"timestamp\")::int,
                    count(*)
             from cco.messages m
             where ($1::text is null or m.\"timestamp\" >= $1::text::date)
               and ($2::text is null or m.\"timestamp\" < $2::text::date + 1)
               and ($3::text is null or m.project_id in
                        (select p.id from cco.projects p where p.name = $3 or p.path = $3))
             group by 1, 2",
            &[&scope.since, &scope.until, &scope.project],
        )
        .map_err(|e| Failure::from_database(&e))?;
    let mut counts = [[0_i64; 24]; 7];
    for row in &rows {
        let (day, hour): (i32, i32) = (row.get(0), row.get(1));
        if let Some(cell) = counts
            .get_mut(day as usize)
            .and_then(|hours| hours.get_mut(hour as usize))
        {
            *cell = row.get(2);
        }
    }
    Ok(counts)
}

/// The heat map's counts: a list of (weekday 1 = Monday, hour, messages), busy hours only.
pub fn weekday_hours_json(counts: &[[i64; 24]; 7]) -> Value {
    let mut cells = Vec::new();
    for (day, hours) in counts.iter().enumerate() {
        for (hour, &messages) in hours.iter().enumerate() {
            if messages > 0 {
                cells.push(json!({"weekday": day + 1, "hour": hour, "messages": messages}));
            }
        }
    }
    json!({ "heatmap": cells })
}

/// A 5-hour block (or a gap between blocks).
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Start, end and last entry in UTC ISO form.
    pub start: String,
    pub end: String,
    pub last_entry: Option<String>,
    /// Start and end in the report's time zone, `YYYY-MM-DD HH:MI`.
    pub local_start: String,
    pub local_end: String,
    pub is_active: bool,
    pub is_gap: bool,
    pub entries: i64,
    pub usage: Usage,
    pub models: Vec<String>,
    pub burn: Option<BurnRate>,
}

/// How fast an active block spends, and where it will end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRate {
    pub tokens_per_minute: f64,
    pub cost_per_hour: f64,
    pub projected_tokens: i64,
    pub projected_cost: f64,
    pub remaining_minutes: i64,
}

/// The blocks starting within the scope, oldest first (computed over all usage, so a block is
/// the same whatever the scope).
pub fn blocks(client: &mut Client, scope: &Scope) -> Outcome<Vec<Block>> {
    let rows = client
        .query(
            "select to_char(b.block_start at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                    to_char(b.block_end at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                    to_char(b.last_entry at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                    to_char(b.block_start, 'YYYY-MM-DD HH24:MI'), to_char(b.block_end, 'YYYY-MM-DD HH24:MI'),
                    b.is_active, b.is_gap, b.entries, b.input_tokens, b.output_tokens,
                    b.cache_creation_tokens, b.cache_read_tokens, b.cost,
                    array(select m from unnest(b.models) m where m is not null order by m),
                    b.burn_tokens_per_minute, b.burn_cost_per_hour, b.projected_total_tokens,
                    b.projected_cost, b.remaining_minutes
             from cco.usage_blocks(
                      case when $3::text is null then null
                           else array(select p.id from cco.projects p where p.name = $3 or p.path = $3)
                      end) as b
             where ($1::text is null or b.block_start >= $1::text::date)
               and ($2::text is null or b.block_start < $2::text::date + 1)
             order by b.block_start",
            &[&scope.since, &scope.until, &scope.project],
        )
        .map_err(|e| Failure::from_database(&e))?;
    Ok(rows
        .iter()
        .map(|row| {
            let burn = match (
                row.get(14),
                row.get(15),
                row.get(16),
                row.get(17),
                row.get(18),
            ) {
                (
                    Some(tokens),
                    Some(cost),
                    Some(projected_tokens),
                    Some(projected_cost),
                    Some(left),
                ) => Some(BurnRate {
                    tokens_per_minute: tokens,
                    cost_per_hour: cost,
                    projected_tokens,
                    projected_cost,
                    remaining_minutes: left,
                }),
                _ => None,
            };
            Block {
                start: row.get(0),
                end: row.get(1),
                last_entry: row.get(2),
                local_start: row.get(3),
                local_end: row.get(4),
                is_active: row.get(5),
                is_gap: row.get(6),
                entries: row.get(7),
                usage: Usage {
                    input: row.get::<_, Option<i64>>(8).unwrap_or(0),
                    output: row.get::<_, Option<i64>>(9).unwrap_or(0),
                    cache_creation: row.get::<_, Option<i64>>(10).unwrap_or(0),
                    cache_read: row.get::<_, Option<i64>>(11).unwrap_or(0),
                    cost: row.get::<_, Option<f64>>(12).unwrap_or(0.0),
                },
                models: row.get(13),
                burn,
            }
        })
        .collect())
}

/// ccusage's JSON for the blocks report.
pub fn blocks_json(blocks: &[Block]) -> Value {
    let entries: Vec<Value> = blocks
        .iter()
        .map(|block| {
            json!({
                "id": block.start,
                "startTime": block.start,
                "endTime": block.end,
                "actualEndTime": block.last_entry,
                "isActive": block.is_active,
                "isGap": block.is_gap,
                "entries": block.entries,
                "tokenCounts": {
                    "inputTokens": block.usage.input,
                    "outputTokens": block.usage.output,
                    "cacheCreationInputTokens": block.usage.cache_creation,
                    "cacheReadInputTokens": block.usage.cache_read,
                },
                "totalTokens": block.usage.total_tokens(),
                "costUSD": block.usage.cost,
                "models": block.models,
                "burnRate": block.burn.map(|b| json!({
                    "tokensPerMinute": b.tokens_per_minute,
                    "costPerHour": b.cost_per_hour,
                })),
                "projection": block.burn.map(|b| json!({
                    "totalTokens": b.projected_tokens,
                    "totalCost": b.projected_cost,
                    "remainingMinutes": b.remaining_minutes,
                })),
            })
        })
        .collect();
    json!({ "blocks": entries })
}

/// ccusage's `blocks --token-limit`: a number of tokens, or `max`, the most tokens a finished
/// block used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLimit {
    Tokens(i64),
    Max,
}

/// Reads `--token-limit`: a positive whole number of tokens, or `max`.
pub fn token_limit(text: &str) -> Result<TokenLimit, String> {
    if text.eq_ignore_ascii_case("max") {
        return Ok(TokenLimit::Max);
    }
    match text.replace(['_', ','], "").parse::<i64>() {
        Ok(tokens) if tokens > 0 => Ok(TokenLimit::Tokens(tokens)),
        _ => Err(format!(
            "`{text}` is neither a positive number of tokens nor `max`"
        )),
    }
}

/// The active block's projection against a token limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitStatus {
    pub limit: i64,
    pub projected: i64,
    pub percent: f64,
    /// `ok`, `warning` (the projection is over 80% of the limit) or `exceeds` (over the limit).
    pub status: &'static str,
}

/// Share of the limit above which a projection is a warning.
const LIMIT_WARNING_PERCENT: f64 = 80.0;

/// The active block's projected tokens against `limit`; none without an active block with a
/// projection, or with `max` when no finished block used any tokens.
pub fn limit_status(blocks: &[Block], limit: TokenLimit) -> Option<LimitStatus> {
    let burn = blocks.iter().find(|b| b.is_active)?.burn?;
    let limit = match limit {
        TokenLimit::Tokens(tokens) => tokens,
        TokenLimit::Max => blocks
            .iter()
            .filter(|b| !b.is_active && !b.is_gap)
            .map(|b| b.usage.total_tokens())
            .max()
            .filter(|&most| most > 0)?,
    };
    let percent = burn.projected_tokens as f64 * 100.0 / limit as f64;
    let status = if burn.projected_tokens > limit {
        "exceeds"
    } else if percent > LIMIT_WARNING_PERCENT {
        "warning"
    } else {
        "ok"
    };
    Some(LimitStatus {
        limit,
        projected: burn.projected_tokens,
        percent,
        status,
    })
}

/// The blocks' JSON with ccusage's `tokenLimitStatus` on the active block.
pub fn with_limit_status(value: &mut Value, status: &LimitStatus) {
    let Some(blocks) = value["blocks"].as_array_mut() else {
        return;
    };
    for block in blocks.iter_mut().filter(|b| b["isActive"] == true) {
        block["tokenLimitStatus"] = json!({
            "limit": status.limit,
            "projectedUsage": status.projected,
            "percentUsed": status.percent,
            "status": status.status,
        });
    }
}

/// The line below the active block that says how its projection stands to the limit.
pub fn limit_status_text(status: &LimitStatus) -> String {
    format!(
        "  Token limit: {} tokens, projected {:.1}%: {}\n",
        thousands(status.limit),
        status.percent,
        match status.status {
            "exceeds" => "EXCEEDS LIMIT",
            "warning" => "WARNING",
            _ => "ok",
        }
    )
}

/// The blocks as a table, and the active block's burn rate and projection below it.
pub fn blocks_table(blocks: &[Block], screen: Screen) -> String {
    let columns = [
        column("Block Start", false, false),
        column("Status", false, false),
        column("Models", false, true),
        column("Tokens", true, false),
        column("Cost (USD)", true, false),
    ];
    let mut rows = Vec::new();
    let mut sum = Usage::default();
    for block in blocks {
        let status = if block.is_gap {
            "(gap)".to_owned()
        } else if block.is_active {
            let left = block.burn.map_or(0, |b| b.remaining_minutes);
            format!("ACTIVE, {} left", hours_minutes(left))
        } else {
            String::new()
        };
        let models: Vec<String> = block.models.iter().map(|m| short_model(m)).collect();
        rows.push((
            RowKind::Entry,
            vec![
                block.local_start.clone(),
                status,
                models.join("\n"),
                thousands(block.usage.total_tokens()),
                dollars(block.usage.cost),
            ],
        ));
        sum.add(&block.usage);
    }
    rows.push((
        RowKind::Total,
        vec![
            "Total".into(),
            String::new(),
            String::new(),
            thousands(sum.total_tokens()),
            dollars(sum.cost),
        ],
    ));
    let mut text = render(&columns, &rows, screen);
    if let Some(active) = blocks.iter().find(|b| b.is_active) {
        text.push_str(&if screen.no_cost {
            active_block_tokens_text(active)
        } else {
            active_block_text(active)
        });
    }
    text
}

/// The active block as `active_block_text` says it, without money (`--no-cost`).
pub fn active_block_tokens_text(block: &Block) -> String {
    let Some(burn) = block.burn else {
        return active_block_text(block);
    };
    format!(
        "Active block {} to {}: {} left\n  Burn rate:  {} tokens/min\n  Projection: {} tokens by the block's end\n",
        block.local_start,
        block.local_end,
        hours_minutes(burn.remaining_minutes),
        thousands(burn.tokens_per_minute.round() as i64),
        thousands(burn.projected_tokens),
    )
}

/// The active block in three lines: time left, burn rate, projection.
pub fn active_block_text(block: &Block) -> String {
    let Some(burn) = block.burn else {
        return format!(
            "Active block {} to {}\n",
            block.local_start, block.local_end
        );
    };
    format!(
        "Active block {} to {}: {} left\n  Burn rate:  {} tokens/min, {}/hour\n  Projection: {} tokens, {} by the block's end\n",
        block.local_start,
        block.local_end,
        hours_minutes(burn.remaining_minutes),
        thousands(burn.tokens_per_minute.round() as i64),
        dollars(burn.cost_per_hour),
        thousands(burn.projected_tokens),
        dollars(burn.projected_cost),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: i64, output: i64, cost: f64) -> Usage {
        Usage {
            input,
            output,
            cache_creation: 10,
            cache_read: 100,
            cost,
        }
    }

    fn groups() -> Vec<Group> {
        vec![
            Group {
                key: "2025-12-20".into(),
                models: vec![
                    ("claude-opus-4-5-20251101".into(), usage(1000, 200, 1.5)),
                    ("claude-haiku-4-5-20251001".into(), usage(50, 5, 0.25)),
                ],
                ..Group::default()
            },
            Group {
                key: "2025-12-21".into(),
                models: vec![("claude-opus-4-5-20251101".into(), usage(1, 2, 0.01))],
                ..Group::default()
            },
        ]
    }

    #[test]
    fn json_has_ccusage_fields_and_totals() {
        let value = period_json(Period::Day, &groups());
        let first = &value["daily"][0];
        assert_eq!(first["period"], "2025-12-20");
        assert_eq!(first["date"], "2025-12-20");
        assert_eq!(first["inputTokens"], 1050);
        assert_eq!(first["totalTokens"], 1050 + 205 + 20 + 200);
        assert_eq!(
            first["modelsUsed"],
            json!(["claude-haiku-4-5-20251001", "claude-opus-4-5-20251101"])
        );
        assert_eq!(
            first["modelBreakdowns"][0]["modelName"],
            "claude-opus-4-5-20251101"
        );
        assert_eq!(value["totals"]["inputTokens"], 1051);
        assert!((value["totals"]["totalCost"].as_f64().unwrap() - 1.76).abs() < 1e-9);
        assert!(period_json(Period::Week { monday: false }, &[])["weekly"]
            .as_array()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_table_has_a_line_per_model_when_broken_down_and_a_total() {
        let screen = Screen {
            width: 200,
            colour: false,
            compact: false,
            no_cost: false,
        };
        let plain = period_table(Period::Day, &groups(), false, screen);
        let broken_down = period_table(Period::Day, &groups(), true, screen);
        assert!(plain.contains("- haiku-4-5") && !plain.contains("└─ "));
        assert_eq!(broken_down.matches("└─ ").count(), 3);
        assert!(plain.contains("│ Total"));
        assert!(plain.contains("$1.76"));
    }

    #[test]
    fn the_active_block_says_time_left_burn_rate_and_projection() {
        let block = Block {
            start: "2025-12-20T08:00:00.000Z".into(),
            end: "2025-12-20T13:00:00.000Z".into(),
            last_entry: None,
            local_start: "2025-12-20 13:45".into(),
            local_end: "2025-12-20 18:45".into(),
            is_active: true,
            is_gap: false,
            entries: 3,
            usage: usage(1, 1, 1.0),
            models: vec![],
            burn: Some(BurnRate {
                tokens_per_minute: 1234.4,
                cost_per_hour: 2.5,
                projected_tokens: 400_000,
                projected_cost: 9.0,
                remaining_minutes: 125,
            }),
        };
        assert_eq!(
            active_block_text(&block),
            "Active block 2025-12-20 13:45 to 2025-12-20 18:45: 2h 05m left\n  Burn rate:  1,234 tokens/min, $2.50/hour\n  Projection: 400,000 tokens, $9.00 by the block's end\n"
        );
    }

    fn active_block() -> Block {
        Block {
            start: "2025-12-20T08:00:00.000Z".into(),
            end: "2025-12-20T13:00:00.000Z".into(),
            last_entry: None,
            local_start: "2025-12-20 08:00".into(),
            local_end: "2025-12-20 13:00".into(),
            is_active: true,
            is_gap: false,
            entries: 3,
            usage: usage(1, 1, 1.0),
            models: vec![],
            burn: Some(BurnRate {
                tokens_per_minute: 10.0,
                cost_per_hour: 2.5,
                projected_tokens: 4_000,
                projected_cost: 9.0,
                remaining_minutes: 60,
            }),
        }
    }

    #[test]
    fn no_cost_leaves_money_out_of_tables_charts_and_json() {
        let screen = Screen {
            width: 200,
            colour: false,
            compact: false,
            no_cost: true,
        };
        let table = period_table(Period::Day, &groups(), true, screen);
        assert!(!table.contains('$') && !table.contains("Cost") && table.contains("1,475"));
        let charts = period_charts(&groups(), screen);
        assert!(!charts.contains("Cost") && charts.contains("Total tokens"));
        let blocks = blocks_table(&[active_block()], screen);
        assert!(!blocks.contains('$') && blocks.contains("4,000 tokens by the block's end"));
        let mut value = period_json(Period::Day, &groups());
        without_costs(&mut value);
        let text = value.to_string();
        assert!(!text.contains("Cost") && !text.contains("\"cost\""));
        assert_eq!(value["totals"]["inputTokens"], 1051);
        let mut block = blocks_json(&[active_block()]);
        without_costs(&mut block);
        assert!(!block.to_string().contains("cost") && !block.to_string().contains("Cost"));
        assert_eq!(block["blocks"][0]["burnRate"]["tokensPerMinute"], 10.0);
    }

    #[test]
    fn project_aliases_are_read_and_applied_to_projects_only() {
        assert_eq!(
            project_aliases("shop=Shop front, /w/api = API,").unwrap(),
            [
                ("shop".to_owned(), "Shop front".to_owned()),
                ("/w/api".to_owned(), "API".to_owned())
            ]
        );
        assert!(project_aliases("shop").unwrap_err().contains("`shop`"));
        assert!(project_aliases("=x").is_err());
        let aliases = project_aliases("claude-opus-4-5-20251101=Opus").unwrap();
        let mut by_model = groups();
        rename_projects(&mut by_model, &aliases);
        assert_eq!(by_model[0].models[0].0, "claude-opus-4-5-20251101");
        let mut by_project: Vec<Group> = groups()
            .into_iter()
            .map(|g| Group {
                by: By::Project,
                ..g
            })
            .collect();
        rename_projects(&mut by_project, &aliases);
        assert_eq!(by_project[0].models[0].0, "Opus");
        assert_eq!(by_project[0].models[1].0, "claude-haiku-4-5-20251001");
    }

    #[test]
    fn recent_blocks_start_at_the_cutoff_or_are_active() {
        let old = Block {
            is_active: false,
            start: "2025-12-10T08:00:00.000Z".into(),
            ..active_block()
        };
        let recent = Block {
            is_active: false,
            start: "2025-12-18T08:00:00.000Z".into(),
            ..active_block()
        };
        let mut blocks = vec![old.clone(), recent, active_block()];
        keep_recent(&mut blocks, "2025-12-18T08:00:00.000Z");
        assert_eq!(blocks.len(), 2);
        assert!(blocks.iter().all(|b| b.start != old.start));
    }

    #[test]
    fn the_token_limit_judges_the_active_blocks_projection() {
        assert_eq!(token_limit("500000"), Ok(TokenLimit::Tokens(500_000)));
        assert_eq!(token_limit("5_000"), Ok(TokenLimit::Tokens(5_000)));
        assert_eq!(token_limit("MAX"), Ok(TokenLimit::Max));
        assert!(token_limit("0").is_err() && token_limit("lots").is_err());
        let finished = Block {
            is_active: false,
            usage: usage(2_000, 500, 1.0),
            ..active_block()
        };
        let blocks = [finished, active_block()];
        let status = |limit| limit_status(&blocks, limit).unwrap();
        assert_eq!(status(TokenLimit::Tokens(10_000)).status, "ok");
        assert_eq!(status(TokenLimit::Tokens(4_500)).status, "warning");
        assert_eq!(status(TokenLimit::Tokens(4_000)).status, "warning");
        assert_eq!(status(TokenLimit::Tokens(3_999)).status, "exceeds");
        let max = status(TokenLimit::Max);
        assert_eq!((max.limit, max.projected), (2_610, 4_000));
        assert_eq!(max.status, "exceeds");
        assert_eq!(
            limit_status_text(&max),
            "  Token limit: 2,610 tokens, projected 153.3%: EXCEEDS LIMIT\n"
        );
        assert!(limit_status(&blocks[..1], TokenLimit::Tokens(1)).is_none());
        assert!(limit_status(&blocks[1..], TokenLimit::Max).is_none());
        let mut value = blocks_json(&blocks);
        with_limit_status(&mut value, &max);
        assert!(value["blocks"][0].get("tokenLimitStatus").is_none());
        assert_eq!(value["blocks"][1]["tokenLimitStatus"]["status"], "exceeds");
        assert_eq!(
            value["blocks"][1]["tokenLimitStatus"]["projectedUsage"],
            4_000
        );
    }

    #[test]
    fn sections_share_one_totals() {
        let daily = period_json(Period::Day, &groups());
        let monthly = period_json(Period::Month, &groups());
        let merged = merged_sections(vec![("daily", daily.clone()), ("monthly", monthly.clone())]);
        assert_eq!(merged["daily"], daily["daily"]);
        assert_eq!(merged["monthly"], monthly["monthly"]);
        assert_eq!(merged["totals"], daily["totals"]);
        assert_eq!(merged.as_object().unwrap().len(), 3);
        assert_eq!(merged_sections(vec![("daily", daily.clone())]), daily);
    }
}
