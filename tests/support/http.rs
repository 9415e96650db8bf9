//! JSON over HTTP with reqwest, answering (status, body as JSON or text).

pub struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    pub fn new(addr: std::net::SocketAddr, token: Option<&str>) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: format!("http://{addr}"),
            token: token.map(String::from),
        }
    }

    /// Over HTTPS, trusting the certificate `ca_pem` (PEM) only.
    pub fn tls(addr: std::net::SocketAddr, token: Option<&str>, ca_pem: &str) -> Api {
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("a PEM certificate");
        Api {
            client: reqwest::Client::builder()
                .tls_certs_only([ca])
                .build()
                .expect("HTTPS client"),
            base: format!("https://localhost:{}", addr.port()),
            token: token.map(String::from),
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        content_type: &str,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.header("content-type", content_type).body(b.to_string());
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, v)
    }

    /// Whether anything answers `path` with 200 (false while nothing
    /// listens).
    pub async fn answers(&self, path: &str) -> bool {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await;
        resp.is_ok_and(|r| r.status().as_u16() == 200)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.send("GET", path, None, "").await
    }
    pub async fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        self.send("POST", path, Some(body), "application/json")
            .await
    }
    pub async fn patch(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        self.send("PATCH", path, Some(body), "application/json")
            .await
    }
    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        self.send("DELETE", path, None, "").await
    }
    pub async fn csv(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        self.send("POST", path, Some(body), "text/csv").await
    }
}
