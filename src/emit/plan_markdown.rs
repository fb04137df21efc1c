//! `stackplan plan --format markdown`: the plan as a table, for `$GITHUB_STEP_SUMMARY` or a
//! pull-request comment.

use std::fmt::Write;

use crate::plan::Plan;

/// Escapes what would break a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let rebuild = plan.rebuilt().count();
    let _ = writeln!(
        s,
        "### stackplan: {rebuild} of {} targets rebuild on `{}`\n",
        plan.targets.len(),
        plan.branch
    );
    if let Some(why) = &plan.full_rebuild {
        let _ = writeln!(s, "Full rebuild: {}\n", cell(&why.to_string()));
    }
    s.push_str("| target | rebuild | why | tag | cache from |\n| --- | --- | --- | --- | --- |\n");
    for t in &plan.targets {
        let why = if t.reasons.is_empty() {
            "unchanged".to_string()
        } else {
            let mut shown: Vec<String> = t
                .reasons
                .iter()
                .take(3)
                .map(|r| cell(&r.to_string()))
                .collect();
            if t.reasons.len() > 3 {
                shown.push(format!("and {} more", t.reasons.len() - 3));
            }
            shown.join("<br>")
        };
        let cache = if t.rebuild && !t.cache_from.is_empty() {
            t.cache_from
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
            if t.rebuild { "**yes**" } else { "no" },
            why,
            t.reference(),
            cache
        );
    }
    s
}
