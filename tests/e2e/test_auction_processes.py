"""The auction service as real processes: a writer killed mid-auction, two writers at once, the
live view.

Each test runs ``python -m techex serve auction`` processes against a fresh database, the test
stack's Kafka and a topic prefix of its own. The auction is inserted open for bidding (as if
announced nine days ago) with its close deadline scheduled, and its bidders' deposits
confirmed, as the settlement service's events would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import signal
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.auction.domain.deals import deal_id_for
from shared.auth import Role
from tests.support.auction_processes import (
    BID_REJECTED,
    INCREMENT,
    OWNED_ELSEWHERE,
    START_PRICE,
    Answer,
    Fleet,
    OpenAuction,
    ServiceProcess,
    auction_row,
    eventually,
    open_auction,
    place_bid,
    query,
    stored_bids,
    topic_records,
)
from tests.support.services import bearer
from tests.support.sse import next_bids, next_event, sse_events

CLOSED = "cn.techex.auction.closed.v1"
CONCLUDED = "cn.techex.deal.concluded.v1"
FAILED = "cn.techex.auction.failed.v1"
OWNERSHIP_LOST = "urn:techex:problem:auction-ownership-lost"
OWNER_UNREACHABLE = "urn:techex:problem:auction-owner-unreachable"


@pytest.fixture
def fleets(new_database, common, tmp_path):
    """Makes fleets of processes; whatever still runs at the end is stopped (before the
    databases are dropped)."""
    made: list[Fleet] = []

    def make(database_url: str, lease_seconds: float = 2.0, **env: str) -> Fleet:
        fleet = Fleet(database_url, common, tmp_path / "logs", lease_seconds, extra_env=env)
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        fleet.reap_all()


def _headers(common, bidder: str) -> dict:
    return bearer(common, Role.BUYER, "230100", bidder)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Bidding:
    """Bidders outbidding each other over HTTP: each bids one or two increments above the
    highest bid it knows of (from its own answers and from the rejections' ``high_bid_fen``)."""

    def __init__(self, client: httpx.AsyncClient, common, auction: OpenAuction,
                 seed: int) -> None:
        self.client, self.common, self.auction = client, common, auction
        self.high = 0
        self.answers: list[Answer] = []
        self.random = random.Random(seed)

    @property
    def accepted(self) -> list[Answer]:
        return [a for a in self.answers if a.accepted]

    def learn(self, high: int | None) -> None:
        if high is not None:
            self.high = max(self.high, high)

    def next_amount(self) -> int:
        if not self.high:
            return START_PRICE
        return self.high + INCREMENT * self.random.randint(1, 2)

    async def bid(self, process: ServiceProcess, bidder: str, amount: int | None = None
                  ) -> Answer:
        amount = self.next_amount() if amount is None else amount
        a = await place_bid(self.client, process, self.auction.id, bidder, amount,
                            _headers(self.common, bidder))
        self.answers.append(a)
        if a.accepted:
            self.learn(a.body["high_bid_fen"])
        elif a.problem == BID_REJECTED:
            self.learn(a.body.get("high_bid_fen"))
        return a

    async def bidder(self, processes: list[ServiceProcess], bidder: str, attempts: int,
                     stop_on_no_answer: bool = False) -> None:
        """``attempts`` bids, sent to ``processes`` in turn."""
        for i in range(attempts):
            a = await self.bid(processes[i % len(processes)], bidder)
            if a.status is None and stop_on_no_answer:
                return
            if a.body and a.body.get("reason") == "own-high-bid":
                await asyncio.sleep(0.005)  # let the others outbid it


def _assert_matches_stored(accepted: list[Answer], rows) -> None:
    """Every 201 is a stored bid: same sequence number, bidder and amount."""
    stored = {r["seq"]: (r["bidder_id"], r["amount_fen"]) for r in rows}
    for a in accepted:
        seq = a.body["sequence"]
        assert stored.get(seq) == (a.bidder, a.amount_fen), (
            f"bid {seq} answered 201 to {a.bidder} at {a.amount_fen} is stored as "
            f"{stored.get(seq)}")


def _assert_one_rising_sequence(rows) -> None:
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)), "a gap in the sequence"
    amounts = [r["amount_fen"] for r in rows]
    assert all(a < b for a, b in itertools.pairwise(amounts)), amounts
    assert amounts[0] >= START_PRICE
    assert all((x - START_PRICE) % INCREMENT == 0 for x in amounts)
    assert all(r["bidder_id"] != s["bidder_id"] for r, s in itertools.pairwise(rows))


