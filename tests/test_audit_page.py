"""The audit log page: who may read which account's entries, filters, keyset pages,
readable diffs, authentication events, and no secret anywhere in it."""
from __future__ import annotations

import html
import json
import re
import uuid
from datetime import timedelta, timezone

import pytest
from sqlalchemy import select, text

from portal.audit import (AuditFilter, InvalidCursor, audit_page, decode_cursor,
                          encode_cursor, field_changes)
from portal.db import set_tenant
from portal.models import AuditLog, Engagement
from tests.conftest import TEST_PASSWORD, csrf_token_from

ENTRY_ROW = re.compile(r'<td><code>(\w+)</code></td>\s*<td><span class="badge[^"]*">(\w+)</span>')
OLDER_LINK = re.compile(r'id="audit-older" href="([^"]+)"')


def entries_on(page_html: str) -> list[tuple[str, str]]:
    """(table, operation) of every entry row on a rendered audit page."""
    return ENTRY_ROW.findall(page_html)


def act_in(db_session, account, user=None) -> None:
    """Make the test session's next statements happen in `account`, by `user`.  (Also
    needed after a request: requests share the test's connection and leave their own
    tenant settings on it.)"""
    context = db_session.info["tenant"].with_(client_id=account.id,
                                              user_id=user.id if user else None)
    set_tenant(db_session, context)


def rename(db_session, engagement: Engagement, name: str, description: str | None = None):
    engagement.name = name
    if description is not None:
        engagement.description = description
    db_session.flush()


@pytest.fixture
def two_accounts(people):
    mine, theirs = people.account(name="Mine"), people.account(name="Theirs")
    people.engagement(mine, "Mine engagement")
    people.engagement(theirs, "Their engagement")
    return mine, theirs


@pytest.fixture
def account_admin(people, login, two_accounts):
    admin = people.user("admin", two_accounts[0])
    login(admin)
    return admin


def test_anonymous_is_sent_to_login(client):
    response = client.get("/audit/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", ["viewer", "member"])
def test_only_account_admins_may_read_the_log(client, people, login, two_accounts, role):
    login(people.user(role, two_accounts[0]))
    assert client.get("/audit/").status_code == 403


def test_account_admin_sees_only_own_accounts_entries(client, account_admin):
    page = client.get("/audit/")
    assert page.status_code == 200
    assert "Mine engagement" in page.text and "Their engagement" not in page.text
    # Asking for every account is a platform admin's privilege: ignored for others.
    widened = client.get("/audit/?scope=all")
    assert widened.status_code == 200 and "Their engagement" not in widened.text


def test_platform_admin_reads_every_account_with_scope_all(client, people, login,
                                                           two_accounts):
    mine, _ = two_accounts
    login(people.user("admin", mine, admin=True))
    own = client.get("/audit/?table=engagements")
    assert "Mine engagement" in own.text and "Their engagement" not in own.text
    everything = client.get("/audit/?table=engagements&scope=all")
    assert everything.status_code == 200
    assert "Mine engagement" in everything.text and "Their engagement" in everything.text
    assert "<th scope=\"col\">Account</th>" in everything.text and ">Theirs<" in everything.text


def test_table_filter(client, account_admin):
    everything = entries_on(client.get("/audit/").text)
    assert {"engagements", "client_accounts"} <= {table for table, _ in everything}
    only = entries_on(client.get("/audit/?table=engagements").text)
    assert only and {table for table, _ in only} == {"engagements"}


def test_operation_filter(client, db_session, account_admin, two_accounts):
    mine, _ = two_accounts
    act_in(db_session, mine)
    engagement = db_session.scalar(select(Engagement).where(
        Engagement.client_account_id == mine.id))
    rename(db_session, engagement, "Renamed engagement")
    assert {op for _, op in entries_on(client.get("/audit/").text)} >= {"INSERT", "UPDATE"}
    assert entries_on(client.get("/audit/?operation=UPDATE").text) == [("engagements", "UPDATE")]


