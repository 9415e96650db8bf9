#!/usr/bin/env bash
# Rebuilds the fuzz seeds (fuzz/seeds/<target>/) and dictionaries
# (fuzz/dicts/) from the shared protocol captures (../shared/fixtures, or
# $FIXTURES), the sample configs in config/ and the CSV rows of the tests.
# Big captures are cut into frames/packets, and events are trimmed to the
# headers dialpop reads, so every seed stays small. Files named regress-*
# (reproducers of fixed findings) are kept.
#
#   bash fuzz/seed.sh          # needs python3 (3.11+, for tomllib)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
fixtures="${FIXTURES:-$repo/../shared/fixtures}"
if [ ! -d "$fixtures/esl" ] || [ ! -d "$fixtures/ami" ] || [ ! -d "$fixtures/real" ]; then
  echo "seed.sh: no captures at $fixtures (set FIXTURES)" >&2
  exit 1
fi
command -v python3 >/dev/null || { echo "seed.sh: python3 is needed" >&2; exit 1; }

python3 - "$fixtures" "$repo" "$here" <<'PY'
import json, os, re, sys, tomllib
from pathlib import Path

fixtures, repo, here = (Path(p) for p in sys.argv[1:4])
seeds, dicts = here / "seeds", here / "dicts"
MAX_SEED = 8 * 1024

def reset(target):
    d = seeds / target
    d.mkdir(parents=True, exist_ok=True)
    for f in d.iterdir():
        if not f.name.startswith("regress-"):
            f.unlink()
    return d

def write(d, name, data, sel):
    data = bytes([sel]) + data
    assert len(data) <= MAX_SEED + 1, (name, len(data))
    (d / name).write_bytes(data)

# ---------------------------------------------------------------- ESL
KEEP_ESL = {
    "event-name", "unique-id", "event-date-timestamp", "event-date-local",
    "hangup-cause", "variable_hangup_cause", "other-leg-unique-id",
    "bridge-a-unique-id", "bridge-b-unique-id", "job-uuid", "job-command",
    "job-command-arg", "answer-state", "call-direction", "channel-name",
    "variable_dialpop_call_id", "variable_origination_uuid", "core-uuid",
}

# The events dialpop maps (switch/esl/mapping.rs), and one it ignores.
MAPPED_ESL = {"BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
              "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE", "HEARTBEAT"}

def esl_frames(data):
    while True:
        data = data.lstrip(b"\n")
        end = data.find(b"\n\n")
        if not data or end < 0:
            return
        head = data[: end + 2]
        m = re.search(rb"(?im)^content-length: *(\d+)", head)
        n = int(m.group(1)) if m else 0
        yield head + data[end + 2 : end + 2 + n]
        data = data[end + 2 + n :]

def trim_event(frame):
    """An event-plain frame with only the headers dialpop reads; both
    Content-Lengths recomputed."""
    end = frame.find(b"\n\n")
    head, body = frame[: end + 2], frame[end + 2 :]
    if b"text/event-plain" not in head:
        return frame
    bend = body.find(b"\n\n")
    lines = body[: bend if bend >= 0 else len(body)].split(b"\n")
    inner = body[bend + 2 :] if bend >= 0 else b""
    kept = [l for l in lines if l.split(b":", 1)[0].lower().decode("latin-1") in KEEP_ESL]
    m = [l for l in lines if l.lower().startswith(b"content-length:")]
    new_body = b"\n".join(kept) + b"\n"
    new_body += (b"Content-Length: %d\n\n" % len(inner) + inner) if m else b"\n"
    new_head = re.sub(rb"(?im)^content-length: *\d+", b"Content-Length: %d" % len(new_body), head)
    return new_head + new_body

def esl_key(frame):
    ct = re.search(rb"(?im)^content-type: *(\S+)", frame)
    ev = re.search(rb"(?m)^Event-Name: *(\S+)", frame)
    return (ct.group(1) if ct else b"", ev.group(1) if ev else b"")

