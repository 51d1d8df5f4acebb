//! Graph checks for workflows: shape errors, cycle detection with the
//! cycle's path, topological order, parents and children.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why a graph is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("node key {0:?} appears twice")]
    DuplicateNode(String),
    #[error("edge {index} names unknown node {key:?}")]
    UnknownNode { index: usize, key: String },
    #[error("edge {index} joins {key:?} to itself")]
    SelfEdge { index: usize, key: String },
    #[error("edge {index} ({parent:?} → {child:?}) appears twice")]
    DuplicateEdge {
        index: usize,
        parent: String,
        child: String,
    },
    /// The path of a cycle, its first node repeated at the end.
    #[error("edges form a cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
}

impl GraphError {
    /// The request field at fault, for error messages.
    pub fn field(&self) -> String {
        match self {
            GraphError::DuplicateNode(_) => "nodes".into(),
            GraphError::UnknownNode { index, .. }
            | GraphError::SelfEdge { index, .. }
            | GraphError::DuplicateEdge { index, .. } => format!("edges[{index}]"),
            GraphError::Cycle(_) => "edges".into(),
        }
    }
}

/// Checks nodes and edges and returns a topological order (parents before
/// children; ties in key order, so the order is stable).
pub fn check(nodes: &[String], edges: &[(String, String)]) -> Result<Vec<String>, GraphError> {
    let mut known = BTreeSet::new();
    for key in nodes {
        if !known.insert(key.as_str()) {
            return Err(GraphError::DuplicateNode(key.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    for (index, (parent, child)) in edges.iter().enumerate() {
        for key in [parent, child] {
            if !known.contains(key.as_str()) {
                return Err(GraphError::UnknownNode {
                    index,
                    key: key.clone(),
                });
            }
        }
        if parent == child {
            return Err(GraphError::SelfEdge {
                index,
                key: parent.clone(),
            });
        }
        if !seen.insert((parent.as_str(), child.as_str())) {
            return Err(GraphError::DuplicateEdge {
                index,
                parent: parent.clone(),
                child: child.clone(),
            });
        }
    }
    if let Some(cycle) = find_cycle(nodes, edges) {
        return Err(GraphError::Cycle(cycle));
    }
    Ok(topological_order(nodes, edges))
}

fn children_map(edges: &[(String, String)]) -> BTreeMap<&str, Vec<&str>> {
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (parent, child) in edges {
        children.entry(parent).or_default().push(child);
    }
    for list in children.values_mut() {
        list.sort_unstable();
    }
    children
}

/// A cycle's path (`a, b, c, a`) if the edges have one.
pub fn find_cycle(nodes: &[String], edges: &[(String, String)]) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let children = children_map(edges);
    let mut mark: HashMap<&str, Mark> = nodes.iter().map(|n| (n.as_str(), Mark::New)).collect();
    let mut sorted: Vec<&str> = nodes.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    for start in sorted {
        if mark.get(start) != Some(&Mark::New) {
            continue;
        }
        // Iterative depth-first search; `path` is the current chain.
        let mut path: Vec<&str> = vec![start];
        let mut next_child: Vec<usize> = vec![0];
        mark.insert(start, Mark::OnPath);
        while let Some(&node) = path.last() {
            let i = next_child.last().copied().unwrap_or(0);
            let kids = children.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&child) = kids.get(i) {
                if let Some(n) = next_child.last_mut() {
                    *n += 1;
                }
                match mark.get(child).copied().unwrap_or(Mark::Done) {
                    Mark::New => {
                        mark.insert(child, Mark::OnPath);
                        path.push(child);
                        next_child.push(0);
                    }
                    Mark::OnPath => {
                        let from = path.iter().position(|n| *n == child).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            path[from..].iter().map(|s| s.to_string()).collect();
                        cycle.push(child.to_string());
                        return Some(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                mark.insert(node, Mark::Done);
                path.pop();
                next_child.pop();
            }
        }
    }
    None
}

/// Kahn's algorithm; assumes no cycle (nodes on a cycle are left out).
pub fn topological_order(nodes: &[String], edges: &[(String, String)]) -> Vec<String> {
    let children = children_map(edges);
    let mut indegree: BTreeMap<&str, usize> = nodes.iter().map(|n| (n.as_str(), 0)).collect();
    for (_, child) in edges {
        if let Some(d) = indegree.get_mut(child.as_str()) {
            *d += 1;
        }
    }
    let mut ready: BTreeSet<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(n, _)| *n)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(node) = ready.pop_first() {
        order.push(node.to_string());
        for child in children.get(node).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(d) = indegree.get_mut(child) {
                *d -= 1;
                if *d == 0 {
                    ready.insert(child);
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn edges(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn diamond_is_ordered_parents_first() {
        let order = check(
            &keys(&["d", "c", "b", "a"]),
            &edges(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]),
        )
        .expect("acyclic");
        assert_eq!(order, keys(&["a", "b", "c", "d"]));
    }

    #[test]
    fn a_cycle_is_reported_with_its_path() {
        let err = check(
            &keys(&["a", "b", "c", "x"]),
            &edges(&[("x", "a"), ("a", "b"), ("b", "c"), ("c", "a")]),
        )
        .unwrap_err();
        assert_eq!(err, GraphError::Cycle(keys(&["a", "b", "c", "a"])));
        assert_eq!(err.to_string(), "edges form a cycle: a → b → c → a");
    }

    #[test]
    fn shape_errors_name_the_edge() {
        let nodes = keys(&["a", "b"]);
        assert!(matches!(
            check(&nodes, &edges(&[("a", "a")])),
            Err(GraphError::SelfEdge { index: 0, .. })
        ));
        assert!(matches!(
            check(&nodes, &edges(&[("a", "b"), ("a", "b")])),
            Err(GraphError::DuplicateEdge { index: 1, .. })
        ));
        assert!(matches!(
            check(&nodes, &edges(&[("a", "zz")])),
            Err(GraphError::UnknownNode { index: 0, .. })
        ));
        assert!(matches!(
            check(&keys(&["a", "a"]), &[]),
            Err(GraphError::DuplicateNode(_))
        ));
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 50_000;
        let nodes: Vec<String> = (0..n).map(|i| format!("n{i:05}")).collect();
        let chain: Vec<(String, String)> = (1..n)
            .map(|i| (nodes[i - 1].clone(), nodes[i].clone()))
            .collect();
        assert_eq!(check(&nodes, &chain).expect("acyclic").len(), n);
        let mut looped = chain.clone();
        looped.push((nodes[n - 1].clone(), nodes[0].clone()));
        assert!(matches!(check(&nodes, &looped), Err(GraphError::Cycle(c)) if c.len() == n + 1));
    }
}