def test_user_filter(client, db_session, people, account_admin, two_accounts):
    mine, _ = two_accounts
    colleague = people.user("member", mine, email="colleague@example.com")
    act_in(db_session, mine, colleague)
    engagement = db_session.scalar(select(Engagement).where(
        Engagement.client_account_id == mine.id))
    rename(db_session, engagement, "Renamed by the colleague")
    filtered = client.get(f"/audit/?user={colleague.id}")
    assert entries_on(filtered.text) == [("engagements", "UPDATE")]
    assert "colleague@example.com" in filtered.text  # the user's name, not only an id
    assert len(entries_on(client.get("/audit/").text)) > 1


def test_date_range_filter_covers_whole_days(client, db_session, account_admin, two_accounts):
    act_in(db_session, two_accounts[0])
    newest = db_session.scalars(select(AuditLog).where(
        AuditLog.client_account_id == two_accounts[0].id)).first()
    day = newest.timestamp.astimezone(timezone.utc).date()
    everything = entries_on(client.get("/audit/").text)
    same_day = entries_on(client.get(f"/audit/?date_from={day}&date_to={day}").text)
    assert same_day == everything and everything  # date_to includes that whole day
    assert entries_on(client.get(f"/audit/?date_from={day + timedelta(days=1)}").text) == []
    assert entries_on(client.get(f"/audit/?date_to={day - timedelta(days=1)}").text) == []
    assert "No changes match these filters" in client.get(
        f"/audit/?date_to={day - timedelta(days=1)}").text


@pytest.mark.parametrize("query, message", [
    ("date_from=2024-13-45", "Not a valid date value"),
    ("date_from=2024-05-02&date_to=2024-05-01", "The end date is before the start date"),
    ("user=not-a-uuid", "Not a valid user id"),
    ("table=pg_authid", "Not a valid choice"),
    ("operation=TRUNCATE", "Not a valid choice"),
])
def test_invalid_filters_answer_400_with_the_error(client, account_admin, query, message):
    response = client.get(f"/audit/?{query}")
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    assert 'id="audit-filter-errors"' in response.text


def test_keyset_pages_are_disjoint_ordered_and_complete(db_session, two_accounts):
    mine, _ = two_accounts
    act_in(db_session, mine)
    engagement = db_session.scalar(select(Engagement).where(
        Engagement.client_account_id == mine.id))
    for number in range(6):
        rename(db_session, engagement, f"Name {number}")
    everything = audit_page(db_session, mine.id, AuditFilter(), limit=1000).entries
    pages, cursor = [], None
    while True:
        page = audit_page(db_session, mine.id, AuditFilter(), cursor, limit=3)
        pages.append(page.entries)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    walked = [entry.id for entries in pages for entry in entries]
    assert len(everything) >= 8 and len(pages) == -(-len(everything) // 3)
    assert walked == [entry.id for entry in everything]  # complete, in order
    assert len(set(walked)) == len(walked)  # disjoint
    keys = [(entry.timestamp, entry.id) for entry in everything]
    assert keys == sorted(keys, reverse=True)  # newest first, id breaks ties


def test_older_entries_link_continues_where_the_page_ended(client, db_session, account_admin,
                                                          two_accounts):
    mine, _ = two_accounts
    act_in(db_session, mine)
    engagement = db_session.scalar(select(Engagement).where(
        Engagement.client_account_id == mine.id))
    for number in range(55):
        rename(db_session, engagement, f"Name {number}")
    total = len(audit_page(db_session, mine.id, AuditFilter(), limit=1000).entries)
    first = client.get("/audit/")
    older_url = html.unescape(OLDER_LINK.search(first.text).group(1))
    second = client.get(older_url)
    first_ids = set(re.findall(r'id="audit-diff-([0-9a-f-]{36})"', first.text))
    second_ids = set(re.findall(r'id="audit-diff-([0-9a-f-]{36})"', second.text))
    assert len(first_ids) == 50 and not first_ids & second_ids
    assert len(first_ids | second_ids) == total
    assert OLDER_LINK.search(second.text) is None and "End of the log" in second.text


def test_tampered_cursor_is_refused(client, db_session, account_admin, two_accounts):
    act_in(db_session, two_accounts[0])
    newest = audit_page(db_session, two_accounts[0].id, AuditFilter(), limit=1).entries[0]
    cursor = encode_cursor(newest.timestamp, newest.id)
    assert decode_cursor(cursor) == (newest.timestamp, newest.id)
    flipped = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    for bad in (flipped, cursor[:-2], "garbage!", cursor + "AAAA"):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad)
        response = client.get("/audit/", query_string={"cursor": bad})
        assert response.status_code == 400 and "page link is invalid" in response.text
    assert client.get("/audit/", query_string={"cursor": cursor}).status_code == 200


