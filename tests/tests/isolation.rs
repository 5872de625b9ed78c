//! Every service's migrated schema keeps tenants apart: the catalog shows no way for one
//! tenant's rows to leak to another (DESIGN.md section 4).

use causerie_runtime::Service;
use causerie_testkit::TestStack;

#[tokio::test]
async fn no_service_schema_leaks_between_tenants() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    for service in Service::ALL.into_iter().filter(|service| *service != Service::Gateway) {
        let owner = causerie_db::connect_owner(&stack.config, service).await?;
        let leaks = causerie_db::catalog::isolation_leaks(&owner).await?;
        assert!(leaks.is_empty(), "{service}: {leaks:#?}");
        owner.close().await;
    }
    stack.stop().await
}
