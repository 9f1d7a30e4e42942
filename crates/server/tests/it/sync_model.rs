//! A randomized model test of sync (S4-S7): several clients of one team
//! collection edit fields at random, go offline and come back with queued
//! writes, send some twice and some out of order, lose their session, and
//! live through a server restart (SQLite) or a node replaced (two nodes on
//! PostgreSQL). A model of the server says, for every write, whether it
//! must apply (merged if it was stale) or be a conflict: a stale write that
//! changed only fields nobody else changed since its base must merge (a
//! server that answered every stale write with a conflict fails), one that
//! changed a field someone else changed differently must conflict, and the
//! server's document must equal the model after every step. Conflicts are
//! listed and resolved at random (mine or theirs). At the end every client
//! equals the server.
//!
//! A fixed set of seeds runs in the suite; `POSTROOM_MODEL_RUNS=<n>` runs n
//! seeds (from `POSTROOM_MODEL_SEED`, default 1) and prints how many passed.

use std::collections::BTreeMap;

use postroom_server::clock::MINUTE;
use serde_json::{json, Value};

use crate::common::{Db, TestApp, PASSWORD};

/// Requests in the collection and the fields of each that clients edit.
const REQUESTS: usize = 4;
const FIELDS: [&str; 3] = ["name", "url", "header"];
const CLIENTS: usize = 3;
const STEPS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_clients_converge_on_sqlite() {
    runs(&[1, 2, 3], Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_clients_converge_on_two_postgres_nodes() {
    if crate::common::postgres_url().is_none() {
        crate::common::skip(
            "sync_model::random_clients_converge_on_two_postgres_nodes",
            "set POSTROOM_TEST_DATABASE_URL to run it on PostgreSQL",
        );
        return;
    }
    runs(&[11, 12], Db::Postgres).await;
}

/// Runs the seeds; says how many passed and what they exercised. A run
/// that fails stops the test with its seed.
async fn runs(fixed: &[u64], db: Db) {
    use std::io::Write;
    let (mut passed, mut merged, mut conflicts) = (0, 0, 0);
    for seed in seeds(fixed) {
        let (m, k) = run(seed, db).await;
        passed += 1;
        merged += m;
        conflicts += k;
    }
    let _ = writeln!(
        std::io::stderr(),
        "sync model on {db:?}: {passed} runs passed ({merged} stale writes merged, {conflicts} conflicts resolved)"
    );
    // The seeds exercise both outcomes: a server that merged nothing, or
    // answered every stale write with a conflict, would fail above.
    assert!(
        merged > 0 && conflicts > 0,
        "the runs merged and conflicted"
    );
}

fn seeds(fixed: &[u64]) -> Vec<u64> {
    match std::env::var("POSTROOM_MODEL_RUNS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        Some(n) => {
            let first = std::env::var("POSTROOM_MODEL_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            (first..first + n).collect()
        }
        None => fixed.to_vec(),
    }
}

/// xorshift64*: a small deterministic generator, so a seed replays.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

type Field = (usize, &'static str);

fn get_field(doc: &Value, (r, f): Field) -> Value {
    let item = &doc["item"][r];
    match f {
        "name" => item["name"].clone(),
        "url" => item["request"]["url"]["raw"].clone(),
        _ => item["request"]["header"][0]["value"].clone(),
    }
}

fn set_field(doc: &mut Value, (r, f): Field, value: &str) {
    let item = &mut doc["item"][r];
    match f {
        "name" => item["name"] = json!(value),
        "url" => item["request"]["url"]["raw"] = json!(value),
        _ => item["request"]["header"][0]["value"] = json!(value),
    }
}

fn all_fields() -> Vec<Field> {
    (0..REQUESTS)
        .flat_map(|r| FIELDS.iter().map(move |f| (r, *f)))
        .collect()
}

fn collection() -> Value {
    let item: Vec<Value> = (0..REQUESTS)
        .map(|r| {
            json!({"id": format!("req-{r}"), "name": format!("r{r}"),
                "request": {"method": "GET", "url": {"raw": format!("https://x.test/{r}")},
                    "header": [{"key": "X-Tag", "value": format!("h{r}")}]}})
        })
        .collect();
    json!({"info": {"name": "Model", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"}, "item": item})
}

/// What the server must hold: each field's value and the revision that
/// last changed it.
struct Model {
    fields: BTreeMap<Field, (Value, i64)>,
    revision: i64,
}

/// A write a client queued: the document it would write and its base.
#[derive(Clone)]
struct Write {
    doc: Value,
    base: i64,
}

struct Client {
    token: String,
    /// Which node it talks to.
    node: usize,
    online: bool,
    /// The last document and revision it synced.
    doc: Value,
    revision: i64,
    /// Local edits not yet sent, each a whole document on `revision`.
    queue: Vec<Write>,
}

struct Cluster {
    nodes: Vec<Option<TestApp>>,
}

impl Cluster {
    fn node(&self, i: usize) -> &TestApp {
        self.nodes[i % self.nodes.len()]
            .as_ref()
            .expect("a running node")
    }
}

/// Sends a request, signing the client in again when its session ended:
/// the write it was sending is sent again, not lost.
async fn send(
    cluster: &Cluster,
    client: &mut Client,
    method: reqwest::Method,
    path: &str,
    if_match: Option<i64>,
    body: Option<Value>,
) -> crate::common::Resp {
    for _ in 0..2 {
        let t = cluster.node(client.node);
        let mut req = t
            .client
            .request(method.clone(), t.url(path))
            .bearer_auth(&client.token);
        if let Some(rev) = if_match {
            req = req.header("if-match", format!("\"{rev}\""));
        }
        if let Some(body) = &body {
            req = req.json(body);
        }
        let r = TestApp::read(req.send().await.expect("request sent")).await;
        if r.status == 401 {
            client.token = t.sign_in("ada", PASSWORD, false).await;
            continue;
        }
        return r;
    }
    panic!("still signed out after signing in again");
}

async fn run(seed: u64, db: Db) -> (usize, usize) {
    let mut rng = Rng::new(seed);
    let first = TestApp::spawn(db).await;
    let two_nodes = db == Db::Postgres;
    let second = if two_nodes {
        Some(first.spawn_node().await)
    } else {
        None
    };
    let mut cluster = Cluster {
        nodes: vec![Some(first), second],
    };
    cluster.nodes.retain(Option::is_some);
    let t = cluster.node(0);
    let token = t.new_user("ada").await;
    t.post(
        "/api/v1/teams",
        Some(&token),
        json!({"name": "Model", "slug": "model"}),
    )
    .await
    .assert(201, None);
    let r = t
        .post(
            "/api/v1/collections",
            Some(&token),
            json!({"collection": collection(), "team": "model"}),
        )
        .await;
    r.assert(201, None);
    let id = r.body["collection"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/collections/{id}");
    let start = t.get(&path, Some(&token)).await.body["collection"].clone();
    let mut model = Model {
        fields: all_fields()
            .into_iter()
            .map(|f| (f, (get_field(&start, f), 1)))
            .collect(),
        revision: 1,
    };
    let mut clients: Vec<Client> = Vec::new();
    for c in 0..CLIENTS {
        let token = cluster.node(c).sign_in("ada", PASSWORD, false).await;
        clients.push(Client {
            token,
            node: c,
            online: true,
            doc: start.clone(),
            revision: 1,
            queue: Vec::new(),
        });
    }
    let mut edits = 0;
    let mut merged = 0;
    let mut conflicts = 0;
    for step in 0..STEPS {
        let c = rng.below(CLIENTS);
        match rng.below(10) {
            // An edit, queued locally (offline or not).
            0..=4 => {
                let field = all_fields()[rng.below(REQUESTS * FIELDS.len())];
                let client = &mut clients[c];
                let mut doc = client
                    .queue
                    .last()
                    .map_or(client.doc.clone(), |w| w.doc.clone());
                set_field(&mut doc, field, &format!("c{c}-s{step}-{seed}"));
                client.queue.push(Write {
                    doc,
                    base: client.revision,
                });
                edits += 1;
            }
            // Going offline or coming back.
            5 => clients[c].online = !clients[c].online,
            // Sessions expire (the clock moves past the idle limit).
            6 if rng.chance(30) => {
                for node in cluster.nodes.iter().flatten() {
                    node.clock.advance(31 * MINUTE);
                }
            }
            // A restart, or a node replaced.
            7 if rng.chance(15) => {
                restart(&mut cluster, &mut rng).await;
            }
            // Sync: send the queue (maybe out of order, maybe one twice),
            // then read the current document.
            _ => {
                if clients[c].online {
                    let (m, k) =
                        sync(&cluster, &mut clients[c], &path, &mut model, &mut rng, seed).await;
                    merged += m;
                    conflicts += k;
                }
            }
        }
    }
    // Everyone comes back and sends what is queued, then everyone reads:
    // every client equals the server.
    for _ in 0..2 {
        for client in clients.iter_mut() {
            client.online = true;
            let (m, k) = sync(&cluster, client, &path, &mut model, &mut rng, seed).await;
            merged += m;
            conflicts += k;
        }
    }
    let server = send(
        &cluster,
        &mut clients[0],
        reqwest::Method::GET,
        &path,
        None,
        None,
    )
    .await;
    let server_doc = server.body["collection"].clone();
    for client in &clients {
        assert_eq!(
            client.doc, server_doc,
            "seed {seed}: a client differs from the server"
        );
    }
    check(&model, &server_doc, seed);
    let ids: Vec<&str> = server_doc["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), REQUESTS, "seed {seed}: every request once");
    assert!(edits > 0, "seed {seed}: the run made edits");
    for node in cluster.nodes.into_iter().flatten() {
        node.stop().await;
    }
    (merged, conflicts)
}

async fn restart(cluster: &mut Cluster, rng: &mut Rng) {
    // The first node owns the database: it restarts; another node goes
    // away and a fresh one takes its place.
    let i = rng.below(cluster.nodes.len());
    if i == 0 {
        let node = cluster.nodes[0].take().unwrap();
        cluster.nodes[0] = Some(node.restart().await);
    } else {
        let first = cluster.nodes[0].as_ref().unwrap();
        let fresh = first.spawn_node().await;
        fresh.clock.advance(first.clock.now() - fresh.clock.now());
        if let Some(old) = cluster.nodes[i].replace(fresh) {
            old.stop().await;
        }
    }
}

/// Sends a client's queue and reads the document back. Returns how many
/// writes merged and how many conflicted.
async fn sync(
    cluster: &Cluster,
    client: &mut Client,
    path: &str,
    model: &mut Model,
    rng: &mut Rng,
    seed: u64,
) -> (usize, usize) {
    let mut queue = std::mem::take(&mut client.queue);
    if queue.len() > 1 && rng.chance(30) {
        queue.swap(0, 1); // delivered out of order
    }
    if !queue.is_empty() && rng.chance(20) {
        let again = queue[rng.below(queue.len())].clone();
        queue.push(again); // delivered twice
    }
    let (mut merged, mut conflicted) = (0, 0);
    for write in queue {
        let changed: Vec<Field> = all_fields()
            .into_iter()
            .filter(|f| get_field(&write.doc, *f) != get_field(&client.doc, *f))
            .collect();
        // The model's verdict: a conflict when a field this write changed
        // was changed since its base to another value.
        let clash = changed.iter().any(|f| {
            let (value, rev) = &model.fields[f];
            *rev > write.base && *value != get_field(&write.doc, *f)
        });
        let r = send(
            cluster,
            client,
            reqwest::Method::PUT,
            path,
            Some(write.base),
            Some(json!({"collection": write.doc})),
        )
        .await;
        if clash {
            assert_eq!(
                r.status, 409,
                "seed {seed}: expected a conflict: {}",
                r.body
            );
            assert_eq!(r.body["error"]["code"], "conflict");
            conflicted += 1;
            let conflict_id = r.body["conflict"]["id"].as_str().unwrap().to_owned();
            // Kept, and listed for the person.
            let list = send(
                cluster,
                client,
                reqwest::Method::GET,
                "/api/v1/conflicts",
                None,
                None,
            )
            .await;
            assert!(
                list.body["conflicts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["id"] == conflict_id.as_str()),
                "seed {seed}: the conflict is listed"
            );
            let keep = if rng.chance(50) { "mine" } else { "theirs" };
            let r = send(
                cluster,
                client,
                reqwest::Method::POST,
                &format!("/api/v1/conflicts/{conflict_id}/resolve"),
                None,
                Some(json!({"keep": keep})),
            )
            .await;
            r.assert(200, None);
            if keep == "mine" {
                let revision = r.body["item"]["revision"].as_i64().unwrap();
                apply(model, &changed, &write.doc, revision);
            }
        } else {
            assert_eq!(
                r.status, 200,
                "seed {seed}: a write that touches nothing changed since its base must apply: {}",
                r.body
            );
            if r.body["merged"] == true {
                merged += 1;
            }
            let revision = r.body["collection"]["revision"].as_i64().unwrap();
            apply(model, &changed, &write.doc, revision);
        }
        let now = send(cluster, client, reqwest::Method::GET, path, None, None).await;
        check(model, &now.body["collection"], seed);
    }
    let now = send(cluster, client, reqwest::Method::GET, path, None, None).await;
    now.assert(200, None);
    client.doc = now.body["collection"].clone();
    client.revision = now.headers["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .parse()
        .unwrap();
    (merged, conflicted)
}

/// A write applied: its changed fields take its values at `revision`.
fn apply(model: &mut Model, changed: &[Field], doc: &Value, revision: i64) {
    for f in changed {
        let value = get_field(doc, *f);
        let entry = model.fields.get_mut(f).unwrap();
        if entry.0 != value {
            *entry = (value, revision);
        }
    }
    model.revision = model.revision.max(revision);
}

fn check(model: &Model, doc: &Value, seed: u64) {
    for (f, (value, _)) in &model.fields {
        assert_eq!(
            &get_field(doc, *f),
            value,
            "seed {seed}: field {f:?} lost or wrong on the server"
        );
    }
}