def test_update_diff_shows_exactly_the_changed_fields(client, db_session, account_admin,
                                                      two_accounts):
    mine, _ = two_accounts
    act_in(db_session, mine)
    engagement = db_session.scalar(select(Engagement).where(
        Engagement.client_account_id == mine.id))
    rename(db_session, engagement, "After", description="Now described")
    update = audit_page(db_session, mine.id, AuditFilter(operation="UPDATE")).entries[0]
    changes = {c.field: (c.old, c.new, c.kind) for c in field_changes(update)}
    assert changes == {"name": ("Mine engagement", "After", "changed"),
                       "description": (None, "Now described", "changed")}
    page = client.get("/audit/?operation=UPDATE").text
    assert ">2 fields <i" in page
    assert '"Mine engagement"' in html.unescape(page) and '"After"' in html.unescape(page)


def test_role_changes_and_deactivations_are_recorded(client, db_session, people,
                                                     account_admin, two_accounts):
    from portal.accounts import add_member
    mine, _ = two_accounts
    colleague = people.user("viewer", mine)
    act_in(db_session, mine, account_admin)
    add_member(db_session, mine, colleague, "member")
    colleague.is_active = False
    db_session.flush()
    roles = client.get("/audit/?table=user_account_associations&operation=UPDATE").text
    assert entries_on(roles) == [("user_account_associations", "UPDATE")]
    assert '"viewer"' in html.unescape(roles) and '"member"' in html.unescape(roles)
    deactivated = client.get("/audit/?table=users&operation=UPDATE").text
    assert entries_on(deactivated) == [("users", "UPDATE")]
    assert "<code>is_active</code>" in deactivated
    act_in(db_session, mine)
    update = audit_page(db_session, mine.id, AuditFilter(table_name="users",
                                                         operation="UPDATE")).entries[0]
    assert [(c.field, c.old, c.new) for c in field_changes(update)] == [
        ("is_active", True, False)]


def test_insert_and_delete_list_every_field():
    inserted = AuditLog(table_name="things", operation="INSERT", old_values=None,
                        new_values={"id": 1, "name": "x"})
    deleted = AuditLog(table_name="things", operation="DELETE", old_values={"id": 1},
                       new_values=None)
    assert [(c.field, c.kind) for c in field_changes(inserted)] == [("id", "added"),
                                                                    ("name", "added")]
    assert [(c.field, c.old, c.kind) for c in field_changes(deleted)] == [("id", 1, "removed")]


