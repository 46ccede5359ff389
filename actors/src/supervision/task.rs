//! A supervised background loop: [`ChildSpec::task`] runs a future as the body of an actor,
//! so a loop (an embedder, a snapshot writer) gets the tree's restart policy without a
//! mailbox of its own. The future runs on a task the actor owns: it is aborted when the actor
//! stops or is killed, a panic in it fails the actor (its supervisor restarts it), and a
//! future that returns stops the actor normally.

use std::future::Future;

use futures::future::BoxFuture;
use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::ChildSpec;

/// The actor behind [`ChildSpec::task`].
pub struct TaskActor;

/// What the watcher of the task reports.
pub enum TaskMsg {
    /// The future returned.
    Done,
    /// The future panicked (the message).
    Panicked(String),
}

/// The running task, aborted when the actor's state is dropped (stop or kill).
pub struct TaskState(tokio::task::AbortHandle);

impl Drop for TaskState {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Actor for TaskActor {
    type Msg = TaskMsg;
    type State = TaskState;
    type Arguments = BoxFuture<'static, ()>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        body: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let task = tokio::spawn(body);
        let abort = task.abort_handle();
        tokio::spawn(async move {
            let msg = match task.await {
                Ok(()) => TaskMsg::Done,
                Err(e) if e.is_panic() => TaskMsg::Panicked(e.to_string()),
                // Aborted: the actor is already going.
                Err(_) => return,
            };
            let _ = myself.cast(msg);
        });
        Ok(TaskState(abort))
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TaskMsg::Done => {
                myself.stop(Some("done".into()));
                Ok(())
            }
            TaskMsg::Panicked(why) => Err(format!("task panicked: {why}").into()),
        }
    }
}

impl ChildSpec {
    /// A child whose body is the future `make` returns, made fresh for each incarnation.
    pub fn task<F, Fut>(id: impl Into<String>, make: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::actor(id, move || {
            let body: BoxFuture<'static, ()> = Box::pin(make());
            (TaskActor, body)
        })
    }
}
