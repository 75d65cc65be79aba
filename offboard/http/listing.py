"""The user list, `GET /iam/users`, read in pages: the first alone, the rest at once.

Always with `limit`: without it the API returns every user as one plain array. The first
page says how many users there are (`count`) and how many a page really holds (the server
may cap it below our limit), so the other pages' offsets are known and they are read
concurrently, each through the run's one rate limiter and its retries: at 3,000 users that
is 30 requests in about two round trips instead of 30 in a row (1.3 s at 20 ms each).

Offsets only hold while the list does not change under the read. A later page that comes
back shorter than the first (a user deleted meanwhile, a cap that varies) or a count that
moves makes the read start again from the first page, one page after another, with the
offset advanced by what each page really held, as a plain paginated read does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from ..core.models import Exchange
from .exchange import Heard

USERS_PAGE = 100
USERS = "/iam/users"

Request = Callable[..., Awaitable[Exchange]]  # Api.request
T = TypeVar("T")


class DirectoryError(Exception):
    """A read the run depends on (user list, key owner, token list) failed."""


async def read_users(
    request: Request,
    shape: Callable[[list[Any]], T],
    request_ids: list[str] | None = None,
    asked: Callable[[], None] | None = None,
) -> list[T]:
    """Every live user visible to the key, as `shape` of each page's users in page order
    (each page's request ID goes into `request_ids`). A page is shaped as soon as it is read,
    so that CPU goes beside the other pages' round trips, not after the last of them.
    `asked` is called when the first answer to a later page begins (when there are any):
    every later page has gone out by then, and CPU the caller held back can go beside
    their round trips."""
    first = await _page(request, 0)
    users, count, _ = first
    if count is None or count <= len(users) or not users:
        _note(request_ids, [first])
        return [shape(users)]
    step = len(users)
    offsets = range(step, count, step)
    pages: dict[int, tuple[list[Any], int | None, str]] = {}
    shaped: dict[int, T] = {}
    failed: list[BaseException] = []

    async def heard(status: int) -> None:
        if asked is not None:
            asked()

    async def read(offset: int) -> None:
        try:
            pages[offset] = page = await _page(request, offset, heard)
            if len(page[0]) == step or offset == last:  # else read again one by one
                shaped[offset] = shape(page[0])
        except BaseException as exc:  # kept, raised below: not as an ExceptionGroup
            failed.append(exc)
            raise

    async def shape_first() -> None:
        shaped[0] = shape(users)

    last = offsets[-1]
    try:
        async with anyio.create_task_group() as group:
            for offset in offsets:
                group.start_soon(read, offset)
            group.start_soon(shape_first)  # after the reads have had their turn to send
    except BaseExceptionGroup:
        raise failed[0] from None
    read_in_order = [first, *(pages[offset] for offset in offsets)]
    if all(offset in shaped for offset in offsets) and all(p[1] == count for p in read_in_order):
        _note(request_ids, read_in_order)
        return [shaped[0], *(shaped[offset] for offset in offsets)]
    return await _one_by_one(request, shape, request_ids)


async def _one_by_one(
    request: Request, shape: Callable[[list[Any]], T], request_ids: list[str] | None
) -> list[T]:
    everyone: list[T] = []
    offset, count = 0, None
    while count is None or offset < count:
        users, count, request_id = await _page(request, offset)
        if request_ids is not None:
            request_ids.append(request_id)
        everyone.append(shape(users))
        if count is None or not users:
            break
        offset += len(users)
    return everyone


async def _page(
    request: Request, offset: int, heard: Heard | None = None
) -> tuple[list[Any], int | None, str]:
    """(users, count, request ID) of one page; count None when the answer gave none (a plain
    array, or no usable count: then this page is all there is to trust). `heard`: awaited
    as each attempt's answer begins."""
    exchange = await request(
        "GET", USERS, params={"limit": USERS_PAGE, "offset": offset}, heard=heard
    )
    if exchange.status != 200:
        raise DirectoryError(failure("reading the user list", exchange))
    page = exchange.body
    users = page.get("results") if isinstance(page, dict) else page
    if not isinstance(users, list):
        raise DirectoryError("the user list came back in an unexpected shape")
    if not isinstance(page, dict):
        return users, None, exchange.request_id
    count = page.get("count")
    if not isinstance(count, int) or isinstance(count, bool):
        count = offset + len(users)  # no usable count: this page is the last one trusted
    return users, count, exchange.request_id


def _note(request_ids: list[str] | None, pages: list[tuple[list[Any], int | None, str]]) -> None:
    if request_ids is not None:
        request_ids.extend(page[2] for page in pages)


def failure(doing: str, exchange: Exchange) -> str:
    if exchange.status is None:
        return f"{doing}: {exchange.error} (after {exchange.attempts} attempts)"
    detail = f": {exchange.message}" if exchange.message else ""
    return f"{doing}: HTTP {exchange.status}{detail} (after {exchange.attempts} attempts)"
