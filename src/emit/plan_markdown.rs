//! `stackplan plan --format markdown`: the plan as a table, for `$GITHUB_STEP_SUMMARY` or a
//! pull-request comment.

use std::fmt::Write;

use super::satisfied::{Actions, satisfied};
use crate::plan::Plan;

/// Escapes what would break a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let (build, reuse, _) = plan.action_counts();
    let _ = writeln!(
        s,
        "### stackplan: {build} of {} targets build, {reuse} reused, on `{}`\n",
        plan.targets.len(),
        plan.branch
    );
    if let Some(why) = &plan.full_rebuild {
        let _ = writeln!(s, "Full rebuild: {}\n", cell(&why.to_string()));
    }
    s.push_str("| target | action | why | tag | cache from |\n| --- | --- | --- | --- | --- |\n");
    let actions = Actions::of(plan);
    for t in &plan.targets {
        let reasons = if t.reasons.is_empty() {
            "unchanged".to_string()
        } else {
            let mut shown: Vec<String> = t
                .reasons
                .iter()
                .take(3)
                .map(|r| cell(&actions.reason(r)))
                .collect();
            if t.reasons.len() > 3 {
                shown.push(format!("and {} more", t.reasons.len() - 3));
            }
            shown.join("<br>")
        };
        // A target that is not built leads with how it is satisfied.
        let why = match satisfied(t) {
            Some((how, what)) => format!("{how} {}<br>{reasons}", cell(&what)),
            None if t.action_reason != crate::plan::action::ActionReason::ChangeRules => {
                format!("{reasons}<br>{}", cell(&t.action_reason.to_string()))
            }
            None => reasons,
        };
        let why = match t.tests {
            Some(tests) => format!(
                "{why}<br>tests {}",
                cell(super::plan_text::tests_line(tests))
            ),
            None => why,
        };
        let cache_from = t.cache_from();
        let cache = if t.builds() && !cache_from.is_empty() {
            cache_from
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join("<br>")
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | `{}` | {} |",
            t.name,
            match t.action {
                crate::plan::action::Action::Build => "**build**",
                crate::plan::action::Action::Reuse => "reuse",
                crate::plan::action::Action::None => "keep",
            },
            why,
            t.reference(),
            cache
        );
    }
    s
}
