"""The registry's domain refusals (problem+json ``type`` = urn:techex:problem:<slug>)."""

from __future__ import annotations

from shared.problems import Conflict, Forbidden, NotFound


class ContractState(Conflict):
    slug = "registry-contract-state"
    title = "The contract is not in a state that allows this"


class AlreadyRegistered(Conflict):
    slug = "registry-already-registered"
    title = "The contract is registered already"


class NoPendingFiling(Conflict):
    slug = "registry-no-pending-filing"
    title = "No filing of the contract awaits a decision"


class FilingPending(Conflict):
    slug = "registry-filing-pending"
    title = "A filing of the contract awaits a decision already"


class NumbersExhausted(Conflict):
    slug = "registry-registration-numbers-exhausted"
    title = "The registrar has no registration numbers left this year"


class NotTheSeller(Forbidden):
    slug = "registry-not-the-seller"
    title = "Only the contract's seller files it"


class StatisticsNotPublished(NotFound):
    slug = "registry-statistics-not-published"
    title = "The statistics of this period are not published yet"


class SellerUnknown(ValueError):
    """A settled deal names no seller and its listing never reached this service (the event
    cannot be applied: no problem document, the consumer's error)."""


class NationalHubFiling(Conflict):
    slug = "registry-national-hub"
    title = "The national hub registers no contracts"


class NotTheNationalHub(NotFound):
    slug = "registry-not-the-national-hub"
    title = "Only the national hub serves the national statistics"
