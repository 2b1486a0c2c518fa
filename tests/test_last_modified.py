"""Last-Modified: the newest item's date, moved forward when a feed changes
without a newer item, never in the future, agreed on by every worker."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from feeds.last_modified import LastModifiedLedger

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
MARCH, APRIL = datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 4, 1, tzinfo=timezone.utc)


def test_a_feed_is_last_modified_when_its_newest_item_was(tmp_path):
    ledger = LastModifiedLedger(tmp_path / "lm.sqlite")
    assert ledger.resolve("feed.atom", "v1", MARCH, NOW) == MARCH
    assert ledger.resolve("feed.atom", "v1", MARCH, NOW + timedelta(hours=1)) == MARCH
    assert ledger.resolve("feed.atom", "v2", APRIL, NOW) == APRIL


def test_a_change_without_a_newer_item_is_dated_when_first_served(tmp_path):
    ledger = LastModifiedLedger(tmp_path / "lm.sqlite")
    ledger.resolve("feed.atom", "v1", APRIL, NOW)
    assert ledger.resolve("feed.atom", "v2-edited", APRIL, NOW) == NOW  # an edit keeping the dates
    assert ledger.resolve("feed.atom", "v3-removed", MARCH, NOW + timedelta(minutes=5)) == NOW + timedelta(minutes=5)


def test_two_changes_in_one_second_get_different_dates(tmp_path):
    """If-Modified-Since has one-second resolution: a second change within the
    second the first was dated must not share its date, or a client holding the
    first would be told it is current. It goes without Last-Modified until the
    clock reaches the next second."""
    ledger = LastModifiedLedger(tmp_path / "lm.sqlite")
    ledger.resolve("feed.atom", "v1", APRIL, NOW)
    assert ledger.resolve("feed.atom", "v2", APRIL, NOW) == NOW
    assert ledger.resolve("feed.atom", "v3", APRIL, NOW + timedelta(milliseconds=500)) is None
    assert ledger.resolve("feed.atom", "v3", APRIL, NOW + timedelta(seconds=1)) == NOW + timedelta(seconds=1)


def test_last_modified_is_never_later_than_now(tmp_path):
    ledger = LastModifiedLedger(tmp_path / "lm.sqlite")
    assert ledger.resolve("feed.atom", "v1", NOW + timedelta(days=30), NOW) == NOW


def test_workers_and_restarts_agree(tmp_path):
    first, second = LastModifiedLedger(tmp_path / "lm.sqlite"), LastModifiedLedger(tmp_path / "lm.sqlite")
    first.resolve("feed.atom", "v1", APRIL, NOW)
    edited = first.resolve("feed.atom", "v2", APRIL, NOW)
    assert second.resolve("feed.atom", "v2", APRIL, NOW + timedelta(seconds=3)) == edited
    restarted = LastModifiedLedger(tmp_path / "lm.sqlite")
    assert restarted.resolve("feed.atom", "v2", APRIL, NOW + timedelta(hours=1)) == edited
    assert restarted.resolve("feed.atom", "v3", APRIL, NOW + timedelta(hours=1)) == NOW + timedelta(hours=1)


def test_without_a_writable_folder_the_ledger_works_in_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    ledger = LastModifiedLedger(blocker / "lm.sqlite")
    assert ledger.resolve("feed.atom", "v1", APRIL, NOW) == APRIL
    assert ledger.resolve("feed.atom", "v2", APRIL, NOW) == NOW


def test_workers_disagreeing_on_the_version_never_push_dates_ahead_of_the_clock(tmp_path):
    """Two workers can serve different versions until both have reloaded; each
    switch must not add a second to the next date, or a burst of requests would
    leave every later version without Last-Modified for minutes."""
    first, second = LastModifiedLedger(tmp_path / "lm.sqlite"), LastModifiedLedger(tmp_path / "lm.sqlite")
    first.resolve("feed.atom", "v1", APRIL, NOW)
    for n in range(50):  # a burst within one second, alternating workers and versions
        at = NOW + timedelta(milliseconds=10 * n)
        assert second.resolve("feed.atom", "v2", APRIL, at) in (NOW, None)
        assert first.resolve("feed.atom", "v1", APRIL, at) in (NOW, None)
    later = NOW + timedelta(seconds=1)
    dated = {version: ledger.resolve("feed.atom", version, APRIL, later)
             for ledger, version in ((second, "v2"), (first, "v1"))}
    assert dated["v2"] == later and dated["v1"] is None  # one date per second, never ahead
    assert first.resolve("feed.atom", "v1", APRIL, later + timedelta(seconds=1)) == later + timedelta(seconds=1)


def test_going_back_to_an_earlier_version_gets_a_new_date(tmp_path):
    """An edit undone: clients holding the edited copy must be told of the
    change back, so the earlier version cannot keep its old date."""
    ledger = LastModifiedLedger(tmp_path / "lm.sqlite")
    assert ledger.resolve("feed.atom", "v1", MARCH, NOW) == MARCH
    assert ledger.resolve("feed.atom", "v2-edited", MARCH, NOW + timedelta(minutes=1)) == NOW + timedelta(minutes=1)
    assert ledger.resolve("feed.atom", "v1", MARCH, NOW + timedelta(minutes=2)) == NOW + timedelta(minutes=2)
