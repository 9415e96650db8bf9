//! One REST call: the URL built from path segments (each percent-encoded),
//! the bearer token, a JSON or streamed CSV body; the answer as JSON, or a
//! [`Failure`] with the exit code its status means.

use super::{Exit, Failure};
use bytes::Bytes;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

/// What a request sends.
pub enum Body {
    None,
    Json(Value),
    /// A CSV file, streamed as it is read.
    Csv(PathBuf),
}

/// One request: method, path segments, query, body, and how to name what
/// it is about in errors.
pub struct Req {
    method: Method,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    body: Body,
    what: String,
    not_found: Option<String>,
}

impl Req {
    /// `segments` are joined under the server's URL, each encoded.
    pub fn new(method: Method, segments: &[&str], what: impl Into<String>) -> Req {
        Req {
            method,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: Body::None,
            what: what.into(),
            not_found: None,
        }
    }
    pub fn get(segments: &[&str], what: impl Into<String>) -> Req {
        Req::new(Method::GET, segments, what)
    }
    pub fn post(segments: &[&str], what: impl Into<String>) -> Req {
        Req::new(Method::POST, segments, what)
    }
    pub fn query(mut self, name: &'static str, value: Option<impl ToString>) -> Req {
        if let Some(v) = value {
            self.query.push((name, v.to_string()));
        }
        self
    }
    pub fn json(mut self, v: Value) -> Req {
        self.body = Body::Json(v);
        self
    }
    pub fn csv(mut self, file: &Path) -> Req {
        self.body = Body::Csv(file.to_path_buf());
        self
    }
    /// The 404 message, when "WHAT not found" does not say it well.
    pub fn not_found(mut self, message: impl Into<String>) -> Req {
        self.not_found = Some(message.into());
        self
    }
}

impl Client {
    pub fn new(server: &str, token: Option<String>) -> Result<Client, Failure> {
        let base = Url::parse(server.trim())
            .map_err(|e| Failure::usage(format!("--server {server:?}: not a URL ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Failure::usage(format!(
                "--server {server:?}: must be an http:// or https:// URL"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("dialpop-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::failed(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            token: token.filter(|t| !t.trim().is_empty()),
        })
    }

    /// The server's URL as messages show it (never with the token).
    pub fn server(&self) -> &str {
        self.base.as_str()
    }

    fn url(&self, req: &Req) -> Result<Url, Failure> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| Failure::usage(format!("--server {}: not a base URL", self.base)))?;
            path.pop_if_empty();
            path.extend(&req.segments);
        }
        url.set_query(None);
        if !req.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &req.query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Sends `req`; a 2xx answer's JSON, or the failure its status means.
    pub async fn send(&self, req: Req) -> Result<Value, Failure> {
        let url = self.url(&req)?;
        let mut rb = self.http.request(req.method.clone(), url.clone());
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        rb = match req.body {
            Body::None => rb.timeout(Duration::from_secs(60)),
            Body::Json(ref v) => rb
                .timeout(Duration::from_secs(60))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(v.to_string()),
            Body::Csv(ref file) => {
                let f = tokio::fs::File::open(file)
                    .await
                    .map_err(|e| Failure::failed(format!("{}: {e}", file.display())))?;
                let len = f.metadata().await.ok().map(|m| m.len());
                let mut rb =
                    rb.header(reqwest::header::CONTENT_TYPE, "text/csv")
                        .body(reqwest::Body::wrap(FileBody {
                            stream: tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024),
                        }));
                if let Some(len) = len {
                    rb = rb.header(reqwest::header::CONTENT_LENGTH, len);
                }
                rb
            }
        };
        let resp = rb.send().await.map_err(|e| self.network(&req, &e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.network(&req, &e))?;
        let doc: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return doc.ok_or_else(|| {
                Failure::failed(format!(
                    "{} {}: the server answered {status} without JSON",
                    req.method,
                    url.path()
                ))
            });
        }
        Err(failure(&req, status, doc.as_ref(), &text, self.server()))
    }

    fn network(&self, req: &Req, e: &reqwest::Error) -> Failure {
        // reqwest's message names the URL; the token is never in it.
        let mut msg = format!("{}: cannot reach {}: {e}", req.what, self.server());
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg.push_str(&format!(": {s}"));
            source = s.source();
        }
        Failure::failed(msg)
    }
}

/// The failure a non-2xx answer means, with the server's message (and the
/// field it names) in it.
fn failure(
    req: &Req,
    status: StatusCode,
    doc: Option<&Value>,
    text: &str,
    server: &str,
) -> Failure {
    let message = doc
        .and_then(|d| d["error"].as_str())
        .map(super::table::clean)
        .unwrap_or_else(|| {
            let t = super::table::clean(text.trim());
            if t.is_empty() {
                status.to_string()
            } else {
                t.chars().take(200).collect()
            }
        });
    let field = doc
        .and_then(|d| d["field"].as_str())
        .map(super::table::clean);
    match status.as_u16() {
        400 | 422 => Failure::new(
            Exit::BadInput,
            match field {
                Some(f) if message.starts_with(f.as_str()) => message,
                Some(f) => format!("{f}: {message}"),
                None => format!("{}: {message}", req.what),
            },
        ),
        401 | 403 => Failure::new(
            Exit::Auth,
            format!(
                "{server} refused the request ({status}): {message}; give the API token with --token or DIALPOP_TOKEN"
            ),
        ),
        404 => Failure::new(
            Exit::NotFound,
            req.not_found
                .clone()
                .unwrap_or_else(|| format!("{} not found", req.what)),
        ),
        409 if message.contains(req.what.as_str()) => Failure::new(Exit::Conflict, message),
        409 => Failure::new(Exit::Conflict, format!("{}: {message}", req.what)),
        _ => Failure::failed(format!(
            "{}: {server} answered {status}: {message}",
            req.what
        )),
    }
}

/// A file as a request body, read in chunks as the connection takes them.
struct FileBody {
    stream: tokio_util::io::ReaderStream<tokio::fs::File>,
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        use futures::Stream;
        Pin::new(&mut self.stream)
            .poll_next(cx)
            .map(|chunk| chunk.map(|r| r.map(http_body::Frame::data)))
    }
}
