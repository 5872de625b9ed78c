//! The consent ledger's writer: decisions that arrive together are committed together. A caller
//! hands its validated record to a writer and waits for the commit; each writer takes every
//! record queued at that moment, one statement and one commit per tenant. Under load a WAL flush
//! then carries many records instead of one; alone, a record costs what a single insert would.
//! A caller is answered only once its record is committed, so a record is never acknowledged
//! and then lost.

use std::collections::HashMap;
use std::sync::Arc;

use causerie_core::Error;
use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::store::privacy::{self as privacy_store, ConsentRow, NewConsent};

/// Writers working at once: one commit may be flushing while others gather the next groups.
const WRITERS: usize = 4;
/// Records one writer takes at most.
const GROUP: usize = 64;
/// Records waiting for a writer before callers wait to hand theirs over.
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
    /// Starts the writers on `tasks`; they stop once every handle to the ledger is gone and the
    /// queue is empty.
    pub fn start(pool: PgPool, tasks: &TaskTracker) -> Self {
        let (pending, queue) = mpsc::channel(QUEUE_DEPTH);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..WRITERS {
            tasks.spawn(write_groups(pool.clone(), Arc::clone(&queue)));
        }
        Self { pending }
    }

    /// Records `consent` and answers it once committed.
    pub async fn record(&self, consent: NewConsent) -> Result<ConsentRow, Error> {
        let (reply, committed) = oneshot::channel();
        self.pending
            .send(Pending { consent, reply })
            .await
            .map_err(|_| Error::unavailable("the consent ledger's writers have stopped"))?;
        committed.await.map_err(|_| Error::unavailable("a consent record was dropped before its commit"))?
    }
}

async fn write_groups(pool: PgPool, queue: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let mut group = Vec::with_capacity(GROUP);
        {
            let mut queue = queue.lock().await;
            if queue.recv_many(&mut group, GROUP).await == 0 {
                return;
            }
        }
        let mut by_tenant: HashMap<Uuid, Vec<Pending>> = HashMap::new();
        for pending in group {
            by_tenant.entry(pending.consent.tenant_id).or_default().push(pending);
        }
        for (tenant_id, pendings) in by_tenant {
            write_tenant_group(&pool, tenant_id, pendings).await;
        }
    }
}

/// One statement for the tenant's records. Should it fail with several records in it, each is
/// written alone, so that one record the database refuses does not fail the others.
async fn write_tenant_group(pool: &PgPool, tenant_id: Uuid, pendings: Vec<Pending>) {
    let consents: Vec<&NewConsent> = pendings.iter().map(|pending| &pending.consent).collect();
    match privacy_store::record_consents(pool, tenant_id, &consents).await {
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
                let answer = privacy_store::record_consents(pool, tenant_id, &[&pending.consent])
                    .await
                    .and_then(|rows| rows.into_iter().next().ok_or_else(|| Error::internal("no record returned")));
                let _ = pending.reply.send(answer);
            }
        }
    }
}