async def _wait_outbox_relayed(database_url: str, types: tuple[str, ...]) -> None:
    async def relayed() -> bool:
        rows = await query(database_url, "SELECT count(*) AS n FROM outbox"
                           " WHERE type = ANY($1::text[])", list(types))
        return rows[0]["n"] == 0
    await eventually(relayed, 60, f"the relay to send {types}")


# -- 1. a writer killed mid-auction ---------------------------------------------------------------

@pytest.mark.timeout(240)
async def test_a_killed_writer_loses_no_accepted_bid_and_its_successor_closes_once(
        new_database, common, fleets):
    url = await new_database()
    fleet = fleets(url, lease_seconds=2.0)
    bidders = tuple(f"bidder-{i:02d}" for i in range(6))
    # The end is 30 s away and every bid moves it to 30 s after itself (anti-sniping): the
    # auction stays open across the crash and the restart, and the close deadline comes due
    # only after the successor has taken the auction over.
    window = timedelta(seconds=30)
    auction = await open_auction(url, ends_in=timedelta(seconds=30), extension=window,
                                 bidders=bidders)
    a = await fleet.start("A")
    async with httpx.AsyncClient(timeout=15) as client:
        bidding = Bidding(client, common, auction, seed=1)

        # Six bidders bid as fast as A answers; A is SIGKILLed under them once 30 bids are in.
        async def killer() -> None:
            deadline = time.monotonic() + 60
            while len(bidding.accepted) < 30:
                assert time.monotonic() < deadline, "A did not accept 30 bids in 60 s"
                await asyncio.sleep(0.001)
            a.kill()

        async with asyncio.TaskGroup() as tg:  # a failure cancels the others
            tg.create_task(killer())
            for x in bidders:
                tg.create_task(bidding.bidder([a], x, attempts=10_000, stop_on_no_answer=True))
        assert await a.wait() == -signal.SIGKILL
        from_a = bidding.accepted
        unanswered = [x for x in bidding.answers if x.status is None]
        for x in bidding.answers:
            assert x.accepted or x.status is None or x.problem == BID_REJECTED, x
        assert len(unanswered) == len(bidders)  # each bidder's last request met a dead A
        # (shown on failure) typically all six met the kill in flight: ReadError
        print(f"A answered {len(from_a)} bids 201; without an answer: "
              f"{sorted(str(x.error) for x in unanswered)}")

        # No accepted bid lost: each 201 is stored as answered; the sequence has no gap.
        rows = await stored_bids(url, auction.id)
        _assert_one_rising_sequence(rows)
        _assert_matches_stored(from_a, rows)
        # A bid stored but never answered can only be one whose request met the kill.
        answered = {x.body["sequence"] for x in from_a}
        for r in rows:
            if r["seq"] not in answered:
                assert (r["bidder_id"], r["amount_fen"]) in {
                    (x.bidder, x.amount_fen) for x in unanswered}, dict(r)
        row = await auction_row(url, auction.id)
        assert row["bid_count"] == len(rows)
        assert (row["high_bidder"], row["high_bid_fen"]) == (rows[-1]["bidder_id"],
                                                             rows[-1]["amount_fen"])
        assert row["closed_at"] is None and row["owner"] is not None  # A's lease, left behind
        n = len(rows)
        bidding.learn(rows[-1]["amount_fen"])

        # B takes the auction over once A's lease has lapsed and continues the sequence.
        b = await fleet.start("B")
        first_bidder = next(x for x in bidders if x != rows[-1]["bidder_id"])
        amount = rows[-1]["amount_fen"] + INCREMENT

        async def taken_over() -> Answer | None:
            answer = await bidding.bid(b, first_bidder, amount)
            if answer.problem in (OWNED_ELSEWHERE, OWNER_UNREACHABLE):
                return None  # A's lease has not lapsed yet (B cannot forward to a dead A)
            return answer

        first = await eventually(taken_over, 30, "B to take the auction over")
        assert first.accepted, first  # not after-close: the window kept the auction open
        assert first.body["sequence"] == n + 1
        more = Bidding(client, common, auction, seed=2)
        more.learn(amount)
        await asyncio.gather(*(more.bidder([b], x, attempts=8) for x in bidders[:3]))
        for x in more.answers:
            assert x.accepted or x.problem == BID_REJECTED, x
        from_b = [first, *more.accepted]
        rows = await stored_bids(url, auction.id)
        _assert_one_rising_sequence(rows)
        _assert_matches_stored(from_a + from_b, rows)
        assert sorted(x.body["sequence"] for x in from_b) == list(range(n + 1, len(rows) + 1))
        assert rows[n]["at"] > rows[n - 1]["at"]

        # The close deadline fires in B after the last bid's window: closed exactly once.
        ends_at = max(_ts(x.body["ends_at"]) for x in from_b)
        assert ends_at > datetime.now(UTC)
        wait = (ends_at - datetime.now(UTC)).total_seconds() + 60

        async def closed():
            r = await auction_row(url, auction.id)
            return r if r["closed_at"] is not None else None

        row = await eventually(closed, wait, "the auction to close")
        high = rows[-1]
        assert row["status"] == "closed" and row["failure"] is None
        assert row["closed_at"] >= ends_at
        assert (row["high_bidder"], row["high_bid_fen"]) == (high["bidder_id"],
                                                             high["amount_fen"])
        state = await client.get(f"{b.base}/auctions/{auction.id}",
                                 headers=bearer(common, Role.OPERATOR, "230100"))
        assert state.status_code == 200, state.text
        body = state.json()
        assert body["status"] == "closed"
        assert (body["winner_id"], body["hammer_price_fen"]) == (high["bidder_id"],
                                                                 high["amount_fen"])
        assert body["bid_count"] == len(rows)
        late = await bidding.bid(b, next(x for x in bidders if x != high["bidder_id"]),
                                 high["amount_fen"] + INCREMENT)
        assert late.problem == BID_REJECTED and late.body["reason"] == "after-close", late

        # The close deadline fired (a fired handler leaves at most one re-check behind, which
        # finds the auction closed and ends there); the close itself happened once (below).
        deadlines = await query(url, "SELECT fired_at, last_error FROM deadlines"
                                " WHERE kind = 'auction.close' AND key = $1", str(auction.id))
        assert any(d["fired_at"] is not None for d in deadlines), deadlines
        assert sum(d["fired_at"] is None for d in deadlines) <= 1, deadlines
        assert all(d["last_error"] is None for d in deadlines), deadlines

        # One AuctionClosed, one DealConcluded: in the outbox or (once relayed) on the topics.
        await _wait_outbox_relayed(url, (CLOSED, CONCLUDED))
        records = await topic_records(common, ["auction", "deal"])
        closes = [r for r in records if r.type == CLOSED]
        deals = [r for r in records if r.type == CONCLUDED]
        assert len(closes) == 1 and len(deals) == 1, [(r.type, r.id) for r in closes + deals]
        assert closes[0].subject == str(auction.id) and closes[0].topic.endswith(".auction")
        assert closes[0].data["winner_id"] == high["bidder_id"]
        assert closes[0].data["hammer_price_fen"] == high["amount_fen"]
        assert closes[0].data["accepted_bids"] == len(rows)
        assert deals[0].subject == str(deal_id_for(auction.id))
        assert deals[0].data["buyer_id"] == high["bidder_id"]
        assert deals[0].data["price_fen"] == high["amount_fen"]
        # No bid was published that is not stored (a batch's events commit with its bids).
        published = {(r.data["sequence"], r.data["bidder_id"], r.data["amount_fen"])
                     for r in records if r.type == "cn.techex.auction.bid_accepted.v1"}
        assert published <= {(r["seq"], r["bidder_id"], r["amount_fen"]) for r in rows}
    await fleet.stop_all()
    assert b.proc.returncode in (0, -signal.SIGTERM), b.log_tail()