d = reset("esl_decoder")
i = 0
for f in sorted((fixtures / "esl").iterdir()):
    data = f.read_bytes()
    if len(data) > 4096:
        data = b"".join(trim_event(fr) for fr in esl_frames(data))
    if len(data) <= MAX_SEED:
        write(d, "fixture-" + f.name, data, (i * 37) & 0x7F)
        i += 1
seen = set()
for f in sorted((fixtures / "real").glob("freeswitch_*.txt")):
    if f.name.endswith(".sent.txt"):
        # What dialpop sent: the simulated switch's side reads it.
        write(d, "real-" + f.name, f.read_bytes(), 0x80 | (i * 37) & 0x7F)
        i += 1
        continue
    frames = list(esl_frames(f.read_bytes()))
    # The start of the session, as one stream (handshake + first events).
    write(d, "real-session-" + f.stem, b"".join(trim_event(fr) for fr in frames[:6]), (i * 37) & 0x7F)
    i += 1
    for fr in frames:
        k = esl_key(fr)
        if k in seen or k[1] and k[1].decode() not in MAPPED_ESL:
            continue
        seen.add(k)
        name = "real-%s-%s" % (k[0].decode().replace("/", "_"), k[1].decode() or "x")
        write(d, name, trim_event(fr), (i * 37) & 0x7F)
        i += 1

# ---------------------------------------------------------------- AMI
def ami_packets(data):
    if data.startswith(b"Asterisk Call Manager/"):
        nl = data.find(b"\n")
        yield data[: nl + 1]
        data = data[nl + 1 :]
    while data:
        data = data.lstrip(b"\r\n")
        end = data.find(b"\r\n\r\n")
        if not data:
            return
        if end < 0:
            yield data
            return
        yield data[: end + 4]
        data = data[end + 4 :]

KEEP_AMI = {
    "event", "response", "actionid", "uniqueid", "channel", "channelstate",
    "channelstatedesc", "cause", "cause-txt", "reason", "timestamp",
    "linkedid", "message", "privilege", "bridgeuniqueid", "variable", "value",
}

def trim_packet(p):
    lines = p.rstrip(b"\r\n").split(b"\r\n")
    if not lines or not lines[0].lower().startswith(b"event:"):
        return p
    kept = [l for l in lines if l.split(b":", 1)[0].lower().decode("latin-1") in KEEP_AMI]
    return b"\r\n".join(kept) + b"\r\n\r\n"

# What switch/ami/mapping.rs and the client read, and a few others.
MAPPED_AMI = {"Newchannel", "Newstate", "Hangup", "BridgeEnter", "OriginateResponse", "DialBegin",
              "DialEnd", "VarSet", "UserEvent", "Success", "Error", "Follows", "FullyBooted", "Goodbye"}

def ami_key(p):
    first = p.split(b"\r\n", 1)[0]
    return first.split(b":", 1)[1].strip() if b":" in first else first[:24]

d = reset("ami_decoder")
i = 0
seen = set()
for f in sorted((fixtures / "ami").iterdir()):
    data = f.read_bytes()
    sel = (0x80 if ".client." in f.name else 0) | (i * 41) & 0x7F
    if len(data) <= 4096:
        write(d, "fixture-" + f.name, data, sel)
        i += 1
        continue
    for p in ami_packets(data):
        k = ami_key(p)
        if k in seen or k.decode("latin-1") not in MAPPED_AMI:
            continue
        seen.add(k)
        write(d, "fixture-%s-%s" % (f.stem, k.decode("latin-1")[:40]), trim_packet(p), (i * 41) & 0x7F)
        i += 1
