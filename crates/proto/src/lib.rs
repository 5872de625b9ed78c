//! Code generated from `proto/`: the gRPC contracts between Causerie's services, and nothing else.

pub mod accounts {
    pub mod v1 {
        tonic::include_proto!("causerie.accounts.v1");
    }
}

pub mod retention {
    pub mod v1 {
        tonic::include_proto!("causerie.retention.v1");
    }
}
