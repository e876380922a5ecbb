//! Joining several SDK futures inside workflow code, and telling many visits
//! about decisions made for them.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use homecare_domain::contracts::{AssignmentChange, visit_workflow_id};
use temporalio_sdk::{SignalWorkflowOptions, WorkflowContext};

use crate::VisitWorkflow;

/// Signals `assignment_changed` to every changed visit's workflow, all at once.
/// A visit whose workflow has finished meanwhile (cancelled) refuses the signal;
/// there is nothing left to tell it.
pub async fn tell_visits<W>(ctx: &WorkflowContext<W>, changes: &[AssignmentChange]) {
    let handles: Vec<_> = changes
        .iter()
        .map(|change| ctx.external_workflow(visit_workflow_id(change.visit_id), None))
        .collect();
    let signals = handles.iter().zip(changes).map(|(handle, change)| {
        handle.signal(
            VisitWorkflow::assignment_changed,
            change.clone(),
            SignalWorkflowOptions::default(),
        )
    });
    join_in_workflow(signals.collect()).await;
}

/// Awaits every future, polling each with the workflow task's own waker.
/// `futures::future::join_all` switches to `FuturesOrdered` above 30 futures,
/// whose inner wakers the SDK rightly flags as non-deterministic.
pub async fn join_in_workflow<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot
                && let Poll::Ready(value) = future.as_mut().poll(cx)
            {
                *output = Some(value);
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
