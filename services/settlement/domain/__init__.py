"""Settlement (结算) as a pure domain: a double-entry ledger in integer fen, the business steps
that post to it, tiered fees, the income split and provincial subsidies configured as data.

Nothing here does I/O; the service layer reads policy files and stores postings.
"""