# -- 2. two writers at once -----------------------------------------------------------------------

@pytest.mark.timeout(240)
@pytest.mark.parametrize("forwarding", [True, False], ids=["forwarded", "refused"])
async def test_two_processes_one_writer_one_sequence(new_database, common, fleets, forwarding):
    """Bids for one auction sent to two processes in turn: the one that does not write it
    forwards them to the writer (or, when the processes advertise no address, refuses them
    clearly, naming the writer)."""
    url = await new_database()
    # A lease far longer than the test's bursts: the first process to take the auction keeps it.
    env = {} if forwarding else {"AUCTION_ADVERTISED_URL": ""}
    fleet = fleets(url, lease_seconds=10.0, **env)
    bidders = tuple(f"bidder-{i:02d}" for i in range(4))
    auction = await open_auction(url, ends_in=timedelta(hours=1),
                                 extension=timedelta(minutes=5), bidders=bidders)
    a, b = await asyncio.gather(fleet.start("A"), fleet.start("B"))
    # A second auction, about to end without a bid, that A writes: the schedulers of both
    # processes race for its close deadline, only A can close it.
    closing = await open_auction(url, ends_in=timedelta(seconds=6),
                                 extension=timedelta(minutes=5), bidders=())
    async with httpx.AsyncClient(timeout=15) as client:
        taken = await client.get(f"{a.base}/auctions/{closing.id}",
                                 headers=_headers(common, bidders[0]))
        assert taken.status_code == 200 and taken.json()["status"] == "open", taken.text
        bidding = Bidding(client, common, auction, seed=3)
        opening = await bidding.bid(a, bidders[0], START_PRICE)
        assert opening.accepted and opening.body["sequence"] == 1, opening
        owner = (await auction_row(url, auction.id))["owner"]
        assert owner

        # Each bidder sends its bids to A and B in turn, all four at once.
        await asyncio.gather(*(
            bidding.bidder([a, b] if i % 2 else [b, a], x, attempts=30)
            for i, x in enumerate(bidders)))

        for x in bidding.answers:
            assert x.status is not None, x
            assert x.accepted or x.problem in (BID_REJECTED, OWNED_ELSEWHERE), x
        elsewhere = [x for x in bidding.answers if x.problem == OWNED_ELSEWHERE]
        accepted = bidding.accepted
        if forwarding:
            assert not elsewhere, elsewhere[:3]
            # B's accepted bids were written by A: one sequence across both doors.
            assert {x.process for x in accepted} == {"A", "B"}
        else:
            assert elsewhere, "B never answered that A owns the auction"
            assert {x.process for x in elsewhere} == {"B"}
            assert {x.body["owner"] for x in elsewhere} == {owner}
            assert all(x.body["status"] == 409 for x in elsewhere)
            assert "owner_url" not in elsewhere[0].body
            assert {x.process for x in accepted} == {"A"}

        # The 201s, across both processes, are one contiguous rising sequence: the stored one.
        rows = await stored_bids(url, auction.id)
        _assert_one_rising_sequence(rows)
        _assert_matches_stored(accepted, rows)
        assert sorted(x.body["sequence"] for x in accepted) == [r["seq"] for r in rows]
        by_seq = sorted(accepted, key=lambda x: x.body["sequence"])
        assert [x.amount_fen for x in by_seq] == [r["amount_fen"] for r in rows]
        assert len(rows) > 1

        # The non-owner reads the stored bids itself; the live state is the writer's.
        reader = _headers(common, bidders[0])
        listed = await client.get(f"{b.base}/auctions/{auction.id}/bids", headers=reader)
        assert listed.status_code == 200, listed.text
        # A bidder sees its own bids as its own and the others' by number only.
        own = bidders[0]
        assert [(x["sequence"], x["bidder_id"], x["you"], x["amount_fen"])
                for x in listed.json()] == [
            (r["seq"], r["bidder_id"] if r["bidder_id"] == own else None,
             r["bidder_id"] == own, r["amount_fen"]) for r in rows]
        via_b = await client.get(f"{b.base}/auctions/{auction.id}", headers=reader)
        if forwarding:
            assert via_b.status_code == 200, via_b.text
        else:
            assert via_b.status_code == 409 and via_b.json()["type"] == OWNED_ELSEWHERE
        state = (await client.get(f"{a.base}/auctions/{auction.id}", headers=reader)).json()
        assert (state["bid_count"], state["high_bid_fen"]) == (len(rows),
                                                               rows[-1]["amount_fen"])
        if forwarding:
            assert via_b.json() == state
            # The live view through B is A's stream, relayed as it comes.
            async with client.stream("GET", f"{b.base}/auctions/{auction.id}/stream",
                                     headers=reader) as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                events = sse_events(stream)
                first = await next_event(events)
                assert first["event"] == "state"
                assert json.loads(first["data"])["bid_count"] == len(rows)
                await events.aclose()

        # The auction A writes closed once (failed: no bid), whichever scheduler took the
        # deadline first: B's hands it back without spending an attempt on it.
        async def failed():
            r = await auction_row(url, closing.id)
            return r if r["closed_at"] is not None else None

        row = await eventually(failed, (closing.ends_at - datetime.now(UTC)).total_seconds()
                               + 60, "the other auction to close")
        assert (row["status"], row["failure"]) == ("failed", "no-bid")
        assert row["closed_at"] >= closing.ends_at
        deadlines = await query(url, "SELECT fired_at, attempts, last_error FROM deadlines"
                                " WHERE kind = 'auction.close' AND key = $1", str(closing.id))
        assert any(d["fired_at"] is not None for d in deadlines), deadlines
        assert sum(d["fired_at"] is None for d in deadlines) <= 1, deadlines
        assert all(d["last_error"] is None for d in deadlines), deadlines
        await _wait_outbox_relayed(url, (FAILED,))
        ends = [r for r in await topic_records(common, ["auction"])
                if r.type in (FAILED, CLOSED)]
        assert [(r.type, r.subject) for r in ends] == [(FAILED, str(closing.id))]
        assert ends[0].data["reason"] == "no-bid"
    await fleet.stop_all()
    for p in (a, b):
        assert p.proc.returncode in (0, -signal.SIGTERM), p.log_tail()


