//! `stackplan plan`: the plan as a tree a person reads, one block per target.
//!
//! Styles are written as ANSI sequences (anstyle); the binary prints through anstream,
//! which drops them when stdout is not a terminal or `NO_COLOR` is set.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::satisfied::{Actions, satisfied};
use crate::plan::action::{Action, ActionReason};
use crate::plan::{ParentSource, Plan, Target};
use crate::ref_facts::RefState;
use crate::test_record::TestStatus;

const BUILD: Style = AnsiColor::Yellow.on_default().bold();
const REUSE: Style = AnsiColor::Cyan.on_default().bold();
const KEEP: Style = Style::new().dimmed();
const LABEL: Style = Style::new().dimmed();
const HEAD: Style = Style::new().bold();

/// How many reasons a target shows before "and N more".
const MAX_REASONS: usize = 5;

pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let changes = match (plan.base.as_deref(), plan.head.as_deref()) {
        (Some(base), Some(head)) => format!("changes {}..{}", short(base), short(head)),
        (Some(base), None) => format!("changes since {} in the working tree", short(base)),
        (None, _) => "changes as given".to_string(),
    };
    let _ = writeln!(
        s,
        "{HEAD}Plan for branch {}{HEAD:#} ({changes})",
        plan.branch
    );
    let (build, reuse, none) = plan.action_counts();
    let _ = write!(
        s,
        "{build} build, {reuse} reuse, {none} keep of {} targets · {} changed file{}",
        plan.targets.len(),
        plan.changed_files.len(),
        if plan.changed_files.len() == 1 {
            ""
        } else {
            "s"
        }
    );
    if !plan.ignored_files.is_empty() {
        let _ = write!(s, ", {} ignored", plan.ignored_files.len());
    }
    let registry = if plan.registry_probed {
        "registry probed"
    } else {
        "registry not probed (state unknown)"
    };
    let _ = writeln!(s, " · {registry}");
    if let Some(why) = &plan.full_rebuild {
        let _ = writeln!(s, "Full rebuild: {why}");
    }
    for (path, rule) in &plan.ignored_files {
        let _ = writeln!(s, "{LABEL}ignored{LABEL:#} {path} (ChangeIgnore `{rule}`)");
    }
    for path in &plan.unowned_files {
        let _ = writeln!(
            s,
            "{LABEL}no image{LABEL:#} {path} (in no image folder, matches no rule)"
        );
    }

    let actions = Actions::of(plan);
    let mut current_plan: Option<&Option<String>> = None;
    for t in display_order(plan) {
        if !plan.plans.is_empty() && current_plan != Some(&t.plan) {
            current_plan = Some(&t.plan);
            let _ = writeln!(
                s,
                "\n{HEAD}plan {}{HEAD:#} (tag prefix {})",
                t.plan.as_deref().unwrap_or("-"),
                t.tag_prefix
            );
        } else if current_plan.is_none() {
            current_plan = Some(&t.plan);
            s.push('\n');
        }
        target_block(&mut s, t, &actions);
    }
    s
}

