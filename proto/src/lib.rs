//! The Weft worker protocol, generated from `proto/weft/worker/v1/worker.proto` and the
//! standard `grpc.health.v1` service. The core is the client; the servers are the Python
//! workers in `workers-py/`, whose stubs come from the same files.

#![allow(clippy::all, missing_docs)]

/// `weft.worker.v1`: Worker, Embedder, EntityExtractor, LanguageModel.
pub mod worker {
    tonic::include_proto!("weft.worker.v1");
}

/// `grpc.health.v1`: the standard health service.
pub mod health {
    tonic::include_proto!("grpc.health.v1");
}
