"""Sign-in, sessions, CSRF and the rate limit, over the real server (uvicorn) and a real store."""

from __future__ import annotations

from http.cookies import SimpleCookie

from sqlalchemy import func, select

from edm.config import load_settings
from edm.console.sessions import COOKIE
from edm.runner import open_store
from edm.store import AuditEntry, CampaignApproval, SendingPause
from tests.console.conftest import PASSWORD, Console, client, csrf_of, edm, sign_in, signed_in


def test_a_user_signs_in_sees_the_pages_and_signs_out(console: Console) -> None:
    with client(console) as http:
        assert http.get("/").headers["location"] == "/login"  # not signed in: to the sign-in form
        answer = sign_in(http, "mia")
        assert answer.status_code == 303
        today = http.get("/")
        assert today.status_code == 200 and "mia (marketer)" in today.text
        kept = dict(http.cookies)  # as someone who copied the cookie before the sign-out
        out = http.post("/logout", data={"csrf": csrf_of(today.text)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert http.get("/").headers["location"] == "/login"
    with client(console) as thief:
        thief.cookies.update(kept)
        assert thief.get("/").headers["location"] == "/login"  # the signed-out session is over everywhere
    again = signed_in(console, "mia")  # a new sign-in works at once
    assert again.get("/").status_code == 200


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(console: Console) -> None:
    with client(console) as http:
        wrong = sign_in(http, "mia", "not the password at all")
        nobody = sign_in(http, "nobody", "not the password at all")
        assert wrong.status_code == nobody.status_code == 401
        assert "Wrong user name or password." in wrong.text
        assert wrong.text.replace("mia", "X") == nobody.text.replace("nobody", "X")  # no enumeration
        assert http.get("/").headers["location"] == "/login"


def test_a_disabled_user_can_no_longer_sign_in_and_their_session_ends(console: Console) -> None:
    http = signed_in(console, "ana")
    edm(console.folder, "users", "disable", "ana")
    assert http.get("/").headers["location"] == "/login"
    assert sign_in(client(console), "ana").status_code == 401


def test_repeated_failures_lock_the_name_even_for_the_right_password(console: Console) -> None:
    with client(console) as http:
        for _ in range(5):  # console.login_per_user
            assert sign_in(http, "ada", "guessing again and again").status_code == 401
        locked = sign_in(http, "ada", PASSWORD)
        assert locked.status_code == 429 and "Too many sign-in attempts" in locked.text
        assert sign_in(http, "mia").status_code == 303  # another user is not locked out by it


def test_one_address_gets_a_limited_number_of_attempts(console: Console) -> None:
    with client(console) as http:
        answers = [sign_in(http, f"user{n}", "whatever it is they try").status_code for n in range(9)]
        assert answers == [401] * 8 + [429]  # console.login_per_ip (8 here)
        assert sign_in(http, "mia").status_code == 429  # the address is limited, whoever it names


def test_posts_without_the_session_csrf_token_are_refused_and_write_nothing(console: Console) -> None:
    http = signed_in(console, "mia")
    other = signed_in(console, "ada")
    foreign = csrf_of(other.get("/campaigns/spring_sale").text)  # another session's token
    for data in ({}, {"csrf": ""}, {"csrf": "forged"}, {"csrf": foreign}):
        for action in ("approve", "pause"):
            answer = http.post(f"/campaigns/spring_sale/{action}", data=data)
            assert answer.status_code == 403, (action, data)
    assert http.post("/logout").status_code == 403
    with client(console) as stranger:  # the sign-in form too
        stranger.get("/login")
        assert stranger.post("/login", data={"name": "mia", "password": PASSWORD}).status_code == 403
    with open_store(load_settings(console.folder / "edm.yaml"))() as session:
        for model in (CampaignApproval, SendingPause, AuditEntry):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_session_cookies_are_httponly_strict_and_expire(console: Console) -> None:
    with client(console) as http:
        cookie = SimpleCookie(http.get("/login").headers["set-cookie"])[COOKIE]
        assert cookie["httponly"] and cookie["samesite"].lower() == "strict"
        assert int(cookie["max-age"]) == 12 * 3600  # console.session_hours
        assert not cookie["secure"]  # base_url is http://127.0.0.1 in this folder
        signed = SimpleCookie(sign_in(http, "mia").headers["set-cookie"])[COOKIE]
        assert signed.value != cookie.value  # a new session at sign-in: no fixation
        assert signed["httponly"] and signed["samesite"].lower() == "strict"
