"""Services of the lottery: the prize table (drafted by ops, reviewed with the campaign)
and the draw."""
