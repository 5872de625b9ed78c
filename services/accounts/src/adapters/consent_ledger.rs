//! The consent ledger's writer: decisions that arrive together are committed together. A caller
//! hands its validated record to the writer and waits for the commit; the writer takes every
//! record queued at that moment and writes them, whatever their tenants, with one statement and
//! one commit. While a group commits, the next one gathers, so under load a group holds what
//! arrived during one commit and a WAL flush carries many records; alone, a record costs what a
//! single insert would. One writer, not several: with four, a group held about four records and
//! PostgreSQL spent twice the CPU per record (decisions.md #17).
//! A caller is answered only once its record is committed, so a record is never acknowledged
//! and then lost.

use std::time::Duration;

use causerie_core::Error;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

use crate::store::consents::{self as consent_store, ConsentRow, NewConsent};

/// Records one group holds at most.
const GROUP: usize = 64;
/// Records waiting for the writer before callers wait to hand theirs over.
const QUEUE_DEPTH: usize = 1024;
/// How long the writer waits for PostgreSQL to accept a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How the writer's connection shows in `pg_stat_activity`.
pub const WRITER_APPLICATION_NAME: &str = "causerie-consent-ledger";
/// How long the writer waits for a group's statement.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

struct Pending {
    consent: NewConsent,
    reply: oneshot::Sender<Result<ConsentRow, Error>>,
}

#[derive(Clone)]
pub struct ConsentLedger {
    pending: mpsc::Sender<Pending>,
}

impl ConsentLedger {
    /// Starts the writer on a thread of its own, with its own connection to `pool`'s database,
    /// so that a commit is answered as soon as PostgreSQL has made it: on the request workers the
    /// writer waited its turn behind every ready request before it saw its commit, and each
    /// record waited that long twice (decisions.md #17). It stops once every handle to the ledger
    /// is gone and the queue is empty; `tasks` waits for it.
    pub fn start(pool: &PgPool, tasks: &TaskTracker) -> Result<Self, Error> {
        let (pending, queue) = mpsc::channel(QUEUE_DEPTH);
        let options = (*pool.connect_options()).clone().application_name(WRITER_APPLICATION_NAME);
        let writer = Writer { options, connection: None };
        let (stopped, writer_stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::internal)?;
        std::thread::Builder::new()
            .name("consent-ledger".to_owned())
            .spawn(move || {
                runtime.block_on(writer.write_groups(queue));
                let _ = stopped.send(());
            })
            .map_err(Error::internal)?;
        tasks.spawn(async move {
            let _ = writer_stopped.await;
        });
        Ok(Self { pending })
    }

    /// Records `consent` and answers it once committed.
    pub async fn record(&self, consent: NewConsent) -> Result<ConsentRow, Error> {
        let (reply, committed) = oneshot::channel();
        self.pending
            .send(Pending { consent, reply })
            .await
            .map_err(|_| Error::unavailable("the consent ledger's writer has stopped"))?;
        committed.await.map_err(|_| Error::unavailable("a consent record was dropped before its commit"))?
    }
}

/// The writer owns one connection, not a pool: a pool checks a connection with a round trip to
/// PostgreSQL each time it lends it and each time it gets it back, three round trips for a group's
/// one statement.
struct Writer {
    options: PgConnectOptions,
    connection: Option<PgConnection>,
}

impl Writer {
    async fn write_groups(mut self, mut queue: mpsc::Receiver<Pending>) {
        let mut group = Vec::with_capacity(GROUP);
        while queue.recv_many(&mut group, GROUP).await > 0 {
            self.write_group(std::mem::replace(&mut group, Vec::with_capacity(GROUP))).await;
        }
        if let Some(connection) = self.connection.take() {
            let _ = connection.close().await;
        }
    }

    /// One statement for the group. Should the database refuse it with several records in it,
    /// each is written alone, so that one record the database refuses does not fail the others.
    async fn write_group(&mut self, group: Vec<Pending>) {
        let consents: Vec<&NewConsent> = group.iter().map(|pending| &pending.consent).collect();
        match self.write(&consents).await {
            Ok(()) => {
                for pending in group {
                    let row = pending.consent.committed();
                    let _ = pending.reply.send(Ok(row));
                }
            }
            Err(error) if group.len() == 1 => {
                if let Some(pending) = group.into_iter().next() {
                    let _ = pending.reply.send(Err(error));
                }
            }
            // No connection, or it broke: the records would fail alone just the same.
            Err(error) if self.connection.is_none() => {
                tracing::warn!(%error, records = group.len(), "consent group not written");
                for pending in group {
                    let _ = pending.reply.send(Err(Error::unavailable("the consent ledger cannot reach PostgreSQL")));
                }
            }
            Err(error) => {
                tracing::warn!(%error, records = group.len(), "consent group refused; writing each record alone");
                for pending in group {
                    // Once the connection is lost, the rest would each wait for a connection of
                    // their own in turn: they are answered at once.
                    let answer = if self.connection.is_some() {
                        self.write(&[&pending.consent]).await.map(|()| pending.consent.committed())
                    } else {
                        Err(Error::unavailable("the consent ledger cannot reach PostgreSQL"))
                    };
                    let _ = pending.reply.send(answer);
                }
            }
        }
    }

    /// Writes `consents` in one implicit transaction, on the writer's connection, opened again
    /// when it was lost.
    async fn write(&mut self, consents: &[&NewConsent]) -> Result<(), Error> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let connected = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&self.options))
                    .await
                    .map_err(|_| Error::unavailable("PostgreSQL did not accept a connection in time"))??;
                self.connection.insert(connected)
            }
        };
        // A connection that stopped answering would hold every later decision: it is given up after
        // WRITE_TIMEOUT. Its group may yet have been committed; a caller who asks again adds a
        // second record of the same decision, which the ledger allows.
        let Ok(written) =
            tokio::time::timeout(WRITE_TIMEOUT, consent_store::record_consent_group(connection, consents)).await
        else {
            self.connection = None;
            return Err(Error::unavailable("PostgreSQL did not answer a consent group in time"));
        };
        written.map_err(|error| {
            if !refused_on_a_live_connection(&error) {
                self.connection = None;
            }
            Error::from(error)
        })
    }
}

/// Whether `error` is the database refusing the records on a connection that can go on. A
/// terminated session (a restart, a fail-over, an administrator) also arrives as a database error,
/// of class 08 (connection exception) or 57P (operator intervention), and its connection is dead.
fn refused_on_a_live_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(refusal) => {
            !refusal.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
        }
        _ => false,
    }
}