fn target_block(s: &mut String, t: &Target, actions: &Actions<'_>) {
    let indent = "   ".repeat(t.depth);
    let branch = if t.depth > 0 { "└─ " } else { "" };
    let (state, style) = match t.action {
        Action::Build => ("BUILD", BUILD),
        Action::Reuse => ("REUSE", REUSE),
        Action::None => ("keep", KEEP),
    };
    let _ = writeln!(
        s,
        "{style}{state:<7}{style:#}  {indent}{branch}{HEAD}{}{HEAD:#}  {}",
        t.name,
        t.reference()
    );
    let pad = format!("         {indent}{}", if t.depth > 0 { "   " } else { "" });
    // A target that is not built says first how it is satisfied, then why the change
    // rules put it in the plan.
    let satisfied = satisfied(t);
    if let Some((how, what)) = &satisfied {
        let _ = writeln!(s, "{pad}{LABEL}{how:<6}{LABEL:#} {what}");
    }
    for reason in t.reasons.iter().take(MAX_REASONS) {
        let _ = writeln!(s, "{pad}{LABEL}why{LABEL:#}    {}", actions.reason(reason));
    }
    if t.reasons.len() > MAX_REASONS {
        let _ = writeln!(
            s,
            "{pad}{LABEL}why{LABEL:#}    ... and {} more (see --format json)",
            t.reasons.len() - MAX_REASONS
        );
    }
    if !t.rebuild {
        let _ = writeln!(
            s,
            "{pad}{LABEL}why{LABEL:#}    nothing it is built from changed"
        );
    }
    if t.action_reason != ActionReason::ChangeRules && satisfied.is_none() {
        let _ = writeln!(s, "{pad}{LABEL}action{LABEL:#} {}", t.action_reason);
    }
    if let Some(tests) = t.tests {
        let _ = writeln!(s, "{pad}{LABEL}tests{LABEL:#}  {}", tests_line(tests));
    }
    if t.action != Action::Build {
        return;
    }
    let states = t.states_by_ref();
    let cache: Vec<String> = t
        .cache_from()
        .iter()
        .map(|r| match states.get(r) {
            Some(RefState::Present) | None => r.clone(),
            Some(state) => format!("{r} ({state})"),
        })
        .collect();
    if cache.is_empty() {
        let _ = writeln!(
            s,
            "{pad}{LABEL}cache{LABEL:#}  none (nothing to cache from in the registry)"
        );
    }
    for (i, entry) in cache.iter().enumerate() {
        let label = if i == 0 { "cache" } else { "" };
        let _ = writeln!(s, "{pad}{LABEL}{label:<5}{LABEL:#}  {entry}");
    }
    if let Some(input) = &t.parent_input {
        let from = match &input.source {
            ParentSource::Target { name, .. } => format!("target {name} (same build)"),
            ParentSource::Image(r) => r.clone(),
        };
        let _ = writeln!(s, "{pad}{LABEL}from{LABEL:#}   {} <- {from}", input.from);
    }
    for (from, pinned) in &t.pinned_bases {
        let _ = writeln!(s, "{pad}{LABEL}base{LABEL:#}   {from} <- {pinned}");
    }
    if t.inputs.pinned {
        let _ = writeln!(s, "{pad}{LABEL}inputs{LABEL:#} {}", t.inputs.digest);
    }
}

/// What the test records say of a target the matrix would retest.
pub(super) fn tests_line(tests: TestStatus) -> &'static str {
    match tests {
        TestStatus::Passed => {
            "passed: its image passed these tests already (the matrix leaves it out)"
        }
        TestStatus::Failed => {
            "failed: its image's newest record for these tests is a failure (the matrix retests it)"
        }
        TestStatus::Untested => {
            "untested: no record of its image and these tests (the matrix retests it)"
        }
    }
}

/// Targets depth-first from each root, so children sit under their parent; plans apart.
fn display_order(plan: &Plan) -> Vec<&Target> {
    let mut out = Vec::with_capacity(plan.targets.len());
    let mut children: std::collections::BTreeMap<&str, Vec<&Target>> = Default::default();
    let mut roots = Vec::new();
    for t in &plan.targets {
        match &t.parent {
            Some(p) => children.entry(p.as_str()).or_default().push(t),
            None => roots.push(t),
        }
    }
    roots.sort_by(|a, b| (&a.plan, &a.name).cmp(&(&b.plan, &b.name)));
    let mut stack: Vec<&Target> = roots.into_iter().rev().collect();
    while let Some(t) = stack.pop() {
        out.push(t);
        if let Some(kids) = children.get(t.name.as_str()) {
            stack.extend(kids.iter().rev());
        }
    }
    out
}

fn short(rev: &str) -> &str {
    if rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
        &rev[..12]
    } else {
        rev
    }
}