@pytest.mark.timeout(120)
async def test_while_a_dead_writers_lease_runs_the_other_process_answers_retry_later(
        new_database, common, fleets):
    url = await new_database()
    fleet = fleets(url, lease_seconds=4.0)
    auction = await open_auction(url, ends_in=timedelta(hours=1),
                                 extension=timedelta(minutes=5), bidders=("bidder-00",))
    a, b = await asyncio.gather(fleet.start("A"), fleet.start("B"))
    reader = _headers(common, "bidder-00")
    async with httpx.AsyncClient(timeout=15) as client:
        assert (await client.get(f"{a.base}/auctions/{auction.id}",
                                 headers=reader)).status_code == 200
        a.kill()
        await a.wait()
        unreachable = await client.get(f"{b.base}/auctions/{auction.id}", headers=reader)
        assert unreachable.status_code == 503, unreachable.text
        assert unreachable.json()["type"] == OWNER_UNREACHABLE
        assert unreachable.headers["retry-after"] == "4"

        async def taken_over():
            r = await client.get(f"{b.base}/auctions/{auction.id}", headers=reader)
            return r if r.status_code == 200 else None
        state = (await eventually(taken_over, 30, "B to take the auction over")).json()
        assert state["status"] == "open"


# -- 3. the live view -----------------------------------------------------------------------------