for f in sorted((fixtures / "real").glob("asterisk_*.txt")):
    if f.name.endswith(".sent.txt"):
        write(d, "real-" + f.name, f.read_bytes(), 0x80 | (i * 41) & 0x7F)
        i += 1
        continue
    packets = list(ami_packets(f.read_bytes()))
    write(d, "real-session-" + f.stem, b"".join(trim_packet(p) for p in packets[:6]), (i * 41) & 0x7F)
    i += 1
    for p in packets[1:]:
        k = ami_key(p)
        if k in seen or k.decode("latin-1") not in MAPPED_AMI:
            continue
        seen.add(k)
        write(d, "real-%s" % k.decode("latin-1")[:40], trim_packet(p), (i * 41) & 0x7F)
        i += 1

# ---------------------------------------------------------------- CSV
# The rows of tests/scheduling_api.rs, tests/cli_client.rs and the
# benchmark's header (src/cli/bench_schedule.rs). Selector: bit 0 = do-not-call,
# bits 1-2 = region (US, GB, CN, DE).
TASKS = [
    "external_id,customer_id,phone,priority,tags,var.offer,notes\n"
    "e1,k1,+12127360001,1,a;b,x1,ignored\n"
    "e2,k2,not a number,1,,,\n"
    "e3,k3,+12127360003,high,,,\n"
    "e4,k4,(212) 736-0004,2,,x4,\n"
    "e1,k1,+12127360001,1,,,\n",
    "customer_id,phone,tags,colour\nc1,+12127360011,a;b,red\nc2,not-a-number,,\nc3,+12127360013,,\n",
    "customer_id,phone\nc9,+12127360019\n",
    "customer_id,phone\nl1,+12127360021\nl2,x\n",
    "name,number_of_cats\nx,3\n",
    "customer,number,time_zone,not_before,not_after,var_lang\r\n"
    "a1,020 7946 0018,Europe/London,2030-01-01T09:00:00Z,2030-02-01T09:00:00+01:00,en\r\n"
    "\"a,2\",\"+44 20 7946 0019\",,,,\r\n",
    "idempotency_key,customer_id,phone_number,priority,tags\n"
    "k1,c1,+8613800138000,1000,vip|gold\nk2,c2,13800138001,-1,\n",
]
DNC = [
    "phone,reason\n+12127360110,asked\nnope,\n+12127360112,\n",
    "phone\n2127360130\nx\n",
    "phone,reason\n+12127361003,complaint\nbad,\n",
]
d = reset("csv_import")
for n, t in enumerate(TASKS):
    write(d, "tasks-%d" % n, t.encode(), (n % 4) << 1)
for n, t in enumerate(DNC):
    write(d, "dnc-%d" % n, t.encode(), 1 | (n % 4) << 1)

# ---------------------------------------------------------------- mapping
# Rule lines (`type<TAB>path<TAB>default`, or a bare path), NUL, a JSON
# document shaped by those paths, one seed per [[source]] of the sample
# configs.
def parse_path(p):
    p = p.strip().removeprefix("$").removeprefix(".")
    steps = []
    for m in re.finditer(r"\[\*\]|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]|([^.\[]+)", p):
        if m.group(0) == "[*]":
            steps.append(("every", None))
        elif m.group(1) is not None:
            steps.append(("index", int(m.group(1))))
        else:
            steps.append(("key", m.group(2) or m.group(3) or m.group(4)))
    return steps

SAMPLE = {
    "money": "1234.50", "date": "2019-03-01", "datetime": "2019-03-01T23:30:00-05:00",
    "bool": "yes", "integer": 42, "number": "4.5", "string": "Ana Lima", "any": "x",
}

def put(doc, steps, value):
    if not steps:
        return value
    kind, arg = steps[0]
    if kind == "key":
        doc = doc if isinstance(doc, dict) else {}
        doc[arg] = put(doc.get(arg), steps[1:], value)
        return doc
    doc = doc if isinstance(doc, list) else []
    n = arg + 1 if kind == "index" else 2
    while len(doc) < n:
        doc.append(None)
    for j in ([arg] if kind == "index" else range(n)):
        doc[j] = put(doc[j], steps[1:], value)
    return doc

