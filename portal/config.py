"""Settings read from environment variables, with safe defaults."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

LANGUAGES = ("es", "en")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    base_url: str = "http://127.0.0.1:8000"
    language: str = "es"
    time_zone: str = "Europe/Madrid"
    currency: str = "EUR"
    phone_region: str = "ES"
    secret_key: str = field(default="", repr=False)
    disabled_plugins: tuple[str, ...] = ()
    max_upload_bytes: int = 10 * 1024 * 1024
    secure_cookies: bool = False
    smtp_url: str = ""
    mail_from: str = "Cartera <cartera@localhost>"
    # Background jobs: Redis when set, else a SQLite file in the data folder;
    # immediate runs each job as it is enqueued, with no worker (tests).
    redis_url: str = ""
    immediate_jobs: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("CARTERA_DATA_DIR", "cartera-data")).resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'cartera.db'}"
        base_url = env.get("CARTERA_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
        language = env.get("CARTERA_LANGUAGE", "es")
        if language not in LANGUAGES:
            raise ValueError(f"CARTERA_LANGUAGE must be one of {LANGUAGES}")
        time_zone = env.get("CARTERA_TIMEZONE", "Europe/Madrid")
        ZoneInfo(time_zone)  # fails early on a misspelt zone
        disabled = env.get("CARTERA_DISABLED_PLUGINS", "")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            base_url=base_url,
            language=language,
            time_zone=time_zone,
            currency=env.get("CARTERA_CURRENCY", "EUR").upper(),
            phone_region=env.get("CARTERA_PHONE_REGION", "ES").upper(),
            secret_key=env.get("CARTERA_SECRET_KEY", ""),
            disabled_plugins=tuple(p.strip() for p in disabled.split(",") if p.strip()),
            max_upload_bytes=int(env.get("CARTERA_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)),
            secure_cookies=base_url.startswith("https://"),
            smtp_url=env.get("CARTERA_SMTP_URL", ""),
            mail_from=env.get("CARTERA_MAIL_FROM", "Cartera <cartera@localhost>"),
            redis_url=env.get("CARTERA_REDIS_URL", ""),
            immediate_jobs=env.get("CARTERA_IMMEDIATE_JOBS", "") in ("1", "true", "yes"),
        )

    def with_secret(self) -> Settings:
        """Return settings holding a secret key, creating it in the data folder once."""
        if self.secret_key:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return _replace(self, secret_key=key_file.read_text().strip())


def _replace(settings: Settings, **changes: object) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)