def test_logins_and_failed_logins_are_auth_entries(client, db_session, people, login,
                                                   two_accounts):
    mine, _ = two_accounts
    member = people.user("member", mine, email="member-who-fails@example.com")
    page = client.get("/login")
    refused = client.post("/login", data={"email": member.email, "password": "wrong password",
                                          "csrf_token": csrf_token_from(page.text)})
    assert refused.status_code == 401
    admin = people.user("admin", mine, admin=True)
    login(admin)
    logins = client.get("/audit/?table=auth&operation=LOGIN")
    assert entries_on(logins.text) == [("auth", "LOGIN")]
    # A failed login belongs to no account yet: platform admins read it with scope=all.
    failures = client.get("/audit/?table=auth&operation=LOGIN_FAIL&scope=all")
    assert ("auth", "LOGIN_FAIL") in entries_on(failures.text)
    assert "member-who-fails@example.com" in failures.text and "credentials" in failures.text


def test_no_secret_ever_appears(client, db_session, people, login, two_accounts):
    mine, _ = two_accounts
    admin = people.user("admin", mine, admin=True)
    login(admin)
    act_in(db_session, mine, admin)
    admin.password_hash = admin.password_hash + "x"  # an UPDATE of the users row
    admin.first_name = "Ada"
    db_session.flush()
    ciphertext, email_hash = db_session.execute(text(
        "SELECT email, email_hash FROM users WHERE id = :id"), {"id": admin.id}).one()
    secrets = [admin.password_hash, ciphertext, email_hash, TEST_PASSWORD]
    for query in ("scope=all", "scope=all&table=users", "scope=all&table=auth"):
        page = client.get(f"/audit/?{query}").text
        assert "Ada" in page or "table=auth" in query
        for forbidden in [*secrets, "password_hash", "email_hash"]:
            assert forbidden not in page, (query, forbidden)
    act_in(db_session, mine)  # still a platform admin: reads every account's entries
    stored = db_session.scalars(select(AuditLog).where(
        AuditLog.record_id == admin.id)).all()
    assert stored
    dumped = json.dumps([[entry.old_values, entry.new_values] for entry in stored])
    for forbidden in [*secrets, '"password_hash"', '"email"', '"email_hash"']:
        assert forbidden not in dumped


def test_secret_fields_are_hidden_even_if_a_trigger_wrote_them():
    leaked = AuditLog(table_name="users", operation="UPDATE",
                      old_values={"password_hash": "$argon2id$old", "email": "gAAAA-old",
                                  "first_name": "A"},
                      new_values={"password_hash": "$argon2id$new", "email": "gAAAA-new",
                                  "first_name": "B"})
    assert [c.field for c in field_changes(leaked)] == ["first_name"]


def test_htmx_request_gets_only_the_results_fragment(client, account_admin):
    fragment = client.get("/audit/?table=engagements", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith(
        '<div id="audit-results"')
    assert "HX-Request" in fragment.headers["Vary"]
    restore = client.get("/audit/", headers={"HX-Request": "true",
                                             "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text and 'id="audit-filters"' in restore.text


def test_full_page_has_the_filter_form_wired_for_htmx(client, account_admin):
    page = client.get("/audit/").text
    form = re.search(r'<form id="audit-filters"[^>]*>', page).group(0)
    assert 'hx-target="#audit-results"' in form and 'hx-push-url="true"' in form
    for name in ("table", "operation", "user", "date_from", "date_to"):
        assert f'name="{name}"' in page
    assert 'name="scope"' not in page  # only platform admins may widen the scope


def test_ids_of_invisible_users_are_shortened(client, db_session, people, account_admin,
                                              two_accounts):
    mine, theirs = two_accounts
    outsider = people.user("member", theirs)
    act_in(db_session, mine, outsider)  # e.g. a platform admin acting in this account
    engagement = db_session.scalar(select(Engagement).where(
        Engagement.client_account_id == mine.id))
    rename(db_session, engagement, "Changed by an outsider")
    page = client.get("/audit/?operation=UPDATE").text
    assert f">{str(outsider.id)[:8]}</a>" in page and outsider.email not in page


def test_unknown_user_filter_finds_nothing(client, account_admin):
    response = client.get(f"/audit/?user={uuid.uuid4()}")
    assert response.status_code == 200 and entries_on(response.text) == []
