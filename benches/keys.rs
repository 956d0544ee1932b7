//! What a virtual key costs a call: finding and checking the key among 100 000 in the in-memory
//! directory, and holding then settling its budgets (key, user, team).

use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;
use tollgate::auth::directory::Directory;
use tollgate::auth::{self, hash_key, MasterKey};
use tollgate::limits::plan::{self, GatewayLimits};
use tollgate::limits::Limiter;
use tollgate::spend::accounts::Accounts;
use tollgate::spend::ledger;
use tollgate::store::{Entity, Table};

fn entity(id: String, doc: serde_json::Value) -> Entity {
    Entity {
        id,
        doc: doc.as_object().cloned().unwrap_or_default(),
        spend: 0.0,
        budget_reset_at: None,
        updated_ms: 1,
        deleted: false,
    }
}

fn directory() -> Directory {
    let d = Directory::default();
    for i in 0..100_000 {
        d.apply(
            Table::Keys,
            entity(
                hash_key(&format!("sk-bench-{i}")),
                json!({"models": ["gpt-4o-mini"], "max_budget": 1e9, "user_id": "u1", "team_id": "t1",
                       "key_alias": format!("k{i}"), "key_name": "sk-...0000"}),
            ),
        );
    }
    d.apply(
        Table::Users,
        entity("u1".into(), json!({"max_budget": 1e12})),
    );
    d.apply(
        Table::Teams,
        entity("t1".into(), json!({"max_budget": 1e12})),
    );
    d
}

fn bench(c: &mut Criterion) {
    let d = directory();
    let master = MasterKey::new("sk-master");
    let mut headers = HeaderMap::new();
    headers.insert("authorization", "Bearer sk-bench-4242".parse().unwrap());
    c.bench_function("key lookup and checks (100k keys)", |b| {
        b.iter(|| {
            let caller = auth::authenticate(
                Some(&master),
                &d,
                black_box(&headers),
                auth::KeyPlaces::default(),
                1,
            )
            .unwrap();
            let auth::Caller::Key(k) = caller else {
                panic!("not a key")
            };
            auth::keys::may_use_model(&d, &k, "gpt-4o-mini", |_| &[]).unwrap();
            k
        })
    });
    let accounts = Arc::new(Accounts::default());
    let key = d.get(Table::Keys, &hash_key("sk-bench-4242")).unwrap();
    c.bench_function("budget hold and settle (key, user, team)", |b| {
        b.iter(|| {
            let owners = ledger::owners(&d, Some(&key), None);
            let hold = ledger::reserve(&accounts, owners, black_box(0.01), 422).unwrap();
            hold.settle(0.001);
        })
    });
    // A key with rpm, tpm and parallel limits, counted in memory (no Redis): plan, take, finish.
    let limited = auth::keys::KeyCaller {
        token: hash_key("sk-bench-4242"),
        key: Arc::new(entity(
            hash_key("sk-bench-4242"),
            json!({"rpm_limit": u64::MAX / 4, "tpm_limit": u64::MAX / 4, "max_parallel_requests": 1_000_000}),
        )),
    };
    let limiter = Limiter::new(None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let no_gateway_limits = GatewayLimits::default();
    c.bench_function(
        "rate limits take and finish (rpm, tpm, parallel; local)",
        |b| {
            b.iter(|| {
                let limits =
                    plan::for_call(&d, Some(&limited), None, "gpt-4o-mini", &no_gateway_limits);
                let taken = runtime
                    .block_on(limiter.take("req", limits, black_box(300), 60_000))
                    .unwrap();
                limiter.finish(taken, Some(250));
            })
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
