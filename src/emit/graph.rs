//! `stackplan graph`: the stack's DAG as Graphviz DOT or a Mermaid flowchart, targets
//! that build filled, reused ones marked.

use crate::plan::Plan;
use crate::plan::action::Action;

/// Graphviz DOT: targets that build or are reused filled, the others dashed.
pub fn dot(plan: &Plan) -> String {
    let mut s = String::from(
        "digraph stack {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for t in &plan.targets {
        let (style, mark) = match t.action {
            Action::Build => ("style=filled, fillcolor=\"#ffd27f\"", "\\nbuild"),
            Action::Reuse => ("style=filled, fillcolor=\"#bfe3ff\"", "\\nreuse"),
            Action::None => ("style=dashed", ""),
        };
        let label = format!("{}\\n{}{mark}", t.name, t.tag);
        s.push_str(&format!(
            "  \"{}\" [label=\"{}\", {}];\n",
            t.name, label, style
        ));
    }
    for t in &plan.targets {
        if let Some(p) = &t.parent {
            s.push_str(&format!("  \"{p}\" -> \"{}\";\n", t.name));
        }
    }
    s.push_str("}\n");
    s
}

/// A Mermaid flowchart: targets that build in the `build` class, reused ones in `reuse`.
pub fn mermaid(plan: &Plan) -> String {
    let mut s = String::from("flowchart LR\n");
    // Node ids by position: target names may hold `-`, which Mermaid reads as edges.
    let ids: std::collections::BTreeMap<&str, String> = plan
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), format!("t{i}")))
        .collect();
    let id = |name: &str| ids.get(name).cloned().unwrap_or_default();
    for t in &plan.targets {
        let mark = match t.action {
            Action::Build => " (build)",
            Action::Reuse => " (reuse)",
            Action::None => "",
        };
        s.push_str(&format!(
            "  {}[\"{}<br/>{}{}\"]\n",
            id(&t.name),
            t.name,
            t.tag,
            mark
        ));
    }
    for t in &plan.targets {
        if let Some(p) = &t.parent {
            s.push_str(&format!("  {} --> {}\n", id(p), id(&t.name)));
        }
    }
    s.push_str("  classDef build fill:#ffd27f,stroke:#b37400\n");
    s.push_str("  classDef reuse fill:#bfe3ff,stroke:#1f6fb2\n");
    for action in [Action::Build, Action::Reuse] {
        let ids: Vec<String> = plan
            .targets
            .iter()
            .filter(|t| t.action == action)
            .map(|t| id(&t.name))
            .collect();
        if !ids.is_empty() {
            s.push_str(&format!("  class {} {action}\n", ids.join(",")));
        }
    }
    s
}
