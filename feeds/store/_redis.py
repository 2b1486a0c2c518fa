"""The document store in Redis: builders and servers on any number of hosts
share the same bytes, ETags and Last-Modified.

    <ns>:head          JSON {version, built_at, stats} of the current version
    <ns>:manifest      hash: document path (or part, see _types) -> JSON entry
    <ns>:body:<etag>   a body, plain or compressed, or a part (superseded ones expire after GRACE_SECONDS)
    <ns>:lock          the builder's token, expiring unless renewed
    <ns>:heartbeat     Unix time of the builder's last renewal

A commit is one Lua script that checks the lock token, so a builder that
lost its lock (paused past the expiry) can never overwrite a newer version.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import time
from typing import Iterable

from ..exceptions import StoreError
from ._types import Entry, Manifest

LOCK_MILLISECONDS = 5000
GRACE_SECONDS = 600

_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local count = tonumber(ARGV[2])
local i = 3
for _ = 1, count do
  local old = redis.call('HGET', KEYS[2], ARGV[i])
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[2], ARGV[i])
  else
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
  if old and old ~= ARGV[i + 1] then
    local oldentry = cjson.decode(old)
    local newetag = ''
    if ARGV[i + 1] ~= '' then newetag = cjson.decode(ARGV[i + 1])[1] end
    if oldentry[1] ~= newetag and oldentry[1] ~= '' then
      redis.call('EXPIRE', KEYS[4] .. oldentry[1], tonumber(ARGV[#ARGV]))
      -- its compressed bodies go with it
      if type(oldentry[6]) == 'table' then
        for _, coded in pairs(oldentry[6]) do redis.call('EXPIRE', KEYS[4] .. coded[1], tonumber(ARGV[#ARGV])) end
      end
    end
  end
  i = i + 2
end
redis.call('SET', KEYS[3], ARGV[i])
-- bodies of documents listed in parts, no longer named
for j = 1, tonumber(ARGV[i + 1]) do redis.call('EXPIRE', KEYS[4] .. ARGV[i + 1 + j], tonumber(ARGV[#ARGV])) end
return 1
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[2], ARGV[3])
  return 1
end
return 0
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class RedisStore:
    def __init__(self, url: str, namespace: str):
        import redis

        self.name = f"{_redact(url)} ({namespace})"
        self.client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._errors = (redis.RedisError, OSError)
        ns = f"feeds:{namespace}"
        self.keys = {"head": f"{ns}:head", "manifest": f"{ns}:manifest", "body": f"{ns}:body:",
                     "lock": f"{ns}:lock", "heartbeat": f"{ns}:heartbeat"}
        self._head: bytes | None = None
        self._manifest: Manifest | None = None
        self._token: str | None = None
        self._commit = self.client.register_script(_COMMIT)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)

    def _fail(self, doing: str, error: Exception):
        return StoreError(f"Redis store {self.name}: cannot {doing}: {type(error).__name__}: {error}")

    # --- reading (servers) -------------------------------------------------

    def current(self) -> Manifest | None:
        try:
            head = self.client.get(self.keys["head"])
            if head is None:  # an empty store (new, or flushed): the builder fills it again
                self._manifest, self._head = None, None
                return None
            if head != self._head:
                with self.client.pipeline(transaction=True) as pipe:
                    head, documents = pipe.get(self.keys["head"]).hgetall(self.keys["manifest"]).execute()
                raw = json.loads(head)
                manifest = Manifest(int(raw["version"]), float(raw["built_at"]), dict(raw.get("stats") or {}),
                                    {path.decode(): Entry.decode(json.loads(value))
                                     for path, value in documents.items()}, str(raw.get("epoch", "")))
                if manifest.follows(self._manifest):
                    self._manifest, self._head = manifest, head
        except self._errors as error:
            raise self._fail("read the manifest", error) from None
        except (ValueError, KeyError, TypeError) as error:
            raise StoreError(f"Redis store {self.name}: unreadable manifest ({type(error).__name__})") from None
        return self._manifest

    def body(self, etag: str) -> bytes | None:
        try:
            return self.client.get(self.keys["body"] + etag)
        except self._errors as error:
            raise self._fail("read a document", error) from None

    def builder_alive(self) -> bool:
        try:
            return bool(self.client.exists(self.keys["lock"]))
        except self._errors:
            return True  # unknown: starting builders that cannot reach Redis either would not help

    def heartbeat_age(self) -> float | None:
        try:
            value = self.client.get(self.keys["heartbeat"])
        except self._errors:
            return None
        return max(0.0, time.time() - float(value)) if value else None

    # --- writing (the builder) ---------------------------------------------

    def acquire(self) -> bool:
        token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(8)}"
        try:
            if not self.client.set(self.keys["lock"], token, nx=True, px=LOCK_MILLISECONDS):
                return False
        except self._errors as error:
            raise self._fail("take the builder lock", error) from None
        self._token = token
        return self.renew()

    def renew(self) -> bool:
        if self._token is None:
            return False
        try:
            held = self._renew(keys=[self.keys["lock"], self.keys["heartbeat"]],
                               args=[self._token, LOCK_MILLISECONDS, repr(time.time())])
        except self._errors:
            return True  # unknown: the lock may still be ours; a commit checks it again
        if not held:
            self._token = None
        return bool(held)

    def release(self) -> None:
        if self._token is not None:
            try:
                self._release(keys=[self.keys["lock"]], args=[self._token])
            except self._errors:
                pass
            self._token = None

    def put(self, etag: str, body: bytes) -> None:
        try:
            self.client.set(self.keys["body"] + etag, body)  # also clears a pending expiry
        except self._errors as error:
            raise self._fail("write a document", error) from None

    def commit(self, manifest: Manifest, changed: dict[str, Entry | None] | None = None,
               retired: Iterable[str] = ()) -> None:
        """Make `manifest` current; `changed` (path -> entry, None: removed)
        says what differs from the current one (everything when None);
        `retired`: bodies of documents listed in parts that it no longer names."""
        from ..exceptions import NotLeader

        if changed is None:
            current = self.current()
            old = current.documents if current else {}
            changed = {**{path: None for path in old.keys() - manifest.documents.keys()},
                       **manifest.documents}
        args: list = [self._token or "", len(changed)]
        for path, entry in changed.items():
            args += [path, "" if entry is None else json.dumps(entry.encode(), separators=(",", ":"))]
        retired = sorted(retired)
        args += [manifest.head(), len(retired), *retired, GRACE_SECONDS]
        try:
            done = self._commit(keys=[self.keys["lock"], self.keys["manifest"], self.keys["head"],
                                      self.keys["body"]], args=args)
        except self._errors as error:
            raise self._fail("commit", error) from None
        if not done:
            self._token = None
            raise NotLeader(f"Redis store {self.name}: another builder holds the lock")
        self._manifest, self._head = manifest, manifest.head().encode()

    def collect_garbage(self, manifest: Manifest, keep: set[str] | None = None) -> int:
        return 0  # superseded bodies expire by themselves


def _redact(url: str) -> str:
    """The URL without a password, for messages."""
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)
