//! What every call to a worker needs, local or remote: a deadline the worker sees
//! (`grpc-timeout`), the bearer token when the worker wants one, and the health check.

use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use weft_proto::health::health_check_response::ServingStatus;
use weft_proto::health::health_client::HealthClient;
use weft_proto::health::HealthCheckRequest;

/// A request with a deadline the worker sees and the bearer token, if any.
pub(crate) fn authed<T>(msg: T, limit: Duration, token: Option<&str>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(limit);
    if let Some(t) = token {
        if let Ok(v) = MetadataValue::try_from(format!("Bearer {t}")) {
            req.metadata_mut().insert("authorization", v);
        }
    }
    req
}

/// One `grpc.health.v1` Check with a deadline. The error names the gRPC code (e.g.
/// `Unauthenticated`) so callers can tell a refused token from a dead worker.
pub(crate) async fn health_check(
    channel: &Channel,
    limit: Duration,
    token: Option<&str>,
) -> Result<ServingStatus, String> {
    let mut client = HealthClient::new(channel.clone());
    let req = authed(
        HealthCheckRequest {
            service: String::new(),
        },
        limit,
        token,
    );
    match tokio::time::timeout(limit, client.check(req)).await {
        Ok(Ok(resp)) => {
            Ok(ServingStatus::try_from(resp.into_inner().status).unwrap_or(ServingStatus::Unknown))
        }
        Ok(Err(status)) => Err(format!(
            "health check failed ({:?}): {}",
            status.code(),
            status.message()
        )),
        Err(_) => Err(format!("health check got no answer within {limit:?}")),
    }
}
