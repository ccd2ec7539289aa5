//! Revocation stores: where a logout is kept, so that a copy of the cookie
//! is refused on every instance and after a restart. [`FileStore`] is the
//! embedded one; `RedisStore` (feature `redis`) is shared by several
//! instances. Any type implementing [`RevocationStore`] can stand in.

mod api;
mod file;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod revocation;
#[cfg(feature = "redis")]
mod topology;

pub use api::{RevocationStore, StoreError};
pub use file::FileStore;
pub use memory::Memory;
#[cfg(feature = "redis")]
pub use redis::RedisStore;
pub use revocation::{Condition, Durability, Health, Revocation};
