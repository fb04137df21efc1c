//! The build flow called in-process, as a library user calls it: `stackplan::flow::build`
//! against the engine's BuildKit, its events kept by a recording sink.

use std::sync::{Arc, Mutex};

use stackplan::buildkit::event::{BuildEvents, Event};
use stackplan::buildkit::schedule::Outcome;
use stackplan::flow::Notes;
use stackplan::flow::build::{Build, BuildRequest, Built};
use stackplan::flow::planning::{PlanRequest, StackRequest};
use stackplan::session::Session;

use crate::env::{Env, buildkit_socket, small_stack, unique};
use crate::support::Repo;

/// A sink that keeps every event, in the order they came.
#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl BuildEvents for Recorder {
    fn event(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }

    /// Where `target` started in the event stream.
    fn started_at(&self, target: &str) -> usize {
        self.events()
            .iter()
            .position(|e| matches!(e, Event::Started { target: t } if t == target))
            .unwrap_or_else(|| panic!("{target} never started"))
    }
}

/// A full, offline build of `repo` (no push) on the engine's BuildKit socket, spoken as a
/// plain buildkitd: the gateway chains every child to its parent's result.
fn build(env: &Env, repo: &Repo, events: Arc<Recorder>) -> Built {
    let request = BuildRequest {
        plan: PlanRequest {
            stack: StackRequest {
                repo: Some(repo.path().to_path_buf()),
                images: "images".into(),
                ..StackRequest::default()
            },
            default_branch: "main".into(),
            full_rebuild_branch: vec!["main".into()],
            full: true,
            branch: Some("flow".into()),
            registry: Some(env.namespace("flow")),
            build_arg: vec![("BASE_IMAGE".into(), env.base_image.clone())],
            offline: true,
            ..PlanRequest::default()
        },
        addr: buildkit_socket(),
        ..BuildRequest::default()
    };
    let session = Session::default();
    let mut notes = Notes::default();
    let build = Build::prepare(&session, &request, &mut notes).unwrap();
    assert!(notes.diagnostics.is_empty(), "{:?}", notes.diagnostics);
    let rebuilt: Vec<&str> = build.plan().to_build().map(|t| t.name.as_str()).collect();
    assert_eq!(rebuilt, ["root", "a", "b", "a1"]);
    build.run(&session, events).unwrap()
}

#[test]
fn the_build_flow_reports_every_target_and_says_how_each_ended() {
    let Some(env) = Env::require() else { return };
    let nonce = unique();
    let repo = small_stack(&nonce);
    let recorder = Arc::new(Recorder::default());
    let built = build(&env, &repo, recorder.clone());

    assert_eq!(built.order, ["root", "a", "b", "a1"]);
    assert!(
        built
            .outcomes
            .values()
            .all(|o| matches!(o, Outcome::Succeeded { .. })),
        "{:?}",
        built.outcomes
    );
    built.check().unwrap();

    let events = recorder.events();
    assert!(
        !events.iter().any(|e| matches!(e, Event::Note(_))),
        "the daemon's gateway chains the targets: {events:?}"
    );
    // A child starts on its parent's result, so after it.
    assert!(recorder.started_at("root") < recorder.started_at("a"));
    assert!(recorder.started_at("root") < recorder.started_at("b"));
    assert!(recorder.started_at("a") < recorder.started_at("a1"));
    for target in ["root", "a", "b", "a1"] {
        let finished: Vec<&Outcome> = events
            .iter()
            .filter_map(|e| match e {
                Event::Finished { target: t, outcome } if t == target => Some(outcome),
                _ => None,
            })
            .collect();
        assert!(
            matches!(finished[..], [Outcome::Succeeded { .. }]),
            "{target}: {finished:?}"
        );
        // Its own step is in its own status stream.
        let step = format!("echo {target} {nonce}");
        assert!(
            events.iter().any(|e| matches!(e,
                Event::Status { target: t, status } if t == target
                    && status.vertexes.iter().any(|v| v.name.contains(&step)))),
            "no status of `{step}` for {target}"
        );
    }
}

#[test]
fn a_failing_target_is_in_the_result_with_its_skipped_child() {
    let Some(env) = Env::require() else { return };
    let repo = small_stack(&unique());
    repo.append("images/a/Dockerfile", "RUN echo about to fail && false\n")
        .commit("break a");
    let recorder = Arc::new(Recorder::default());
    let built = build(&env, &repo, recorder.clone());

    assert!(matches!(built.outcomes["root"], Outcome::Succeeded { .. }));
    assert!(matches!(built.outcomes["b"], Outcome::Succeeded { .. }));
    assert!(
        matches!(&built.outcomes["a"], Outcome::Failed { error, .. } if error.contains("false")),
        "{:?}",
        built.outcomes["a"]
    );
    assert_eq!(
        built.outcomes["a1"],
        Outcome::Skipped {
            because: "a".into()
        }
    );
    assert_eq!(built.failed(), ["a"]);
    assert_eq!(built.skipped(), 1);
    let error = built.check().unwrap_err();
    assert_eq!(
        error.to_string(),
        "1 target(s) failed (a), 1 skipped because of them, 2 succeeded"
    );
    assert_eq!(error.exit_code(), 1);
    // The failing step's log reached the sink.
    assert!(recorder.events().iter().any(|e| matches!(e,
        Event::Status { target, status } if target == "a"
            && status.logs.iter().any(|l| String::from_utf8_lossy(&l.msg).contains("about to fail")))));
}
