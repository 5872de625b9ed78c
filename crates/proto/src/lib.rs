//! Code generated from `proto/`: the gRPC contracts between Causerie's services, and nothing else.

pub mod accounts {
    pub mod v1 {
        tonic::include_proto!("causerie.accounts.v1");
    }
}

pub mod assistant {
    pub mod v1 {
        tonic::include_proto!("causerie.assistant.v1");
    }
}

pub mod retention {
    pub mod v1 {
        tonic::include_proto!("causerie.retention.v1");
    }
}

/// Time on the wire: `google.protobuf.Timestamp` from and to chrono.
pub mod time {
    use chrono::{DateTime, Utc};

    pub fn to_timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: time.timestamp(),
            nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
        }
    }

    /// `None` for a timestamp no calendar can hold.
    pub fn from_timestamp(timestamp: prost_types::Timestamp) -> Option<DateTime<Utc>> {
        let nanos = u32::try_from(timestamp.nanos).ok()?;
        DateTime::from_timestamp(timestamp.seconds, nanos)
    }
}
