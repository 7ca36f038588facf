-- A contract is loaded with all its filings (the Contract aggregate) on every command, and
-- shown with them: read them by contract, in filing order, without scanning the table.
CREATE INDEX filings_by_contract ON filings (contract_id, filed_at, id);
