//! Joining several SDK futures inside workflow code.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

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
