//! A consumer of our own on a queue of its own, under a test namespace, with the services' queue
//! options, recording what it applies in a table so that double application would show.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causerie_bus::message::TenantCreated;
use causerie_bus::{Bus, Consumer, Envelope, HandlerError, Message, MessageHandler, Relay, Topology};
use causerie_core::{Clock, TenantId};
use causerie_runtime::{Config, Service};
use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

static APPLICATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./tests/fixtures/applications");

/// The probe consumes the queue of a service that does not run in these tests: retention's, which
/// receives `accounts.tenant.created`. Being in the topology every connection declares, it comes
/// back after a broker lost it only if the supervisor redeclares the topology.
pub const PROBE: &str = "retention";
/// A message whose slug is this fails every time it is handled.
pub const POISON: &str = "poison";

#[derive(Clone, Default)]
pub struct ProbeHandler {
    pub attempts: Arc<Mutex<HashMap<Uuid, u32>>>,
}

impl MessageHandler for ProbeHandler {
    async fn handle(&self, envelope: &Envelope, transaction: &mut PgConnection) -> Result<(), HandlerError> {
        if let Ok(mut attempts) = self.attempts.lock() {
            *attempts.entry(envelope.id).or_default() += 1;
        }
        if matches!(&envelope.message, Message::TenantCreatedV1(tenant) if tenant.slug == POISON) {
            return Err(HandlerError::Transient("poisoned on purpose".into()));
        }
        sqlx::query("insert into applications (tenant_id, id, message_id) values ($1, $2, $3)")
            .bind(envelope.tenant_id.as_uuid())
            .bind(Uuid::now_v7())
            .bind(envelope.id)
            .execute(transaction)
            .await?;
        Ok(())
    }
}

pub struct Probe {
    pub config: Config,
    pub pool: PgPool,
    relay_pool: PgPool,
    pub bus: Bus,
    pub handler: ProbeHandler,
    pub tenant: TenantId,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Probe {
    pub async fn new() -> anyhow::Result<Self> {
        causerie_testkit::init_test_logs();
        let config = causerie_testkit::test_config()?;
        // What ended test processes left would otherwise be in the broker when a test restarts
        // it, and their quorum queues would slow its recovery past the test's deadlines.
        causerie_testkit::reap_stale_test_namespaces(&config).await?;
        let pool = causerie_db::prepare(&config, Service::LiveChat, &APPLICATIONS).await?;
        let relay_pool = causerie_db::connect_relay(&config, Service::LiveChat).await?;
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let bus = Bus::start(&config.amqp_url, "bus-test", Topology::for_config(&config), &tasks, shutdown.clone());
        let channel = bus.channel().await?;
        bus.topology().declare_queue(&channel, PROBE, &["accounts.tenant.created"]).await?;
        Ok(Self {
            config,
            pool,
            relay_pool,
            bus,
            handler: ProbeHandler::default(),
            tenant: TenantId::new(),
            tasks,
            shutdown,
        })
    }

    pub fn start_consumer(&self) {
        self.start_consumer_on(self.pool.clone());
    }

    /// The consumer on a pool of its own, as the application role, whose connections to
    /// PostgreSQL go through a proxy that the test can cut.
    pub async fn start_consumer_through_proxy(&self) -> anyhow::Result<causerie_testkit::TcpProxy> {
        let (proxy, database_url) = causerie_testkit::TcpProxy::in_front_of(&self.config.database_url, 5432).await?;
        let mut proxied = self.config.clone();
        proxied.database_url = database_url;
        let pool = causerie_db::prepare(&proxied, Service::LiveChat, &APPLICATIONS).await?;
        self.start_consumer_on(pool);
        Ok(proxy)
    }

    fn start_consumer_on(&self, pool: PgPool) {
        let consumer = Consumer::new(self.bus.clone(), pool, PROBE, self.handler.clone());
        self.tasks.spawn(consumer.run(self.shutdown.clone()));
    }

    pub fn relay(&self) -> Relay {
        Relay::new(self.relay_pool.clone(), self.bus.clone(), Clock::system())
    }

    pub fn start_relay(&self) {
        self.tasks.spawn(self.relay().run(self.shutdown.clone()));
    }

    pub fn envelope(&self, slug: &str) -> Envelope {
        self.envelope_from("accounts", slug)
    }

    /// A `tenant.created` as if `producer` had published it.
    pub fn envelope_from(&self, producer: &str, slug: &str) -> Envelope {
        Envelope::new(
            self.tenant,
            producer,
            chrono::Utc::now(),
            Message::TenantCreatedV1(TenantCreated {
                tenant_id: self.tenant,
                slug: slug.into(),
                name: slug.into(),
                contract_end: None,
            }),
        )
    }

    /// Writes `envelope` to the outbox in a tenant transaction, as a service does.
    pub async fn enqueue(&self, envelope: &Envelope) -> anyhow::Result<()> {
        let mut transaction = causerie_db::tenant_tx(&self.pool, self.tenant).await?;
        causerie_bus::enqueue(&mut transaction, envelope).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Publishes raw bytes straight to the exchange, bypassing the outbox.
    pub async fn publish_raw(&self, routing_key: &str, body: &[u8]) -> anyhow::Result<()> {
        let channel = self.bus.channel().await?;
        channel
            .basic_publish(
                self.bus.topology().events_exchange().into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?
            .await?;
        Ok(())
    }

    pub async fn applied(&self, message_id: Uuid) -> anyhow::Result<i64> {
        let mut transaction = causerie_db::tenant_tx(&self.pool, self.tenant).await?;
        let count = sqlx::query_scalar("select count(*) from applications where message_id = $1")
            .bind(message_id)
            .fetch_one(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(count)
    }

    /// Waits until `message_id` has been applied at least once.
    pub async fn wait_applied(&self, message_id: Uuid, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.applied(message_id).await? == 0 {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "message {message_id} not applied within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Takes one message from the probe's dead-letter queue, waiting up to `timeout` for it.
    pub async fn dead_letter(&self, timeout: Duration) -> anyhow::Result<Option<Vec<u8>>> {
        let channel = self.bus.channel().await?;
        let queue = self.bus.topology().dead_letter_queue(PROBE);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(message) = channel.basic_get(queue.clone().into(), BasicGetOptions { no_ack: true }).await? {
                return Ok(Some(message.delivery.data.clone()));
            }
            if tokio::time::Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The outbox row of `message_id`: when it was published, how often it was tried, and why
    /// its last attempt failed.
    pub async fn outbox_row(
        &self,
        message_id: Uuid,
    ) -> anyhow::Result<(Option<chrono::DateTime<chrono::Utc>>, i32, Option<String>)> {
        let mut transaction = causerie_db::tenant_tx(&self.pool, self.tenant).await?;
        let row = sqlx::query_as("select published_at, attempts, last_error from outbox where id = $1")
            .bind(message_id)
            .fetch_one(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(row)
    }

    pub async fn unpublished(&self) -> anyhow::Result<i64> {
        let mut transaction = causerie_db::tenant_tx(&self.pool, self.tenant).await?;
        let count = sqlx::query_scalar("select count(*) from outbox where published_at is null")
            .fetch_one(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(count)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.pool.close().await;
        self.relay_pool.close().await;
        causerie_testkit::drop_test_databases(&self.config).await?;
        causerie_testkit::remove_test_bus(&self.config, &[PROBE]).await
    }
}
