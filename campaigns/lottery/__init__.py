"""Lotteries under a budget: a prize table with weights and stock, draws in one transaction, replayable records."""
