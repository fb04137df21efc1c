//! `stackplan graph`: the stack's DAG as Graphviz DOT or a Mermaid flowchart, rebuilt
//! targets marked.

use crate::plan::Plan;

/// Graphviz DOT: rebuilt targets filled, the others dashed.
pub fn dot(plan: &Plan) -> String {
    let mut s = String::from(
        "digraph stack {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for t in &plan.targets {
        let style = if t.rebuild {
            "style=filled, fillcolor=\"#ffd27f\""
        } else {
            "style=dashed"
        };
        let label = format!(
            "{}\\n{}{}",
            t.name,
            t.tag,
            if t.rebuild { "\\nrebuild" } else { "" }
        );
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

/// A Mermaid flowchart: rebuilt targets in the `rebuild` class.
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
        let mark = if t.rebuild { " (rebuild)" } else { "" };
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
    let rebuilt: Vec<String> = plan.rebuilt().map(|t| id(&t.name)).collect();
    s.push_str("  classDef rebuild fill:#ffd27f,stroke:#b37400\n");
    if !rebuilt.is_empty() {
        s.push_str(&format!("  class {} rebuild\n", rebuilt.join(",")));
    }
    s
}
