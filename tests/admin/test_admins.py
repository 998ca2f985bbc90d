"""AdminStore against both databases: passwords, sessions, API tokens, throttling, schema."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from argon2 import PasswordHasher

import tokenbot.core.admins as admins_module
from tokenbot.core.admins import AdminStore
from tokenbot.core.admins import AdminUser
from tokenbot.core.admins import ThrottleLimit
from tokenbot.core.clock import FrozenClock
from tokenbot.core.db import Database
from tokenbot.core.db import upgrade
from tokenbot.core.errors import AdminError
from tokenbot.core.errors import AdminExists
from tokenbot.core.errors import WeakPassword
from tokenbot.core.models import Base

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store(database: Database, clock: FrozenClock) -> AdminStore:
    return AdminStore(
        database,
        clock=clock,
        hasher=CHEAP,
        user_limit=ThrottleLimit(failures=3, window_seconds=600),
        ip_limit=ThrottleLimit(failures=5, window_seconds=600),
    )


def _stored_hash(database: Database, username: str) -> str:
    with database.read() as session:
        return session.scalars(
            sa.select(AdminUser.password_hash).where(AdminUser.username == username)
        ).one()


def test_migration_matches_the_models(database: Database) -> None:
    assert admins_module.AdminUser.__table__ is Base.metadata.tables["admin_users"]
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = {"admin_users", "admin_sessions", "api_tokens", "login_throttles"}
    touching_ours = [d for d in diff if any(name in repr(d) for name in ours)]
    assert touching_ours == []


def test_default_hash_is_argon2id_with_rfc9106_parameters(database: Database) -> None:
    store = AdminStore(database, clock=FrozenClock())
    store.create_admin("Alice", "correct horse battery")
    assert _stored_hash(database, "alice").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_login_upgrades_a_hash_made_with_older_parameters(
    database: Database, store: AdminStore
) -> None:
    store.create_admin("alice", "correct horse battery")
    assert _stored_hash(database, "alice").startswith("$argon2id$v=19$m=8,t=1,p=1$")
    stronger = AdminStore(database, clock=FrozenClock(), hasher=PasswordHasher(memory_cost=1024))
    result = stronger.authenticate("alice", "correct horse battery", client_ip="127.0.0.1")
    assert result.admin is not None
    assert _stored_hash(database, "alice").startswith("$argon2id$v=19$m=1024,t=3,p=4$")


@pytest.mark.parametrize("password", ["", "short", "7chars!"])
def test_short_passwords_are_refused(store: AdminStore, password: str) -> None:
    with pytest.raises(WeakPassword):
        store.create_admin("alice", password)
    assert store.count_admins() == 0


def test_duplicate_admin_is_refused_case_insensitively(store: AdminStore) -> None:
    store.create_admin("alice", "password-one")
    with pytest.raises(AdminExists):
        store.create_admin(" ALICE ", "password-two")


@pytest.mark.parametrize("username", ["", "   ", "a b", "x" * 151])
def test_bad_usernames_are_refused(store: AdminStore, username: str) -> None:
    with pytest.raises(AdminError):
        store.create_admin(username, "long enough password")


def test_authenticate_success_and_failure(store: AdminStore) -> None:
    admin_id = store.create_admin("alice", "correct horse battery")
    ok = store.authenticate("Alice", "correct horse battery", client_ip="10.0.0.1")
    assert ok.admin is not None and ok.admin.admin_id == admin_id
    assert ok.admin.username == "alice"
    bad = store.authenticate("alice", "wrong password", client_ip="10.0.0.1")
    assert bad.admin is None and not bad.throttled


def test_unknown_user_and_wrong_password_are_throttled_alike(
    store: AdminStore, clock: FrozenClock
) -> None:
    store.create_admin("alice", "correct horse battery")
    results = {}
    for name in ("alice", "nobody"):
        attempts = [store.authenticate(name, "guess", client_ip=f"ip-{name}") for _ in range(4)]
        results[name] = [(r.admin, r.throttled) for r in attempts]
    assert results["alice"] == results["nobody"]
    assert results["alice"][-1] == (None, True)
    # Throttled: from that address even the right password is not checked until the window ends.
    blocked = store.authenticate("alice", "correct horse battery", client_ip="ip-alice")
    assert blocked.throttled and blocked.retry_after_seconds > 0
    clock.advance(601)
    assert store.authenticate("alice", "correct horse battery", client_ip="ip-alice").admin


def test_guesses_from_many_addresses_slow_the_username_but_never_lock_its_admin_out(
    store: AdminStore, clock: FrozenClock
) -> None:
    store.create_admin("alice", "correct horse battery")
    assert store.authenticate("alice", "correct horse battery", client_ip="home").admin
    # An attacker on 30 addresses: past 3 failures for the name, one check per 5 s in all.
    outcomes = [store.authenticate("alice", "guess", client_ip=f"bot{n}") for n in range(30)]
    assert sum(not r.throttled for r in outcomes) == 4
    # The admin's known address is not slowed; a new one waits at most the spacing.
    assert store.authenticate("alice", "correct horse battery", client_ip="home").admin
    for _ in range(3):
        store.authenticate("alice", "guess", client_ip="bot-again")
    travel = store.authenticate("alice", "correct horse battery", client_ip="hotel")
    assert travel.throttled and travel.retry_after_seconds <= 6
    clock.advance(travel.retry_after_seconds)
    assert store.authenticate("alice", "correct horse battery", client_ip="hotel").admin


def test_parallel_wrong_tries_are_counted_before_any_is_checked(store: AdminStore) -> None:
    store.create_admin("alice", "correct horse battery")
    start = threading.Barrier(20)

    def attempt(_: int) -> bool:
        start.wait(timeout=30)
        return not store.authenticate("alice", "guess", client_ip="10.9.9.9").throttled

    with ThreadPoolExecutor(max_workers=20) as pool:
        checked = sum(pool.map(attempt, range(20)))
    assert checked == 3  # the per username-and-address limit, exactly


def test_per_address_limit_spans_usernames(store: AdminStore) -> None:
    for number in range(5):
        assert not store.authenticate(f"user{number}", "guess", client_ip="1.2.3.4").throttled
    assert store.authenticate("someone-else", "guess", client_ip="1.2.3.4").throttled
    assert not store.authenticate("someone-else", "guess", client_ip="5.6.7.8").throttled


def test_success_resets_the_user_count(store: AdminStore) -> None:
    store.create_admin("alice", "correct horse battery")
    for _ in range(2):
        store.authenticate("alice", "guess", client_ip="a")
    assert store.authenticate("alice", "correct horse battery", client_ip="a").admin
    for _ in range(2):
        assert not store.authenticate("alice", "guess", client_ip="b").throttled


def test_sessions_expire_when_idle(store: AdminStore, clock: FrozenClock) -> None:
    admin_id = store.create_admin("alice", "correct horse battery")
    sid = store.start_session(admin_id)
    principal = store.resolve_session(sid, idle_seconds=1800, absolute_seconds=43200)
    assert principal is not None and principal.admin_id == admin_id
    clock.advance(1799)
    assert store.resolve_session(sid, idle_seconds=1800, absolute_seconds=43200)
    clock.advance(1800)
    assert store.resolve_session(sid, idle_seconds=1800, absolute_seconds=43200) is None
    # Deleted, not just refused: going back in time does not revive it.
    clock.advance(-1800)
    assert store.resolve_session(sid, idle_seconds=1800, absolute_seconds=43200) is None


def test_sessions_expire_after_the_absolute_limit_even_when_busy(
    store: AdminStore, clock: FrozenClock
) -> None:
    sid = store.start_session(store.create_admin("alice", "correct horse battery"))
    # Busy all day: a request every 25 minutes keeps the idle timer fresh until 12 h.
    for _ in range(28):
        clock.advance(1500)
        alive = store.resolve_session(sid, idle_seconds=1800, absolute_seconds=43200)
        assert (alive is not None) == (clock.now().hour < 12)


def test_end_session_and_password_change_invalidate(store: AdminStore) -> None:
    admin_id = store.create_admin("alice", "correct horse battery")
    first, second = store.start_session(admin_id), store.start_session(admin_id)
    assert first != second
    store.end_session(first)
    assert store.resolve_session(first, idle_seconds=60, absolute_seconds=600) is None
    assert store.resolve_session(second, idle_seconds=60, absolute_seconds=600) is not None
    store.set_password("alice", "another good password")
    assert store.resolve_session(second, idle_seconds=60, absolute_seconds=600) is None


def test_session_table_holds_only_hashes(database: Database, store: AdminStore) -> None:
    sid = store.start_session(store.create_admin("alice", "correct horse battery"))
    with database.read() as session:
        stored = session.execute(sa.text("SELECT id_hash FROM admin_sessions")).scalars().all()
    assert stored and sid not in stored


def test_api_tokens(database: Database, store: AdminStore) -> None:
    token = store.create_api_token("grafana")
    assert token.startswith("tbt_") and len(token) >= 40
    assert store.verify_api_token(token) == "grafana"
    assert store.verify_api_token(token + "x") is None
    assert store.verify_api_token("tbt_" + "A" * 43) is None
    with database.read() as session:
        raw = session.execute(sa.text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert raw and token not in raw
    with pytest.raises(AdminError):
        store.create_api_token("grafana")
    assert store.api_token_names() == ["grafana"]
    assert store.revoke_api_token("grafana")
    assert store.verify_api_token(token) is None


def test_api_token_use_is_recorded_at_most_once_a_minute(
    store: AdminStore, clock: FrozenClock
) -> None:
    token = store.create_api_token("grafana")
    assert [info.last_used_at for info in store.list_api_tokens()] == [None]
    first = clock.now()
    assert store.verify_api_token(token) == "grafana"
    assert [info.last_used_at for info in store.list_api_tokens()] == [first]
    clock.advance(59)  # a scraper's next poll: no write
    assert store.verify_api_token(token) == "grafana"
    assert [info.last_used_at for info in store.list_api_tokens()] == [first]
    clock.advance(1)
    assert store.verify_api_token(token) == "grafana"
    assert [info.last_used_at for info in store.list_api_tokens()] == [clock.now()]
    store.verify_api_token(token + "x")  # a wrong token records nothing
    assert [info.name for info in store.list_api_tokens()] == ["grafana"]


def test_purge_expired(store: AdminStore, clock: FrozenClock) -> None:
    admin_id = store.create_admin("alice", "correct horse battery")
    store.start_session(admin_id)
    clock.advance(100)
    live = store.start_session(admin_id)
    assert store.purge_expired(idle_seconds=50, absolute_seconds=1000) == 1
    assert store.resolve_session(live, idle_seconds=50, absolute_seconds=1000)
