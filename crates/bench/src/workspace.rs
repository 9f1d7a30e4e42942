//! The workspace figures: reading a collection, and importing a large one.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use serde_json::{json, Value};

use super::{ms, Bench, Row, ServerProcess, READ_CONNECTIONS, READ_ROUNDS};

/// The collection the read figure serves: about this many bytes.
const COLLECTION_BYTES: usize = 100 * 1024;
/// The imported collection: this many requests, about this many bytes.
const IMPORT_REQUESTS: usize = 5_000;
const IMPORT_BYTES: usize = 50 * 1024 * 1024;
/// The import figure alternates the import and the baseline this many times.
const IMPORT_ROUNDS: u32 = 3;

/// A v2.1 collection of `requests` requests in folders of 100, each with a
/// body padded so that the whole is about `bytes` long.
pub fn generated_collection(requests: usize, bytes: usize) -> Value {
    let pad = (bytes / requests).saturating_sub(450);
    let folders: Vec<Value> = (0..requests.div_ceil(100))
        .map(|f| {
            let items: Vec<Value> = (0..100.min(requests - f * 100))
                .map(|r| {
                    json!({
                        "name": format!("request {f}-{r}"),
                        "request": {
                            "method": "POST",
                            "url": {"raw": format!("{{{{base}}}}/f{f}/r{r}?q=1"), "host": ["{{base}}"],
                                    "path": [format!("f{f}"), format!("r{r}")], "query": [{"key": "q", "value": "1"}]},
                            "header": [{"key": "Content-Type", "value": "application/json"}],
                            "body": {"mode": "raw", "raw": format!("{{\"n\": {r}, \"pad\": \"{}\"}}", "x".repeat(pad))},
                        },
                        "event": [{"listen": "test", "script": {"type": "text/javascript",
                                   "exec": ["pm.test('ok', () => pm.response.to.have.status(200));"]}}],
                        "response": [],
                    })
                })
                .collect();
            json!({"name": format!("folder {f}"), "item": items})
        })
        .collect();
    json!({
        "info": {"name": "Generated", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": folders,
    })
}

impl Bench {
    /// Imports `body` (a file's bytes) as `token`; returns the collection id.
    fn import_once(&self, url: &str, token: &str, body: Vec<u8>) -> anyhow::Result<String> {
        self.rt.block_on(async {
            let r = self
                .client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .timeout(Duration::from_secs(600))
                .body(body)
                .send()
                .await?;
            ensure!(
                r.status().as_u16() == 201,
                "import: {} {}",
                r.status(),
                r.text().await?
            );
            let v: Value = r.json().await?;
            Ok(v["collections"][0]["id"]
                .as_str()
                .context("an id")?
                .to_owned())
        })
    }

    pub(super) fn collection(&mut self) -> anyhow::Result<()> {
        let each = (self.secs / READ_ROUNDS).max(Duration::from_secs(2));
        eprintln!(
            "collection: GET of a 100 KB collection against the same bytes from memory, {READ_ROUNDS} rounds of {} s",
            each.as_secs()
        );
        let pr = self.start("collection")?;
        let token = self.account(&pr, "collector")?;
        let requests = COLLECTION_BYTES / 1000;
        let doc = generated_collection(requests, COLLECTION_BYTES);
        let id = self.import_once(
            &pr.url("/api/v1/imports"),
            &token,
            serde_json::to_vec(&doc)?,
        )?;
        let path = format!("/api/v1/collections/{id}");
        // The baseline serves exactly what the server answers.
        let answer = self.rt.block_on(async {
            let r = self
                .client
                .get(pr.url(&path))
                .bearer_auth(&token)
                .send()
                .await?;
            ensure!(r.status().as_u16() == 200, "GET: {}", r.status());
            Ok(r.bytes().await?)
        })?;
        let size = answer.len();
        let file = self.dir.path().join("collection-body.json");
        std::fs::write(&file, &answer)?;
        let hello = ServerProcess::hello_with_body(
            &self.hello,
            &file,
            &self.dir.path().join("hello-body.log"),
        )?;
        let base_url = format!("{}/body", hello.base);
        let get_url = pr.url(&path);
        for url in [&base_url, &get_url] {
            self.run_clean(
                &self.read_load(
                    url.clone(),
                    &token,
                    READ_CONNECTIONS,
                    Duration::from_secs(2),
                ),
                "warm-up",
            )?;
        }
        let mut pairs = Vec::new();
        for _ in 0..READ_ROUNDS {
            let base = self.run_clean(
                &self.read_load(base_url.clone(), &token, READ_CONNECTIONS, each),
                "bytes from memory",
            )?;
            let get = self.run_clean(
                &self.read_load(get_url.clone(), &token, READ_CONNECTIONS, each),
                "GET collection",
            )?;
            pairs.push((get.per_second() / base.per_second(), get, base));
        }
        drop(pr);
        drop(hello);
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let spread = format!("{:.2}-{:.2}", pairs[0].0, pairs[pairs.len() - 1].0);
        let (ratio, get, base) = pairs.swap_remove(pairs.len() / 2);
        self.rows.push(Row {
            figure: "collection",
            value: format!(
                "{:.0} req/s GET /api/v1/collections/{{id}}, {} KB (p99 {})",
                get.per_second(),
                size / 1024,
                ms(get.p99_us)
            ),
            baseline: format!(
                "{:.0} req/s the same bytes from memory, bare axum (p99 {}); median of {READ_ROUNDS} pairs, ratios {spread}",
                base.per_second(),
                ms(base.p99_us)
            ),
            ratio: Some(ratio),
            target: ">= 0.50".into(),
            pass: ratio >= 0.5,
        });
        Ok(())
    }

    pub(super) fn import(&mut self) -> anyhow::Result<()> {
        eprintln!("import: a 50 MB, 5,000-request collection against serde_json parsing and writing it, {IMPORT_ROUNDS} rounds");
        let pr = self.start("import")?;
        let token = self.account(&pr, "importer")?;
        let bytes = serde_json::to_vec(&generated_collection(IMPORT_REQUESTS, IMPORT_BYTES))?;
        let url = pr.url("/api/v1/imports");
        let mut pairs = Vec::new();
        for _ in 0..IMPORT_ROUNDS {
            let started = Instant::now();
            let value: Value = serde_json::from_slice(&bytes)?;
            let written = serde_json::to_string(&value)?;
            let baseline = started.elapsed();
            ensure!(written.len() > IMPORT_BYTES / 2);
            drop((value, written));
            let started = Instant::now();
            let id = self.import_once(&url, &token, bytes.clone())?;
            let import = started.elapsed();
            ensure!(!id.is_empty());
            pairs.push((
                import.as_secs_f64() / baseline.as_secs_f64(),
                import,
                baseline,
            ));
        }
        let rss = pr.server.rss_kib().unwrap_or(0);
        drop(pr);
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let spread = format!("{:.2}-{:.2}", pairs[0].0, pairs[pairs.len() - 1].0);
        let (ratio, import, baseline) = pairs.swap_remove(pairs.len() / 2);
        self.rows.push(Row {
            figure: "import",
            value: format!(
                "{:.2} s POST /api/v1/imports of {:.1} MB, {IMPORT_REQUESTS} requests (server RSS after: {:.0} MiB)",
                import.as_secs_f64(),
                bytes.len() as f64 / 1_048_576.0,
                rss as f64 / 1024.0
            ),
            baseline: format!(
                "{:.2} s serde_json parse + write of the same bytes, in the bench; median of {IMPORT_ROUNDS} pairs, ratios {spread}",
                baseline.as_secs_f64()
            ),
            ratio: Some(ratio),
            target: "<= 5.0".into(),
            pass: ratio <= 5.0,
        });
        Ok(())
    }
}
