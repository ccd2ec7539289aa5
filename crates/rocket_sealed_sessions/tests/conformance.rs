//! Every store the crate ships passes the one conformance suite.

mod common;

use rocket_sealed_sessions::conformance;
use rocket_sealed_sessions::store::{FileStore, RedisStore};

#[rocket::async_test]
async fn the_file_store_conforms() {
    let path = common::scratch("file-conformance").join("revoked");
    conformance::run(|| FileStore::new(&path)).await;
}

#[rocket::async_test]
async fn the_redis_store_conforms() {
    let Some(redis) = common::Redis::start() else {
        return;
    };
    let folder = common::scratch("redis-conformance");
    let mut instance = 0;
    // Each opening is another instance: a spool of its own.
    conformance::run(|| {
        instance += 1;
        RedisStore::new(&redis.url())
            .unwrap()
            .prefix("conformance:")
            .spool(folder.join(format!("spool-{instance}")))
    })
    .await;
}
