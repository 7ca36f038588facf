"""The public portal (公共服务门户): the exchange's web front end in Chinese, its own process,
reading only the public API of the services (``/public/...``), with no database of its own."""
