"""Configuration: a TOML file, then FEEDS_* environment variables, then flags."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .exceptions import ConfigError
from .records import Limits, Site

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PACKAGE_ROOT / "config" / "feeds.toml"
ENV_PREFIX = "FEEDS_"


BUILDER_MODES = ("auto", "off")
BUILDER_CONFIG_VARIABLE = "FEEDS_BUILDER_CONFIG"  # how a server hands its configuration to the builder it starts
WATCH_MODES = ("events", "poll")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "feeds"


@dataclass(frozen=True)
class Config:
    title: str = "Feeds"
    description: str = ""
    base_url: str = "http://127.0.0.1:8000/"
    content: Path = PACKAGE_ROOT / "sample"
    language: str = "en"
    items_per_feed: int = 50
    archives: bool = True  # every feed's older items in archive documents (RFC 5005, JSON Feed next_url)
    items_per_archive: int = 100
    cache_max_age: int = 300
    archive_max_age: int = 86400  # archive documents almost never change
    reload_interval: float = 2.0
    max_file_bytes: int = 1_000_000
    max_summary_chars: int = 1_000
    cache_url: str = ""  # e.g. redis://127.0.0.1:6379/0: the document store in Redis
    cache_dir: Path | None = None  # article index (and local store); None: the user cache folder
    store_dir: Path | None = None  # the local document store; None: inside cache_dir
    builder: str = "auto"  # "auto": servers start a builder when none runs; "off": never
    watch: str = "events"  # "events": file-system events; "poll": scan every reload_interval
    rescan_interval: float = 600.0  # with events: a full scan this often anyway (events can be lost)
    websub_hubs: str = ""  # WebSub hubs, space-separated: linked from every feed, told of every change
    icon: str = ""  # the site's small square icon (favicon), a URL or a path under base_url
    logo: str = ""  # the site's larger image (2:1 or square), likewise

    @property
    def site(self) -> Site:
        return Site(title=self.title, base_url=self.base_url, language=self.language,
                    description=self.description, items_per_feed=self.items_per_feed,
                    archives=self.archives, items_per_archive=self.items_per_archive, icon=self.icon, logo=self.logo, hubs=tuple(public_hub(hub) for hub in self.hubs))

    @property
    def hubs(self) -> tuple[str, ...]:
        """The WebSub hubs as configured (credentials included: for publishing only)."""
        return tuple(self.websub_hubs.split())

    @property
    def limits(self) -> Limits:
        return Limits(max_file_bytes=self.max_file_bytes, max_summary_chars=self.max_summary_chars)


_TYPES = {f.name: f.type for f in fields(Config)}


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """File (FEEDS_CONFIG or the default), then FEEDS_<KEY> variables, then `overrides`."""
    environ = os.environ if environ is None else environ
    explicit = path or environ.get(ENV_PREFIX + "CONFIG")
    config_path = Path(explicit) if explicit else DEFAULT_CONFIG
    values: dict[str, Any] = {}
    if explicit or config_path.exists():
        values.update(_read_file(config_path))
    for name in _TYPES:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw, f"environment variable {ENV_PREFIX}{name.upper()}")
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _coerce(name, raw, f"--{name.replace('_', '-')}")
    return _validated(replace(Config(), **values))


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read configuration: {error}") from None
    unknown = sorted(set(data) - set(_TYPES))
    if unknown:
        raise ConfigError(f"{path}: unknown configuration key(s): {', '.join(unknown)}")
    if isinstance(data.get("content"), str):
        # Relative to the file, so the same configuration works from any folder.
        data["content"] = str(path.parent.absolute() / Path(data["content"]).expanduser())
    return {name: _coerce(name, value, f"{path}: {name}") for name, value in data.items()}


_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _coerce(name: str, value: Any, where: str) -> Any:
    kind = _TYPES[name]
    try:
        if kind in ("bool", bool):
            if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
                return _BOOLEANS[value.strip().lower()]
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind in ("int", int):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind in ("float", float):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind in ("Path", Path, "Path | None") and name in ("cache_dir", "store_dir") and value == "":
            return None
        if kind in ("Path", Path, "Path | None"):
            if not isinstance(value, (str, Path)):
                raise ValueError
            return Path(os.path.normpath(Path(value).expanduser().absolute()))
        if name == "websub_hubs" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return " ".join(value)  # a TOML list; the variable is space-separated
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}") from None


def _validated(config: Config) -> Config:
    from .text import web_link
    base = web_link(config.base_url)
    if base is None:
        raise ConfigError(f"base_url must be an absolute http(s) URL, got {config.base_url!r}")
    if not base.endswith("/"):
        base += "/"
    if config.items_per_feed < 1:
        raise ConfigError(f"items_per_feed must be at least 1, got {config.items_per_feed}")
    if config.items_per_archive < 1:
        raise ConfigError(f"items_per_archive must be at least 1, got {config.items_per_archive}")
    for name in ("cache_max_age", "archive_max_age", "max_file_bytes", "max_summary_chars"):
        if getattr(config, name) < (1 if name.startswith("max_") else 0):
            raise ConfigError(f"{name} must be positive, got {getattr(config, name)}")
    if config.reload_interval <= 0:
        raise ConfigError(f"reload_interval must be positive, got {config.reload_interval}")
    if config.rescan_interval <= 0:
        raise ConfigError(f"rescan_interval must be positive, got {config.rescan_interval}")
    if config.builder not in BUILDER_MODES:
        raise ConfigError(f"builder must be one of {', '.join(BUILDER_MODES)}, got {config.builder!r}")
    if config.watch not in WATCH_MODES:
        raise ConfigError(f"watch must be one of {', '.join(WATCH_MODES)}, got {config.watch!r}")
    if config.cache_url and not config.cache_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"cache_url must be a redis:// URL, got {config.cache_url!r}")
    if not config.title.strip():
        raise ConfigError("title must not be empty")
    images = {}
    for name in ("icon", "logo"):
        value = getattr(config, name).strip()
        if value:
            from urllib.parse import urljoin
            images[name] = web_link(urljoin(base, value))
            if images[name] is None:
                raise ConfigError(f"{name} must be an http(s) URL or a path under base_url, got {value!r}")
    for hub in config.hubs:
        if web_link(hub) is None:
            raise ConfigError(f"websub_hubs: {public_hub(hub)!r} is not an absolute http(s) URL")
    return replace(config, base_url=base, websub_hubs=" ".join(config.hubs), **images)


def public_hub(hub: str) -> str:
    """A hub's address as feeds show it and logs name it: without the user
    name and password a publisher may need to notify it."""
    from urllib.parse import urlsplit, urlunsplit
    try:
        parts = urlsplit(hub)
        if "@" not in parts.netloc:
            return hub
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    except ValueError:
        import re
        return re.sub(r"//[^/?#]*@", "//", hub)