@pytest.mark.timeout(180)
async def test_the_live_view_streams_the_state_then_each_accepted_bid(
        new_database, common, fleets):
    url = await new_database()
    fleet = fleets(url)
    bidders = ("bidder-00", "bidder-01")
    # Two minutes to go and a five-minute window: each bid moves the end.
    auction = await open_auction(url, ends_in=timedelta(minutes=2),
                                 extension=timedelta(minutes=5), bidders=bidders)
    p = await fleet.start("A")
    viewer = _headers(common, "viewer-230100")
    async with httpx.AsyncClient(timeout=httpx.Timeout(30)) as client:
        async with client.stream("GET", f"{p.base}/auctions/{auction.id}/stream",
                                 headers=viewer) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = sse_events(stream)
            first = await next_event(events)
            assert first["event"] == "state"
            state = json.loads(first["data"])
            assert state["id"] == str(auction.id)
            assert state["status"] == "open" and state["bid_count"] == 0
            assert state["high_bid_fen"] is None
            assert _ts(state["ends_at"]) == auction.ends_at

            answers = []
            for bidder, amount in zip(bidders, (START_PRICE, START_PRICE + 3 * INCREMENT),
                                      strict=True):
                r = await client.post(f"{p.base}/auctions/{auction.id}/bids",
                                      json={"amount_fen": amount},
                                      headers=_headers(common, bidder))
                assert r.status_code == 201, r.text
                answers.append(r.json())

            numbers: list[str] = []
            for i, answer in enumerate(answers, start=1):
                e = await next_event(events)
                assert e["event"] == "bid" and e["id"] == str(i), e
                data = json.loads(e["data"])
                assert data["sequence"] == answer["sequence"] == i
                assert data["bidder_id"] is None and data["you"] is False  # a rival
                numbers.append(data["bidder_number"])
                assert data["amount_fen"] == answer["amount_fen"]
                assert data["automatic"] is False
                assert _ts(data["ends_at"]) == _ts(answer["ends_at"])
                assert _ts(data["ends_at"]) == _ts(data["at"]) + timedelta(minutes=5)
            assert _ts(answers[1]["ends_at"]) > _ts(answers[0]["ends_at"]) > auction.ends_at
            assert len(set(numbers)) == 2 and all(re.fullmatch(r"\d{4}", n) for n in numbers)
            await events.aclose()
        # The stream is closed; the process goes on answering.
        health = await client.get(f"{p.base}/healthz")
        assert health.status_code == 200
    started = time.monotonic()
    await fleet.stop_all()
    assert time.monotonic() - started < 20, "a closed stream held the shutdown up"
    assert p.proc.returncode in (0, -signal.SIGTERM), p.log_tail()



