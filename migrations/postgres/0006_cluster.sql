-- Several dialpop nodes on one store (the `[cluster]` section): each node's
-- heartbeat, and who drives each switch. A switch's lease is taken over
-- only once it has expired, and every takeover bumps its token: a write for
-- that switch's calls carries the token it was made under, so the node
-- that held it before cannot write once it is taken. Times are the store's
-- clock, in ms since the epoch.
CREATE TABLE cluster_nodes (
    node_id      TEXT PRIMARY KEY,
    started_ms   BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    http_addr    TEXT NOT NULL DEFAULT ''
);
CREATE TABLE switch_leases (
    switch_name TEXT PRIMARY KEY,
    node_id     TEXT NOT NULL,
    token       BIGINT NOT NULL,
    acquired_ms BIGINT NOT NULL,
    renewed_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
