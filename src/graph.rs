//! The stack as a graph: parent → child edges from `depend_on` (petgraph).
//!
//! Owns cycle detection, the stable order every output uses (depth from the roots, then
//! key). Knows nothing of plans, tags or files.

use std::collections::{BTreeMap, HashMap};

use petgraph::Direction;
use petgraph::graph::DiGraph;

use crate::diagnostic::Diagnostic;
use crate::spec::Spec;

#[derive(Clone, Debug)]
pub struct StackGraph {
    /// Image keys, parents before children; among equals by depth, then key.
    order: Vec<String>,
    depth: HashMap<String, usize>,
}

impl StackGraph {
    /// Builds the graph; a cycle in `depend_on` is an error that prints the cycle.
    pub fn new(spec: &Spec) -> Result<StackGraph, Diagnostic> {
        let mut graph: DiGraph<String, ()> =
            DiGraph::with_capacity(spec.images.len(), spec.images.len());
        let mut index = BTreeMap::new();
        for key in spec.images.keys() {
            index.insert(key.clone(), graph.add_node(key.clone()));
        }
        for image in spec.images.values() {
            if let Some(parent) = &image.depend_on
                && let (Some(&p), Some(&c)) = (index.get(parent), index.get(&image.key))
            {
                graph.add_edge(p, c, ());
            }
        }
        // petgraph finds whether there is a cycle; the walk that names it runs only then.
        let Ok(topological) = petgraph::algo::toposort(&graph, None) else {
            let cycle = find_cycle(spec).expect("petgraph found a cycle");
            let first = &spec.images[&cycle[0]];
            return Err(Diagnostic::error(format!(
                "depend_on forms a cycle: {}",
                cycle.join(" -> ")
            ))
            .in_file(&spec.file)
            .at(first.depend_on_position)
            .help("an image cannot be built on one of its own descendants: remove one depend_on of the cycle"));
        };
        // With one parent per image and no cycle, depth is well defined: parents come first
        // in a topological order, each child one deeper than its parent.
        let mut depths = vec![0usize; graph.node_count()];
        for node in topological {
            for child in graph.neighbors_directed(node, Direction::Outgoing) {
                depths[child.index()] = depths[node.index()] + 1;
            }
        }
        let depth: HashMap<String, usize> = index
            .iter()
            .map(|(key, node)| (key.clone(), depths[node.index()]))
            .collect();
        let mut by_depth: Vec<(usize, &String)> = depth.iter().map(|(k, d)| (*d, k)).collect();
        by_depth.sort();
        let order: Vec<String> = by_depth.into_iter().map(|(_, k)| k.clone()).collect();
        Ok(StackGraph { order, depth })
    }

    /// Image keys, parents before children (depth, then key).
    pub fn order(&self) -> &[String] {
        &self.order
    }

    pub fn depth(&self, key: &str) -> usize {
        self.depth.get(key).copied().unwrap_or(0)
    }
}

/// Follows `depend_on` from every image; returns the first cycle found, starting at its
/// smallest key so the message is stable.
fn find_cycle(spec: &Spec) -> Option<Vec<String>> {
    for start in spec.images.keys() {
        let mut path: Vec<&String> = vec![start];
        let mut cur = spec.images[start].depend_on.as_ref();
        while let Some(p) = cur {
            if let Some(pos) = path.iter().position(|k| *k == p) {
                let mut cycle: Vec<String> = path[pos..].iter().map(|s| s.to_string()).collect();
                let min = cycle
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.cmp(b.1))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                cycle.rotate_left(min);
                let first = cycle[0].clone();
                cycle.push(first);
                return Some(cycle);
            }
            if !spec.images.contains_key(p) {
                break;
            }
            path.push(p);
            cur = spec.images[p].depend_on.as_ref();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(edges: &[(&str, Option<&str>)]) -> Spec {
        let mut text = String::from("tag: {prefix: '1'}\nimages:\n");
        for (k, p) in edges {
            text.push_str(&format!("  {k}:\n    image_name: r.io/{k}\n"));
            if let Some(p) = p {
                text.push_str(&format!("    depend_on: {p}\n"));
            }
        }
        Spec::parse(&text, Path::new("spec.yml")).unwrap().0
    }

    #[test]
    fn order_is_parents_first_then_name() {
        let s = spec(&[
            ("z", None),
            ("b", Some("z")),
            ("a", Some("b")),
            ("c", Some("z")),
        ]);
        let g = StackGraph::new(&s).unwrap();
        assert_eq!(g.order(), ["z", "b", "c", "a"]);
        assert_eq!(g.depth("a"), 2);
    }

    #[test]
    fn cycle_is_printed() {
        let text = "tag: {prefix: '1'}\nimages:\n  a: {image_name: r.io/a, depend_on: c}\n  b: {image_name: r.io/b, depend_on: a}\n  c: {image_name: r.io/c, depend_on: b}\n";
        let s = Spec::parse(text, Path::new("spec.yml")).unwrap().0;
        let err = StackGraph::new(&s).unwrap_err();
        assert!(err.message.contains("a -> c -> b -> a"), "{}", err.message);
    }
}
