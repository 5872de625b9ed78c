//! The consent ledger's writer: decisions that arrive together are committed together. A caller
//! hands its validated record to the writer and waits for the commit; the writer takes every
//! record queued at that moment and writes them, one statement and one commit per tenant, the
//! tenants' statements at once. While a group commits, the next one gathers, so under load a
//! group holds what arrived during one commit and a WAL flush carries many records; alone, a
//! record costs what a single insert would. One writer, not several: with four, a group held about
//! four records and PostgreSQL spent twice the CPU per record (decisions.md #17).
//! A caller is answered only once its record is committed, so a record is never acknowledged
//! and then lost.

use std::collections::HashMap;

use causerie_core::Error;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::store::privacy::{self as privacy_store, ConsentRow, NewConsent};

/// Records one group holds at most.
const GROUP: usize = 64;
/// The writer's own connections: a group's tenants are written at once, each on one.
const WRITER_CONNECTIONS: u32 = 8;
/// Records waiting for the writer before callers wait to hand theirs over.
const QUEUE_DEPTH: usize = 1024;

struct Pending {
    consent: NewConsent,
    reply: oneshot::Sender<Result<ConsentRow, Error>>,
}

#[derive(Clone)]
pub struct ConsentLedger {
    pending: mpsc::Sender<Pending>,
}

impl ConsentLedger {
    /// Starts the writer on a thread of its own, with its own connections to `pool`'s database,
    /// so that a commit is answered as soon as PostgreSQL has made it: on the request workers the
    /// writer waited its turn behind every ready request before it saw its commit, and each
    /// record waited that long twice (decisions.md #17). It stops once every handle to the ledger
    /// is gone and the queue is empty; `tasks` waits for it.
    pub fn start(pool: &PgPool, tasks: &TaskTracker) -> Result<Self, Error> {
        let (pending, queue) = mpsc::channel(QUEUE_DEPTH);
        let options = (*pool.connect_options()).clone();
        let (stopped, writer_stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::internal)?;
        std::thread::Builder::new()
            .name("consent-ledger".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    // Created here, so that its connections are driven by this thread.
                    let pool = PgPoolOptions::new()
                        .max_connections(WRITER_CONNECTIONS)
                        .acquire_timeout(Duration::from_secs(5))
                        .connect_lazy_with(options);
                    write_groups(pool.clone(), queue).await;
                    pool.close().await;
                });
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

async fn write_groups(pool: PgPool, mut queue: mpsc::Receiver<Pending>) {
    let mut group = Vec::with_capacity(GROUP);
    while queue.recv_many(&mut group, GROUP).await > 0 {
        let mut by_tenant: HashMap<Uuid, Vec<Pending>> = HashMap::new();
        for pending in group.drain(..) {
            by_tenant.entry(pending.consent.tenant_id).or_default().push(pending);
        }
        // A task a tenant: a group spanning many tenants takes one commit's time, not one each.
        // Should one panic, its callers' replies are dropped and they get an error.
        let mut writes = JoinSet::new();
        for (tenant_id, pendings) in by_tenant {
            writes.spawn(write_tenant_group(pool.clone(), tenant_id, pendings));
        }
        while writes.join_next().await.is_some() {}
    }
}

/// One statement for the tenant's records. Should it fail with several records in it, each is
/// written alone, so that one record the database refuses does not fail the others.
async fn write_tenant_group(pool: PgPool, tenant_id: Uuid, pendings: Vec<Pending>) {
    let consents: Vec<&NewConsent> = pendings.iter().map(|pending| &pending.consent).collect();
    match privacy_store::record_consents(&pool, tenant_id, &consents).await {
        Ok(rows) => {
            let mut rows: HashMap<Uuid, ConsentRow> = rows.into_iter().map(|row| (row.id, row)).collect();
            for pending in pendings {
                let answer = rows
                    .remove(&pending.consent.id)
                    .ok_or_else(|| Error::internal("a committed consent record was not returned"));
                let _ = pending.reply.send(answer);
            }
        }
        Err(error) if pendings.len() == 1 => {
            if let Some(pending) = pendings.into_iter().next() {
                let _ = pending.reply.send(Err(error));
            }
        }
        Err(error) => {
            tracing::warn!(%error, records = pendings.len(), "consent group refused; writing each record alone");
            for pending in pendings {
                let answer = privacy_store::record_consents(&pool, tenant_id, &[&pending.consent])
                    .await
                    .and_then(|rows| rows.into_iter().next().ok_or_else(|| Error::internal("no record returned")));
                let _ = pending.reply.send(answer);
            }
        }
    }
}