d = reset("mapping_path")
cfgs = [repo / "config" / "sources.example.toml"] + sorted((repo / "config" / "scenarios").glob("*.toml"))
for cf in cfgs:
    conf = tomllib.loads(cf.read_text())
    for n, src in enumerate(conf.get("source", [])):
        lines, doc = [], {}
        for key in ("record_path", "items_path", "cursor_path"):
            if key in src:
                lines.append(src[key])
        for field, spec in src.get("fields", {}).items():
            if isinstance(spec, str):
                lines.append(spec)
                doc = put(doc, parse_path(spec), SAMPLE["string"])
            else:
                ty = spec.get("type", "any")
                line = "%s%s\t%s" % ("!" if spec.get("required") else "", ty, spec["path"])
                if "default" in spec:
                    line += "\t" + json.dumps(spec["default"])
                lines.append(line)
                doc = put(doc, parse_path(spec["path"]), SAMPLE.get(ty, "x"))
        if not lines:
            continue
        for key in ("items_path", "record_path"):
            if key in src:
                inner = doc
                doc = put({}, parse_path(src[key]), [inner, inner] if key == "items_path" else inner)
        data = ("\n".join(lines) + "\n").encode() + b"\0" + json.dumps(doc).encode()
        (d / ("%s-%d-%s" % (cf.stem, n, src["name"]))).write_bytes(data)
# The paths the module's own tests use, on their document.
doc = {"data": {"Account": {"Name": "Ana", "odd.key": 1},
                "Contacts": [{"Email": "a@x"}, {"Email": "b@x"}, {"Phone": "1"}]}}
paths = ["data.Account.Name", "$.data.Contacts[1].Email", "data.Contacts[*].Email",
         "data.Account['odd.key']", "data.Contacts[9].Email", "a..b", "a[0]b", "$"]
(d / "paths").write_bytes(("\n".join(paths) + "\n").encode() + b"\0" + json.dumps(doc).encode())

# ---------------------------------------------------------------- config
def strip(text):
    return "".join(l for l in text.splitlines(keepends=True)
                   if l.strip() and not l.lstrip().startswith("#"))

d = reset("config")
base = strip((repo / "config" / "dialpop.toml").read_text())
(d / "dialpop").write_text(base)
(d / "dialpop-sources").write_text(base + strip((repo / "config" / "sources.example.toml").read_text()))
for cf in sorted((repo / "config" / "scenarios").glob("*.toml")):
    (d / ("dialpop-" + cf.stem)).write_text(base + strip(cf.read_text()))
# Two switches, as [[switch]].
two = base.replace("[switch]", "[[switch]]")
sw = two[two.index("[[switch]]"): two.index("[dialer]")]
(d / "dialpop-two-switches").write_text(two.replace("[dialer]", sw.replace('name = "fs1"', 'name = "ast1"').replace('protocol = "esl"', 'protocol = "ami"') + "[dialer]", 1))

