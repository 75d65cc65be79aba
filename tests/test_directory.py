"""directory: the user list, and the users a run recorded laid over it for its resume."""

from offboard.core.directory import Directory, Person

LISTING = Directory.from_users(
    [
        {"id": 1, "email": "admin@x.io", "client_and_roles": [{"client_id": 10}]},
        # A new user with the email of user 8, whom the run being resumed deleted.
        {"id": 30, "email": "one@x.io", "client_and_roles": [{"client_id": 20}]},
    ]
)
RECORDED = {
    8: Person(8, "One@x.io", frozenset({10}), "One", "", {10: (1,)}),
    7: Person(7, "two@x.io", frozenset({10, 20}), "Two", "", {10: (1,), 20: (1,)}),
}


def test_a_resume_resolves_the_emails_its_run_resolved():
    """Users the run deleted still resolve, with the accounts the run saw; an email the run
    resolved keeps its user even if a new user took it since; the rest is the listing."""
    merged = LISTING.with_recorded(RECORDED)
    assert merged.ids_for("one@x.io") == [8] and merged.ids_for("TWO@x.io") == [7]
    assert merged.people[7].accounts == {10, 20} and merged.people[8].name == "One"
    assert merged.ids_for("admin@x.io") == [1] and 30 in merged.people
    assert LISTING.with_recorded({}) is LISTING


def test_a_resume_keeps_the_accounts_its_run_saw_and_adds_those_gained_since():
    """A recorded user the listing still shows reaches the union of both (a `*` row of a
    resumed job revokes the new account too); the recorded role wins where both know one."""
    listing = Directory.from_users(
        [
            {
                "id": 7,
                "email": "two@x.io",
                "client_and_roles": [
                    {"client_id": 20, "user_roles": ["5"]},
                    {"client_id": 40, "user_roles": ["2"]},
                ],
            }
        ]
    )
    merged = listing.with_recorded(RECORDED)
    assert merged.people[7].accounts == {10, 20, 40}
    assert merged.people[7].roles == {10: (1,), 20: (1,), 40: (2,)}
    assert merged.people[7].name == "Two" and merged.people[8].accounts == {10}


def test_a_directory_built_page_by_page_is_the_one_built_from_the_whole_list():
    """http/listing.py builds each page's Directory as it arrives (its CPU beside the other
    pages' round trips): joined in page order they equal from_users over every page, with an
    ID or an email on two pages, a deleted user and a malformed entry included."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    user = st.fixed_dictionaries(
        {
            "id": st.integers(1, 6),
            "email": st.sampled_from(["a@x.example", "A@x.example", "b@x.example"]),
            "deleted": st.booleans(),
            "name": st.sampled_from(["", "Ann", None]),
            "client_and_roles": st.lists(
                st.fixed_dictionaries(
                    {
                        "client_id": st.integers(1, 3),
                        "client_company_name": st.sampled_from(["", "One", "Two"]),
                        "user_roles": st.lists(st.sampled_from(["1", "2"]), max_size=2),
                    }
                ),
                max_size=2,
            ),
        }
    )
    entry = st.one_of(user, st.just({"id": "x"}), st.just("not a user"))

    @settings(deadline=None)  # a busy machine must not fail it: no timed assertions
    @given(st.lists(st.lists(entry, max_size=4), max_size=4))
    def check(pages: list[list[object]]) -> None:
        whole = Directory.from_users([u for page in pages for u in page])
        joined = Directory.joined([Directory.from_users(page) for page in pages])
        assert joined == whole
        assert list(joined.people) == list(whole.people)

    check()
