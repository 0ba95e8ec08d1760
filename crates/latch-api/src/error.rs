use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error response has this shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// A stable machine-readable code, such as `not_found` or `invalid_credentials`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
}
