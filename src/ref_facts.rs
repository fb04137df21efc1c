//! Facts about image refs that planning reads: which refs exist, the manifest digest each
//! present one points at, and why one could not be asked about. The registry adapter
//! fills them before planning (`--offline` leaves them empty); the planner only reads them.
//! A leaf: it imports nothing from the crate, so the planner and the registry adapter both
//! depend on it and not on each other.

use std::collections::BTreeMap;
use std::fmt;

/// What the registry said about a ref.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefState {
    Present,
    Missing,
    #[default]
    Unknown,
}

impl fmt::Display for RefState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefState::Present => "present",
            RefState::Missing => "missing",
            RefState::Unknown => "unknown",
        })
    }
}

/// What the registry said about the refs a target cares about: its cache image's (with
/// `--cache-to registry`), its branch ref's, its two stable refs' and its inputs ref's
/// (when its inputs are pinned). Kept by role, not by ref: the refs are the target's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefStates {
    pub cache_to: Option<RefState>,
    pub branch: RefState,
    pub prefix_stable: RefState,
    pub stable: RefState,
    pub inputs: Option<RefState>,
}

impl RefStates {
    /// Each ref beside its state, given the target's refs in the roles' order: the cache
    /// image's, the branch ref, the `<prefix>-stable` ref, the `stable` ref, the inputs ref.
    /// That is the order a build imports its cache from; a role without a ref or a state is
    /// left out.
    pub fn of_refs<'a>(
        &self,
        refs: [Option<&'a str>; 5],
    ) -> impl Iterator<Item = (&'a str, RefState)> + use<'a> {
        let states = [
            self.cache_to,
            Some(self.branch),
            Some(self.prefix_stable),
            Some(self.stable),
            self.inputs,
        ];
        refs.into_iter()
            .zip(states)
            .filter_map(|(reference, state)| Some((reference?, state?)))
    }
}

/// Which refs exist and the manifest digest each present one points at; empty (all
/// unknown) when offline.
#[derive(Clone, Debug, Default)]
pub struct RefFacts {
    pub states: BTreeMap<String, RefState>,
    /// `sha256:…` of the manifest (or index) a present ref points at, when the registry
    /// said.
    pub digests: BTreeMap<String, String>,
    /// Why a ref could not be asked about (auth refused, registry down), for refs whose
    /// absence of an answer is not fatal (external bases).
    pub failures: BTreeMap<String, String>,
    /// Whether a probe ran at all.
    pub probed: bool,
}

impl RefFacts {
    pub fn state(&self, reference: &str) -> RefState {
        self.states.get(reference).copied().unwrap_or_default()
    }

    pub fn digest(&self, reference: &str) -> Option<&str> {
        self.digests.get(reference).map(String::as_str)
    }

    /// Adds what another probe learned.
    pub fn merge(&mut self, other: RefFacts) {
        self.states.extend(other.states);
        self.digests.extend(other.digests);
        self.failures.extend(other.failures);
        self.probed |= other.probed;
    }
}
