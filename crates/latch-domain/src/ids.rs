//! Typed identifiers. Fresh ids are made by the caller (`from_uuid`), never here.

use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = crate::DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| crate::DomainError::invalid(stringify!($name), "not a uuid"))
            }
        }
    };
}

id_type!(
    /// A person who logs in to Latch.
    UserId
);
id_type!(
    /// A group of users, mapped to roles.
    GroupId
);
id_type!(
    /// A managed target (host, database, cluster).
    TargetId
);
id_type!(
    /// An account on a target whose secret Latch holds.
    AccountId
);
id_type!(
    /// A machine identity that uses the API with scoped bearer tokens.
    ApiAccountId
);
id_type!(
    /// A logged-in session of a user (web cookie or API bearer token).
    AuthSessionId
);
id_type!(
    /// A sealed secret stored in the vault.
    SecretId
);
id_type!(
    /// A short-lived OAuth access token of an API account.
    ApiTokenId
);
id_type!(
    /// An SSH public key registered to a user.
    UserSshKeyId
);
id_type!(
    /// An access policy: who may reach which target accounts, and how.
    PolicyId
);
id_type!(
    /// A request for time-bound access to one account on one target.
    AccessRequestId
);
id_type!(
    /// Time-bound permission to use one account on one target.
    GrantId
);
id_type!(
    /// One gateway session (an SSH connection to a target through Latch).
    GatewaySessionId
);
id_type!(
    /// One check-out of an account's credential (reveal once, check in).
    CheckoutId
);
id_type!(
    /// One queued rotation of an account's secret.
    RotationId
);
id_type!(
    /// One switching-on of emergency (break-glass) access.
    BreakGlassId
);
