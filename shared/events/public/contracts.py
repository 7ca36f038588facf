"""``<prefix>.public.contracts``: summaries of registered, amended and cancelled technology
contracts (amounts, category, field, the parties' regions and the flow)."""
