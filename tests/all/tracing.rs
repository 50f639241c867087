//! The `tracing` feature: a run span, a span per task attempt inside it with its outcome, retry and skip events, and the tasks' own events inside their spans, seen by a subscriber scoped to the calling thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kahn::{Arena, RetryPolicy};
use kahn_test_support::executors;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A span as the recorder saw it: name, fields, parent's id.
#[derive(Debug, Clone, Default)]
struct SpanSeen {
    name: String,
    fields: HashMap<String, String>,
    parent: Option<u64>,
}

#[derive(Debug, Clone)]
struct EventSeen {
    message: String,
    fields: HashMap<String, String>,
    /// The span the event is in (explicit parent, or the current span).
    span: Option<u64>,
}

#[derive(Default)]
struct Seen {
    spans: HashMap<u64, SpanSeen>,
    events: Vec<EventSeen>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Seen>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut span = SpanSeen {
            name: attrs.metadata().name().to_owned(),
            ..SpanSeen::default()
        };
        attrs.record(&mut Fields(&mut span.fields));
        span.parent = ctx
            .span(id)
            .and_then(|s| s.parent())
            .map(|p| p.id().into_u64());
        self.0.lock().unwrap().spans.insert(id.into_u64(), span);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        let span = seen.spans.get_mut(&id.into_u64()).unwrap();
        values.record(&mut Fields(&mut span.fields));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.remove("message").unwrap_or_default();
        let span = ctx.event_span(event).map(|s| s.id().into_u64());
        self.0.lock().unwrap().events.push(EventSeen {
            message,
            fields,
            span,
        });
    }
}

/// tracing caches each callsite's interest for the whole process, from the
/// dispatchers alive when a subscriber is made (tokio-rs/tracing#2874): a
/// test that makes one while another test's is between runs can leave a
/// callsite at "never" for it. The tests here make subscribers one at a
/// time, and rebuild the cache once theirs is current.
static ONE_SUBSCRIBER_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn runs_and_task_attempts_are_spans_a_scoped_subscriber_sees() {
    let _alone = ONE_SUBSCRIBER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    for exec in executors() {
        let mut arena = Arena::new();
        let mut b = arena.builder::<u32>();
        let resets = Mutex::new(0);
        b.task("extract", |_| {
            tracing::info!(rows = 3, "read the export");
            Ok(3)
        })
        .unwrap();
        b.task("fetch", |_| {
            let mut resets = resets.lock().unwrap();
            *resets += 1;
            if *resets == 1 {
                return Err("connection reset".into());
            }
            Ok(2)
        })
        .unwrap();
        b.task("validate", |_| Err("too many rows".into())).unwrap();
        b.task("publish", |_| Ok(0)).unwrap();
        b.edges_by_name([("extract", "validate"), ("validate", "publish")])
            .unwrap();
        b.retry(
            "fetch",
            RetryPolicy::attempts(2).delay(Duration::from_millis(1)),
        )
        .unwrap();
        let graph = b.build().unwrap();

        let recorder = Recorder::default();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        let report = tracing::subscriber::with_default(subscriber, || {
            tracing::callsite::rebuild_interest_cache();
            exec.run(&graph)
        });
        assert_eq!(report.counts().failed, 1);

        let seen = recorder.0.lock().unwrap();
        let runs: Vec<(&u64, &SpanSeen)> =
            seen.spans.iter().filter(|(_, s)| s.name == "run").collect();
        assert_eq!(runs.len(), 1, "one run span");
        let (&run, run_span) = runs[0];
        assert_eq!(run_span.fields["tasks"], "4");
        assert_eq!(run_span.fields["succeeded"], "2");
        assert_eq!(run_span.fields["failed"], "1");
        assert_eq!(run_span.fields["skipped"], "1");
        let tasks: Vec<&SpanSeen> = seen.spans.values().filter(|s| s.name == "task").collect();
        assert_eq!(
            tasks.len(),
            4,
            "one span per attempt: {tasks:?}; max level {}; events {:?}",
            tracing::level_filters::LevelFilter::current(),
            seen.events
        );
        assert!(tasks.iter().all(|t| t.parent == Some(run)));
        let outcome = |task: &str, attempt: &str| {
            tasks
                .iter()
                .find(|t| t.fields["task"] == format!("`{task}`") && t.fields["attempt"] == attempt)
                .map(|t| t.fields.get("outcome").cloned().unwrap_or_default())
        };
        assert_eq!(outcome("extract", "1").as_deref(), Some("succeeded"));
        assert_eq!(outcome("fetch", "1").as_deref(), Some("failed, retried"));
        assert_eq!(outcome("fetch", "2").as_deref(), Some("succeeded"));
        assert_eq!(outcome("validate", "1").as_deref(), Some("failed"));
        let validate = tasks
            .iter()
            .find(|t| t.fields["task"] == "`validate`")
            .unwrap();
        assert_eq!(validate.fields["error"], "failed: too many rows");

        // The task's own event is inside its span, though a worker logged it.
        let extract_span = seen
            .spans
            .iter()
            .find(|(_, s)| s.fields.get("task").map(String::as_str) == Some("`extract`"))
            .map(|(id, _)| *id);
        let read = seen
            .events
            .iter()
            .find(|e| e.message == "read the export")
            .expect("the task's event reached the scoped subscriber");
        assert_eq!(read.span, extract_span);
        let retried = seen
            .events
            .iter()
            .find(|e| e.message == "attempt failed; retrying")
            .unwrap();
        assert_eq!(
            (retried.fields["task"].as_str(), retried.span),
            ("`fetch`", Some(run))
        );
        let skipped = seen
            .events
            .iter()
            .find(|e| e.message == "task did not run")
            .unwrap();
        assert_eq!(skipped.fields["task"], "`publish`");
        assert_eq!(
            skipped.fields["reason"],
            "upstream `validate` did not succeed"
        );
    }
}

#[test]
fn a_subscriber_that_filters_kahn_out_sees_no_spans() {
    let _alone = ONE_SUBSCRIBER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    struct NotKahn;
    impl<S: Subscriber> Layer<S> for NotKahn {
        fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
            metadata.target() != "kahn"
        }
    }
    let mut arena = Arena::new();
    let mut b = arena.builder::<()>();
    b.task("quiet", |_| {
        tracing::info!("a task event");
        Ok(())
    })
    .unwrap();
    let graph = b.build().unwrap();
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            recorder
                .clone()
                .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                    m.target() != "kahn"
                })),
        )
        .with(NotKahn);
    tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        executors()[1].run(&graph)
    });
    let seen = recorder.0.lock().unwrap();
    assert!(seen.spans.is_empty(), "{:?}", seen.spans);
    assert!(
        seen.events.is_empty(),
        "an unwatched run does not carry the subscriber to its workers"
    );
}