# ---------------------------------------------------------------- dicts
dicts.mkdir(exist_ok=True)
def write_dict(name, tokens):
    out = sorted(set(t for t in tokens if t))
    with open(dicts / name, "w") as f:
        f.write("# Built by fuzz/seed.sh.\n")
        for t in out:
            f.write('"%s"\n' % "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c) for c in t))

def names(data, sep):
    return {l.split(b":", 1)[0].decode("latin-1") for l in data.split(sep) if b":" in l and len(l.split(b":", 1)[0]) < 40}

esl_tokens = {"Content-Length: ", "Content-Type: ", "\n\n", "%20", "%3A", "_undef_", "ARRAY::", "|:",
              "auth/request", "command/reply", "api/response", "text/event-plain", "text/event-json",
              "text/event-xml", "log/data", "text/disconnect-notice", "text/rude-rejection", "+OK", "-ERR",
              "BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
              "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE", "originate",
              "origination_uuid=", "Content-Disposition: linger", "{\"Event-Name\":\"", "\"_body\":\""}
for f in list((fixtures / "esl").iterdir()) + list((fixtures / "real").glob("freeswitch_*")):
    esl_tokens |= {n + ": " for n in names(f.read_bytes(), b"\n") if n.lower().split("-")[0] in
                   {"event", "unique", "hangup", "other", "bridge", "job", "content", "reply", "variable_hangup_cause"}}
write_dict("esl.dict", esl_tokens)

ami_tokens = {"Asterisk Call Manager/", "\r\n", "\r\n\r\n", "Response: Follows", "--END COMMAND--",
              "Response: ", "Event: ", "Action: ", "Output: ", "Uniqueid: ", "<unknown>",
              "Newchannel", "Newstate", "BridgeEnter", "Hangup", "OriginateResponse", "Success", "Error",
              "ChannelState: ", "ChannelStateDesc: ", "Ringing", "Up", "Cause: ", "Reason: ", "Timestamp: "}
for f in list((fixtures / "ami").iterdir()) + list((fixtures / "real").glob("asterisk_*")):
    ami_tokens |= {n + ": " for n in names(f.read_bytes(), b"\r\n") if not n.startswith(" ")}
write_dict("ami.dict", ami_tokens)

def keys(v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            out.add(k)
            keys(x, out)
    elif isinstance(v, list):
        for x in v:
            keys(x, out)
    return out
cfg_tokens = {"[[", "]]", "[", "]", " = ", "\"", "'''", "\"\"\"", "{ ", " }", ", ", "true", "false",
              "inf", "nan", "-0.0", "1e308", "[switch]", "[[switch]]", "[[campaign]]", "[[agent]]",
              "[[source]]", "[source.fields]", "[campaign.settings]", "[campaign.settings.retry]",
              "[campaign.settings.calling_window]", "[dialer]", "[http]", "[store]", "[api]", "[customer]",
              "esl", "ami", "md5", "plain", "running", "paused", "{phone}", "{extension}", "{gateway}"}
for f in sorted(d.iterdir()):
    cfg_tokens |= keys(tomllib.loads(f.read_text()), set())
cfg_tokens |= {"calling_window", "selection", "include_tags", "exclude_tags", "min_priority",
               "max_priority", "region", "time_zone", "retry", "busy", "no_answer", "failed",
               "abandoned", "machine", "max_attempts", "delay_seconds", "backoff", "wrap_up_seconds",
               "disposition_required", "dispositions", "callback_grace_seconds", "pop_trigger",
               "pop_filters", "templates", "also", "level", "locale", "zh-CN", "priority"}
write_dict("config.dict", cfg_tokens)

write_dict("csv.dict", {"customer_id", "phone", "phone_number", "number", "priority", "tags",
                        "not_before", "not_after", "time_zone", "timezone", "tz", "external_id",
                        "idempotency_key", "var.", "var_", "reason", "customer", ",", "\"", "\"\"",
                        "\r\n", "\n", "+1212736", "+44", "+86", "2030-01-01T09:00:00Z",
                        "Europe/London", "\xef\xbb\xbf"})
write_dict("mapping.dict", {"[*]", "[0]", "['", "']", "[\"", "\"]", "$.", ".", "\t", "!", "\x00",
                            "any", "string", "number", "integer", "bool", "date", "datetime", "money",
                            "1e400", "-0", "1234.50", "2019-03-01", "T23:30:00-05:00", "Z", "true",
                            "null", "{\"", "\":", "[", "]", "99999999999999999999", "1.0e11"})

for t in sorted(seeds.iterdir()):
    files = list(t.iterdir())
    print("%-14s %3d seeds, %6d bytes, largest %5d" % (t.name, len(files),
          sum(f.stat().st_size for f in files), max(f.stat().st_size for f in files)))
PY
