-- One database per service, each owned by its own role (PostgreSQL's entrypoint runs this once,
-- on an empty data directory, as the superuser named by POSTGRES_USER).
CREATE ROLE techex_listing LOGIN PASSWORD 'listing';
CREATE ROLE techex_auction LOGIN PASSWORD 'auction';
CREATE ROLE techex_settlement LOGIN PASSWORD 'settlement';
CREATE ROLE techex_registry LOGIN PASSWORD 'registry';
CREATE ROLE techex_records LOGIN PASSWORD 'records';
CREATE DATABASE techex_listing OWNER techex_listing;
CREATE DATABASE techex_auction OWNER techex_auction;
CREATE DATABASE techex_settlement OWNER techex_settlement;
CREATE DATABASE techex_registry OWNER techex_registry;
CREATE DATABASE techex_records OWNER techex_records;