@pytest.mark.timeout(180)
async def test_a_stream_resumed_through_a_forwarding_process_misses_no_bid(
        new_database, common, fleets):
    """A reader of B, which forwards the stream to A (the auction's writer), reconnects with
    ``Last-Event-ID`` while bids go on: it gets the bids it missed, then the live ones."""
    url = await new_database()
    fleet = fleets(url, lease_seconds=10.0)
    bidders = ("bidder-00", "bidder-01")
    auction = await open_auction(url, ends_in=timedelta(hours=1),
                                 extension=timedelta(minutes=5), bidders=bidders)
    a, b = await asyncio.gather(fleet.start("A"), fleet.start("B"))
    operator = bearer(common, Role.OPERATOR, "230100")
    async with httpx.AsyncClient(timeout=httpx.Timeout(30)) as client:
        placed = 0

        async def bid(process: ServiceProcess) -> None:
            nonlocal placed
            bidder = bidders[placed % 2]
            answer = await place_bid(client, process, auction.id, bidder,
                                     START_PRICE + placed * INCREMENT, _headers(common, bidder))
            assert answer.accepted, answer
            placed += 1

        for _ in range(3):
            await bid(a)  # A takes the auction
        assert (await auction_row(url, auction.id))["owner_url"] == a.base

        async def read(n: int, last_seen: int) -> list[dict]:
            """``n`` bids from B's stream resumed after ``last_seen``: the ``n - 1`` placed
            since, then one placed live (itself through B to A) once the reader has them."""
            async with client.stream("GET", f"{b.base}/auctions/{auction.id}/stream",
                                     headers={**operator, "Last-Event-ID": str(last_seen)}
                                     ) as stream:
                assert stream.status_code == 200
                events = sse_events(stream)
                state = json.loads((await next_event(events))["data"])
                assert (state["id"], state["bid_count"]) == (str(auction.id), placed)
                got = await next_bids(events, n - 1)
                await bid(b)
                got += await next_bids(events, 1)
                await events.aclose()
                return got

        first = await read(3, last_seen=1)  # 2 and 3 from the table, 4 live
        assert [x["sequence"] for x in first] == [2, 3, 4]
        await bid(a)
        await bid(b)  # 5 and 6 while nobody reads
        again = await read(3, last_seen=first[-1]["sequence"])
        assert [x["sequence"] for x in again] == [5, 6, 7]
        rows = await stored_bids(url, auction.id)
        assert [(x["sequence"], x["bidder_id"], x["amount_fen"]) for x in first + again] == [
            (r["seq"], r["bidder_id"], r["amount_fen"]) for r in rows[1:]]
    await fleet.stop_all()
